"""Every write on invitations: sending, delivering, accepting, revoking, resetting passwords.

Sending only writes rows (`pending`) and queues one Celery task per packet once the transaction
commits; delivery happens in the task, which renders each message (making its token) and records it
as sent in the same per-row transaction. Whatever is lost on the way (a task, a worker, Redis), the
rows are still pending, and the sweeper queues them again.
"""

import contextlib
import logging
import smtplib
from dataclasses import dataclass, field
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Channel, Organization, User
from accounts.services import user_change_status, user_set_password, users_history_note, users_mark_invited
from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many
from experquiz import authorization, request_context, sms
from experquiz.authorization import NotAllowed
from experquiz.errors import DomainError
from experquiz.queueing import enqueue_detached
from rights.names import Right
from rights.selectors import users_in_scope

from . import messages
from .models import Invitation, InvitationBatch, InvitationSettings
from .tokens import hash_token, make_temporary_password, make_token

logger = logging.getLogger(__name__)

Kind = Invitation.Kind
Delivery = Invitation.Delivery
Status = User.Status

# Kinds whose message carries a link with a token.
LINK_KINDS = {Kind.ACCOUNT, Kind.ASSESSMENT, Kind.PASSWORD_RESET}
MAX_PASTED_ADDRESSES = 1000
DELIVER_PACKET_TASK = "invitations.tasks.deliver_packet"
PASSWORD_RESET_SEND_TASK = "invitations.tasks.password_reset_send"


class InvitationUnusable(DomainError):
    """The link cannot be used: `reason` is one of used, revoked, expired."""

    def __init__(self, message, *, reason):
        super().__init__(message)
        self.reason = reason


# --- Queueing -----------------------------------------------------------------------------------


def chunks(items, size):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def invitations_enqueue(*, invitation_ids) -> None:
    """Publish one delivery task per packet once the current transaction commits.

    A broker that is down is logged, not raised: the rows are already committed as pending and the
    sweeper will queue them again, so the administrator's request still succeeds.
    """
    ids = list(invitation_ids)
    if not ids:
        return

    def publish():
        from kombu.exceptions import OperationalError

        # By name, as Celery allows: the tasks module calls these services, so importing it here
        # would tie the two in a circle. InvitationsConfig.ready() imports it, so it is registered.
        deliver_packet = current_app.tasks[DELIVER_PACKET_TASK]
        packets = list(chunks(ids, settings.INVITATIONS_PACKET_SIZE))
        for number, packet in enumerate(packets):
            try:
                deliver_packet.delay(packet)
            except OperationalError:
                # Each attempt waits for the broker's retry policy: do not make the request wait once
                # per packet for a broker that is down.
                left = sum(len(rest) for rest in packets[number:])
                logger.warning("Broker unavailable: %d invitations left for the sweeper", left)
                break

    transaction.on_commit(publish)


def invitations_mark_enqueued(*, invitation_ids) -> None:
    """Note that a task for these rows exists (a scheduled retry), so the sweeper leaves them alone."""
    Invitation.objects.filter(pk__in=list(invitation_ids), delivery=Delivery.PENDING).update(enqueued_at=timezone.now())


def invitations_sweep() -> int:
    """Queue again the invitations left pending too long: lost tasks, a restarted Redis, a killed worker."""
    cutoff = timezone.now() - timedelta(seconds=settings.INVITATIONS_SWEEP_AFTER)
    with transaction.atomic():
        # Rows a worker is sending right now are locked: skip them, they are not lost.
        ids = list(
            Invitation.objects.select_for_update(skip_locked=True)
            .filter(delivery=Delivery.PENDING, revoked_at__isnull=True)
            .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True))
            .order_by("pk")
            .values_list("pk", flat=True)[:50_000]
        )
        Invitation.objects.filter(pk__in=ids).update(enqueued_at=timezone.now())
        invitations_enqueue(invitation_ids=ids)
    if ids:
        logger.info("Sweeper queued %d pending invitations again", len(ids))
    return len(ids)


# --- Sending account invitations ------------------------------------------------------------------


@dataclass
class SendResult:
    batch: InvitationBatch | None = None
    invited: list = field(default_factory=list)  # user ids
    skipped: list = field(default_factory=list)  # (user, reason)


def _revoke_outstanding(*, user_ids, kinds, now) -> int:
    return Invitation.objects.filter(user_id__in=user_ids, kind__in=kinds).outstanding().update(revoked_at=now)


