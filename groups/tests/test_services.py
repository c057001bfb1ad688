import pytest

from accounts.tests.factories import MembershipFactory, UserFactory
from experquiz.naming import NameTaken
from groups.errors import NotAllowed
from groups.models import Membership, UserGroup
from groups.services import (
    group_add_members,
    group_create,
    group_delete,
    group_remove_members,
    group_update,
    memberships_set,
    new_user_groups_check,
    user_place_in_groups,
)
from groups.tests.factories import grant
from rights.models import Grant, GrantGroup, ProfileAssignment
from rights.names import Right
from rights.selectors import users_in_scope

pytestmark = pytest.mark.django_db


def snapshot(organization):
    """Everything rights and groups hold for an organisation, to prove a refusal changed nothing."""
    return (
        sorted(Membership.objects.for_org(organization).values_list("group_id", "user_id")),
        sorted(Grant.objects.for_org(organization).values_list("right", "user_id", "profile_id", "all_users")),
        sorted(GrantGroup.objects.for_org(organization).values_list("grant__right", "group_id")),
        sorted(ProfileAssignment.objects.for_org(organization).values_list("profile_id", "user_id")),
        sorted(UserGroup.objects.for_org(organization).values_list("name", flat=True)),
        sorted(organization.users.values_list("pk", "is_administrator", "status")),
    )


# Groups


def test_an_administrator_creates_renames_and_deletes_a_group_without_touching_users(alice, acme, ines, lyon):
    group = group_create(organization=acme, actor=alice, name="  Marseille ", description="South")
    assert (group.name, group.description) == ("Marseille", "South")
    group_update(group=group, actor=alice, name="Marseille Sud", description="")
    group_delete(group=lyon, actor=alice)
    assert not UserGroup.objects.filter(pk=lyon.pk).exists()
    ines.refresh_from_db()
    assert ines.status == "active"


def test_group_names_clash_whatever_the_case(alice, acme, lyon):
    with pytest.raises(NameTaken) as error:
        group_create(organization=acme, actor=alice, name="LYON")
    assert "already used" in str(error.value.errors["name"])
    paris = group_create(organization=acme, actor=alice, name="Paris")
    with pytest.raises(NameTaken):
        group_update(group=paris, actor=alice, name="lyon")
    # Renaming a group to its own name in another case is fine.
    group_update(group=paris, actor=alice, name="PARIS")


def test_the_same_group_name_is_fine_in_another_organisation(alice, mallory, globex, lyon):
    assert group_create(organization=globex, actor=mallory, name="Lyon").organization == globex


def test_only_administrators_create_or_delete_groups(maggie, acme, lyon, mallory):
    before = snapshot(acme)
    with pytest.raises(NotAllowed):
        group_create(organization=acme, actor=maggie, name="Mine")
    with pytest.raises(NotAllowed):
        group_delete(group=lyon, actor=maggie)
    with pytest.raises(NotAllowed):
        group_update(group=lyon, actor=mallory, name="Taken over")
    assert snapshot(acme) == before


def test_deleting_a_group_drops_the_grants_scoped_only_to_it(alice, maggie, lyon, paris):
    grant(maggie, Right.VIEW_RESULTS, lyon, paris)
    group_delete(group=lyon, actor=alice)
    assert set(Grant.objects.filter(user=maggie).values_list("right", flat=True)) == {Right.VIEW_RESULTS}


def test_a_scoped_manager_adds_and_removes_members_of_their_groups_only(maggie, ines, otto, lyon, paris, acme):
    newcomer = UserFactory(organization=acme)
    # Newcomer is not in Maggie's scope yet, so she cannot pull them in.
    with pytest.raises(NotAllowed):
        group_add_members(group=lyon, users=[newcomer], actor=maggie)
    with pytest.raises(NotAllowed):
        group_add_members(group=paris, users=[ines], actor=maggie)
    with pytest.raises(NotAllowed):
        group_remove_members(group=paris, users=[otto], actor=maggie)
    assert group_remove_members(group=lyon, users=[ines], actor=maggie) == 1
    assert not users_in_scope(maggie).exists()


