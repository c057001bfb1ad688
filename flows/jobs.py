"""Starting the work a page then follows: checking and applying an imported file, running a bulk
action on more users than one request should change.

Each keeps its job row and starts the work (in this process for a small job, in a Celery worker
queued once the row is committed for a big one); the work itself records what it changes (the
import and the bulk actions write their audit events), and the page polls the job's progress.

Each checks its actor before it keeps anything (the convention of experquiz.authorization): the
work runs later as the job's creator, within their scope, but a job nobody may start must not even
be queued.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import BulkJob, ImportJob, Organization, User
from audit.models import Action
from audit.services import audit_record
from experquiz.authorization import INVITE, MANAGE_USERS, NotAllowed, require_groups, require_right
from experquiz.errors import DomainError
from invitations.models import InvitationBatch

from . import bulk, tasks
from .importing import BACKGROUND_ROWS, table_size

State = ImportJob.State


def import_job_create(
    *, organization: Organization, actor: User, filename: str, data: bytes, invite: bool
) -> ImportJob:
    """Keep an uploaded people file and start checking it; the check writes no user.

    Raises ImportFileError, keeping nothing, when the file cannot be read as a table at all (format,
    size, encoding, rows): that is told at once, on the upload form. `actor` needs manage_users (and
    invite to have the file's people invited); a group-scoped holder may upload, the check then
    refuses every row outside their groups.
    """
    require_right(actor, MANAGE_USERS, organization_id=organization.pk)
    if invite:
        require_right(actor, INVITE, organization_id=organization.pk)
    total = table_size(data)  # the whole file read, one row at a time: nothing kept but the count
    job = ImportJob.objects.create(
        organization=organization,
        created_by=actor,
        filename=filename[:255],
        data=data,
        invite=invite,
        total=total,
    )
    tasks.start(tasks.import_check, job, background=total >= BACKGROUND_ROWS)
    return job


def import_job_confirm(*, job: ImportJob, actor: User | None) -> None:
    """Apply a checked import: written all or nothing, as the preview's check decided when that
    still holds, after the file is checked again otherwise (flows.tasks.import_apply_job).

    Only the person who uploaded the file confirms it (it is applied as them), while they still hold
    manage_users. Refused (DomainError) unless the preview is ready and has no row in error; of two
    confirmations at once only one moves the job on, so a file is never applied twice.
    """
    if actor is not None:
        if job.created_by_id != getattr(actor, "pk", None):
            raise NotAllowed(_("Only the person who uploaded this file may confirm its import."))
        require_right(actor, MANAGE_USERS, organization_id=job.organization_id)
    moved = ImportJob.objects.filter(pk=job.pk, state=State.READY, report__error=0).update(
        state=State.APPLYING, progress=0
    )
    if not moved:
        raise DomainError(_("This import cannot be confirmed: it is not ready or has rows in error."))
    tasks.start(tasks.import_apply, job, background=job.total >= BACKGROUND_ROWS)


def bulk_job_start(
    *,
    organization: Organization,
    actor: User,
    action,
    filters: str,
    group=None,
    total: int,
    params: dict | None = None,
    ids=None,
    background: bool = True,
) -> BulkJob:
    """Run a bulk action on every user matching `filters` (the people list's query string), resolved
    as on the page, within `actor`'s scope, or on the users `ids` ticked on the list. `params`: what
    the action needs besides (the value a "set" action sets). `actor` needs the action's right, over
    the action's group too.

    In a worker (`background`), queued once the job's row is committed, while the job's page follows
    its progress; otherwise here and now, recorded on the job the same way (an undoable action keeps
    on it what it changed, for its undo)."""
    require_right(actor, action.right, organization_id=organization.pk)
    if group is not None:
        require_groups(actor, action.right, [group])
    job = BulkJob.objects.create(
        organization=organization,
        created_by=actor,
        action=action.name,
        filters=filters,
        group=group,
        total=total,
        params={**(params or {}), **({"ids": sorted(ids)} if ids is not None else {})},
    )
    if background:
        transaction.on_commit(lambda: tasks.bulk_run.delay(job.pk))
    else:
        tasks.bulk_run_job(job.pk)
        job.refresh_from_db()
    return job


def bulk_undo_start(*, job: BulkJob, actor: User) -> BulkJob:
    """Undo the bulk action `job`: put back as they were the people it changed and nobody has
    changed since (the others are skipped, with why), through the services that record each change.

    Only whoever ran the action undoes it, while they hold its right, and only once (the database
    holds one undo per job); the undo is itself in the audit trail. Returns the undo's own job, run
    here when it is small (its changes recorded chunk by chunk, as a worker would), by a worker
    (followed on its page) when not."""
    if job.created_by_id != getattr(actor, "pk", None):
        raise NotAllowed(_("Only the person who ran this action may undo it."))
    action = bulk.REGISTRY.get(job.action)
    require_right(actor, action.right if action else MANAGE_USERS, organization_id=job.organization_id)
    with transaction.atomic():
        # Two undos at once: the second waits here, then finds the first.
        job = BulkJob.objects.select_for_update(of=("self",)).select_related("group", "organization").get(pk=job.pk)
        refusal = bulk.undo_refusal(job)
        if refusal:
            raise DomainError(refusal)
        total = job.changes.count()
        undo = BulkJob.objects.create(
            organization_id=job.organization_id,
            created_by=actor,
            action="undo",
            filters=job.filters,
            group=job.group,
            total=total,
            params={"undoes": job.pk},
            undo_of=job,
        )
        audit_record(
            organization=job.organization_id,
            actor=actor,
            action=Action.BULK_UNDONE,
            label=bulk.describe(job),
            after={"action": job.action, "people": total},
        )
        if total > bulk.SYNC_MAX:
            transaction.on_commit(lambda: tasks.bulk_run.delay(undo.pk))
    if total <= bulk.SYNC_MAX:
        tasks.bulk_run_job(undo.pk)
        undo.refresh_from_db()
    return undo


def group_invitations_start(*, organization: Organization, actor: User, group) -> tuple[InvitationBatch, BulkJob]:
    """Invite again, in a worker, the members of a big `group` who have not accepted yet; the request
    records the batch and returns, and the batch page follows the sending as the worker adds to it.

    The worker sends through the invitations service (flows.bulk "invite_group"), a packet's worth
    of people per transaction (flows.bulk.INVITE_CHUNK), each chunk's messages queued as it commits;
    it records each invitation and status change there. `actor` needs the invite right over the group.
    """
    require_groups(actor, INVITE, [group])
    batch = InvitationBatch.objects.create(
        organization=organization,
        created_by=actor,
        label=_("Invitations to group %(group)s") % {"group": group.name},
    )
    job = BulkJob.objects.create(
        organization=organization,
        created_by=actor,
        action="invite_group",
        group=group,
        params={"batch_id": batch.pk},
    )
    transaction.on_commit(lambda: tasks.bulk_run.delay(job.pk))
    return batch, job
