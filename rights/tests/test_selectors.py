import pytest

from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from groups.selectors import groups_with_counts
from groups.tests.factories import RightsProfileFactory, grant, scope
from rights.models import ProfileAssignment
from rights.names import ADMINISTRATOR, Right
from rights.selectors import (
    EVERYONE,
    NO_SCOPE,
    actor_has_right,
    actor_rights,
    actor_scope,
    group_memberships,
    groups_in_scope,
    must_place_new_users_in_a_group,
    users_in_scope,
)

pytestmark = pytest.mark.django_db


def test_an_administrator_holds_every_right_over_the_whole_organisation(alice, bob, mallory):
    assert set(users_in_scope(alice, Right.INVITE)) == {alice, bob}
    assert all(actor_has_right(alice, right) for right in [*Right, ADMINISTRATOR])
    assert actor_rights(alice) == {right.value: EVERYONE for right in Right}


def test_a_plain_user_holds_nothing(bob):
    assert not users_in_scope(bob, Right.MANAGE_USERS).exists()
    assert actor_rights(bob) == {}
    assert not actor_has_right(bob, ADMINISTRATOR)
    assert not groups_in_scope(bob).exists()


def test_a_group_scoped_manager_reaches_only_the_members_of_their_groups(maggie, ines, otto, lyon, paris):
    assert set(users_in_scope(maggie, Right.MANAGE_USERS)) == {ines}
    assert set(groups_in_scope(maggie, Right.MANAGE_USERS)) == {lyon}
    assert actor_scope(maggie, Right.INVITE) == scope(lyon)
    # Rights not granted stay out of reach.
    assert actor_scope(maggie, Right.VIEW_RESULTS) == NO_SCOPE
    assert not users_in_scope(maggie, Right.VIEW_RESULTS).exists()
    assert not actor_has_right(maggie, ADMINISTRATOR)


def test_the_scope_follows_membership_changes_at_once(maggie, otto, lyon):
    assert otto not in users_in_scope(maggie)
    MembershipFactory(group=lyon, user=otto)
    assert otto in users_in_scope(maggie)


def test_an_all_users_grant_reaches_everyone_of_the_organisation_only(acme, bob, otto, mallory):
    grant(bob, Right.VIEW_RESULTS, everyone=True)
    assert set(users_in_scope(bob, Right.VIEW_RESULTS)) == set(acme.users.all())
    assert mallory not in users_in_scope(bob, Right.VIEW_RESULTS)
    assert set(groups_in_scope(bob, Right.VIEW_RESULTS)) == set(acme.user_groups.all())


def test_effective_rights_are_the_union_of_profiles_and_personal_grants(acme, bob, lyon, paris, ines, otto):
    profile = RightsProfileFactory(organization=acme)
    grant(profile, Right.INVITE, paris)
    grant(bob, Right.INVITE, lyon)
    ProfileAssignment.objects.create(organization=acme, profile=profile, user=bob)
    assert set(users_in_scope(bob, Right.INVITE)) == {ines, otto}
    assert actor_scope(bob, Right.INVITE) == scope(lyon, paris)


def test_another_tenants_profile_or_group_never_widens_a_scope(acme, globex, bob, lyon, ines):
    foreign_group = UserGroupFactory(organization=globex)
    MembershipFactory(group=foreign_group)
    grant(bob, Right.INVITE, lyon)
    assert set(users_in_scope(bob, Right.INVITE)) == {ines}


def test_a_scoped_manager_must_place_new_users_in_a_group(maggie, alice, bob):
    assert must_place_new_users_in_a_group(maggie)
    assert not must_place_new_users_in_a_group(alice)
    assert not must_place_new_users_in_a_group(bob)


def test_group_counts_skip_deleted_users(acme, lyon):
    MembershipFactory(group=lyon, user=UserFactory(organization=acme, status="active"))
    MembershipFactory(group=lyon, user=UserFactory(organization=acme, status="invited"))
    MembershipFactory(group=lyon, user=UserFactory(organization=acme, status="deleted"))
    counted = groups_with_counts(acme.user_groups.all()).get(pk=lyon.pk)
    assert (counted.active_count, counted.member_count) == (1, 2)


def test_a_member_added_by_someone_out_of_scope_does_not_name_them(maggie, ines, otto, lyon, alice):
    lyon.memberships.filter(user=ines).update(added_by=otto)
    membership = group_memberships(actor=maggie, group=lyon).get()
    assert membership.user == ines
    assert not membership.added_by_visible


def test_rights_remembered_for_a_request_are_computed_once(maggie, lyon, django_assert_num_queries):
    from rights.selectors import remember_rights

    remember_rights(maggie)
    with django_assert_num_queries(0):
        assert actor_has_right(maggie, Right.MANAGE_USERS)
        assert actor_scope(maggie, Right.INVITE) == scope(lyon)


def test_group_members_are_those_the_actor_may_act_on(maggie, alice, lyon, ines, otto):
    from rights.selectors import group_members

    MembershipFactory(group=lyon, user=otto)  # Otto is in Lyon too, but Maggie reaches him through Lyon
    assert set(group_members(actor=maggie, group=lyon)) == {ines, otto}
    assert set(group_members(actor=alice, group=lyon)) == {ines, otto}
    outsider = UserFactory(organization=alice.organization)
    assert outsider not in set(group_members(actor=alice, group=lyon))