def _invitation_for(user, *, kind, actor, batch, now, **extra) -> Invitation:
    address = user.email if user.preferred_channel == Channel.EMAIL else user.mobile
    return Invitation(
        organization_id=user.organization_id,
        kind=kind,
        user=user,
        channel=user.preferred_channel,
        address=address,
        batch=batch,
        created_by=actor,
        enqueued_at=now,
        **extra,
    )


@transaction.atomic
def invitations_send(
    *, organization: Organization, users, actor: User | None, label: str = "", batch: InvitationBatch | None = None
) -> SendResult:
    """Send (or send again) account invitations to `users` (a queryset or a list).

    Users in `created` or `invited` become `invited`, each gets a new invitation, and their older
    links are revoked; anyone else is skipped with the reason. One bulk insert, one task per packet.
    A sending done in several parts (a bulk action in chunks) passes the `batch` of its first part.

    Every account invitation an actor sends goes through here, so the `invite` right is checked here
    over each recipient, whatever the caller scoped already: a path that forgot it sends nothing it
    may not (the invitations tests list every sending path). Recipients out of the actor's scope are
    skipped with the reason; when every one of them is, or the actor may invite nobody, the sending
    is refused (NotAllowed). No actor means the system (reminders) or the platform operator (the
    import command).
    """
    now = timezone.now()
    fields = ("pk", "organization_id", "status", "email", "mobile", "preferred_channel", "first_name", "last_name")
    if not hasattr(users, "filter"):
        users = User.objects.filter(pk__in=[user.pk for user in users])
    users = users.filter(organization=organization)
    result = SendResult()
    if actor is not None:
        authorization.require_right(actor, Right.INVITE, organization_id=organization.pk)
        in_scope = users_in_scope(actor, Right.INVITE).values("pk")
        for user in users.exclude(pk__in=in_scope).only(*fields):
            result.skipped.append((user, _("outside your right to invite")))
        users = users.filter(pk__in=in_scope)
        if result.skipped and not users.exists():
            raise NotAllowed(_("You may only act on the users in your scope."))
    candidates = list(users.only(*fields))
    invitable = [user for user in candidates if user.is_awaiting_invitation]
    for user in candidates:
        if not user.is_awaiting_invitation:
            result.skipped.append((user, _("already %(status)s") % {"status": user.get_status_display().lower()}))
    if not invitable:
        return result
    invited_ids = set(
        users_mark_invited(
            organization=organization,
            user_ids=[user.pk for user in invitable],
            actor=actor,
            reason=_("Invitation sent"),
        )
    )
    was_invited = {user.pk for user in invitable if user.status == Status.INVITED}
    for user in invitable:
        if user.pk not in invited_ids:  # changed status since it was read
            result.skipped.append((user, _("no longer waiting for an invitation")))
    # Addresses read again now the users are locked: one changed meanwhile gets the invitation,
    # not the old one (the change revoked what it found, and the new link did not exist yet).
    to_invite = list(User.objects.filter(pk__in=invited_ids).only(*fields).order_by("pk"))
    _revoke_outstanding(user_ids=invited_ids, kinds=[Kind.ACCOUNT], now=now)
    if batch is not None and batch.organization_id != organization.pk:
        raise ValueError("The batch belongs to another organisation.")
    if batch is None:
        batch = InvitationBatch.objects.create(
            organization=organization,
            created_by=actor,
            label=label or _("Account invitations to %(count)d people") % {"count": len(to_invite)},
        )
    rows = Invitation.objects.bulk_create(
        [_invitation_for(user, kind=Kind.ACCOUNT, actor=actor, batch=batch, now=now) for user in to_invite],
        batch_size=2000,
    )
    # Someone already invited is sent the invitation again (their earlier link was revoked above).
    sending = str(batch)
    audit_record_many(
        audit_event(
            organization=organization,
            actor=actor,
            action=Action.INVITATION_RESENT if user.pk in was_invited else Action.INVITATION_SENT,
            target=row,
            user=user,
            after={"batch": sending},
        )
        for user, row in zip(to_invite, rows, strict=True)
    )
    invitations_enqueue(invitation_ids=[row.pk for row in rows])
    result.batch = batch
    result.invited = [user.pk for user in to_invite]
    return result


