"""When an assessment invitation's messages go: at once, or N minutes before the opening (neither the
sweeper nor a retry sends them early); the one reminder before closing; two administrators pasting the
same new address at once."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import close_old_connections, connection
from django.utils import timezone

from accounts.models import Contact
from accounts.tests.factories import AdministratorFactory, OrganizationFactory, UserFactory
from assessments.models import AssessmentSettings, Assignee, Assignment, Attempt
from assessments.tests.factories import make_questionnaire
from audit.models import Action, AuditEvent
from flows.assessment_reminders import assignments_send_reminders
from flows.assessments import Selection, assessment_invite, assignment_remove_person
from invitations.models import Invitation
from invitations.services.account import batch_retry_failed
from invitations.services.delivery import invitations_deliver
from invitations.services.outbox import invitations_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiz(acme):
    return make_questionnaire(acme, title="Fire safety")


def delayed(acme, alice, people, *, minutes=30, opens_in=timedelta(hours=2)):
    AssessmentSettings.objects.update_or_create(organization=acme, defaults={"send_minutes_before_opening": minutes})
    assignment, _summary = assessment_invite(
        actor=alice,
        questionnaire=make_questionnaire(acme, title="Night shift"),
        selection=Selection(user_ids=tuple(p.pk for p in people)),
        opens_at=timezone.now() + opens_in,
    )
    return assignment


def time_passes(assignment, *, to):
    """Move the invitation's sending time to `to` (as if the clock had reached it)."""
    Assignment.objects.filter(pk=assignment.pk).update(send_at=to)
    Invitation.objects.filter(batch=assignment.batch).update(not_before=to)


def test_with_a_delay_the_messages_wait_until_n_minutes_before_the_opening(acme, alice, bob, deliver):
    assignment = deliver(lambda: delayed(acme, alice, [bob]))

    assert assignment.send_at == assignment.opens_at - timedelta(minutes=30)
    row = Invitation.objects.get(batch=assignment.batch)
    assert row.not_before == assignment.send_at and row.delivery == "pending"
    assert mail.outbox == []
    # The sweeper does not take it for lost, a task that reaches it early skips it, and neither does a retry.
    assert deliver(invitations_sweep) == 0
    assert invitations_deliver(invitation_ids=[row.pk]).sent == []
    deliver(lambda: batch_retry_failed(batch=assignment.batch, actor=alice))
    assert mail.outbox == []
    # A task queued for it before its time (it skipped the row): not lost while the time has not come.
    Invitation.objects.filter(pk=row.pk).update(enqueued_at=timezone.now() - timedelta(seconds=10))
    assert deliver(invitations_sweep) == 0

    time_passes(assignment, to=timezone.now() - timedelta(seconds=1))

    # Its time has come: the sweeper (beat, every INVITATIONS_SWEEP_INTERVAL) queues and sends it at once.
    assert deliver(invitations_sweep) == 1
    assert [m.to for m in mail.outbox] == [[bob.email]]
    row.refresh_from_db()
    assert row.delivery == "sent"


def test_a_delay_longer_than_the_time_to_the_opening_sends_at_once(acme, alice, bob, deliver):
    assignment = deliver(lambda: delayed(acme, alice, [bob], minutes=60, opens_in=timedelta(minutes=10)))
    assert assignment.send_at <= timezone.now()
    assert Invitation.objects.get(batch=assignment.batch).not_before is None
    assert len(mail.outbox) == 1


def test_someone_removed_before_the_sending_time_gets_no_message(acme, alice, bob, deliver):
    assignment = deliver(lambda: delayed(acme, alice, [bob]))
    assignment_remove_person(actor=alice, assignee=assignment.assignees.get())
    time_passes(assignment, to=timezone.now() - timedelta(seconds=1))
    assert deliver(invitations_sweep) == 0
    assert mail.outbox == []


# --- The reminder ---------------------------------------------------------------------------------


