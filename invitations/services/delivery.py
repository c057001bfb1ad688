"""Delivery: sending a packet of invitations, in the Celery worker (`tasks.deliver_packet`).

A packet is first claimed: its rows are read once, with what their messages need, and one statement
gives each row still pending, and held by no other worker, a lease (INVITATIONS_LEASE, renewed while
the packet is sent) and its link's hash, so the sweeper knows the row is being sent and a message that
reaches someone before a crash already carries a working link. Each message then costs one statement,
in autocommit: the one that records the previous message as sent (right after the server accepted it)
also checks this one is still to send (pending, not revoked, still this task's claim). A second copy
of the same task (redelivered by the broker) waits for nothing and sends nothing while the first runs
(an advisory lock on the task's id); other tasks skip what is claimed or no longer pending; and a crash
loses at most the one message accepted and not yet recorded, which stays pending and goes again with
the same link (tokens are derived: invitations.tokens)."""

import contextlib
import logging
import select
import smtplib
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from psycopg import pq

from accounts.models import Channel, User
from experquiz import sms

from .. import messages, smtp
from ..composer import Composer, PreparedEmail
from ..models import Invitation
from ..tokens import hash_token, link_token_for, temporary_password
from .revocation import account_links_revoke

logger = logging.getLogger(__name__)

Kind = Invitation.Kind
Delivery = Invitation.Delivery
Status = User.Status

LINK_KINDS = {Kind.ACCOUNT, Kind.ASSESSMENT, Kind.PASSWORD_RESET}
UNCLAIMED = {"claimed_until": None, "claimed_by": "", "claim_task_id": ""}
# The database going away (a restart, a failover): the packet stops, and its task retries it.
DATABASE_GONE = (OperationalError, InterfaceError)


@dataclass
class DeliveryOutcome:
    sent: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    retry: list = field(default_factory=list)


class TransientFailure(Exception):
    """Worth trying again later; counts an attempt (INVITATIONS_MAX_ATTEMPTS)."""


class ChannelDown(TransientFailure):
    """The server could not be reached, or went away earlier in the packet: an outage, not this
    message's fault. The message waits for the channel without using its attempts."""


class PermanentFailure(Exception):
    pass