def invitation_resend(*, invitation: Invitation, actor: User | None) -> SendResult:
    """A new link with a fresh validity for the same person; the old one stops working."""
    if invitation.kind == Kind.TEMPORARY_PASSWORD and invitation.user_id is not None:
        return _temporary_password_resend(invitation=invitation, actor=actor)
    if invitation.kind != Kind.ACCOUNT or invitation.user_id is None:
        raise DomainError(_("Only account invitations and temporary passwords can be sent again from here."))
    return invitations_send(
        organization=invitation.organization, users=User.objects.filter(pk=invitation.user_id), actor=actor
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User | None) -> Invitation:
    """The link stops working now; a message not yet sent is not sent. Takes the invite right over its
    recipient (a contact's: an administrator)."""
    from .selectors import invitations_visible_to

    if actor is not None:
        authorization.require_right(actor, Right.INVITE, organization_id=invitation.organization_id)
        if not invitations_visible_to(actor).filter(pk=invitation.pk).exists():
            raise NotAllowed(_("You may only act on the users in your scope."))
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.used_at is not None:
        raise DomainError(_("This invitation was already used; there is nothing to revoke."))
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            organization=locked.organization_id,
            actor=actor,
            action=Action.INVITATION_REVOKED,
            target=locked,
            user=locked.user_id,
        )
    return locked


@transaction.atomic
def invitations_revoke_for_user(*, user: User, actor: User | None) -> int:
    """Revoke every outstanding account invitation of `user` (from the user's page; the invite right)."""
    authorization.require_users(actor, Right.INVITE, [user])
    count = _revoke_outstanding(user_ids=[user.pk], kinds=[Kind.ACCOUNT], now=timezone.now())
    if count:
        audit_record(
            organization=user.organization_id,
            actor=actor,
            action=Action.INVITATION_REVOKED,
            target=user,
            after={"count": count},
        )
    return count


@transaction.atomic
def account_links_revoke_for_users(*, user_ids, reason: str, actor: User | None) -> int:
    """Revoke the outstanding account links of these users (account invitation, password reset,
    temporary password not sent yet) and note why in the history of each one who had any.

    The one answer to a change of login ID, channel address, rights or password (the accounts
    signal `account_links_outdated`): a link made for the account as it was must not open the
    account as it is now. Users are locked before their invitations, as on the token pages, so a
    link being used at this moment is either used first or found revoked.
    """
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return 0
    users = User.objects.select_for_update(no_key=True).filter(pk__in=user_ids).order_by("pk")
    list(users.values_list("pk", flat=True))  # locked before their links: the order of accounts.services
    pending = list(
        Invitation.objects.pending_account_links()
        .filter(user_id__in=user_ids)
        .select_for_update()
        .values_list("pk", "organization_id", "user_id", "kind", "address")
    )
    if not pending:
        return 0
    Invitation.objects.filter(pk__in=[row[0] for row in pending]).update(revoked_at=timezone.now())
    audit_record_many(
        audit_event(
            organization=organization_id,
            actor=actor,
            action=Action.INVITATION_REVOKED,
            target=Invitation(pk=pk, organization_id=organization_id, kind=kind, address=address),
            user=user_id,
            after={"reason": reason},
        )
        for pk, organization_id, user_id, kind, address in pending
    )
    users_history_note(
        user_ids={row[2] for row in pending},
        actor=actor,
        note=_("Pending links revoked: %(reason)s") % {"reason": reason},
    )
    return len(pending)


def account_links_revoke(*, user: User, reason: str, actor: User | None) -> int:
    """account_links_revoke_for_users for one user."""
    return account_links_revoke_for_users(user_ids=[user.pk], reason=reason, actor=actor)


def invitations_revoke_on_status_change(*, user: User, to: str) -> int:
    """On a status change (accounts.signals): activation ends invitations; deactivation and deletion end every link."""
    if to == Status.ACTIVE:
        kinds = [Kind.ACCOUNT]
    elif to in (Status.INACTIVE, Status.DELETED):
        kinds = [Kind.ACCOUNT, Kind.ASSESSMENT, Kind.PASSWORD_RESET, Kind.TEMPORARY_PASSWORD]
    else:
        return 0
    return _revoke_outstanding(user_ids=[user.pk], kinds=kinds, now=timezone.now())


