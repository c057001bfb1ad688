"""A manager scoped to some groups creates people into one of those groups (DESIGN §6)."""

import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory
from flows.people import user_create_with_groups
from groups.errors import NotAllowed
from groups.models import Membership
from groups.services import group_add_created_users
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(bob, lyon):
    grant(bob, Right.MANAGE_USERS, lyon)
    return bob


def test_a_group_scoped_manager_creates_a_user_in_their_group_from_the_page(manager, bob_client, lyon):
    response = bob_client.post(
        "/users/new/",
        {
            "first_name": "Nina",
            "last_name": "New",
            "email": "nina@acme.example",
            "preferred_channel": "email",
            "language": "en",
            "groups": [lyon.pk],
        },
    )
    nina = User.objects.get(email="nina@acme.example")
    assert response.status_code == 302 and response["Location"] == f"/users/{nina.pk}/"
    assert Membership.objects.filter(group=lyon, user=nina).exists()


def test_but_not_in_a_group_out_of_their_scope(acme, manager, paris):
    with pytest.raises(NotAllowed):
        user_create_with_groups(organization=acme, actor=manager, email="nina@acme.example", groups=[paris])


def test_only_users_the_actor_created_can_be_added_that_way(acme, manager, lyon, alice):
    someone = UserFactory(organization=acme, created_by=alice)
    with pytest.raises(NotAllowed):
        group_add_created_users(group=lyon, users=[someone], actor=manager)
    assert not Membership.objects.filter(user=someone).exists()
