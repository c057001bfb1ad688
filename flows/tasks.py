"""Background work on people: checking and applying large import files, running bulk actions.

The tasks keep the names they had when they lived in accounts.tasks, so messages already queued
by a previous release still find them.
"""

import contextlib
import logging

from celery import shared_task
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from accounts.models import ImportJob
from experquiz.errors import DomainError

from .assessment_reminders import assignments_send_reminders
from .importing import REPORT_ROWS, ImportCheck, ImportFileError, check_rows, iter_table, plan_holds

State = ImportJob.State
logger = logging.getLogger(__name__)
# How long the count of rows an import has written stays readable (its page polls it while it writes).
IMPORT_WRITE_PROGRESS_KEPT = 3600


def _set(job_id, **fields):
    # A plain UPDATE outside any transaction: the polling page sees it at once. Inside a caller's
    # transaction it gets a savepoint, so a write the database refuses leaves that transaction usable
    # for recording the failure.
    with transaction.atomic():
        ImportJob.objects.filter(pk=job_id).update(**fields)


def _failed_unexpectedly(job_id) -> None:
    """A bug or an outage, not the file: log it for whoever runs the service, and tell the uploader
    rather than leave the page polling a job that will never move again."""
    logger.exception("Import job %s stopped by an unexpected error", job_id)
    _set(
        job_id,
        state=State.FAILED,
        error=_("An unexpected error stopped this import; nothing was imported."),
        finished_at=timezone.now(),
    )


def _check(job):
    """Check the job's file, its rows read one at a time, recording progress every PROGRESS_EVERY rows."""
    header, rows = iter_table(bytes(job.data))
    return check_rows(
        organization=job.organization,
        actor=job.created_by,
        header=header,
        rows=rows,
        progress=lambda n: _set(job.pk, progress=n),
    )


def _job_in(job_id, state) -> ImportJob | None:
    """The import job if it is still in `state`; None for a redelivered task whose work is done."""
    job = ImportJob.objects.select_related("organization", "created_by").get(pk=job_id)
    return job if job.state == state else None


def import_check_job(job_id: int) -> None:
    """Read and check the job's file; store the preview report and the rows to write. Writes no user."""
    job = _job_in(job_id, State.CHECKING)
    if job is None:
        return
    with override(job.language):
        try:
            check = _check(job)
            _set(
                job_id,
                state=State.READY,
                report=check.report(REPORT_ROWS),
                plan=b"" if check.has_errors else check.dumps(),
                progress=sum(check.counts.values()),
            )
        except ImportFileError as error:
            _set(job_id, state=State.FAILED, error=error.message, finished_at=timezone.now())
        except Exception:
            _failed_unexpectedly(job_id)


def write_progress_key(job_id: int) -> str:
    """Where the write of an import counts its rows: its transaction cannot show the job's row."""
    return f"import-written:{job_id}"


def _written(job_id: int, n: int) -> None:
    with contextlib.suppress(Exception):  # a cache that fails only leaves the bar where it was
        cache.set(write_progress_key(job_id), n, timeout=IMPORT_WRITE_PROGRESS_KEPT)


def import_job_progress(job: ImportJob) -> int:
    """How many rows of the job are done: checked (the job's row says), or written, which the
    write's transaction cannot show on the job's row and counts in the cache instead."""
    if job.state != State.APPLYING:
        return job.progress
    try:
        return cache.get(write_progress_key(job.pk)) or 0
    except Exception:  # a cache that fails only stops the bar
        return 0


def _checked_for_the_write(job):
    """The check the preview made, when it still holds (flows.importing.plan_holds): the write then
    reads neither the file nor any cell again. Otherwise (the people, groups, types or rights it
    read have changed, or the job kept no check) the file is checked again, as for the preview."""
    if job.plan:
        check = ImportCheck.loads(bytes(job.plan), job.report)
        if plan_holds(check, organization=job.organization, actor=job.created_by):
            return check, False
    return _check(job), True


def import_apply_job(job_id: int) -> None:
    """Write the checked file, all or nothing, once what the check decided is known to still hold
    (the organisation may have changed since the preview: then the file is checked again).

    The job is marked done in the import's own transaction: a worker killed at any point leaves
    either nothing written and the job still to apply, or both, so a redelivered task never imports
    (and invites) twice. The rows written are counted in the cache as the write goes
    (`write_progress_key`), for the progress page.
    """
    from . import imports

    job = _job_in(job_id, State.APPLYING)
    if job is None:
        return
    with override(job.language):
        try:
            _written(job_id, 0)  # a run delivered again starts its count again
            check, again = _checked_for_the_write(job)
            with transaction.atomic():
                # Locked first: a second run of the job waits here, then finds it done.
                if not ImportJob.objects.select_for_update().filter(pk=job_id, state=State.APPLYING).exists():
                    return
                result = imports.users_import(
                    organization=job.organization,
                    actor=job.created_by,
                    check=check,
                    invite=job.invite,
                    source=job.filename,
                    progress=lambda n: _written(job_id, n),
                )
                report = (check.report(REPORT_ROWS) if again else job.report) | {"result": result}
                # The file is no longer needed once imported: do not keep people's data twice.
                _set(
                    job_id,
                    state=State.DONE,
                    report=report,
                    data=b"",
                    plan=b"",
                    progress=job.total,  # every row done, as the page polled it from the cache
                    finished_at=timezone.now(),
                )
        except ImportFileError as error:
            _set(job_id, state=State.FAILED, error=error.message, finished_at=timezone.now())
            return
        except DomainError as error:
            if check.has_errors:
                message = _("The users changed since the preview and some rows are now in error; nothing was imported.")
            else:
                message = _("%(reason)s Nothing was imported.") % {"reason": error.message}
            report = check.report(REPORT_ROWS) if again else job.report
            _set(job_id, state=State.FAILED, report=report, error=message, finished_at=timezone.now())
            return
        except IntegrityError:
            # Another change to the same people committed while this import was writing.
            _set(
                job_id,
                state=State.FAILED,
                error=_("The users changed while importing; nothing was imported. Upload the file again."),
                finished_at=timezone.now(),
            )
            return
        except Exception:
            # The import is atomic: whatever stopped it, nothing was written.
            _failed_unexpectedly(job_id)


