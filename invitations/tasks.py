"""Celery tasks: take ids, call the service; retries live here."""

import logging

from celery import bootsteps, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Organization
from accounts.selectors import user_by_login_id
from experquiz import request_context
from experquiz.celery import app

from .services import account, delivery, outbox, resets

logger = logging.getLogger(__name__)


def retry_countdown(retries: int) -> int:
    """Exponential backoff, capped below the broker's visibility timeout (see settings)."""
    return min(settings.INVITATIONS_RETRY_BASE * 2**retries, settings.INVITATIONS_RETRY_MAX)


@shared_task(bind=True, name="invitations.tasks.deliver_packet", max_retries=None, acks_late=True)
def deliver_packet(self, invitation_ids):
    """Send one packet (≤ INVITATIONS_PACKET_SIZE invitations) over one SMTP connection."""
    # In-process (no broker) a retry would run at once, in the administrator's request: leave the
    # rows pending instead; the batch page's "retry" queues them again.
    eager = self.request.is_eager
    countdown = retry_countdown(self.request.retries)
    try:
        outcome = delivery.invitations_deliver(
            invitation_ids=invitation_ids,
            retry_in=None if eager else countdown,
            worker="" if eager else self.request.hostname or "",
            task="" if eager else self.request.id or "",
        )
    except (OperationalError, InterfaceError) as exc:
        # The database went away mid-packet (a restart, a failover). The claim is this task's, and a
        # retry keeps the task's id: it takes the rest of the packet back at once.
        if eager:
            raise
        raise self.retry(exc=exc, countdown=countdown) from exc
    if outcome.retry and not eager:
        raise self.retry(args=[outcome.retry], countdown=countdown)
    return {"sent": len(outcome.sent), "failed": len(outcome.failed), "retry": len(outcome.retry)}


@shared_task(name="invitations.tasks.invitations_sweep")
def invitations_sweep(broker_lost_at=None):
    """Beat: queue again what was lost, and send the reminders that are due.

    `broker_lost_at`: a worker found the broker again after losing it then (see RecoverOnConnect)."""
    lost_at = parse_datetime(broker_lost_at) if broker_lost_at else None
    return {
        "requeued": outbox.invitations_sweep(broker_lost_at=lost_at),
        "reminders": account.invitations_send_reminders(),
    }


@shared_task(name="invitations.tasks.worker_started")
def worker_started(worker, started):
    """A worker has started: end the claims of its earlier run (it was killed), then sweep.

    Beat may not be running (stopped, or never started): each worker start recovers what was lost,
    whatever the time since. One more sweep once the claims of workers killed elsewhere have ended.
    """
    released = delivery.invitations_release_claims(worker=worker, started=parse_datetime(started))
    invitations_sweep.apply_async(countdown=settings.INVITATIONS_LEASE + settings.INVITATIONS_SWEEP_AFTER)
    return {"released": released, "requeued": outbox.invitations_sweep()}


class RecoverOnConnect(bootsteps.StartStopStep):
    """A step of the worker's consumer (Celery bootsteps), started each time it connects to the broker.

    At the worker's start it queues `worker_started`. After the connection to the broker was lost and
    found again, the tasks queued before may be gone (a Redis restarted without persistence), and the
    retries this worker was holding are (Celery drops them with the connection): it sweeps them at
    once rather than after the sweeper's usual delay.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.created = timezone.now()  # before this run claims anything
        self.connected_before = False
        self.lost_at = None

    def start(self, parent):
        try:
            if not self.connected_before:
                worker_started.delay(parent.hostname or "", self.created.isoformat())
            else:
                invitations_sweep.delay(broker_lost_at=self.lost_at.isoformat())
        except Exception:
            # Never stop the worker for this: beat's sweeper comes anyway.
            logger.exception("Could not queue the sweep after connecting to the broker")
        self.connected_before = True

    def stop(self, parent):
        if self.connected_before:
            self.lost_at = timezone.now()


app.steps["consumer"].add(RecoverOnConnect)


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
