"""The services that start the work a page follows (flows.jobs), called as the pages call them."""

import pytest

from accounts.models import BulkJob, ImportJob, User
from accounts.tests.factories import UserFactory
from experquiz.errors import DomainError
from flows import bulk
from flows.importing import ImportFileError
from flows.jobs import bulk_job_start, import_job_confirm, import_job_create

pytestmark = pytest.mark.django_db


def test_an_unreadable_file_is_refused_and_nothing_is_kept(alice):
    with pytest.raises(ImportFileError):
        import_job_create(organization=alice.organization, actor=alice, filename="x.csv", data=b"", invite=False)
    assert not ImportJob.objects.exists()


def test_an_import_is_checked_then_applied_once(alice):
    job = import_job_create(
        organization=alice.organization, actor=alice, filename="p.csv", data=b"email\nann@acme.example\n", invite=False
    )
    job.refresh_from_db()
    assert (job.state, job.report["create"], job.created_by) == ("ready", 1, alice)
    import_job_confirm(job=job, actor=alice)
    job.refresh_from_db()
    assert job.state == "done" and User.objects.filter(email="ann@acme.example").count() == 1
    with pytest.raises(DomainError, match="cannot be confirmed"):
        import_job_confirm(job=job, actor=alice)
    assert User.objects.filter(email="ann@acme.example").count() == 1


def test_an_import_with_rows_in_error_cannot_be_confirmed(alice):
    job = import_job_create(
        organization=alice.organization, actor=alice, filename="p.csv", data=b"email\nnot-an-email\n", invite=False
    )
    with pytest.raises(DomainError):
        import_job_confirm(job=job, actor=alice)
    job.refresh_from_db()
    assert job.state == "ready"


def test_a_bulk_job_runs_once_its_row_is_committed(alice, django_capture_on_commit_callbacks):
    people = [
        UserFactory(organization=alice.organization, first_name=f"Zork{n}", email=f"zork{n}@acme.example")
        for n in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True) as queued:
        job = bulk_job_start(
            organization=alice.organization,
            actor=alice,
            action=bulk.REGISTRY["deactivate"],
            filters="q=zork",
            total=3,
        )
    assert queued  # the task leaves only with the committed job row
    job.refresh_from_db()
    assert (job.state, job.progress, job.action) == (BulkJob.State.DONE, 3, "deactivate")
    assert all(User.objects.get(pk=person.pk).status == "inactive" for person in people)