def closing_soon(acme, alice, people, *, hours_left=1.5, remind=2):
    AssessmentSettings.objects.update_or_create(organization=acme, defaults={"reminder_hours_before_closing": remind})
    assignment, _summary = assessment_invite(
        actor=alice,
        questionnaire=make_questionnaire(acme, title="Fire safety"),
        selection=Selection(user_ids=tuple(p.pk for p in people)),
    )
    Assignment.objects.filter(pk=assignment.pk).update(closes_at=timezone.now() + timedelta(hours=hours_left))
    assignment.refresh_from_db()
    return assignment


def test_one_reminder_goes_to_those_still_invited_who_have_not_started(acme, alice, bob, deliver):
    started, removed = UserFactory(organization=acme), UserFactory(organization=acme)
    assignment = deliver(lambda: closing_soon(acme, alice, [bob, started, removed]))
    Attempt.objects.create(
        organization=acme,
        questionnaire=assignment.questionnaire,
        user=started,
        assignee=Assignee.objects.get(assignment=assignment, user=started),
        started_at=timezone.now(),
    )
    assignment_remove_person(actor=alice, assignee=Assignee.objects.get(assignment=assignment, user=removed))
    mail.outbox.clear()

    assert deliver(assignments_send_reminders) == 1
    assert deliver(assignments_send_reminders) == 0  # once per invitation

    [reminder] = Invitation.objects.filter(batch=assignment.batch, is_reminder=True)
    assert reminder.user == bob and reminder.expires_at == assignment.closes_at
    first = Invitation.objects.get(batch=assignment.batch, user=bob, is_reminder=False)
    assert first.revoked_at is None  # the first link keeps working
    [message] = mail.outbox
    assert message.to == [bob.email] and "reminder" in message.subject.lower()
    assignment.refresh_from_db()
    assert assignment.reminded_at is not None
    assert AuditEvent.objects.filter(action=Action.ASSESSMENT_REMINDED).count() == 1


def test_no_reminder_before_its_time_or_when_the_organisation_sends_none(acme, alice, bob, deliver):
    assignment = deliver(lambda: closing_soon(acme, alice, [bob], hours_left=5, remind=2))
    assert deliver(assignments_send_reminders) == 0
    AssessmentSettings.objects.filter(organization=acme).update(reminder_hours_before_closing=0)
    Assignment.objects.filter(pk=assignment.pk).update(closes_at=timezone.now() + timedelta(minutes=30))
    assert deliver(assignments_send_reminders) == 0


@pytest.mark.django_db(transaction=True)
def test_two_processes_reminding_at_once_remind_once(acme, alice, bob):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    closing_soon(acme, alice, [bob])
    results, barrier = [], threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(assignments_send_reminders())
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    assert Invitation.objects.filter(is_reminder=True).count() == 1


# --- New contacts, race-safe ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_administrators_pasting_the_same_new_addresses_at_once_make_one_contact_each(db):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions: PostgreSQL")
    acme = OrganizationFactory(slug="acme", name="Acme")
    admins = [AdministratorFactory(organization=acme) for _ in range(2)]
    quiz = make_questionnaire(acme, title="Fire safety")
    addresses = "\n".join([f"new{n}@example.org" for n in range(50)] + ["06 12 34 56 78"])
    barrier, errors, summaries = threading.Barrier(2), [], []

    def paste(admin):
        try:
            barrier.wait()
            summaries.append(
                assessment_invite(actor=admin, questionnaire=quiz, selection=Selection(addresses=addresses))[1]
            )
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=paste, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Contact.objects.filter(organization=acme).count() == 51
    assert Assignee.objects.count() == 102  # each invitation has all 51
    # Each contact's creation is recorded once, by whoever made it.
    assert AuditEvent.objects.filter(action=Action.CONTACT_CREATED).count() == 51
    assert [s.total for s in summaries] == [51, 51]
