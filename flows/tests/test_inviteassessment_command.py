"""`manage.py inviteassessment`: the same summary as the page, nothing written on error or dry run."""

import os
import subprocess
import sys

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import Contact, User
from accounts.tests.factories import MembershipFactory, UserFactory
from assessments.models import Assignment
from assessments.tests.factories import make_questionnaire
from invitations.models import Invitation
from invitations.tests.realworld import database_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(acme, lyon, paris):
    quiz = make_questionnaire(acme, title="Fire safety")
    both = UserFactory(organization=acme, first_name="Bea", last_name="Both", email="bea@acme.example")
    MembershipFactory(group=lyon, user=both)
    MembershipFactory(group=paris, user=both)
    MembershipFactory(group=paris, user=UserFactory(organization=acme, last_name="Paris", email="pia@acme.example"))
    UserFactory(
        organization=acme, first_name="Ida", last_name="Idle", email="ida@acme.example", status=User.Status.INACTIVE
    )
    return quiz


def test_it_invites_and_prints_the_summary(acme, world, capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "inviteassessment", "acme", "--questionnaire", "fire SAFETY", "--groups", "Lyon, Paris",
            "--users", "bea@acme.example,ida@acme.example", "--addresses", "new@example.org, 06 12 34 56 78",
            "--opens-at", "2027-01-06T09:00", "--closes-at", "2027-01-06T18:00",
        )  # fmt: skip
    out = capsys.readouterr().out
    assert "Groups: Lyon (1), Paris (2), 3 people in all" in out
    assert "People invited: 4 (2 users, 0 contacts, 2 new contacts)" in out
    assert "Skipped: Ida Idle: not active (inactive)" in out
    assert "New contacts: +33612345678, new@example.org" in out
    assert "Packets: +3–Pa" in out
    assignment = Assignment.objects.get()
    assert timezone.localtime(assignment.opens_at).isoformat().startswith("2027-01-06T09:00")
    assert Contact.objects.count() == 2
    assert Invitation.objects.filter(batch=assignment.batch).count() == 4
    assert len(mail.outbox) == 3  # and one SMS


def test_a_dry_run_prints_the_same_summary_and_writes_nothing(acme, world, capsys):
    call_command("inviteassessment", "acme", "--questionnaire", str(world.pk), "--groups", "Paris", "--addresses",
                 "new@example.org", "--dry-run")  # fmt: skip
    out = capsys.readouterr().out
    assert "People invited: 3 (2 users, 0 contacts, 1 new contacts)" in out
    assert "nothing was written" in out
    assert not Assignment.objects.exists() and not Contact.objects.exists() and not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--questionnaire", "Unknown"], "No questionnaire"),
        (["--questionnaire", "Fire safety", "--groups", "Nowhere"], "No group “Nowhere”"),
        (["--questionnaire", "Fire safety", "--users", "ghost@acme.example"], "No user"),
        (["--questionnaire", "Fire safety", "--users", "bea@acme.example", "--opens-at", "tomorrow"], "not a date"),
        (
            [
                "--questionnaire",
                "Fire safety",
                "--users",
                "bea@acme.example",
                "--opens-at",
                "2027-01-06T09:00",
                "--closes-at",
                "2027-01-06T08:00",
            ],
            "must close after it opens",
        ),  # fmt: skip
        (["--questionnaire", "Fire safety", "--users", "ida@acme.example"], "Nobody"),
    ],
)
def test_errors_are_clear_and_nothing_is_written(acme, world, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("inviteassessment", "acme", *arguments)
    assert not Assignment.objects.exists() and not Invitation.objects.exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="another process cannot open SQLite's in-memory test database"
)
def test_it_exits_non_zero_from_the_command_line():
    result = subprocess.run(
        [sys.executable, "manage.py", "inviteassessment", "nowhere", "--questionnaire", "x"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url()},  # the test database
        timeout=60,
    )
    assert result.returncode != 0
    assert "No organisation" in result.stderr
