import pytest

from accounts.tests.factories import UserFactory, UserGroupFactory
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db


def nav_links(client):
    html = client.get("/me/").content.decode()
    return {
        name
        for name in ("/users/", "/contacts/", "/groups/", "/invitations/", "/rights/", "/audit/")
        if f'href="{name}"' in html
    }


def test_an_administrator_sees_every_admin_page(alice_client):
    assert nav_links(alice_client) == {"/users/", "/contacts/", "/groups/", "/invitations/", "/rights/", "/audit/"}


def test_a_group_scoped_manager_sees_only_the_pages_of_their_rights(acme, make_client):
    manager = UserFactory(organization=acme)
    grant(manager, Right.MANAGE_USERS, UserGroupFactory(organization=acme))
    # Contacts belong to no group, so a group-scoped manager has none to see.
    assert nav_links(make_client(acme, manager)) == {"/users/", "/groups/"}


def test_an_organisation_wide_manager_sees_contacts(acme, make_client):
    manager = UserFactory(organization=acme)
    grant(manager, Right.MANAGE_USERS, everyone=True)
    assert "/contacts/" in nav_links(make_client(acme, manager))


def test_a_user_without_rights_sees_only_their_own_space(bob_client):
    assert nav_links(bob_client) == set()