@shared_task(name="accounts.tasks.import_check", acks_late=True)
def import_check(job_id: int) -> None:
    import_check_job(job_id)


@shared_task(name="accounts.tasks.import_apply", acks_late=True)
def import_apply(job_id: int) -> None:
    import_apply_job(job_id)


def start(task, job: ImportJob, *, background: bool) -> None:
    """Run `task` on `job` in a worker when the file is big, in this request otherwise."""
    if background:
        transaction.on_commit(lambda: task.delay(job.pk))
    else:
        task.run(job.pk)


class _Superseded(Exception):
    """Another run of the same job recorded a chunk first: this run stops, its chunk undone."""


def bulk_run_job(job_id: int) -> None:
    """Run a bulk action on every user matching the job's filters, recording progress and the outcome.

    The task is acknowledged late, so a worker killed midway leaves it to be delivered again: each
    chunk commits with the job's progress (the last user id done, the tally, the action's params such
    as its invitation batch), and a second run takes up after the last committed chunk.
    """
    from django.http import QueryDict

    from accounts.models import BulkJob
    from rights.selectors import users_in_scope

    from . import bulk
    from .filters import UserFilter

    job = BulkJob.objects.select_related("organization", "created_by", "group").get(pk=job_id)
    if job.state != BulkJob.State.RUNNING:
        return  # a redelivered task: already done
    actor = job.created_by
    tally = bulk.Tally.from_json(job.tally)
    position = {"after": job.resume_after, "progress": job.progress}

    def finish(state, **fields):
        BulkJob.objects.filter(pk=job_id).update(state=state, finished_at=timezone.now(), **fields)

    def chunk_done(part, last_pk, count):
        # In the chunk's transaction. Conditional on the position this run started the chunk from:
        # should two runs of the job overlap, the second to commit a chunk finds it moved and undoes its own.
        tally.add(part)
        recorded = BulkJob.objects.filter(pk=job_id, resume_after=position["after"]).update(
            resume_after=last_pk,
            progress=position["progress"] + count,
            tally=tally.as_json(),
            params={key: value for key, value in params.items() if key != "group"},
        )
        if not recorded:
            raise _Superseded
        position["after"], position["progress"] = last_pk, position["progress"] + count

    with override(job.language):
        try:
            action = bulk.REGISTRY[job.action]
            # The job's id goes to the handlers: an undoable action keeps on it what it changed.
            params = {**job.params, "job_id": job.pk, **({"group": job.group} if action.needs_group else {})}
            if action.needs_group and job.group is None:
                finish(BulkJob.State.FAILED, summary=_("The group was deleted; nothing was changed."), level="error")
                return
            if action.select is not None:
                users = action.select(actor=actor, job=job)
                if not job.total:
                    # Counted here, not in the request that started the job: it returned at once.
                    job.total = users.count()
                    BulkJob.objects.filter(pk=job_id).update(total=job.total)
            elif "ids" in job.params:
                # The users ticked on the list (at most a request's worth), within the actor's scope now.
                users = users_in_scope(actor, action.right).filter(pk__in=job.params["ids"])
            else:
                # The filters resolve exactly as on the page: same FilterSet, same actor, same scope.
                filterset = UserFilter(
                    QueryDict(job.filters), queryset=users_in_scope(actor, action.right), actor=actor
                )
                if not filterset.is_valid():
                    # A filter that no longer validates (a group deleted meanwhile) must not widen the selection.
                    finish(
                        BulkJob.State.FAILED,
                        summary=_("The filters are not valid any more; nothing was changed."),
                        level="error",
                    )
                    return
                users = filterset.qs
            outcome = bulk.run(
                action,
                users=users,
                actor=actor,
                params=params,
                start_after=job.resume_after,
                chunk_done=chunk_done,
            )
        except _Superseded:
            logger.warning("Bulk job %s: another run of it went further; this one stops", job_id)
            return
        except Exception:
            # Each chunk is changed in a transaction of its own: those done keep their change. The
            # page must say the job stopped rather than poll a job that will never move again.
            logger.exception("Bulk job %s stopped by an unexpected error", job_id)
            finish(
                BulkJob.State.FAILED,
                summary=_("The action stopped before the end; the users already changed keep their change."),
                level="error",
            )
            return
        # The tally counts the chunks of every run of this job; the outcome only this run's.
        finish(BulkJob.State.DONE, summary=tally.summary(outcome.done_message), level=tally.level, link=tally.link)


@shared_task(name="accounts.tasks.bulk_run", acks_late=True)
def bulk_run(job_id: int) -> None:
    bulk_run_job(job_id)


@shared_task(name="accounts.tasks.imports_purge")
def imports_purge() -> int:
    """Beat: delete the files of imports never applied a day after their upload."""
    from accounts.services import import_files_purge

    return import_files_purge()


@shared_task(name="flows.tasks.assessments_send_reminders")
def assessments_send_reminders():
    """Beat: the reminders before assessment invitations close (flows.assessment_reminders)."""
    return {"reminded": assignments_send_reminders()}