def _classify_smtp(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            return PermanentFailure(f"Address refused: {codes[0]}")
        return TransientFailure(f"Address temporarily refused: {codes[0] if codes else '?'}")
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500:
        return PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
    return TransientFailure(f"{type(exc).__name__}: {exc}")


def _connection_lost(exc: Exception) -> bool:
    """The connection failed (reset, closed, timed out, 421), rather than the server refusing one message."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    return not isinstance(exc, smtplib.SMTPException)  # smtplib's exceptions are OSErrors too


class _Channels:
    """One SMTP connection and one SMS backend per packet, opened when first needed.

    A server that cannot be reached is an outage: the channel is down for the rest of the packet, and
    its messages wait for the retry (`ChannelDown`) instead of each waiting for its own timeout. So is
    a connection lost while sending (that message counts an attempt). A server that answers a message
    with a refusal is up: the next messages go on.
    """

    def __init__(self):
        self.email = None
        self.sms = None
        self.down: dict[str, str] = {}

    @staticmethod
    def sends_bytes() -> bool:
        """Whether emails go through Django's own SMTP backend, which can send prepared bytes
        (`composer.PreparedEmail`) as they are."""
        return settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"

    def send(self, invitation, payload):
        channel = invitation.channel
        if channel in self.down:
            raise ChannelDown(self.down[channel])
        if channel == Channel.EMAIL:
            self._send_email(payload)
        else:
            self._send_sms(invitation, payload)

    def _open_email(self):
        if self.email is None:
            connection = mail.get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT or 30)
            try:
                connection.open()
            except (smtplib.SMTPException, OSError) as exc:
                failure = _classify_smtp(exc)
                if isinstance(failure, TransientFailure):
                    failure = self._down(Channel.EMAIL, ChannelDown(str(failure)))
                raise failure from exc
            self.email = connection
        return self.email

    def _email_failure(self, exc):
        failure = _classify_smtp(exc)
        if _connection_lost(exc):
            self._down(Channel.EMAIL, failure)
        return failure

    def _send_email(self, payload):
        self._open_email()
        try:
            if isinstance(payload, PreparedEmail):
                self.email.connection.sendmail(payload.sender, payload.recipients, payload.data)
            else:
                self.email.send_messages([payload])
        except (smtplib.SMTPException, OSError) as exc:
            raise self._email_failure(exc) from exc

    # A prepared email in two steps (invitations.smtp): the envelope, then the content or nothing.
    def email_envelope(self, payload: PreparedEmail):
        if Channel.EMAIL in self.down:
            raise ChannelDown(self.down[Channel.EMAIL])
        self._open_email()
        try:
            smtp.envelope(self.email.connection, payload.sender, payload.recipients[0], len(payload.data))
        except (smtplib.SMTPException, OSError) as exc:
            raise self._email_failure(exc) from exc

    def email_content(self, payload: PreparedEmail):
        try:
            smtp.content(self.email.connection, payload.data)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._email_failure(exc) from exc

    def email_abandon(self):
        try:
            smtp.abandon(self.email.connection)
        except (smtplib.SMTPException, OSError) as exc:
            self._down(Channel.EMAIL, self._email_failure(exc))

    def _send_sms(self, invitation, payload):
        try:
            if self.sms is None:
                self.sms = sms.get_connection()
                self.sms.open()
            self.sms.send_messages([sms.SmsMessage(to=invitation.address, body=payload)])
        except sms.SmsError as exc:
            if exc.outage:
                failure = self._down(Channel.SMS, ChannelDown(str(exc)))
            else:
                failure = TransientFailure(str(exc)) if exc.transient else PermanentFailure(str(exc))
            raise failure from exc

    def _down(self, channel, failure):
        self.down[channel] = str(failure)
        if channel == Channel.EMAIL:
            self._close_email()
        return failure

    def _close_email(self):
        if self.email is not None:
            # A broken connection may fail to close; it is dropped either way.
            with contextlib.suppress(Exception):
                self.email.close()
            self.email = None

    def close(self):
        self._close_email()
        if self.sms is not None:
            self.sms.close()


def _temporary_password_not_needed(invitation: Invitation, now) -> bool:
    """Lock the user of a temporary password; if they no longer need one, end it without sending.

    A temporary password replaces the user's password: one that arrives late (after the user chose
    their own, or was deactivated) must not. The user is locked after the invitation, as on the token
    pages, and only if free: someone setting their password right now (user, then their links) makes
    this a transient failure to retry instead of a deadlock.
    """
    user = User.objects.select_for_update(skip_locked=True, no_key=True).filter(pk=invitation.user_id).first()
    if user is None:
        raise TransientFailure(_("The account is being changed at this moment; trying again later."))
    invitation.user = user
    if user.status == Status.ACTIVE and user.must_change_password:
        return False
    invitation.revoked_at = now
    invitation.delivery = Delivery.FAILED
    invitation.last_error = _("Not sent: %(user)s no longer needs a temporary password.") % {"user": user}
    invitation.save(update_fields=["revoked_at", "delivery", "last_error"])
    return True


def _temporary_password_for(invitation: Invitation, user: User) -> tuple[str, bool]:
    """The temporary password of `invitation`, and whether it must be set on the user.

    Derived from the row like a link (invitations.tokens), so a message sent again after a crash
    carries the same password. While a key rotation ends, one set under an older key is kept.
    """
    for secret in settings.SECRET_KEY_FALLBACKS:
        older = temporary_password(invitation.pk, invitation.nonce, secret=secret)
        if check_password(older, user.password):
            return older, False
    return temporary_password(invitation.pk, invitation.nonce), True


def _temporary_password_set(invitation: Invitation, now) -> str | None:
    """Make the temporary password the user's, committed before the message goes: a copy that reaches
    the person before a crash works. None when the user no longer needs one (it ends unsent)."""
    if _temporary_password_not_needed(invitation, now):
        return None
    user = invitation.user
    secret, must_set = _temporary_password_for(invitation, user)
    if must_set:
        user.set_password(secret)
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password", "updated_at"])
    return secret


_SENT = {"delivery": Delivery.SENT, "attempts": F("attempts") + 1, "last_error": "", **UNCLAIMED}


def _no_message(invitation: Invitation) -> PermanentFailure:
    return PermanentFailure(f"No message can be made for this “{invitation.get_kind_display()}”.")


def _payload(invitation: Invitation, *, link: str = "", secret: str = ""):
    """The email or SMS of `invitation`, in its recipient's language."""
    if not messages.can_build(invitation):
        raise _no_message(invitation)
    if invitation.channel == Channel.EMAIL:
        return messages.build_email(invitation, link=link, secret=secret)
    return messages.build_sms(invitation, link=link, secret=secret)