def invitations_resend_to_group(*, organization, group, actor: User | None) -> SendResult:
    """Invite again everyone of `group` (within the actor's scope) who has not accepted yet."""
    authorization.require_groups(actor, Right.INVITE, [group])
    people = User.objects.all() if actor is None else users_in_scope(actor, Right.INVITE)
    members = people.filter(organization=organization, memberships__group=group).awaiting_invitation().distinct()
    return invitations_send(
        organization=organization,
        users=members,
        actor=actor,
        label=_("Invitations to group %(group)s") % {"group": group.name},
    )


@transaction.atomic
def batch_retry_failed(*, batch: InvitationBatch, actor: User | None) -> int:
    """Put the batch's failed messages (and pending ones that already failed once) back in the queue.
    Takes the invite right and a batch the actor may follow (an administrator's, or one of theirs)."""
    from .selectors import batches_visible_to, invitations_visible_to

    if actor is not None:
        authorization.require_right(actor, Right.INVITE, organization_id=batch.organization_id)
        if not batches_visible_to(actor).filter(pk=batch.pk).exists():
            raise NotAllowed(_("You may only retry the sendings you can follow."))
    now = timezone.now()
    invitations = batch.invitations.all()
    if actor is not None:
        # Only to people still in the actor's scope (someone may have left their groups since).
        invitations = invitations.filter(pk__in=invitations_visible_to(actor).values("pk"))
    ids = list(
        invitations.filter(revoked_at__isnull=True)
        .filter(Q(delivery=Delivery.FAILED) | Q(delivery=Delivery.PENDING, attempts__gt=0))
        .values_list("pk", flat=True)
    )
    Invitation.objects.filter(pk__in=ids).update(delivery=Delivery.PENDING, attempts=0, enqueued_at=now)
    if ids:
        audit_record(
            organization=batch.organization_id,
            actor=actor,
            action=Action.INVITATIONS_RETRIED,
            target=batch,
            after={"count": len(ids)},
        )
    invitations_enqueue(invitation_ids=ids)
    return len(ids)


# --- Activation by an administrator, forgotten passwords -------------------------------------------


@transaction.atomic
def user_activate_with_temporary_password(*, user: User, actor: User | None) -> Invitation:
    """Activate a created or invited user; a temporary password goes over their preferred channel.

    The password is made by the worker when it renders the message, like a token, so it is never
    stored in clear; until then the account has no usable password. A temporary password replaces
    the user's password, so it takes the `manage_users` right over them (as its resend does).
    """
    if actor is not None and not users_in_scope(actor, Right.MANAGE_USERS).filter(pk=user.pk).exists():
        raise NotAllowed(
            _("Only someone who manages %(user)s can activate them with a temporary password.") % {"user": user}
        )
    # Issued before the status changes: a temporary password on its way is the way in the status
    # service asks of an active user. Locked in the usual order (organisation, user), and sent to the
    # address as it is under the lock, not as the caller read it.
    Organization.objects.select_for_update(no_key=True).get(pk=user.organization_id)
    locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    invitation = _invitation_for(locked, kind=Kind.TEMPORARY_PASSWORD, actor=actor, batch=None, now=timezone.now())
    invitation.save()
    User.objects.filter(pk=user.pk).update(must_change_password=True)
    locked = user_change_status(
        user=user, to=Status.ACTIVE, actor=actor, reason=_("Activated with a temporary password")
    )
    user.must_change_password = locked.must_change_password = True
    audit_record(
        organization=user.organization_id,
        actor=actor,
        action=Action.TEMPORARY_PASSWORD_ISSUED,
        target=invitation,
        user=user,
    )
    invitations_enqueue(invitation_ids=[invitation.pk])
    return invitation


@transaction.atomic
def _temporary_password_resend(*, invitation: Invitation, actor: User | None) -> SendResult:
    """Another temporary password, for one that could not be delivered (a sent one is never resent).

    A new temporary password replaces the user's password, so it takes what activation takes: the
    `manage_users` right over that user (the `invite` right is not enough).
    """
    if actor is not None and not users_in_scope(actor, Right.MANAGE_USERS).filter(pk=invitation.user_id).exists():
        raise NotAllowed(_("Only someone who manages this user can send them a new temporary password."))
    user = User.objects.select_for_update(no_key=True).get(pk=invitation.user_id)  # user, then links: the usual order
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)  # two clicks resend once
    if invitation.delivery != Delivery.FAILED or invitation.revoked_at is not None:
        raise DomainError(_("Only a temporary password that could not be delivered is sent again; this one was not."))
    if user.status != Status.ACTIVE or not user.must_change_password:
        raise DomainError(_("%(user)s has already chosen a password.") % {"user": user})
    now = timezone.now()
    _revoke_outstanding(user_ids=[user.pk], kinds=[Kind.TEMPORARY_PASSWORD], now=now)
    again = _invitation_for(user, kind=Kind.TEMPORARY_PASSWORD, actor=actor, batch=None, now=now)
    again.save()
    audit_record(
        organization=user.organization_id,
        actor=actor,
        action=Action.TEMPORARY_PASSWORD_ISSUED,
        target=again,
        user=user,
        after={"again": True},
    )
    invitations_enqueue(invitation_ids=[again.pk])
    return SendResult(invited=[user.pk])


