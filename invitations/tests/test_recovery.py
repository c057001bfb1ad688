"""Delivery after a crash or an outage, with the default settings (issue 10).

The worker claims a packet with a short lease before it sends, a retry writes its time on the row, and
the sweeper queues again only what is neither claimed, nor waiting for its retry, nor just queued:
what was lost. A message may go twice after a crash (SMTP cannot be exactly-once), so a link, or a
temporary password, is derived from the row and the secret key: every copy a person receives works.

The same faults with real processes (a Celery worker, Redis, PostgreSQL, SMTP) are in
test_real_delivery.py; these tests pin each rule on its own.
"""

import smtplib
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from invitations.models import Invitation
from invitations.selectors import invitation_by_token
from invitations.services import account, delivery, outbox
from invitations.tokens import hash_token

from .helpers import LINK

pytestmark = pytest.mark.django_db

Kind = Invitation.Kind
NEW_PASSWORD = "violet-umbrella-42"


class Killed(BaseException):
    """The worker dies here: no `except Exception` catches it, every open transaction rolls back."""


@pytest.fixture
def carol(acme):
    return UserFactory(organization=acme, email="carol@acme.example", status="created")


def queued(django_capture_on_commit_callbacks, action):
    """Run a sending without its on-commit publication: the rows wait, nothing is delivered."""
    with django_capture_on_commit_callbacks(execute=False):
        return action()


def invite_without_delivery(django_capture_on_commit_callbacks, users, actor):
    queryset = User.objects.filter(pk__in=[user.pk for user in users])
    queued(
        django_capture_on_commit_callbacks,
        lambda: account.invitations_send(organization=actor.organization, users=queryset, actor=actor),
    )
    return list(Invitation.objects.filter(user__in=users).order_by("pk"))


def crash_after_the_server_accepted(monkeypatch, when=lambda message: True):
    """The SMTP server takes the message, then the worker dies before it records it as sent."""
    original = EmailBackend.send_messages

    def accept_then_die(self, messages):
        sent = original(self, messages)
        if when(messages[0]):
            raise Killed
        return sent

    monkeypatch.setattr(EmailBackend, "send_messages", accept_then_die)
    return lambda: monkeypatch.setattr(EmailBackend, "send_messages", original)


def crash_mid_packet(monkeypatch, invitation):
    """A worker dies just after the server accepted `invitation`'s message; its claim then runs out."""
    recover = crash_after_the_server_accepted(monkeypatch)
    with pytest.raises(Killed):
        delivery.invitations_deliver(invitation_ids=[invitation.pk], worker="w1@host", task="t-1")
    recover()
    Invitation.objects.filter(pk=invitation.pk).update(claimed_until=ago(1))


def ago(seconds):
    return timezone.now() - timedelta(seconds=seconds)


# --- A message sent twice carries the same working link ------------------------------------------