def test_adding_members_records_who_and_ignores_those_already_in(alice, ines, otto, lyon):
    assert group_add_members(group=lyon, users=[ines, otto, otto], actor=alice) == 1
    assert lyon.memberships.get(user=otto).added_by == alice


def test_another_tenants_user_is_never_added(alice, lyon, mallory):
    with pytest.raises(NotAllowed):
        group_add_members(group=lyon, users=[mallory], actor=alice)
    assert not lyon.memberships.filter(user=mallory).exists()


def test_the_membership_grid_sets_exactly_the_checked_pairs(alice, ines, otto, lyon, paris):
    added, removed = memberships_set(
        actor=alice, users=[ines, otto], groups=[lyon, paris], pairs=[(ines.pk, paris.pk), (otto.pk, paris.pk)]
    )
    assert (added, removed) == (1, 1)
    assert set(Membership.objects.values_list("user_id", "group_id")) == {(ines.pk, paris.pk), (otto.pk, paris.pk)}


def test_the_membership_grid_refuses_anything_out_of_scope(maggie, ines, otto, lyon, paris, acme):
    before = snapshot(acme)
    with pytest.raises(NotAllowed):
        memberships_set(actor=maggie, users=[ines], groups=[lyon, paris], pairs=[(ines.pk, paris.pk)])
    with pytest.raises(NotAllowed):
        memberships_set(actor=maggie, users=[ines, otto], groups=[lyon], pairs=[(otto.pk, lyon.pk)])
    with pytest.raises(NotAllowed):
        memberships_set(actor=maggie, users=[ines], groups=[lyon], pairs=[(ines.pk, paris.pk)])
    assert snapshot(acme) == before


def test_a_scoped_manager_must_put_a_new_user_in_one_of_their_groups(maggie, alice, acme, lyon, paris):
    with pytest.raises(NotAllowed):
        new_user_groups_check(actor=maggie, groups=[])
    with pytest.raises(NotAllowed):
        new_user_groups_check(actor=maggie, groups=[paris])
    new_user_groups_check(actor=maggie, groups=[lyon])
    new_user_groups_check(actor=alice, groups=[])
    user = UserFactory(organization=acme)
    assert user_place_in_groups(user=user, groups=[lyon], actor=maggie) == 1
    assert user in users_in_scope(maggie)


def test_deleted_members_keep_their_membership(alice, acme, lyon):
    from accounts.services import user_change_status

    user = UserFactory(organization=acme)
    MembershipFactory(group=lyon, user=user)
    user_change_status(user=user, to="deleted", actor=alice)
    assert lyon.memberships.filter(user=user).exists()


# Cached people counts


def test_membership_changes_outdate_the_cached_counts_in_their_own_transaction(alice, acme, ines, otto, lyon):
    from django.db import transaction

    from accounts.selectors import people_version

    def group():  # a rolled-back delete leaves the Python object without its pk: read it afresh
        return UserGroup.objects.get(pk=lyon.pk)

    steps = [
        lambda: group_add_members(group=group(), users=[otto], actor=alice),
        lambda: group_remove_members(group=group(), users=[ines], actor=alice),
        lambda: memberships_set(actor=alice, users=[ines], groups=[group()], pairs=[(ines.pk, lyon.pk)]),
        lambda: group_delete(group=group(), actor=alice),
    ]
    for step in steps:
        version = people_version(acme.pk)
        # A write that is rolled back leaves the version (and the counts cached under it) alone…
        with pytest.raises(RuntimeError), transaction.atomic():
            step()
            raise RuntimeError("rolled back")
        assert people_version(acme.pk) == version
        # …one that goes through changes it with the rows.
        step()
        assert people_version(acme.pk) > version