def password_reset_ask(*, organization: Organization, login_id: str) -> None:
    """Queue the look-up of `login_id` and the sending of a reset link (`tasks.password_reset_send`).

    The request does the same work whether or not an account matches: only the task looks (in a
    worker, or with no broker in a thread after the response), so neither what the page does nor how
    long it takes tells who has an account.
    """
    # Published by name, as invitations_enqueue does (the tasks module calls these services).
    password_reset_send = current_app.tasks[PASSWORD_RESET_SEND_TASK]
    # The request's client address and id go along, for the audit trail and the logs of the task.
    asking = request_context.current()
    enqueue_detached(password_reset_send, organization.pk, login_id, asking.client_ip, asking.request_id)


@transaction.atomic
def password_reset_request(*, organization: Organization, user: User | None) -> Invitation | None:
    """Send a password-reset link to an active user; for anyone else do nothing, silently."""
    if user is None or user.organization_id != organization.pk or user.status != Status.ACTIVE:
        return None
    # Locked and read again: an address changed meanwhile gets the link, not the old one.
    user = User.objects.select_for_update(no_key=True).filter(pk=user.pk, status=Status.ACTIVE).first()
    if user is None:
        return None
    now = timezone.now()
    _revoke_outstanding(user_ids=[user.pk], kinds=[Kind.PASSWORD_RESET], now=now)
    invitation = _invitation_for(user, kind=Kind.PASSWORD_RESET, actor=None, batch=None, now=now)
    invitation.save()
    audit_record(
        organization=organization, actor=None, action=Action.PASSWORD_RESET_REQUESTED, target=invitation, user=user
    )
    invitations_enqueue(invitation_ids=[invitation.pk])
    return invitation


# --- Using a link ---------------------------------------------------------------------------------


def invitation_problem(invitation: Invitation) -> str | None:
    """Why a link can no longer be used (used, revoked, expired), or None."""
    if invitation.used_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at is None or invitation.is_expired:
        return "expired"
    return None


