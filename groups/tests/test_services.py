import pytest
from django.core.exceptions import ValidationError

from accounts.errors import LastAdministrator
from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
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
from groups.tests.factories import RightsProfileFactory, grant, scope
from rights.models import Grant, GrantGroup, ProfileAssignment, RightsProfile
from rights.names import Right
from rights.selectors import EVERYONE, personal_grants, users_in_scope
from rights.services import profile_create, profile_delete, profile_update, user_rights_set

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
    with pytest.raises(ValidationError) as error:
        group_create(organization=acme, actor=alice, name="LYON")
    assert "already used" in str(error.value.message_dict["name"])
    paris = group_create(organization=acme, actor=alice, name="Paris")
    with pytest.raises(ValidationError):
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


# Rights


def test_an_administrator_sets_personal_grants_and_profiles(alice, bob, acme, lyon, paris):
    profile = RightsProfileFactory(organization=acme)
    grant(profile, Right.VIEW_RESULTS, paris)
    user_rights_set(
        user=bob,
        actor=alice,
        is_administrator=False,
        profiles=[profile],
        grants={Right.INVITE: scope(lyon), Right.MANAGE_USERS: scope()},
    )
    assert personal_grants(bob) == {Right.INVITE: scope(lyon)}
    assert set(bob.rights_profiles.all()) == {profile}
    user_rights_set(user=bob, actor=alice, is_administrator=True, profiles=[], grants={})
    bob.refresh_from_db()
    assert bob.is_administrator
    assert not bob.rights_profiles.exists()
    assert not Grant.objects.filter(user=bob).exists()


def test_changing_a_profile_changes_every_holder_at_once(alice, acme, lyon, paris, ines, otto):
    holders = UserFactory.create_batch(3, organization=acme)
    profile = profile_create(organization=acme, actor=alice, name="Regional", grants={Right.INVITE: scope(lyon)})
    for holder in holders:
        user_rights_set(user=holder, actor=alice, is_administrator=False, profiles=[profile], grants={})
    assert all(set(users_in_scope(h, Right.INVITE)) == {ines} for h in holders)
    profile_update(profile=profile, actor=alice, name="Regional", grants={Right.INVITE: scope(lyon, paris)})
    assert all(set(users_in_scope(h, Right.INVITE)) == {ines, otto} for h in holders)
    profile_delete(profile=profile, actor=alice)
    assert not any(users_in_scope(h, Right.INVITE).exists() for h in holders)


def test_profile_names_clash_whatever_the_case(alice, acme):
    profile_create(organization=acme, actor=alice, name="Regional", grants={})
    with pytest.raises(ValidationError):
        profile_create(organization=acme, actor=alice, name="REGIONAL", grants={})


def test_a_manager_cannot_grant_themselves_more(maggie, acme, lyon, paris):
    before = snapshot(acme)
    with pytest.raises(NotAllowed):
        user_rights_set(
            user=maggie, actor=maggie, is_administrator=False, profiles=[], grants={Right.MANAGE_USERS: EVERYONE}
        )
    with pytest.raises(NotAllowed):
        user_rights_set(user=maggie, actor=maggie, is_administrator=True, profiles=[], grants={})
    assert snapshot(acme) == before


def test_nobody_grants_beyond_the_scope_they_hold(maggie, bob, lyon, paris):
    from rights.services import _check_grantable

    _check_grantable(maggie, {}, {Right.INVITE: scope(lyon)})
    with pytest.raises(NotAllowed):
        _check_grantable(maggie, {}, {Right.INVITE: scope(lyon, paris)})
    with pytest.raises(NotAllowed):
        _check_grantable(maggie, {}, {Right.VIEW_RESULTS: scope(lyon)})
    with pytest.raises(NotAllowed):
        _check_grantable(maggie, {}, {Right.INVITE: EVERYONE})


def test_another_tenants_group_or_profile_is_refused(alice, bob, acme, globex):
    foreign_group = UserGroupFactory(organization=globex)
    foreign_profile = RightsProfileFactory(organization=globex)
    before = snapshot(acme)
    with pytest.raises(NotAllowed):
        user_rights_set(
            user=bob, actor=alice, is_administrator=False, profiles=[], grants={Right.INVITE: scope(foreign_group)}
        )
    with pytest.raises(NotAllowed):
        user_rights_set(user=bob, actor=alice, is_administrator=False, profiles=[foreign_profile], grants={})
    assert snapshot(acme) == before


def test_an_administrator_of_another_tenant_cannot_edit_grants_here(mallory, bob, acme, lyon):
    before = snapshot(acme)
    with pytest.raises(NotAllowed):
        user_rights_set(user=bob, actor=mallory, is_administrator=True, profiles=[], grants={})
    with pytest.raises(NotAllowed):
        profile_create(organization=acme, actor=mallory, name="Sneaky", grants={})
    assert snapshot(acme) == before
    assert not RightsProfile.objects.filter(name="Sneaky").exists()


def test_the_last_active_administrator_cannot_be_demoted_and_nothing_else_changes(alice, acme, lyon):
    before = snapshot(acme)
    with pytest.raises(LastAdministrator):
        user_rights_set(user=alice, actor=alice, is_administrator=False, profiles=[], grants={Right.INVITE: EVERYONE})
    assert snapshot(acme) == before


def test_an_administrator_can_be_demoted_when_another_one_remains(alice, acme):
    other = UserFactory(organization=acme, is_administrator=True)
    user_rights_set(user=alice, actor=other, is_administrator=False, profiles=[], grants={})
    alice.refresh_from_db()
    assert not alice.is_administrator


def test_deleted_members_keep_their_membership(alice, acme, lyon):
    from accounts.services import user_change_status

    user = UserFactory(organization=acme)
    MembershipFactory(group=lyon, user=user)
    user_change_status(user=user, to="deleted", actor=alice)
    assert lyon.memberships.filter(user=user).exists()


# Cached people counts


def test_membership_changes_forget_the_cached_counts_only_once_committed(
    alice, acme, ines, otto, lyon, django_capture_on_commit_callbacks
):
    from accounts.selectors import people_version

    version = people_version(acme.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        group_add_members(group=lyon, users=[otto], actor=alice)
        group_remove_members(group=lyon, users=[ines], actor=alice)
        memberships_set(actor=alice, users=[ines], groups=[lyon], pairs=[(ines.pk, lyon.pk)])
        group_delete(group=lyon, actor=alice)
    # Nothing was forgotten before the commit: a page loaded in between would cache old counts.
    assert people_version(acme.pk) == version
    for callback in callbacks:
        callback()
    assert people_version(acme.pk) > version


def test_rights_changes_forget_the_cached_counts(alice, acme, bob, lyon, django_capture_on_commit_callbacks):
    from accounts.selectors import people_version

    profile = profile_create(organization=acme, actor=alice, name="Regional", grants={Right.INVITE: scope(lyon)})
    steps = [
        lambda: user_rights_set(
            user=bob, actor=alice, is_administrator=False, profiles=[], grants={Right.MANAGE_USERS: scope(lyon)}
        ),
        lambda: user_rights_set(user=bob, actor=alice, is_administrator=False, profiles=[profile], grants={}),
        lambda: profile_update(profile=profile, actor=alice, name="Regional", grants={Right.MANAGE_USERS: EVERYONE}),
        lambda: profile_delete(profile=profile, actor=alice),
    ]
    for step in steps:
        version = people_version(acme.pk)
        with django_capture_on_commit_callbacks(execute=True):
            step()
        assert people_version(acme.pk) > version
