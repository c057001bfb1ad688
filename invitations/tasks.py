"""Celery tasks: take ids, call the service; retries live here."""

from celery import shared_task
from django.conf import settings

from accounts.models import Organization
from accounts.selectors import user_by_login_id
from experquiz import request_context

from .services import account, delivery, outbox, resets


def retry_countdown(retries: int) -> int:
    """Exponential backoff, capped below the broker's visibility timeout (see settings)."""
    return min(settings.INVITATIONS_RETRY_BASE * 2**retries, settings.INVITATIONS_RETRY_MAX)


@shared_task(bind=True, name="invitations.tasks.deliver_packet", max_retries=None, acks_late=True)
def deliver_packet(self, invitation_ids):
    """Send one packet (≤ INVITATIONS_PACKET_SIZE invitations) over one SMTP connection."""
    outcome = delivery.invitations_deliver(invitation_ids=invitation_ids)
    # In-process (no broker) a retry would run at once, in the administrator's request: leave the
    # rows pending instead; the batch page's "retry" queues them again.
    if outcome.retry and not self.request.is_eager:
        outbox.invitations_mark_enqueued(invitation_ids=outcome.retry)
        raise self.retry(args=[outcome.retry], countdown=retry_countdown(self.request.retries))
    return {"sent": len(outcome.sent), "failed": len(outcome.failed), "retry": len(outcome.retry)}


@shared_task(name="invitations.tasks.invitations_sweep")
def invitations_sweep():
    """Beat: queue again what was left pending too long, and send the reminders that are due."""
    return {"requeued": outbox.invitations_sweep(), "reminders": account.invitations_send_reminders()}


@shared_task(name="invitations.tasks.password_reset_send")
def password_reset_send(organization_id, login_id, client_ip="", request_id=""):
    """Look up who a forgotten-password request names and send them a link (`password_reset_ask`).

    Returns nothing, so nothing in the task's result or log says whether the account exists. The
    asking request's client address and id are recorded as if the request had done the work.
    """
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is not None:
        with request_context.bound(client_ip=client_ip, request_id=request_id):
            user = user_by_login_id(organization, login_id)
            resets.password_reset_request(organization=organization, user=user)
