"""People who hold rights are managed by administrators only: a manager whose group contains an
administrator or another manager must not be able to take their account over or lock them out."""

import pytest

from accounts.tests.factories import MembershipFactory, UserFactory
from groups.tests.factories import RightsProfileFactory, grant
from rights.names import Right
from rights.selectors import users_in_scope

pytestmark = pytest.mark.django_db


def test_an_administrator_in_the_managers_group_is_out_of_scope(alice, lyon, maggie, make_client):
    MembershipFactory(group=lyon, user=alice)
    assert not users_in_scope(maggie, Right.MANAGE_USERS).filter(pk=alice.pk).exists()
    client = make_client(alice.organization, maggie)
    assert client.get(f"/users/{alice.pk}/").status_code == 404
    response = client.post(
        f"/users/{alice.pk}/edit/", {"first_name": "Alice", "last_name": "Admin", "email": "evil@attacker.example"}
    )
    assert response.status_code == 404
    assert client.post(f"/users/{alice.pk}/status/inactive/").status_code == 404
    alice.refresh_from_db()
    assert alice.email == "alice@acme.example" and alice.status == "active"


def test_another_manager_in_the_group_is_out_of_scope_whether_by_grant_or_by_profile(acme, lyon, maggie):
    by_grant = UserFactory(organization=acme)
    grant(by_grant, Right.INVITE, lyon)
    by_profile = UserFactory(organization=acme)
    profile = RightsProfileFactory(organization=acme)
    profile.assignments.create(organization=acme, user=by_profile)
    plain = UserFactory(organization=acme)
    for user in (by_grant, by_profile, plain):
        MembershipFactory(group=lyon, user=user)
    reachable = set(users_in_scope(maggie, Right.MANAGE_USERS).values_list("pk", flat=True))
    assert plain.pk in reachable
    assert not reachable & {by_grant.pk, by_profile.pk, maggie.pk}


def test_administrators_still_manage_everyone(alice, maggie):
    assert users_in_scope(alice, Right.MANAGE_USERS).filter(pk=maggie.pk).exists()


def test_results_stay_readable_for_the_whole_scope(alice, acme, lyon):
    reader = UserFactory(organization=acme)
    grant(reader, Right.VIEW_RESULTS, lyon)
    MembershipFactory(group=lyon, user=alice)
    assert users_in_scope(reader, Right.VIEW_RESULTS).filter(pk=alice.pk).exists()


def test_group_member_search_matches_like_the_users_list(alice, acme, lyon, make_client):
    """Accents, letter case and phone formats behave as on /users/."""
    ines = UserFactory(organization=acme, first_name="Inès", last_name="Lefèvre", email="", mobile="+33612345678",
                       preferred_channel="sms")  # fmt: skip
    MembershipFactory(group=lyon, user=ines)
    client = make_client(acme, alice)
    for query in ("lefevre", "INES", "06 12 34 56 78"):
        response = client.get(f"/groups/{lyon.pk}/", {"q": query})
        assert "Lefèvre" in response.content.decode(), query