def _lock_usable(invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    problem = invitation_problem(locked)
    if problem:
        raise InvitationUnusable(_("This link can no longer be used."), reason=problem)
    return locked


@transaction.atomic
def invitation_accept(*, invitation: Invitation, first_name: str, last_name: str, password: str) -> User:
    """The invited user finishes their account: names, own password; the token is consumed.

    Locks are taken in the order every service takes them: user, then the user's invitations
    (`user_change_status` below, `account_links_revoke_for_users`); becoming active needs no lock of
    the organisation (only leaving active can lose the last administrator), so simultaneous accepts
    do not queue behind each other. The password is hashed first (~0.2 s of CPU, seconds on a busy
    machine), not while holding the locks.
    """
    encoded = make_password(password)
    user = User.objects.select_for_update(no_key=True).get(pk=invitation.user_id)
    locked = _lock_usable(invitation)
    if not user.is_awaiting_invitation:
        # Normally revoked already by the status change; never let an old link reopen an account.
        raise InvitationUnusable(_("This link can no longer be used."), reason="revoked")
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    password_validation.validate_password(password, user)
    user.save(update_fields=["first_name", "last_name", "updated_at"])
    # Used before the password is set: setting it revokes the user's other pending links, not this one.
    locked.used_at = timezone.now()
    locked.save(update_fields=["used_at"])
    audit_record(
        organization=locked.organization_id,
        actor=user,
        action=Action.INVITATION_ACCEPTED,
        target=locked,
        user=user,
        after={"first_name": user.first_name, "last_name": user.last_name},
    )
    user_set_password(user=user, password=password, actor=user, encoded=encoded)
    return user_change_status(user=user, to=Status.ACTIVE, actor=user, reason=_("Accepted the invitation"))


@transaction.atomic
def password_reset_complete(*, invitation: Invitation, password: str) -> User:
    """The user chose a new password through a reset link; the token is consumed.

    The user is locked before the link, as every service does (see invitation_accept).
    """
    user = User.objects.select_for_update(no_key=True).get(pk=invitation.user_id)
    locked = _lock_usable(invitation)
    if user.status != Status.ACTIVE:
        raise InvitationUnusable(_("This link can no longer be used."), reason="revoked")
    password_validation.validate_password(password, user)
    locked.used_at = timezone.now()
    locked.save(update_fields=["used_at"])
    audit_record(
        organization=locked.organization_id, actor=user, action=Action.PASSWORD_RESET_USED, target=locked, user=user
    )
    user_set_password(user=user, password=password, actor=user)
    return user


# --- Delivery (runs in the Celery worker) ---------------------------------------------------------


@dataclass
class DeliveryOutcome:
    sent: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    retry: list = field(default_factory=list)


class TransientFailure(Exception):
    pass


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


class _Channels:
    """One SMTP connection and one SMS backend per packet, opened when first needed.

    After a transient failure a channel is considered down for the rest of the packet: the other
    messages wait for the retry instead of each waiting for its own timeout.
    """

    def __init__(self):
        self.email = None
        self.sms = None
        self.down: dict[str, str] = {}

    def send(self, invitation, payload):
        if invitation.channel in self.down:
            raise TransientFailure(self.down[invitation.channel])
        try:
            if invitation.channel == Channel.EMAIL:
                if self.email is None:
                    self.email = mail.get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT or 30)
                    self.email.open()
                self.email.send_messages([payload])
            else:
                if self.sms is None:
                    self.sms = sms.get_connection()
                    self.sms.open()
                self.sms.send_messages([sms.SmsMessage(to=invitation.address, body=payload)])
        except sms.SmsError as exc:
            failure = TransientFailure(str(exc)) if exc.transient else PermanentFailure(str(exc))
            self._note(invitation.channel, failure)
            raise failure from exc
        except (smtplib.SMTPException, OSError) as exc:
            failure = _classify_smtp(exc)
            self._note(invitation.channel, failure)
            raise failure from exc

    def _note(self, channel, failure):
        if isinstance(failure, TransientFailure):
            self.down[channel] = str(failure)
            if channel == Channel.EMAIL:
                self._close_email()

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


def _render_and_send(invitation: Invitation, channels: _Channels) -> bool:
    """Send one invitation; False when it was ended unsent because it is no longer needed."""
    if invitation.kind not in messages.TEMPLATES:
        raise PermanentFailure(f"No message is defined yet for “{invitation.get_kind_display()}”.")
    now = timezone.now()
    link = secret = ""
    update = ["token_hash", "expires_at", "delivery", "sent_at", "attempts", "last_error"]
    if invitation.kind in LINK_KINDS:
        token = make_token()
        invitation.token_hash = hash_token(token)
        if invitation.kind == Kind.PASSWORD_RESET:
            invitation.expires_at = now + timedelta(minutes=settings.PASSWORD_RESET_LIFETIME_MINUTES)
        elif invitation.expires_at is None:  # a reminder keeps the expiry of the invitation it recalls
            invitation.expires_at = now + timedelta(days=invitation.organization.invitation_lifetime_days)
        link = messages.link_for(invitation, token)
    elif invitation.kind == Kind.TEMPORARY_PASSWORD:
        if _temporary_password_not_needed(invitation, now):
            return False
        secret = make_temporary_password()
        user = invitation.user
        user.set_password(secret)
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password", "updated_at"])
        invitation.used_at = now
        update.append("used_at")
    if invitation.channel == Channel.EMAIL:
        payload = messages.build_email(invitation, link=link, secret=secret)
    else:
        payload = messages.build_sms(invitation, link=link, secret=secret)
    channels.send(invitation, payload)
    invitation.delivery = Delivery.SENT
    invitation.sent_at = timezone.now()
    invitation.attempts += 1
    invitation.last_error = ""
    invitation.save(update_fields=update)
    if invitation.kind == Kind.TEMPORARY_PASSWORD:
        # A new password, like any other: the links sent before it stop working (this one is used).
        with translation.override(invitation.organization.language):
            account_links_revoke(user=invitation.user, reason=_("temporary password sent"), actor=None)
    return True


