"""The reads of groups that need no rights."""

import pytest

from accounts.tests.factories import MembershipFactory, UserFactory
from groups.models import Membership
from groups.selectors import group_ids_by_user

pytestmark = pytest.mark.django_db


def test_the_groups_of_a_page_of_people_are_each_persons_memberships(acme, lyon, paris):
    """One read for a page of people (on PostgreSQL, a statement written once, the ids an array): the
    groups of each, none for a person in none, nothing of anyone not asked for."""
    people = [UserFactory(organization=acme) for _ in range(4)]
    MembershipFactory(group=lyon, user=people[0])
    MembershipFactory(group=paris, user=people[0])
    MembershipFactory(group=paris, user=people[2])
    MembershipFactory(group=lyon, user=people[3])
    asked = [people[0].pk, people[1].pk, people[2].pk]
    found = group_ids_by_user(asked)
    assert {user: sorted(groups) for user, groups in found.items()} == {
        people[0].pk: sorted([lyon.pk, paris.pk]),
        people[2].pk: [paris.pk],
    }
    expected = {}
    for user_id, group_id in Membership.objects.filter(user_id__in=asked).values_list("user_id", "group_id"):
        expected.setdefault(user_id, []).append(group_id)
    assert {user: sorted(groups) for user, groups in found.items()} == {
        user: sorted(groups) for user, groups in expected.items()
    }
    assert group_ids_by_user([]) == {}


def test_prepared_on_a_persistent_connection_the_groups_are_the_same(acme, lyon, paris, monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    people = [UserFactory(organization=acme) for _ in range(3)]
    MembershipFactory(group=lyon, user=people[0])
    MembershipFactory(group=paris, user=people[1])
    plain = group_ids_by_user([person.pk for person in people])
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 300)
    for _ in range(7):  # past PostgreSQL's first five custom plans, onto the generic one
        assert group_ids_by_user([person.pk for person in people]) == plain
    assert plain == {people[0].pk: [lyon.pk], people[1].pk: [paris.pk]}