def test_a_message_sent_again_after_a_crash_carries_the_same_link_and_both_copies_work(
    alice, carol, monkeypatch, django_capture_on_commit_callbacks
):
    (invitation,) = invite_without_delivery(django_capture_on_commit_callbacks, [carol], alice)
    crash_mid_packet(monkeypatch, invitation)
    invitation.refresh_from_db()
    assert invitation.delivery == "pending", "the crash happened before the row said sent"
    first = LINK.search(mail.outbox[0].body).group(0)
    # The person may open the first copy before the second one is sent: it works already.
    assert invitation_by_token(carol.organization, LINK.search(first).group(1), [Kind.ACCOUNT]) == invitation

    delivery.invitations_deliver(invitation_ids=[invitation.pk])  # what the sweeper's copy does
    assert len(mail.outbox) == 2
    second = LINK.search(mail.outbox[1].body).group(0)
    assert second == first
    invitation.refresh_from_db()
    assert invitation.delivery == "sent"
    # The raw token is stored nowhere in the row, only its hash (and the nonce it is derived from).
    token = LINK.search(first).group(1)
    assert invitation.token_hash == hash_token(token)
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    parts = urlsplit(first)
    client = Client(HTTP_HOST=parts.netloc)
    assert client.get(parts.path).status_code == 200
    response = client.post(
        parts.path,
        {"first_name": "Carol", "last_name": "C", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    carol.refresh_from_db()
    assert carol.status == "active"


def test_a_temporary_password_sent_again_after_a_crash_is_the_same_and_works_from_the_first_copy(
    alice, carol, monkeypatch, django_capture_on_commit_callbacks
):
    invitation = queued(
        django_capture_on_commit_callbacks,
        lambda: account.user_activate_with_temporary_password(user=carol, actor=alice),
    )
    crash_mid_packet(monkeypatch, invitation)
    first = mail.outbox[0].body.split("Temporary password:")[1].split()[0]
    carol.refresh_from_db()
    assert check_password(first, carol.password), "the first copy's password works before the second is sent"

    delivery.invitations_deliver(invitation_ids=[invitation.pk])
    second = mail.outbox[1].body.split("Temporary password:")[1].split()[0]
    assert second == first
    carol.refresh_from_db()
    assert check_password(first, carol.password) and carol.must_change_password
    invitation.refresh_from_db()
    assert invitation.delivery == "sent" and invitation.used_at is not None


def test_each_invitation_has_its_own_link_and_a_resend_makes_a_new_one(
    alice, carol, acme, django_capture_on_commit_callbacks, deliver
):
    dave = UserFactory(organization=acme, email="dave@acme.example", status="created")
    deliver(
        lambda: account.invitations_send(
            organization=acme, users=User.objects.filter(pk__in=[carol.pk, dave.pk]), actor=alice
        )
    )
    links = {message.to[0]: LINK.search(message.body).group(1) for message in mail.outbox}
    assert links["carol@acme.example"] != links["dave@acme.example"]
    deliver(lambda: account.invitations_send(organization=acme, users=User.objects.filter(pk=carol.pk), actor=alice))
    again = LINK.search(mail.outbox[-1].body).group(1)
    assert again != links["carol@acme.example"]
    old = invitation_by_token(acme, links["carol@acme.example"], [Kind.ACCOUNT])
    assert old.revoked_at is not None, "a resend is a new invitation and revokes the old one"


def test_a_link_rendered_before_a_key_rotation_is_rendered_the_same_with_the_old_key_as_a_fallback(
    alice, carol, settings, monkeypatch, django_capture_on_commit_callbacks
):
    (invitation,) = invite_without_delivery(django_capture_on_commit_callbacks, [carol], alice)
    crash_mid_packet(monkeypatch, invitation)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-after-rotation"
    delivery.invitations_deliver(invitation_ids=[invitation.pk])
    first, second = (LINK.search(message.body).group(1) for message in mail.outbox)
    assert first == second
    invitation.refresh_from_db()
    assert invitation.token_hash == hash_token(first)


# --- Lost, claimed, waiting for a retry: the sweeper tells them apart -------------------------------


def test_the_sweeper_queues_again_what_was_lost_a_minute_and_a_half_ago(
    alice, carol, django_capture_on_commit_callbacks
):
    """With the defaults: recovery within two minutes of the fault, not twenty."""
    (invitation,) = invite_without_delivery(django_capture_on_commit_callbacks, [carol], alice)
    Invitation.objects.filter(pk=invitation.pk).update(enqueued_at=ago(90))
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.invitations_sweep() == 1
    assert [message.to for message in mail.outbox] == [[carol.email]]


def test_the_sweeper_leaves_alone_what_was_just_queued(alice, carol, django_capture_on_commit_callbacks):
    invite_without_delivery(django_capture_on_commit_callbacks, [carol], alice)
    assert outbox.invitations_sweep() == 0


def test_the_sweeper_leaves_a_scheduled_retry_alone_until_its_time_has_passed(
    alice, carol, django_capture_on_commit_callbacks
):
    (invitation,) = invite_without_delivery(django_capture_on_commit_callbacks, [carol], alice)
    Invitation.objects.filter(pk=invitation.pk).update(enqueued_at=ago(600), next_attempt_at=ago(-60))
    assert outbox.invitations_sweep() == 0
    # The retry's task was lost with it (a restarted worker held it): once its time is past, it is lost.
    Invitation.objects.filter(pk=invitation.pk).update(next_attempt_at=ago(90))
    assert outbox.invitations_sweep() == 1


def test_the_sweeper_leaves_a_claimed_packet_alone_until_its_lease_ends(
    alice, carol, django_capture_on_commit_callbacks
):
    (invitation,) = invite_without_delivery(django_capture_on_commit_callbacks, [carol], alice)
    Invitation.objects.filter(pk=invitation.pk).update(enqueued_at=ago(600), claimed_until=ago(-30))
    assert outbox.invitations_sweep() == 0
    Invitation.objects.filter(pk=invitation.pk).update(claimed_until=ago(1))  # its worker died
    assert outbox.invitations_sweep() == 1


def test_packets_waiting_behind_one_being_sent_are_not_queued_twice(alice, acme, django_capture_on_commit_callbacks):
    """A big sending: packets wait in the broker while the first is sent; they are not lost."""
    users = [UserFactory(organization=acme, status="created") for _ in range(3)]
    first, *waiting = invite_without_delivery(django_capture_on_commit_callbacks, users, alice)
    Invitation.objects.filter(pk__in=[first.pk, *(row.pk for row in waiting)]).update(enqueued_at=ago(300))
    Invitation.objects.filter(pk=first.pk).update(claimed_until=ago(-30))
    assert outbox.invitations_sweep() == 0
    # A row queued before the packet being sent is behind nothing: its task was lost.
    Invitation.objects.filter(pk=waiting[0].pk).update(enqueued_at=ago(400))
    assert outbox.invitations_sweep() == 1


def test_a_sending_the_broker_refused_is_queued_again_at_the_next_sweep(
    alice, carol, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("invitations.tasks.deliver_packet.delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        account.invitations_send(organization=carol.organization, users=User.objects.filter(pk=carol.pk), actor=alice)
    invitation = Invitation.objects.get(user=carol)
    assert invitation.delivery == "pending" and invitation.enqueued_at is None
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.invitations_sweep() == 1
    assert [message.to for message in mail.outbox] == [[carol.email]]


def test_once_the_broker_is_back_what_was_queued_before_it_went_away_is_swept_at_once(
    alice, acme, django_capture_on_commit_callbacks
):
    """A Redis restarted without persistence lost its queue, and the worker dropped the retries it
    held with the connection: nothing queued before the loss will come, however recent."""
    users = [UserFactory(organization=acme, status="created") for _ in range(4)]
    queued, retrying, after, claimed = invite_without_delivery(django_capture_on_commit_callbacks, users, alice)
    Invitation.objects.filter(pk=queued.pk).update(enqueued_at=ago(5))
    Invitation.objects.filter(pk=retrying.pk).update(enqueued_at=ago(10), next_attempt_at=ago(-60))
    Invitation.objects.filter(pk=after.pk).update(enqueued_at=ago(0))
    Invitation.objects.filter(pk=claimed.pk).update(enqueued_at=ago(5), claimed_until=ago(-30))
    assert outbox.invitations_sweep() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.invitations_sweep(broker_lost_at=ago(2)) == 2
    assert sorted(message.to[0] for message in mail.outbox) == sorted([queued.address, retrying.address])


# --- Claims ------------------------------------------------------------------------------------------


def test_a_packet_is_claimed_before_anything_is_sent_and_another_copy_takes_nothing(
    alice, acme, monkeypatch, django_capture_on_commit_callbacks
):
    users = [UserFactory(organization=acme, status="created") for _ in range(3)]
    rows = invite_without_delivery(django_capture_on_commit_callbacks, users, alice)
    ids = [row.pk for row in rows]
    seen = []
    original = EmailBackend.send_messages

    def send_and_look(self, messages):
        if not seen:
            # While the first message goes, the whole packet is claimed: a second copy of the task (a
            # redelivery, the sweeper's) finds nothing to send.
            seen.append(
                list(
                    Invitation.objects.filter(pk__in=ids, claimed_until__gt=timezone.now()).values_list("pk", flat=True)
                )
            )
            seen.append(delivery.invitations_deliver(invitation_ids=ids, task="another-copy"))
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_and_look)
    outcome = delivery.invitations_deliver(invitation_ids=ids, task="the-task")
    claimed, other = seen
    assert sorted(claimed) == ids
    assert other.sent == other.retry == other.failed == []
    assert outcome.sent == ids and len(mail.outbox) == 3


def test_a_retry_of_the_same_task_takes_its_claim_back_at_once(
    alice, carol, monkeypatch, django_capture_on_commit_callbacks
):
    """A task that stopped half-way (the database went away) and is retried, or redelivered after its
    worker process died, does not wait for its own lease to end."""
    (invitation,) = invite_without_delivery(django_capture_on_commit_callbacks, [carol], alice)
    Invitation.objects.filter(pk=invitation.pk).update(
        claimed_until=ago(-50), claimed_by="w1@host", claim_task_id="t-1"
    )
    assert delivery.invitations_deliver(invitation_ids=[invitation.pk], task="t-2").sent == []
    assert delivery.invitations_deliver(invitation_ids=[invitation.pk], task="t-1").sent == [invitation.pk]


def test_a_restarted_worker_ends_the_claims_of_its_earlier_run(alice, acme, django_capture_on_commit_callbacks):
    users = [UserFactory(organization=acme, status="created") for _ in range(3)]
    mine, running, elsewhere = invite_without_delivery(django_capture_on_commit_callbacks, users, alice)
    started = timezone.now()
    lease = timedelta(seconds=60)
    Invitation.objects.filter(pk=mine.pk).update(
        claimed_until=started - timedelta(seconds=20) + lease, claimed_by="w1@host"
    )
    # Claimed by this run already (after it started): not the earlier run's.
    Invitation.objects.filter(pk=running.pk).update(
        claimed_until=started + timedelta(seconds=1) + lease, claimed_by="w1@host"
    )
    Invitation.objects.filter(pk=elsewhere.pk).update(claimed_until=started + lease, claimed_by="w2@host")
    assert delivery.invitations_release_claims(worker="w1@host", started=started) == 1
    claims = dict(Invitation.objects.values_list("pk", "claimed_until"))
    assert claims[mine.pk] is None and claims[running.pk] and claims[elsewhere.pk]


# --- Outages and failures ------------------------------------------------------------------------------


def test_an_unreachable_server_is_an_outage_the_messages_wait_for_without_using_their_attempts(
    alice, acme, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens on the discard port
    settings.INVITATIONS_MAX_ATTEMPTS = 2
    users = [UserFactory(organization=acme, status="created") for _ in range(2)]
    rows = invite_without_delivery(django_capture_on_commit_callbacks, users, alice)
    ids = [row.pk for row in rows]
    for _ in range(3):  # more retries than INVITATIONS_MAX_ATTEMPTS
        before = timezone.now()
        outcome = delivery.invitations_deliver(invitation_ids=ids, retry_in=45)
        assert outcome.retry == ids and outcome.failed == []
    for row in Invitation.objects.filter(pk__in=ids):
        assert row.delivery == "pending" and row.attempts == 0 and "refused" in row.last_error.lower()
        # The retry's time is on the row, and the claim is given back for it.
        assert before + timedelta(seconds=44) < row.next_attempt_at < timezone.now() + timedelta(seconds=46)
        assert row.claimed_until is None


def test_an_sms_gateway_that_is_unavailable_is_an_outage_too(
    alice, acme, settings, sms_gateway, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND, settings.SMS_URL, settings.SMS_TOKEN = (
        "experquiz.sms.backends.http.SmsBackend",
        sms_gateway.url,
        "gateway-secret",
    )
    texting = UserFactory(organization=acme, email="", mobile="+33612345670", preferred_channel="sms", status="created")
    (invitation,) = invite_without_delivery(django_capture_on_commit_callbacks, [texting], alice)
    sms_gateway.failing = True  # 503
    for _ in range(settings.INVITATIONS_MAX_ATTEMPTS + 1):
        assert delivery.invitations_deliver(invitation_ids=[invitation.pk], retry_in=15).retry == [invitation.pk]
    invitation.refresh_from_db()
    assert invitation.delivery == "pending" and invitation.attempts == 0 and "503" in invitation.last_error
    sms_gateway.failing = False
    assert delivery.invitations_deliver(invitation_ids=[invitation.pk]).sent == [invitation.pk]
    assert [post["to"] for post in sms_gateway.posts] == ["+33612345670"]


def test_a_message_the_server_defers_counts_its_attempts_then_fails(
    alice, acme, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.INVITATIONS_MAX_ATTEMPTS = 2
    users = [UserFactory(organization=acme, status="created") for _ in range(2)]
    deferred, fine = invite_without_delivery(django_capture_on_commit_callbacks, users, alice)
    original = EmailBackend.send_messages

    def defer(self, messages):
        if messages[0].to == [deferred.address]:
            raise smtplib.SMTPRecipientsRefused({deferred.address: (450, b"mailbox busy")})
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", defer)
    outcome = delivery.invitations_deliver(invitation_ids=[deferred.pk, fine.pk])
    # The server answered: the channel works, the rest of the packet goes.
    assert outcome.retry == [deferred.pk] and outcome.sent == [fine.pk]
    deferred.refresh_from_db()
    assert deferred.delivery == "pending" and deferred.attempts == 1
    outcome = delivery.invitations_deliver(invitation_ids=[deferred.pk])
    deferred.refresh_from_db()
    assert outcome.failed == [deferred.pk] and deferred.delivery == "failed" and deferred.attempts == 2


def test_retry_countdowns_stay_short_enough_to_recover_within_two_minutes(settings):
    from invitations.tasks import retry_countdown

    countdowns = [retry_countdown(retries) for retries in range(12)]
    assert countdowns == sorted(countdowns) and countdowns[0] > 0
    assert max(countdowns) <= 90
    assert max(countdowns) < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_the_retry_button_takes_back_messages_waiting_for_an_outage_to_end(
    alice, carol, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    (invitation,) = invite_without_delivery(django_capture_on_commit_callbacks, [carol], alice)
    delivery.invitations_deliver(invitation_ids=[invitation.pk])
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert account.batch_retry_failed(batch=invitation.batch, actor=alice) == 1
    assert [message.to for message in mail.outbox] == [[carol.email]]


def test_the_system_checks_refuse_timings_that_would_break_recovery(settings):
    from invitations.checks import retry_timings

    assert retry_timings(None) == []  # the defaults
    settings.INVITATIONS_RETRY_MAX = 3600
    settings.INVITATIONS_LEASE = 30  # no longer than the SMTP timeout (30 s when unset)
    assert [error.id for error in retry_timings(None)] == ["invitations.E001", "invitations.E002"]


# --- Cost -----------------------------------------------------------------------------------------


def test_a_packet_reads_its_rows_once_then_costs_two_plain_statements_per_message(
    alice, acme, django_capture_on_commit_callbacks
):
    """The claim reads the packet with what its messages need, once; each message then only locks
    its row and records it sent (issue 12: a locking read joining three tables and an ORM update per
    message were most of 18.7 ms)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    users = [UserFactory(organization=acme, status="created") for _ in range(20)]
    ids = [row.pk for row in invite_without_delivery(django_capture_on_commit_callbacks, users, alice)]
    with CaptureQueriesContext(connection) as captured:
        outcome = delivery.invitations_deliver(invitation_ids=ids, task="t-1")
    assert outcome.sent == ids and len(mail.outbox) == 20
    assert set(Invitation.objects.filter(pk__in=ids).values_list("delivery", "claim_task_id")) == {("sent", "")}
    statements = [query["sql"] for query in captured if "SAVEPOINT" not in query["sql"]]
    assert len(statements) <= 3 + 2 * len(ids)  # the claim: a read, then one statement (two elsewhere than PostgreSQL)
    assert sum(" JOIN " in sql for sql in statements) <= 2, "rows and recipients are read once per packet"