def _link_payload(invitation: Invitation, composer: Composer | None):
    """The message of a link: an email prepared by its shape when it can be, else built as usual."""
    token = getattr(invitation, "_claimed_token", None) or link_token_for(invitation)
    link = composer.link(invitation, token) if composer is not None else messages.link_for(invitation, token)
    if composer is not None and invitation.channel == Channel.EMAIL and messages.can_build(invitation):
        prepared = composer.email(invitation, link=link)
        if prepared is not None:
            return prepared
    return _payload(invitation, link=link)


def _render_and_send(invitation: Invitation, channels: _Channels, *, secret: str = "") -> bool:
    """Send one invitation under its row's lock; False when it was ended unsent because it is no
    longer needed.

    A link's hash and expiry were written when the packet was claimed; a temporary password was set
    just before (`secret`).
    """
    if not messages.can_build(invitation):
        raise _no_message(invitation)
    now = timezone.now()
    link = ""
    sent = dict(_SENT)
    if invitation.kind in LINK_KINDS:
        link = messages.link_for(invitation, link_token_for(invitation))
    elif invitation.kind == Kind.TEMPORARY_PASSWORD:
        # Checked again under the lock: the user may have chosen a password, or left, meanwhile.
        if _temporary_password_not_needed(invitation, now):
            return False
        sent["used_at"] = now
    channels.send(invitation, _payload(invitation, link=link, secret=secret))
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now(), **sent)
    if invitation.kind == Kind.TEMPORARY_PASSWORD:
        # A new password, like any other: the links sent before it stop working (this one is used).
        with translation.override(invitation.organization.language):
            account_links_revoke(user=invitation.user, reason=_("temporary password sent"), actor=None)
    return True


def _record_failure(pk, failure: Exception) -> str:
    """Count the attempt; give up after INVITATIONS_MAX_ATTEMPTS or at once on a permanent failure.

    An outage counts nothing: the message waits for its channel."""
    if isinstance(failure, ChannelDown):
        Invitation.objects.filter(pk=pk, delivery=Delivery.PENDING).update(last_error=str(failure)[:500])
        return Delivery.PENDING
    give_up = isinstance(failure, PermanentFailure)
    failed_at = 0 if give_up else settings.INVITATIONS_MAX_ATTEMPTS - 1
    Invitation.objects.filter(pk=pk, delivery=Delivery.PENDING).update(
        attempts=F("attempts") + 1,
        last_error=str(failure)[:500],
        delivery=Case(When(attempts__gte=failed_at, then=Value(Delivery.FAILED)), default=Value(Delivery.PENDING)),
    )
    return Invitation.objects.filter(pk=pk).values_list("delivery", flat=True).first()


# --- Claims ---------------------------------------------------------------------------------------


def _lease():
    return timedelta(seconds=settings.INVITATIONS_LEASE)


def _prepare_link(invitation: Invitation, now) -> None:
    """Write the link's hash (the token is derived, never stored) and its expiry before it is sent.

    The outbox owns the expiry of account invitations and password resets, counted from this sending;
    a reminder keeps the expiry of the invitation it recalls, and other kinds keep what they were
    created with."""
    token = link_token_for(invitation)
    invitation.token_hash = hash_token(token)
    invitation._claimed_token = token  # the packet's message carries it: not derived a second time
    if invitation.kind == Kind.PASSWORD_RESET:
        invitation.expires_at = now + timedelta(minutes=settings.PASSWORD_RESET_LIFETIME_MINUTES)
    elif (invitation.kind == Kind.ACCOUNT and not invitation.is_reminder) or invitation.expires_at is None:
        invitation.expires_at = now + timedelta(days=invitation.organization.invitation_lifetime_days)


