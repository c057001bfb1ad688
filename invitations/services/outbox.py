"""The outbox: invitation rows wait `pending` until a worker sends them; here they are queued.

Sending only writes rows (`pending`) and queues one Celery task per packet once the transaction
commits; delivery happens in the task (`delivery`), which claims the rows, renders each message and
records it as sent in the same per-row transaction. Whatever is lost on the way (a task, a worker,
Redis), the rows are still pending, and the sweeper queues them again.
"""

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from accounts.models import Channel, User

from ..models import Invitation

logger = logging.getLogger(__name__)

Delivery = Invitation.Delivery

DELIVER_PACKET_TASK = "invitations.tasks.deliver_packet"


def invitation_row(user, *, kind, actor, batch, now, **extra) -> Invitation:
    """The unsaved row of one message to `user` over their preferred channel (the caller saves and records it).

    `user` is a User, or a row read without the model (`pk`, `organization_id`, `preferred_channel`,
    `email`, `mobile`: a sending's users as it locked them)."""
    address = user.email if user.preferred_channel == Channel.EMAIL else user.mobile
    recipient = {"user": user} if isinstance(user, User) else {"user_id": user.pk}
    return Invitation(
        organization_id=user.organization_id,
        kind=kind,
        **recipient,
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
    sweeper will queue them again, so the administrator's request still succeeds. The rows left
    unpublished are marked so (no `enqueued_at`), and the next sweep takes them without waiting.
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
                left = [pk for rest in packets[number:] for pk in rest]
                Invitation.objects.filter(pk__in=left, delivery=Delivery.PENDING).update(enqueued_at=None)
                logger.warning("Broker unavailable: %d invitations left for the sweeper", len(left))
                break

    transaction.on_commit(publish)


def _lost(*, broker_lost_at=None):
    """The pending invitations no task will send: neither claimed by a worker, nor waiting for a
    scheduled retry, nor queued recently enough to be still on their way to a worker.

    A task queued behind a packet being sent is on its way too (the broker hands tasks out in order),
    so rows queued no earlier than the latest packet being sent wait for their turn; a big sending
    is not queued a second time while the workers go through it. A row whose task was refused by the
    broker (no `enqueued_at`), or that waited for its `not_before` time, is lost at once, and so is,
    once a worker found the broker again after losing it at `broker_lost_at`, any row queued (or
    waiting for a retry) from before.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.INVITATIONS_SWEEP_AFTER)
    # A message not to be sent yet (`not_before`) is not lost: it waits for its time.
    pending = Invitation.objects.filter(delivery=Delivery.PENDING, revoked_at__isnull=True).exclude(not_before__gt=now)
    being_sent = pending.filter(claimed_until__gt=now).aggregate(latest=Max("enqueued_at"))["latest"]
    queued_long_ago = Q(enqueued_at__lt=cutoff)
    if being_sent is not None:
        queued_long_ago &= Q(enqueued_at__lt=being_sent)
    no_retry_due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff)
    # Once its time has come, a message queued before it is lost too: its task skipped it (too early).
    # So the sweeper is what sends the messages that wait for a time, within its interval of it.
    lost = Q(enqueued_at__isnull=True) | no_retry_due & queued_long_ago | Q(enqueued_at__lt=F("not_before"))
    if broker_lost_at is not None:
        lost |= Q(enqueued_at__lt=broker_lost_at)
    return pending.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)).filter(lost)


def invitations_sweep(*, broker_lost_at=None) -> int:
    """Queue again the invitations that were lost: a task gone with a restarted Redis, a worker killed
    mid-packet (once its claim has ended), a retry that its worker took down with it."""
    with transaction.atomic():
        # Rows a worker is sending right now are locked: skip them, they are not lost.
        ids = list(
            _lost(broker_lost_at=broker_lost_at)
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:50_000]
        )
        Invitation.objects.filter(pk__in=ids).update(enqueued_at=timezone.now())
        invitations_enqueue(invitation_ids=ids)
    if ids:
        logger.info("Sweeper queued %d pending invitations again", len(ids))
    return len(ids)
