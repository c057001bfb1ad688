"""insert_many: what bulk_create gives (every field stored, primary keys set), by COPY on PostgreSQL;
update_many: what bulk_update writes, by one UPDATE over arrays on PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import DataError, connection, transaction
from django.utils import timezone

from accounts.models import StatusChange, User
from accounts.tests.factories import UserFactory, UserTypeFactory
from audit.models import AuditEvent
from experquiz.bulk_insert import insert_many, update_many
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


UPDATED = [
    "first_name",
    "last_name",
    "email",
    "mobile",
    "employee_number",
    "preferred_channel",
    "user_type",
    "language",
    "updated_at",
    "search_text",
]


def _changed(people, trainee, when):
    """The same changes, made to fresh copies of `people`: texts that need quoting or look like
    array syntax, a type set on some and taken off others (a first batch of NULLs only, then NULLs
    among values), a time."""
    people = list(User.objects.filter(pk__in=[person.pk for person in people]).order_by("pk"))
    for n, person in enumerate(people):
        person.first_name = f'Zoé "{n}" \\ {{a,b}}'
        person.last_name = "O'Brien, Ça" if n % 2 else "NULL"
        person.email = f"zoe.{n}@example.com"
        person.mobile = f"+3360000000{n}" if n % 3 else ""
        person.employee_number = f" E\t{n} " if n % 2 else ""
        person.preferred_channel = "sms" if n % 3 else "email"
        person.user_type = trainee if n >= 3 and n % 2 else None
        person.language = "fr"
        person.updated_at = when + timedelta(seconds=n)
        person.search_text = f"zoe {n}"
    return people


def _stored(people):
    rows = User.objects.filter(pk__in=[person.pk for person in people]).order_by("pk")
    return [tuple(getattr(row, name) for name in [*UPDATED, "email", "status", "created_at"]) for row in rows]


def test_update_many_writes_what_bulk_update_writes(acme):
    trainee = UserTypeFactory(organization=acme, name="Trainee")
    people = [UserFactory(organization=acme, user_type=trainee if n % 3 else None) for n in range(7)]
    untouched = UserFactory(organization=acme, first_name="Left")
    when = timezone.now() - timedelta(days=2)
    with transaction.atomic():
        User.objects.bulk_update(_changed(people, trainee, when), UPDATED, batch_size=3)
        expected = _stored(people)
        transaction.set_rollback(True)
    assert _stored(people) != expected  # rolled back: the two writes start from the same rows
    update_many(User, _changed(people, trainee, when), UPDATED, batch_size=3)
    assert _stored(people) == expected
    assert User.objects.get(pk=untouched.pk).first_name == "Left"


def test_update_many_refuses_what_it_cannot_write_as_asked(acme):
    person = UserFactory(organization=acme, first_name="Ann")
    for objects, fields in (
        ([person, User.objects.get(pk=person.pk)], ["first_name"]),  # one person given twice
        ([User(organization=acme, first_name="New")], ["first_name"]),  # never saved
        ([person], []),
        ([person], ["id"]),
    ):
        with pytest.raises(ValueError):
            update_many(User, objects, fields)
    assert User.objects.get(pk=person.pk).first_name == "Ann"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite stores a text of any length")
def test_update_many_refuses_a_text_longer_than_its_column_and_writes_nothing(acme):
    people = [UserFactory(organization=acme, first_name="Ann") for _ in range(3)]
    for person in people:
        person.first_name = "Anne"
    people[2].first_name = "A" * 151
    with pytest.raises(DataError), transaction.atomic():
        update_many(User, people, ["first_name"], batch_size=2)
    assert set(User.objects.filter(pk__in=[p.pk for p in people]).values_list("first_name", flat=True)) == {"Ann"}
