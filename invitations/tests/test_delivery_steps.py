"""What each message of a packet costs the database (one statement), and what the overlap of that
statement with the SMTP exchange keeps: at most one message accepted by the server and not recorded,
which a crash sends again with the same link; never one lost, never one sent after its revocation."""

import email
import threading

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from invitations.models import Invitation
from invitations.services import delivery

from .helpers import LINK
from .test_recovery import Killed, invite_without_delivery


def test_each_message_of_a_packet_costs_one_statement(alice, acme, django_capture_on_commit_callbacks, db):
    def statements(count):
        users = [UserFactory(organization=acme, status="created") for _ in range(count)]
        ids = [row.pk for row in invite_without_delivery(django_capture_on_commit_callbacks, users, alice)]
        with CaptureQueriesContext(connection) as queries:
            outcome = delivery.invitations_deliver(invitation_ids=ids, worker="w@host", task=f"task-{count}")
        assert len(outcome.sent) == count
        return len(queries)

    small, large = statements(3), statements(9)
    assert (large - small) / 6 == 1


# --- Through a real SMTP server, with the overlap ------------------------------------------------


@pytest.fixture
def packet(acme, alice, smtp_server, settings, monkeypatch, django_capture_on_commit_callbacks, transactional_db):
    # Committed for real (the recorder's connection must see the rows), and queued to nobody.
    monkeypatch.setattr("invitations.tasks.deliver_packet.delay", lambda *args, **kwargs: None)
    monkeypatch.setattr("invitations.tasks.deliver_packet.apply_async", lambda *args, **kwargs: None)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    users = [UserFactory(organization=acme, status="created", first_name=f"P{n}") for n in range(5)]
    return [row.pk for row in invite_without_delivery(django_capture_on_commit_callbacks, users, alice)]


def received(smtp_server) -> list[int]:
    return [int(message["X-ExperQuiz-Invitation"]) for message in smtp_server.messages]


def links(smtp_server, pk) -> set[str]:
    found = set()
    for message in smtp_server.messages:
        if int(message["X-ExperQuiz-Invitation"]) == pk:
            body = message.get_body(preferencelist=("plain",)).get_content()
            found.add(LINK.search(body).group(0))
    return found


def sent_rows(ids) -> list[int]:
    return sorted(Invitation.objects.filter(pk__in=ids, delivery="sent").values_list("pk", flat=True))


def test_a_crash_after_the_server_accepted_a_message_sends_it_again_with_the_same_link(
    packet, smtp_server, monkeypatch
):
    original = delivery._Channels.email_content
    unrecorded = []

    def accept_then_die(self, payload):
        original(self, payload)
        pk = int(email.message_from_bytes(payload.data)["X-ExperQuiz-Invitation"])
        if pk == packet[2]:
            # Accepted by the server: every message before it is recorded already, it is not.
            unrecorded.append(len(received(smtp_server)) - len(sent_rows(packet)))
            raise Killed

    monkeypatch.setattr(delivery._Channels, "email_content", accept_then_die)
    with pytest.raises(Killed):
        delivery.invitations_deliver(invitation_ids=packet, worker="w@host", task="the-task")
    assert unrecorded == [1]
    assert sent_rows(packet) == packet[:2]
    monkeypatch.setattr(delivery._Channels, "email_content", original)
    # The task again (a retry keeps its id): the message in flight goes again, the rest once.
    outcome = delivery.invitations_deliver(invitation_ids=packet, worker="w@host", task="the-task")
    assert outcome.sent == packet[2:]
    assert sorted(received(smtp_server)) == sorted([*packet, packet[2]])
    assert len(links(smtp_server, packet[2])) == 1, "both copies carry the same link"
    assert sent_rows(packet) == packet


def test_no_message_goes_before_the_one_before_it_is_recorded(packet, smtp_server, monkeypatch):
    """The database goes away while the 3rd message's check runs: the 2nd (accepted, not recorded)
    is the only one to go again; the 3rd's content never went."""
    submit = delivery._Recorder.submit

    class Gone:
        """The statement that never reached the database: its answer is an error."""

        def result(self):
            raise OperationalError("the database went away")

    def gone_at_the_third(self, sent_pk, next_pk, *, task):
        if next_pk == packet[2]:
            return Gone()
        return submit(self, sent_pk, next_pk, task=task)

    monkeypatch.setattr(delivery._Recorder, "submit", gone_at_the_third)
    with pytest.raises(OperationalError):
        delivery.invitations_deliver(invitation_ids=packet, worker="w@host", task="the-task")
    assert received(smtp_server) == packet[:2]
    assert sent_rows(packet) == packet[:1]
    monkeypatch.setattr(delivery._Recorder, "submit", submit)
    delivery.invitations_deliver(invitation_ids=packet, worker="w@host", task="the-task")
    assert sorted(received(smtp_server)) == sorted([*packet, packet[1]])
    assert len(links(smtp_server, packet[1])) == 1
    assert sent_rows(packet) == packet


def test_a_message_revoked_while_the_one_before_it_goes_is_not_sent(packet, smtp_server, monkeypatch):
    original = delivery._Channels.email_content

    def revoke_the_next(self, payload):
        if int(email.message_from_bytes(payload.data)["X-ExperQuiz-Invitation"]) == packet[1]:
            Invitation.objects.filter(pk=packet[2]).update(revoked_at=timezone.now())
        original(self, payload)

    monkeypatch.setattr(delivery._Channels, "email_content", revoke_the_next)
    outcome = delivery.invitations_deliver(invitation_ids=packet, worker="w@host", task="the-task")
    assert outcome.sent == [packet[0], packet[1], packet[3], packet[4]]
    assert received(smtp_server) == outcome.sent
    assert packet[2] not in sent_rows(packet)


def test_a_second_copy_of_the_same_task_sends_nothing_while_the_first_runs(packet, smtp_server, monkeypatch):
    """A redelivered task (the same id) takes the claim back at once, but not while the original runs."""
    original = delivery._Channels.email_content
    second = []

    def run_a_copy(self, payload):
        original(self, payload)
        if not second:
            thread = threading.Thread(
                target=lambda: second.append(
                    delivery.invitations_deliver(invitation_ids=packet, worker="w2@host", task="the-task")
                )
            )
            thread.start()
            thread.join()

    monkeypatch.setattr(delivery._Channels, "email_content", run_a_copy)
    outcome = delivery.invitations_deliver(invitation_ids=packet, worker="w@host", task="the-task")
    assert outcome.sent == packet
    assert second[0].sent == second[0].retry == second[0].failed == []
    assert sorted(received(smtp_server)) == sorted(packet)


def test_the_statements_of_a_packet_run_on_its_own_thread(packet, smtp_server, monkeypatch):
    """The statement recording each message goes from the packet's own thread while the envelope goes,
    its answer read after it: no thread is started for it (a hand-off per message cost more than the
    statement), and every message is still recorded once accepted."""
    started = []
    start = threading.Thread.start

    def note_and_start(self):
        started.append(self.name)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", note_and_start)
    outcome = delivery.invitations_deliver(invitation_ids=packet, worker="w@host", task="the-task")
    assert started == []
    assert outcome.sent == packet
    assert received(smtp_server) == packet
    assert sent_rows(packet) == packet
