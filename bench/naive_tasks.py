"""The naive design, for comparison only: one task per invitation, one SMTP connection per message.

`use("naive")` makes the sending queue it, in this process; a worker started with BENCH_DESIGN=naive
(bench/invitations.py) does so when it loads this module, for the sendings its jobs make.
"""

import os

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from invitations.models import Invitation
from invitations.services import account, delivery


@shared_task(name="bench.naive_send", acks_late=True)
def naive_send(invitation_id):
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("organization", "user")
            .filter(pk=invitation_id, delivery=Invitation.Delivery.PENDING)
            .first()
        )
        if invitation is None:
            return
        delivery._prepare_link(invitation, timezone.now())  # as the claim of a packet does
        invitation.save(update_fields=["token_hash", "expires_at"])
        channels = delivery._Channels()  # a fresh SMTP connection for this one message
        try:
            delivery._render_and_send(invitation, channels)
        finally:
            channels.close()


def naive_enqueue(*, invitation_ids):
    ids = list(invitation_ids)

    def publish():
        for pk in ids:
            naive_send.delay(pk)

    transaction.on_commit(publish)


_PRODUCT_ENQUEUE = account.invitations_enqueue


def use(design: str) -> None:
    account.invitations_enqueue = naive_enqueue if design == "naive" else _PRODUCT_ENQUEUE


use(os.environ.get("BENCH_DESIGN", "packets"))
