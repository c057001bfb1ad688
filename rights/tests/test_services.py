import pytest

from accounts.errors import LastAdministrator
from accounts.tests.factories import UserFactory, UserGroupFactory
from experquiz.naming import NameTaken
from groups.errors import NotAllowed
from groups.tests.factories import RightsProfileFactory, grant, scope
from groups.tests.test_services import snapshot
from rights.models import Grant, RightsProfile
from rights.names import Right
from rights.selectors import EVERYONE, personal_grants, users_in_scope
from rights.services import profile_create, profile_delete, profile_update, user_rights_set

pytestmark = pytest.mark.django_db


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
    with pytest.raises(NameTaken):
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


# Cached people counts


def test_rights_changes_outdate_the_cached_counts(alice, acme, bob, lyon):
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
        step()
        assert people_version(acme.pk) > version