def test_profile_holders_are_seen_by_administrators_only(alice, maggie, bob):
    from rights.selectors import profile_holders

    profile = RightsProfileFactory(organization=alice.organization)
    ProfileAssignment.objects.create(organization=alice.organization, profile=profile, user=bob)
    assert list(profile_holders(actor=alice, profile=profile)) == [bob]
    assert not profile_holders(actor=maggie, profile=profile).exists()


def test_user_ids_in_scope_are_the_ids_of_users_in_scope(acme, alice, bob, maggie, ines, otto, lyon, paris):
    from accounts.models import User
    from rights.selectors import user_ids_in_scope

    reader = UserFactory(organization=acme, email="reader@acme.example")
    grant(reader, Right.VIEW_RESULTS, lyon, paris)
    MembershipFactory(group=lyon, user=otto)  # in two of the reader's groups: counted once
    for actor in (alice, bob, maggie, reader):
        for right in Right:
            ids = set(User.objects.filter(pk__in=user_ids_in_scope(actor, right)).values_list("pk", flat=True))
            assert ids == set(users_in_scope(actor, right).values_list("pk", flat=True)), (actor, right)
    reached = User.objects.filter(pk__in=user_ids_in_scope(reader, Right.VIEW_RESULTS))
    assert set(reached.values_list("pk", flat=True)) == {ines.pk, otto.pk}


def test_the_menus_rows_are_the_scoped_querysets_rows(acme, globex, alice, maggie, bob, lyon, paris, monkeypatch):
    """The people list's menus (on PostgreSQL read with SQL written once per process, prepared on a
    kept connection) list what the scoped querysets list, in their order: an administrator every
    group of the organisation by name, a scoped manager theirs, someone without the right none; the
    organisation's types by name; nothing of another organisation."""
    from django.db import connection

    from accounts.models import UserType
    from accounts.selectors import user_type_choices
    from rights.selectors import group_choices, groups_in_scope

    UserGroupFactory(organization=acme, name="Annecy")
    UserGroupFactory(organization=globex, name="Berlin")
    for organization, name in ((acme, "Trainee"), (acme, "Employee"), (globex, "Client")):
        UserType.objects.create(organization=organization, name=name)
    for persistent in (False, True):
        if persistent and connection.vendor == "postgresql":
            monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 300)
        for actor in (alice, maggie, bob):
            expected = list(groups_in_scope(actor, Right.MANAGE_USERS).order_by("name").values_list("pk", "name"))
            assert group_choices(actor, Right.MANAGE_USERS) == expected
        assert [name for _pk, name in group_choices(alice)] == ["Annecy", "Lyon", "Paris"]
        assert [name for _pk, name in group_choices(maggie)] == ["Lyon"] and group_choices(bob) == []
        assert [name for _pk, name in user_type_choices(acme)] == ["Employee", "Trainee"]
        assert user_type_choices(None) == []


def test_a_people_list_reads_its_menus_and_counts_as_each_selector_does(
    acme, globex, alice, maggie, bob, lyon, paris, monkeypatch
):
    """PeopleListReads gives what group_choices, user_type_choices and user_status_counts give, for
    an administrator (three reads in one round trip on PostgreSQL), a scoped manager and someone
    without the right (each read on its own), with connections kept or not."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User, UserType
    from accounts.selectors import user_type_choices
    from rights.selectors import PeopleListReads, group_choices, user_status_counts

    UserGroupFactory(organization=acme, name="Annecy")
    UserGroupFactory(organization=globex, name="Berlin")
    for organization, name in ((acme, "Trainee"), (acme, "Employee"), (globex, "Client")):
        UserType.objects.create(organization=organization, name=name)
    UserFactory(organization=acme, status=User.Status.INACTIVE)
    UserFactory(organization=globex, status=User.Status.DELETED)
    for persistent in (False, True):
        if persistent and connection.vendor == "postgresql":
            monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 300)
        for actor in (alice, maggie, bob):
            reads = PeopleListReads(actor, Right.MANAGE_USERS)
            with CaptureQueriesContext(connection) as queries:
                found = reads.groups(), reads.types(), reads.status_counts()
            expected = (
                group_choices(actor, Right.MANAGE_USERS),
                user_type_choices(actor.organization),
                user_status_counts(actor, Right.MANAGE_USERS),
            )
            assert found == expected, actor
            if actor == alice and connection.vendor == "postgresql":
                assert len([q for q in queries if not q["sql"].startswith("PREPARE")]) == 1
        assert [name for _pk, name in PeopleListReads(alice).groups()] == ["Annecy", "Lyon", "Paris"]
        assert [name for _pk, name in PeopleListReads(alice).types()] == ["Employee", "Trainee"]
        assert PeopleListReads(alice).status_counts()[User.Status.INACTIVE] == 1
        assert User.Status.DELETED not in PeopleListReads(alice).status_counts()  # globex's
        # A filtered list counts its own: the menus alone are read, the kept counts only if asked.
        reads = PeopleListReads(alice, with_counts=False)
        with CaptureQueriesContext(connection) as queries:
            assert reads.groups() == group_choices(alice) and reads.types() == user_type_choices(acme)
        sent = [q["sql"] for q in queries if not q["sql"].startswith("PREPARE")]
        assert not any("statuscount" in sql.lower() or "status_counts" in sql for sql in sent)
        assert reads.status_counts() == user_status_counts(alice)
