"""Forgotten passwords: a reset link asked for on the public page."""

from celery import current_app
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, User
from audit.models import Action
from audit.services import audit_record
from experquiz import request_context
from experquiz.queueing import enqueue_detached

from ..models import Invitation
from .outbox import invitation_row, invitations_enqueue
from .revocation import revoke_outstanding

Kind = Invitation.Kind
Status = User.Status

PASSWORD_RESET_SEND_TASK = "invitations.tasks.password_reset_send"


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
    revoke_outstanding(user_ids=[user.pk], kinds=[Kind.PASSWORD_RESET], now=now)
    invitation = invitation_row(user, kind=Kind.PASSWORD_RESET, actor=None, batch=None, now=now)
    invitation.save()
    audit_record(
        organization=organization, actor=None, action=Action.PASSWORD_RESET_REQUESTED, target=invitation, user=user
    )
    invitations_enqueue(invitation_ids=[invitation.pk])
    return invitation
