"""Delivery: sending a packet of invitations, in the Celery worker (`tasks.deliver_packet`)."""

import contextlib
import logging
import smtplib
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core import mail
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Channel, User
from experquiz import sms

from .. import messages
from ..models import Invitation
from ..tokens import hash_token, make_temporary_password, make_token
from .revocation import account_links_revoke

logger = logging.getLogger(__name__)

Kind = Invitation.Kind
Delivery = Invitation.Delivery
Status = User.Status

LINK_KINDS = {Kind.ACCOUNT, Kind.ASSESSMENT, Kind.PASSWORD_RESET}


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