def _record_failure(pk, failure: Exception) -> str:
    """Count the attempt; give up after INVITATIONS_MAX_ATTEMPTS or at once on a permanent failure."""
    give_up = isinstance(failure, PermanentFailure)
    failed_at = 0 if give_up else settings.INVITATIONS_MAX_ATTEMPTS - 1
    Invitation.objects.filter(pk=pk, delivery=Delivery.PENDING).update(
        attempts=F("attempts") + 1,
        last_error=str(failure)[:500],
        delivery=Case(When(attempts__gte=failed_at, then=Value(Delivery.FAILED)), default=Value(Delivery.PENDING)),
    )
    return Invitation.objects.filter(pk=pk).values_list("delivery", flat=True).first()


def invitations_deliver(*, invitation_ids) -> DeliveryOutcome:
    """Send a packet: each still-pending invitation once, over one SMTP connection.

    Each message is sent inside its own transaction that holds the row lock and commits right after
    the server accepted it, so a second copy of this task (redelivered after a crash, or queued by
    the sweeper) skips rows that are locked or no longer pending, and a crash loses at most the one
    message in flight, which stays pending.
    """
    outcome = DeliveryOutcome()
    channels = _Channels()
    try:
        for pk in invitation_ids:
            try:
                with transaction.atomic():
                    invitation = (
                        Invitation.objects.select_for_update(skip_locked=True, of=("self",))
                        .select_related("organization", "user", "contact")
                        .filter(pk=pk, delivery=Delivery.PENDING, revoked_at__isnull=True)
                        .first()
                    )
                    if invitation is None:
                        continue
                    sent = _render_and_send(invitation, channels)
                (outcome.sent if sent else outcome.failed).append(pk)
            except (TransientFailure, PermanentFailure) as failure:
                state = _record_failure(pk, failure)
                (outcome.retry if state == Delivery.PENDING else outcome.failed).append(pk)
            except Exception as exc:
                # A bug must not stall the rest of the packet: count it as an attempt, so it ends up
                # failed with the error shown on the batch page instead of retried forever.
                logger.exception("Invitation %s could not be sent", pk)
                state = _record_failure(pk, TransientFailure(f"{type(exc).__name__}: {exc}"))
                (outcome.retry if state == Delivery.PENDING else outcome.failed).append(pk)
    finally:
        channels.close()
    return outcome


# --- Reminders ------------------------------------------------------------------------------------


@transaction.atomic
def invitations_send_reminders() -> int:
    """Remind those who have not accepted, N days before their link expires (per organisation).

    A reminder is a new message with a new link and the same expiry; the earlier link is revoked,
    as with any resend. A reminder is never reminded again.
    """
    now = timezone.now()
    created = []
    for settings_row in InvitationSettings.objects.filter(reminder_days_before_expiry__gt=0).select_related(
        "organization"
    ):
        horizon = now + timedelta(days=settings_row.reminder_days_before_expiry)
        # The users are locked with their links, skipping those being changed right now: a change of
        # address locks the user, then revokes the links it finds, and a reminder written meanwhile
        # for the old address would escape it. The next run reminds them if their link still stands.
        due = list(
            Invitation.objects.for_org(settings_row.organization)
            .select_for_update(skip_locked=True, of=("self", "user"), no_key=True)
            .select_related("user")
            .outstanding()
            .filter(
                kind=Kind.ACCOUNT,
                is_reminder=False,
                delivery=Delivery.SENT,
                expires_at__gt=now,
                expires_at__lte=horizon,
                user__status=Status.INVITED,
            )[:5000]
        )
        if not due:
            continue
        Invitation.objects.filter(pk__in=[row.pk for row in due]).update(revoked_at=now)
        created += Invitation.objects.bulk_create(
            [
                _invitation_for(
                    row.user,
                    kind=Kind.ACCOUNT,
                    actor=None,
                    batch=row.batch,
                    now=now,
                    is_reminder=True,
                    expires_at=row.expires_at,
                )
                for row in due
            ]
        )
    audit_record_many(
        audit_event(
            organization=row.organization_id,
            actor=None,
            action=Action.INVITATION_REMINDED,
            target=row,
            user=row.user_id,
        )
        for row in created
    )
    invitations_enqueue(invitation_ids=[row.pk for row in created])
    return len(created)
