"""Input a browser or a spreadsheet can send but a database cannot store (NUL bytes), and work that
fails half-way in a background job: a clear message every time, never a 500 nor a job left spinning."""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import BulkJob, ImportJob, StatusChange, User
from accounts.tests.factories import UserFactory
from flows import jobs, tasks
from flows.importing import ImportFileError, read_table

pytestmark = pytest.mark.django_db
UPLOAD = reverse("accounts:user_import")
GENERIC_IMPORT_FAILURE = "An unexpected error stopped this import; nothing was imported."


def people_csv(rows=80, nul_row=None) -> bytes:
    """A CSV of `rows` people; row `nul_row` (as the preview numbers rows: the header is row 1) has a
    NUL byte in its first name. About 100 rows make 4 KB, the part of a file the format sniff reads."""
    lines = ["first_name,last_name,email"]
    for n in range(2, rows + 2):
        first = "Ann\x00" if n == nul_row else f"Person{n}"
        lines.append(f"{first},Lastname{n},person{n}@example.com")
    return ("\n".join(lines) + "\n").encode()


def test_a_nul_byte_in_the_status_reason_is_a_form_error_and_changes_nothing(alice_client, bob):
    url = reverse("accounts:user_status", args=[bob.pk, "inactive"])
    response = alice_client.post(url, {"reason": "left\x00the company"})
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    bob.refresh_from_db()
    assert bob.status == "active"
    assert not StatusChange.objects.filter(user=bob, to_status="inactive").exists()


def test_a_nul_byte_in_a_csv_cell_past_the_first_4_kb_is_refused_naming_its_row(alice, alice_client):
    data = people_csv(rows=150, nul_row=120)
    assert data.index(b"\x00") > 4096
    with pytest.raises(ImportFileError, match="Row 120 contains a NUL character"):
        read_table(data)
    response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("people.csv", data, "text/csv")})
    assert response.status_code == 200
    assert "Row 120 contains a NUL character" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not User.objects.filter(last_name="Lastname120").exists()


def test_an_unexpected_failure_while_checking_fails_the_import_with_a_message(alice, alice_client, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(tasks, "check_rows", broken)
    with caplog.at_level(logging.ERROR, logger="flows.tasks"):
        response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("people.csv", people_csv(rows=3))})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert (job.state, job.error) == ("failed", GENERIC_IMPORT_FAILURE)
    assert job.finished_at is not None
    page = alice_client.get(reverse("accounts:user_import_job", args=[job.pk])).content.decode()
    assert GENERIC_IMPORT_FAILURE in page
    assert "a bug" in caplog.text  # the cause is logged for whoever runs the service


def test_an_unexpected_failure_in_the_background_check_fails_the_import(
    alice, alice_client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(jobs, "BACKGROUND_ROWS", 2)

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(tasks, "check_rows", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("people.csv", people_csv(rows=3))})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.state, job.error) == ("failed", GENERIC_IMPORT_FAILURE)


def test_an_unexpected_failure_while_applying_fails_the_import_and_writes_nothing(
    alice, alice_client, monkeypatch, django_capture_on_commit_callbacks
):
    from flows import imports

    alice_client.post(UPLOAD, {"file": SimpleUploadedFile("people.csv", people_csv(rows=3))})
    job = ImportJob.objects.get()
    assert job.state == "ready"

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports, "audit_record_many", broken)  # the users are written by then
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.state, job.error) == ("failed", GENERIC_IMPORT_FAILURE)
    assert not User.objects.filter(last_name__startswith="Lastname").exists()


@pytest.mark.parametrize("where", ["filters", "action"])
def test_an_unexpected_failure_of_a_bulk_job_fails_it_with_a_message(alice, monkeypatch, where):
    from flows import bulk, filters

    UserFactory(organization=alice.organization)
    job = BulkJob.objects.create(organization=alice.organization, created_by=alice, action="deactivate", total=1)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(filters.UserFilter, "is_valid", broken) if where == "filters" else None
    monkeypatch.setattr(bulk, "run", broken) if where == "action" else None
    tasks.bulk_run_job(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and job.level == "error"
    assert "stopped before the end" in job.summary
    assert job.finished_at is not None