def _claim(invitation_ids, *, worker: str, task: str) -> list[Invitation]:
    """Take, with a lease, the rows of the packet still to send that no other worker holds, in the
    packet's order, loaded with what their messages need. The same task, retried or redelivered,
    takes its own claim back at once.

    The rows are read first without a lock, to derive their links' hashes; then one statement takes
    those still free (skipping any another transaction holds) and writes the lease, the hash and the
    expiry: a message that reaches someone before a crash already carries a working link.
    """
    now = timezone.now()
    ids = list(invitation_ids)
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    if task:
        free |= Q(claim_task_id=task)
    # Never early, whatever queued the task (a retry, the batch page): the sweeper queues it in time.
    free &= Q(not_before__isnull=True) | Q(not_before__lte=now)
    candidates = list(
        Invitation.objects.select_related("organization", "user", "contact")
        .filter(pk__in=ids, delivery=Delivery.PENDING, revoked_at__isnull=True)
        .filter(free)
    )
    for row in candidates:
        row.claimed_until, row.claimed_by, row.claim_task_id, row.next_attempt_at = now + _lease(), worker, task, None
        if row.kind in LINK_KINDS:
            _prepare_link(row, now)
    if not candidates:
        return []
    if connection.vendor == "postgresql":
        taken = _claim_in_one_statement(candidates, now=now, worker=worker, task=task)
    else:
        taken = _claim_row_by_row(candidates, free=free)
    order = {pk: position for position, pk in enumerate(ids)}
    return sorted((row for row in candidates if row.pk in taken), key=lambda row: order[row.pk])


CLAIM_SQL = """
WITH free AS (
    SELECT id FROM invitations_invitation
    WHERE id = ANY(%(ids)s) AND delivery = 'pending' AND revoked_at IS NULL
      AND (claimed_until IS NULL OR claimed_until <= %(now)s OR (%(task)s <> '' AND claim_task_id = %(task)s))
      AND (not_before IS NULL OR not_before <= %(now)s)
    ORDER BY id
    FOR UPDATE SKIP LOCKED
)
UPDATE invitations_invitation AS row
SET claimed_until = %(until)s, claimed_by = %(worker)s, claim_task_id = %(task)s, next_attempt_at = NULL,
    token_hash = COALESCE(new.token_hash, row.token_hash), expires_at = COALESCE(new.expires_at, row.expires_at)
FROM free
JOIN unnest(%(ids)s::bigint[], %(hashes)s::varchar[], %(expiries)s::timestamptz[]) AS new (id, token_hash, expires_at)
  ON new.id = free.id
WHERE row.id = free.id
RETURNING row.id
"""


def _claim_in_one_statement(rows, *, now, worker: str, task: str) -> set[int]:
    """PostgreSQL: lock what is free (skipping rows held elsewhere) and write every claim in one UPDATE."""
    links = [row.kind in LINK_KINDS for row in rows]
    params = {
        "ids": [row.pk for row in rows],
        "hashes": [row.token_hash if link else None for row, link in zip(rows, links, strict=True)],
        "expiries": [row.expires_at if link else None for row, link in zip(rows, links, strict=True)],
        "now": now,
        "until": now + _lease(),
        "worker": worker,
        "task": task,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, params)
        return {pk for (pk,) in cursor.fetchall()}


def _claim_row_by_row(rows, *, free) -> set[int]:
    """Other databases: lock what is still free, then write the claims with one bulk update."""
    with transaction.atomic():
        taken = set(
            Invitation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=[row.pk for row in rows], delivery=Delivery.PENDING, revoked_at__isnull=True)
            .filter(free)
            .values_list("pk", flat=True)
        )
        fields = ["claimed_until", "claimed_by", "claim_task_id", "next_attempt_at", "token_hash", "expires_at"]
        Invitation.objects.bulk_update([row for row in rows if row.pk in taken], fields, batch_size=500)
    return taken


