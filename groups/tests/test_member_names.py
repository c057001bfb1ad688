"""Each membership's copy of its member's name, search text and user type (groups migrations 0005,
0006 and 0009) equals the user's after every kind of write on memberships or users: the services,
the ORM's bulk paths, raw SQL and COPY. The people list reads a group's pages in name order from that
copy, and checks a group's members against a search and a type there first (flows.filters.UserFilter)."""

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from accounts.services import user_update
from accounts.tests.factories import MembershipFactory, UserFactory, UserTypeFactory
from groups.models import Membership
from groups.services import group_add_members, group_remove_members, group_restore_members, memberships_set

pytestmark = pytest.mark.django_db


def copies_wrong() -> list[tuple]:
    """Memberships whose copy differs from their member's name, search text or type (none, always)."""
    rows = Membership.objects.values_list(
        "pk",
        "member_last_name",
        "member_first_name",
        "member_search_text",
        "member_type_id",
        "user__last_name",
        "user__first_name",
        "user__search_text",
        "user__user_type_id",
    )
    return [row for row in rows if row[1:5] != row[5:9]]


def copy_of(membership_id) -> tuple[str, str]:
    return Membership.objects.values_list("member_last_name", "member_first_name").get(pk=membership_id)


@pytest.fixture
def people(acme):
    """Four people, three of them with a type (two types): a copy that missed the type would differ."""
    trainee = UserTypeFactory(organization=acme, name="Trainee")
    manager = UserTypeFactory(organization=acme, name="Manager")
    types = [trainee, manager, None, trainee]
    return [
        UserFactory(organization=acme, first_name=f"First{n}", last_name=f"Last{n}", user_type=types[n])
        for n in range(4)
    ]


def test_memberships_written_by_the_services_carry_their_members_names(alice, acme, lyon, paris, people):
    group_add_members(group=lyon, users=people[:2], actor=alice)
    memberships_set(actor=alice, users=people, groups=[paris], pairs={(person.pk, paris.pk) for person in people[1:]})
    group_remove_members(group=lyon, users=[people[0]], actor=alice)
    group_restore_members(group=lyon, memberships=[(people[0].pk, None, alice.pk)], actor=alice)
    assert Membership.objects.count() == 5
    assert copies_wrong() == []
    assert copy_of(Membership.objects.get(group=lyon, user=people[0]).pk) == ("Last0", "First0")


def test_memberships_written_by_the_orm_raw_sql_or_copy_carry_their_members_names(acme, lyon, paris, people):
    MembershipFactory(group=lyon, user=people[0])
    Membership.objects.bulk_create([Membership(organization=acme, group=paris, user=people[0])])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usergroups_membership (organization_id, group_id, user_id, added_at)"
            " VALUES (%s, %s, %s, CURRENT_TIMESTAMP)",
            [acme.pk, lyon.pk, people[1].pk],
        )
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(
                "COPY usergroups_membership (organization_id, group_id, user_id, added_at) FROM STDIN"
            ) as copy:
                copy.write_row((acme.pk, lyon.pk, people[2].pk, "2026-01-01T00:00:00Z"))
    assert copies_wrong() == []
    assert set(Membership.objects.values_list("member_last_name", flat=True)) >= {"Last0", "Last1"}


def test_the_copy_cannot_be_set_by_hand_and_follows_a_change_of_member(acme, lyon, people):
    membership = MembershipFactory(group=lyon, user=people[0])
    Membership.objects.filter(pk=membership.pk).update(member_last_name="Forged", member_first_name="Name")
    assert copy_of(membership.pk) == ("Last0", "First0")
    Membership.objects.filter(pk=membership.pk).update(member_search_text="forged")
    assert copies_wrong() == []
    Membership.objects.filter(pk=membership.pk).update(user=people[1])
    assert copy_of(membership.pk) == ("Last1", "First1")
    membership.refresh_from_db()
    membership.save()
    assert copies_wrong() == []


def _in_groups(people, lyon, paris):
    """The first person in both groups, the second in Lyon; the first, returned."""
    for group in (lyon, paris):
        MembershipFactory(group=group, user=people[0])
    MembershipFactory(group=lyon, user=people[1])
    return people[0]


def _update_through_the_service(person, actor, **changes):
    """`user_update` with the person's current values but `changes`."""
    current = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "mobile": person.mobile,
        "preferred_channel": person.preferred_channel,
        "language": person.language,
        "user_type": None,
    }
    user_update(user=person, actor=actor, **{**current, **changes})


def test_a_renamed_user_passes_the_name_to_every_membership(alice, acme, lyon, paris, people):
    person = _in_groups(people, lyon, paris)
    _update_through_the_service(person, alice, first_name="Zoé", last_name="Àlvarez")
    assert set(Membership.objects.filter(user=person).values_list("member_last_name", "member_first_name")) == {
        ("Àlvarez", "Zoé")
    }
    User.objects.filter(pk=people[1].pk).update(last_name="Bulk")
    people[1].first_name = "Saved"
    people[1].save()
    people[2].last_name = "Unrelated"
    User.objects.bulk_update([people[1], people[2]], ["last_name"])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET first_name = %s WHERE id = %s", ["Raw", person.pk])
    assert copies_wrong() == []
    assert copy_of(Membership.objects.get(user=people[1]).pk) == ("Last1", "Saved")


def test_a_membership_of_a_user_that_does_not_exist_is_refused_at_once(acme, lyon, people):
    missing = max(User.objects.values_list("pk", flat=True)) + 1000
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(organization=acme, group=lyon, user_id=missing)


def test_a_user_whose_search_text_changes_passes_it_to_every_membership(alice, acme, lyon, paris, people):
    person = _in_groups(people, lyon, paris)
    _update_through_the_service(person, alice, email="new.address@example.com", mobile="+33612345678")
    texts = set(Membership.objects.filter(user=person).values_list("member_search_text", flat=True))
    assert len(texts) == 1 and "new.address@example.com" in texts.pop()
    people[1].employee_number = "E-778"
    people[1].save()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET search_text = %s WHERE id = %s", ["raw text", people[0].pk])
    assert copies_wrong() == []
    assert "e-778" in Membership.objects.get(user=people[1]).member_search_text


def test_a_user_whose_type_changes_passes_it_to_every_membership(alice, acme, lyon, paris, people):
    trainee, manager = people[0].user_type, people[1].user_type
    people[1].user_type = trainee
    people[1].save()
    person = _in_groups(people, lyon, paris)
    assert Membership.objects.get(user=people[1]).member_type_id == trainee.pk  # written with the type
    _update_through_the_service(person, alice, user_type=manager)
    assert set(Membership.objects.filter(user=person).values_list("member_type_id", flat=True)) == {manager.pk}
    User.objects.filter(pk=people[1].pk).update(user_type=None)
    assert Membership.objects.get(user=people[1]).member_type_id is None
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET user_type_id = %s WHERE id = %s", [trainee.pk, person.pk])
    Membership.objects.filter(user=people[1]).update(member_type_id=manager.pk)  # overwritten by the user's
    assert copies_wrong() == []
    assert set(Membership.objects.filter(user=person).values_list("member_type_id", flat=True)) == {trainee.pk}
