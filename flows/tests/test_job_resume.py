"""A job redelivered after a crash resumes where it stopped (issue 10).

Tasks are acknowledged late: a worker killed in the middle of a job leaves its message to be
delivered again, and the job runs a second time. What the first run committed must not be done
again: nobody invited twice, no second invitation batch, no second import.

A kill is modelled by an exception that is not an `Exception` (like SystemExit): it goes through the
job's error handling, as a SIGKILL would, and leaves the job's row as the crash found it. The
multi-process test (experquiz/tests/test_multiprocess.py) kills a real worker.
"""

import pytest

from accounts.models import BulkJob, ImportJob, StatusChange, User
from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from flows import bulk, imports, tasks
from invitations.models import Invitation, InvitationBatch

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """The worker process dies here."""


def kill_once(monkeypatch, owner, name, *, on_call):
    """Make `owner.name` do its work, then die, on its `on_call`-th call (once)."""
    real = getattr(owner, name)
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        result = real(*args, **kwargs)
        if len(calls) == on_call:
            raise Killed
        return result

    monkeypatch.setattr(owner, name, dying)
    return calls


def invite_job(alice, n=7):
    group = UserGroupFactory(organization=alice.organization)
    people = [
        MembershipFactory(
            group=group,
            user=UserFactory(organization=alice.organization, status="created", email=f"p{i}@acme.example"),
        ).user
        for i in range(n)
    ]
    MembershipFactory(group=group, user=UserFactory(organization=alice.organization, first_name="Ann", last_name="Bee"))
    job = BulkJob.objects.create(
        organization=alice.organization, created_by=alice, action="invite", filters=f"group={group.pk}", total=n + 1
    )
    return job, people


def dying_action(monkeypatch, name, *, in_chunk):
    """Make the bulk action `name` die in its `in_chunk`-th chunk, after writing that chunk's changes."""
    action = bulk.REGISTRY[name]
    calls = []

    def handler(**kwargs):
        calls.append(1)
        outcome = action.handler(**kwargs)
        if len(calls) == in_chunk:
            raise Killed
        return outcome

    monkeypatch.setitem(bulk.REGISTRY, name, bulk.BulkAction(name, action.label, handler, right=action.right))


def test_a_bulk_invite_killed_mid_way_resumes_with_the_same_batch_and_invites_nobody_twice(alice, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 2)
    job, people = invite_job(alice)
    dying_action(monkeypatch, "invite", in_chunk=3)
    with pytest.raises(Killed):
        tasks.bulk_run_job(job.pk)
    job.refresh_from_db()
    assert job.state == BulkJob.State.RUNNING  # as the crash left it: the message comes back
    tasks.bulk_run_job(job.pk)  # the redelivery

    job.refresh_from_db()
    assert job.state == BulkJob.State.DONE
    assert job.summary == "7 invited; 1 skipped: already active — Ann B."
    assert InvitationBatch.objects.count() == 1
    for person in people:
        assert Invitation.objects.filter(user=person).count() == 1, person
        assert StatusChange.objects.filter(user=person, to_status="invited").count() == 1
    assert job.progress == job.total


def test_a_bulk_status_change_killed_mid_way_changes_each_person_once_and_reports_them_all(alice, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 2)
    group = UserGroupFactory(organization=alice.organization)
    people = [MembershipFactory(group=group, user=UserFactory(organization=alice.organization)).user for _ in range(5)]
    job = BulkJob.objects.create(
        organization=alice.organization, created_by=alice, action="deactivate", filters=f"group={group.pk}", total=5
    )
    dying_action(monkeypatch, "deactivate", in_chunk=2)
    with pytest.raises(Killed):
        tasks.bulk_run_job(job.pk)
    tasks.bulk_run_job(job.pk)
    job.refresh_from_db()
    # The people the first run changed are counted as changed, not as "already inactive".
    assert (job.state, job.summary, job.progress) == ("done", "5 deactivated.", 5)
    for person in people:
        assert StatusChange.objects.filter(user=person, to_status="inactive").count() == 1


def test_an_import_killed_after_writing_is_not_applied_twice(alice, monkeypatch):
    data = b"first_name,last_name,email\n" + b"".join(b"N%d,P%d,n%d@acme.example\n" % (i, i, i) for i in range(3))
    job = ImportJob.objects.create(
        organization=alice.organization,
        created_by=alice,
        filename="people.csv",
        data=data,
        invite=True,
        state=ImportJob.State.APPLYING,
    )
    # Dies once the import is written, before anything else.
    kill_once(monkeypatch, imports, "users_import", on_call=1)
    with pytest.raises(Killed):
        tasks.import_apply_job(job.pk)
    tasks.import_apply_job(job.pk)  # the redelivery

    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert job.report["result"]["created"] == 3
    people = User.objects.filter(email__startswith="n", organization=alice.organization)
    assert people.count() == 3
    assert InvitationBatch.objects.count() == 1
    for person in people:
        assert Invitation.objects.filter(user=person).count() == 1
        assert StatusChange.objects.filter(user=person).count() == 2  # created, then invited once
