"""insert_many: what bulk_create gives (every field stored, primary keys set), by COPY on PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import StatusChange
from accounts.tests.factories import UserFactory
from audit.models import AuditEvent
from experquiz.bulk_insert import insert_many
from invitations.models import Invitation

pytestmark = pytest.mark.django_db


def test_every_field_is_stored_and_the_primary_keys_come_back(acme, alice):
    when = timezone.now() - timedelta(days=1)
    events = [
        AuditEvent(
            organization=acme,
            created_at=when,
            actor=alice,
            action="user.created",
            target_user=alice,
            target_type="user",
            target_id=n,
            target_label="Zoé « Lefèvre »\\tand a tab",
            before={},
            after={"status": "created", "groups": ["Lyon", "Ça"], "n": n, "none": None},
            client_ip="2001:db8::1" if n else None,
            request_id=f"r-{n}",
        )
        for n in range(3)
    ]
    with transaction.atomic():
        written = insert_many(AuditEvent, events)
    assert written is not None and all(event.pk for event in written)
    stored = {event.pk: event for event in AuditEvent.objects.filter(pk__in=[event.pk for event in written])}
    for n, event in enumerate(written):
        row = stored[event.pk]
        assert (row.created_at, row.actor_id, row.target_user_id, row.target_id) == (when, alice.pk, alice.pk, n)
        assert row.target_label == "Zoé « Lefèvre »\\tand a tab"
        assert row.after == {"status": "created", "groups": ["Lyon", "Ça"], "n": n, "none": None}
        assert row.client_ip == ("2001:db8::1" if n else None) and row.request_id == f"r-{n}"
    # The next insert, by any path, takes the ids after these.
    assert AuditEvent.objects.create(organization=acme, created_at=when, action="x").pk > max(stored)


def test_defaults_and_creation_times_are_filled_as_bulk_create_fills_them(acme, alice):
    carol = UserFactory(organization=acme, status="created")
    before = timezone.now()
    (row,) = insert_many(
        Invitation, [Invitation(organization=acme, user=carol, channel="email", address="c@x.example")]
    )
    (history,) = insert_many(StatusChange, [StatusChange(organization=acme, user=carol, to_status="created")])
    stored = Invitation.objects.get(pk=row.pk)
    assert len(stored.nonce) >= 40 and stored.nonce == row.nonce and stored.delivery == "pending"
    assert stored.created_at >= before and StatusChange.objects.get(pk=history.pk).to_status == "created"
    assert not row._state.adding
