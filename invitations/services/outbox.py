"""The outbox: invitation rows wait `pending` until a worker sends them; here they are queued.

Sending only writes rows (`pending`) and queues one Celery task per packet once the transaction
commits; delivery happens in the task (`delivery`), which renders each message (making its token) and
records it as sent in the same per-row transaction. Whatever is lost on the way (a task, a worker,
Redis), the rows are still pending, and the sweeper queues them again.
"""

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Channel

from ..models import Invitation

logger = logging.getLogger(__name__)

Delivery = Invitation.Delivery

DELIVER_PACKET_TASK = "invitations.tasks.deliver_packet"


def invitation_row(user, *, kind, actor, batch, now, **extra) -> Invitation:
    """The unsaved row of one message to `user` over their preferred channel (the caller saves and records it)."""
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
