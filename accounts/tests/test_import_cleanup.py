"""Uploaded people files are not kept once they are of no use: a file never imported is deleted a
day after its upload, by a Celery beat task and by a management command calling one service."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import ImportJob

pytestmark = pytest.mark.django_db
State = ImportJob.State
DELETED = (
    "This file was deleted without being imported: uploaded files are kept 24 hours. Upload it again to import it."
)


def job(owner, state, *, age_hours, data=b"email\nann@example.com\n", error=""):
    made = ImportJob.objects.create(
        organization=owner.organization,
        created_by=owner,
        filename="people.csv",
        data=data,
        state=state,
        report={"rows": [{"row": 2, "label": "ann@example.com"}], "error": 0},
        error=error,
    )
    ImportJob.objects.filter(pk=made.pk).update(created_at=timezone.now() - timedelta(hours=age_hours))
    return made


@pytest.fixture
def jobs(alice):
    return {
        "ready_old": job(alice, State.READY, age_hours=25),
        "checking_old": job(alice, State.CHECKING, age_hours=48),
        "failed_old": job(alice, State.FAILED, age_hours=30, error="Missing column"),
        "ready_recent": job(alice, State.READY, age_hours=23),
        "applying_old": job(alice, State.APPLYING, age_hours=25),
        "done_old": job(alice, State.DONE, age_hours=72, data=b""),
    }


def reloaded(jobs):
    return {name: ImportJob.objects.get(pk=item.pk) for name, item in jobs.items()}


def assert_purged_as_expected(jobs):
    now = reloaded(jobs)
    for name in ("ready_old", "checking_old", "failed_old"):
        assert bytes(now[name].data) == b"", name
        assert now[name].report == {}, name  # the preview names people too
        assert now[name].state == State.FAILED, name
    assert (now["ready_old"].error, now["checking_old"].error) == (DELETED, DELETED)
    assert now["failed_old"].error == "Missing column"  # why it failed stays
    for name in ("ready_recent", "applying_old"):
        assert bytes(now[name].data) != b"" and now[name].state == jobs[name].state, name


def test_the_service_deletes_the_files_of_imports_never_applied_after_a_day(jobs):
    from accounts.services import import_files_purge

    assert import_files_purge() == 3
    assert_purged_as_expected(jobs)
    assert import_files_purge() == 0  # nothing left to delete


def test_the_command_does_the_same(jobs, capsys):
    call_command("purgeimports")
    assert "3 import files deleted" in capsys.readouterr().out
    assert_purged_as_expected(jobs)


def test_celery_beat_runs_the_purge_every_hour(jobs):
    from experquiz.celery import app

    [entry] = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"].endswith("imports_purge")]
    assert entry["schedule"] <= 3600
    app.loader.import_default_modules()
    assert app.tasks[entry["task"]].apply().get() == 3
    assert_purged_as_expected(jobs)


def test_a_purged_import_cannot_be_confirmed_and_says_why(alice_client, jobs):
    from accounts.services import import_files_purge

    import_files_purge()
    pk = jobs["ready_old"].pk
    response = alice_client.post(reverse("accounts:user_import_confirm", args=[pk]), follow=True)
    page = response.content.decode()
    assert "cannot be confirmed" in page and DELETED in page