def _renew(ids, *, task: str) -> None:
    """Extend the claim on the rows of the packet not sent yet: the sweeper sees the worker is alive."""
    rows = Invitation.objects.filter(pk__in=ids, delivery=Delivery.PENDING)
    if task:
        rows = rows.filter(claim_task_id=task)
    rows.update(claimed_until=timezone.now() + _lease())


def _give_back(ids, *, retry_in: int | None) -> None:
    """End the claim on the rows to try again, noting when their retry comes (the sweeper leaves them
    alone until then)."""
    now = timezone.now()
    retry = {"next_attempt_at": now + timedelta(seconds=retry_in), "enqueued_at": now} if retry_in else {}
    Invitation.objects.filter(pk__in=ids, delivery=Delivery.PENDING).update(**UNCLAIMED, **retry)


def invitations_release_claims(*, worker: str, started) -> int:
    """End the claims a worker of this name held before it started (`started`): it was killed, and
    what it was sending is lost now, not when the lease ends. The sweeper queues it again at once.

    Claims taken since the start are this run's: their lease ends after `started` + the lease."""
    if not worker:
        return 0
    return Invitation.objects.filter(
        delivery=Delivery.PENDING, claimed_by=worker, claimed_until__lt=started + _lease()
    ).update(**UNCLAIMED, enqueued_at=None)


# --- The packet -----------------------------------------------------------------------------------
def _lock(pk) -> Invitation | None:
    """The row, locked, if it is still to send; None when another worker holds it or it is done."""
    return (
        Invitation.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("organization", "user", "contact")
        .filter(pk=pk, delivery=Delivery.PENDING, revoked_at__isnull=True)
        .first()
    )


# Each message of a packet costs one statement, written once (the ORM would build it again per
# message): it records the message the server accepted last as sent and says whether the next one is
# still this task's to send (pending, not revoked since the claim, still under this task's claim).
_STEP_SQL = """
WITH recorded AS (
    UPDATE invitations_invitation
    SET delivery = 'sent', sent_at = %(now)s, attempts = attempts + 1, last_error = '',
        claimed_until = NULL, claimed_by = '', claim_task_id = ''
    WHERE id = %(sent)s
    RETURNING id
)
SELECT (SELECT count(*) FROM recorded),
       EXISTS (SELECT 1 FROM invitations_invitation
               WHERE id = %(next)s AND delivery = 'pending' AND revoked_at IS NULL AND claim_task_id = %(task)s)
"""
_SENT_SQL = (
    "UPDATE invitations_invitation SET delivery = 'sent', sent_at = %s, attempts = attempts + 1, last_error = '', "
    "claimed_until = NULL, claimed_by = '', claim_task_id = '' WHERE id = %s"
)
_STILL_OURS_SQL = (
    "SELECT 1 FROM invitations_invitation "
    "WHERE id = %s AND delivery = 'pending' AND revoked_at IS NULL AND claim_task_id = %s"
)


def _record_and_check(sent_pk: int | None, next_pk: int | None, *, task: str) -> bool:
    """Record `sent_pk` (accepted by the server) as sent, and say whether `next_pk` is still to send
    by this task: on PostgreSQL one statement, in autocommit (the record is durable when it returns).

    Nothing is locked while a message goes: a second copy of the same task waits for the task's
    advisory lock (`_task_lock`), other tasks skip the rows this one claimed, and a revocation that
    commits while the message is on its way finds it sent (the link stops working all the same)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_STEP_SQL, {"now": now, "sent": sent_pk, "next": next_pk, "task": task})
            return bool(cursor.fetchone()[1])
        if sent_pk is not None:
            cursor.execute(_SENT_SQL, [now, sent_pk])
        if next_pk is None:
            return False
        cursor.execute(_STILL_OURS_SQL, [next_pk, task])
        return cursor.fetchone() is not None


# The same statement for the recorder (below), with numbered parameters of declared types.
_STEP_SQL_SENT = (
    _STEP_SQL.replace("%(now)s", "$1").replace("%(sent)s", "$2").replace("%(next)s", "$3").replace("%(task)s", "$4")
).encode()
_STEP_TYPES = [1184, 20, 20, 25]  # timestamptz, bigint, bigint, text


class _Recorder:
    """Sends `_STEP_SQL` on a database connection of its own (in autocommit) without waiting for its
    answer, and reads the answer when asked (libpq's asynchronous calls, through psycopg.pq): the
    statement runs while the packet's own thread speaks to the SMTP server, and the two round trips
    overlap. PostgreSQL only; one statement in flight at a time.

    This was a thread running `_record_and_check` on its own connection: the hand-off to the thread
    and back, and the two threads taking turns with the interpreter, cost more than the statement
    (bench/README.md, the delivery)."""

    def __init__(self):
        # A connection of Django's making (its settings, time zone and options), not the thread's own.
        self.wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
        with self.wrapper.wrap_database_errors:
            self.wrapper.ensure_connection()
        self.pgconn = self.wrapper.connection.pgconn

    def submit(self, sent_pk: int | None, next_pk: int, *, task: str) -> "_Step":
        """Record `sent_pk` (accepted by the server) as sent and check `next_pk` is still this task's to
        send: the statement goes now; `result()` of the step returned waits for its answer."""
        values = [timezone.now().isoformat().encode(), _number(sent_pk), _number(next_pk), task.encode()]
        with self.wrapper.wrap_database_errors:
            self.pgconn.send_query_params(_STEP_SQL_SENT, values, param_types=_STEP_TYPES)
            while self.pgconn.flush():  # the rest of the statement once the socket takes it
                select.select([], [self.pgconn.socket], [])
        return _Step(self)

    def answer(self) -> bool:
        pgconn = self.pgconn
        with self.wrapper.wrap_database_errors:
            pgconn.consume_input()
            while pgconn.is_busy():
                select.select([pgconn.socket], [], [])
                pgconn.consume_input()
            results = []
            while (result := pgconn.get_result()) is not None:
                results.append(result)
            if not results or results[0].status != pq.ExecStatus.TUPLES_OK:
                message = results[0].error_message.decode(errors="replace") if results else "no answer"
                raise psycopg.OperationalError(f"recording a sent invitation failed: {message}")
        return results[0].get_value(0, 1) == b"t"

    def close(self):
        with contextlib.suppress(Exception):
            self.wrapper.close()


class _Step:
    """A statement of the recorder on its way; `result()` waits for its answer (once)."""

    def __init__(self, recorder: _Recorder):
        self.recorder = recorder
        self.still_ours = None

    def result(self) -> bool:
        if self.still_ours is None:
            self.still_ours = self.recorder.answer()
        return self.still_ours


def _number(pk: int | None) -> bytes | None:
    return None if pk is None else str(pk).encode()


def _send_prepared(payload: PreparedEmail, channels: _Channels, check: "_Step") -> bool:
    """Send a prepared email while `check` (the statement recording the message before it and checking
    this one is still to send) runs: the envelope goes meanwhile, the content only once the check said
    yes, so the server never accepts a message before the one before it is recorded, nor one revoked
    or taken since the claim. False when it was not to send."""
    try:
        channels.email_envelope(payload)
    except Exception:
        if not check.result():
            return False  # not this task's any more: its failure is not ours to record
        raise
    if not check.result():
        channels.email_abandon()
        return False
    channels.email_content(payload)
    return True


_TASK_LOCK_SQL = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
_TASK_UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"


@contextlib.contextmanager
def _task_lock(task: str):
    """Whether this run may send the packet of `task`: False while another copy of the same task (a
    redelivery by the broker) is running it. PostgreSQL: a session-level advisory lock on the task's
    id, held for the packet and released with it, or with the connection if the database goes away."""
    if not task or connection.vendor != "postgresql":
        yield True
        return
    key = f"invitations.deliver_packet:{task}"
    with connection.cursor() as cursor:
        cursor.execute(_TASK_LOCK_SQL, [key])
        taken = bool(cursor.fetchone()[0])
    try:
        yield taken
    finally:
        if taken:
            # The connection may be gone with the packet: the lock went with it.
            with contextlib.suppress(*DATABASE_GONE), connection.cursor() as cursor:
                cursor.execute(_TASK_UNLOCK_SQL, [key])


def _send_temporary_password(pk, channels: _Channels) -> bool | None:
    """A temporary password: set on the user and committed first, then sent under the row's lock.
    None when another worker holds the row or it is done, False when it was ended unsent."""
    with transaction.atomic():
        invitation = _lock(pk)
        if invitation is None:
            return None
        secret = _temporary_password_set(invitation, timezone.now())
        if secret is None:
            return False
    with transaction.atomic():
        invitation = _lock(pk)
        if invitation is None:
            return None
        return _render_and_send(invitation, channels, secret=secret)


def invitations_deliver(
    *, invitation_ids, retry_in: int | None = None, worker: str = "", task: str = ""
) -> DeliveryOutcome:
    """Send a packet: each still-pending invitation once, over one SMTP connection.

    `retry_in` (seconds) is when the task will try again the messages that could not go now: it is
    written on their rows. `worker` and `task` name the claim (the Celery worker and task id); a run
    without a task (in-process) claims under a name of its own. A database that goes away stops the
    packet (the error is raised; the task retries it).

    At most one message is ever accepted by the server and not recorded: the statement that records
    it also checks the next one is still to send, before that one goes. A crash loses at most that
    message, which stays pending under the claim and goes again with the same link.
    """
    task = task or f"local-{uuid.uuid4().hex}"
    with _task_lock(task) as mine:
        if not mine:
            logger.info("Packet of task %s: another copy of the task is sending it", task)
            return DeliveryOutcome()
        return _deliver(invitation_ids, retry_in=retry_in, worker=worker, task=task)


def _deliver(invitation_ids, *, retry_in, worker: str, task: str) -> DeliveryOutcome:
    outcome = DeliveryOutcome()
    claimed = _claim(invitation_ids, worker=worker, task=task)
    channels = _Channels()
    composer = Composer() if channels.sends_bytes() else None
    # Outside a transaction only: the record must be durable when its statement returns, and the
    # recorder's connection must see the claim.
    recorder = (
        _Recorder()
        if composer is not None and connection.vendor == "postgresql" and not connection.in_atomic_block
        else None
    )
    renewed = time.monotonic()
    accepted = None  # the pk of the message the server accepted last, not recorded yet
    try:
        for index, invitation in enumerate(claimed):
            pk = invitation.pk
            if time.monotonic() - renewed > settings.INVITATIONS_LEASE / 3:
                _renew([row.pk for row in claimed[index:]], task=task)
                renewed = time.monotonic()
            try:
                if invitation.kind in LINK_KINDS:
                    payload = _link_payload(invitation, composer)
                    if recorder is not None and isinstance(payload, PreparedEmail):
                        check, accepted = recorder.submit(accepted, pk, task=task), None
                        if not _send_prepared(payload, channels, check):
                            continue
                    else:
                        still_ours, accepted = _record_and_check(accepted, pk, task=task), None
                        if not still_ours:
                            continue
                        channels.send(invitation, payload)
                    accepted = pk
                    outcome.sent.append(pk)
                    continue
                if accepted is not None:
                    _record_and_check(accepted, None, task=task)
                    accepted = None
                if invitation.kind == Kind.TEMPORARY_PASSWORD:
                    sent = _send_temporary_password(pk, channels)
                    if sent is None:
                        continue
                else:
                    raise _no_message(invitation)
                (outcome.sent if sent else outcome.failed).append(pk)
            except DATABASE_GONE:
                raise
            except (TransientFailure, PermanentFailure) as failure:
                state = _record_failure(pk, failure)
                (outcome.retry if state == Delivery.PENDING else outcome.failed).append(pk)
            except Exception as exc:
                # A bug must not stall the rest of the packet: count it as an attempt, so it ends up
                # failed with the error shown on the batch page instead of retried forever.
                logger.exception("Invitation %s could not be sent", pk)
                state = _record_failure(pk, TransientFailure(f"{type(exc).__name__}: {exc}"))
                (outcome.retry if state == Delivery.PENDING else outcome.failed).append(pk)
        if accepted is not None:
            _record_and_check(accepted, None, task=task)
            accepted = None
    finally:
        channels.close()
        if recorder is not None:
            recorder.close()
    _give_back(outcome.retry, retry_in=retry_in)
    return outcome
