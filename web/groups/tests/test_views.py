import pytest
from django.urls import reverse

from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from groups.models import Membership, UserGroup
from groups.tests.factories import RightsProfileFactory, grant
from rights.models import Grant, RightsProfile
from rights.names import Right

pytestmark = pytest.mark.django_db


def body(response):
    return response.content.decode()


def test_the_group_list_shows_counts_and_searches(alice_client, lyon, paris, ines, otto, acme):
    MembershipFactory(group=lyon, user=UserFactory(organization=acme, status="deleted"))
    MembershipFactory(group=lyon, user=UserFactory(organization=acme, status="invited"))
    response = alice_client.get(reverse("groups:list"))
    assert response.status_code == 200
    row = body(response).split(">Lyon<", 1)[1].split("</tr>", 1)[0]
    assert "data-active-count>1<" in row and "data-member-count>2<" in row
    response = alice_client.get(reverse("groups:list"), {"q": "pari"})
    assert "Paris" in body(response) and ">Lyon<" not in body(response)


def test_a_scoped_manager_sees_only_their_groups(maggie_client, lyon, paris):
    response = maggie_client.get(reverse("groups:list"))
    assert "Lyon" in body(response) and "Paris" not in body(response)
    assert maggie_client.get(reverse("groups:detail", args=[paris.pk])).status_code == 404
    assert "New group" not in body(response)


def test_creating_a_group_with_a_taken_name_says_so(alice_client, lyon):
    response = alice_client.post(reverse("groups:create"), {"name": "lYoN", "description": ""})
    assert response.status_code == 200
    assert "already used" in body(response)
    assert UserGroup.objects.count() == 1


def test_an_administrator_creates_renames_and_deletes_a_group(alice_client, acme, ines, lyon):
    response = alice_client.post(reverse("groups:create"), {"name": "Marseille", "description": "South"})
    group = UserGroup.objects.get(name="Marseille")
    assert response.url == reverse("groups:detail", args=[group.pk])
    alice_client.post(reverse("groups:update", args=[group.pk]), {"name": "Marseille Sud", "description": ""})
    group.refresh_from_db()
    assert group.name == "Marseille Sud"
    confirm = alice_client.get(reverse("groups:delete", args=[lyon.pk]))
    assert "1 member stays" in body(confirm)
    alice_client.post(reverse("groups:delete", args=[lyon.pk]))
    assert not UserGroup.objects.filter(pk=lyon.pk).exists()
    assert acme.users.filter(pk=ines.pk, status="active").exists()


def test_the_group_page_filters_members_and_says_who_added_them(alice_client, alice, acme, lyon, ines):
    gone = UserFactory(organization=acme, status="deleted", first_name="Gone")
    MembershipFactory(group=lyon, user=gone, added_by=alice)
    response = alice_client.get(reverse("groups:detail", args=[lyon.pk]), {"status": "deleted"})
    assert "Gone" in body(response) and "Ines" not in body(response)
    assert "by you" in body(response)
    response = alice_client.get(reverse("groups:detail", args=[lyon.pk]), {"q": "inscope"})
    assert "Ines" in body(response) and "Gone" not in body(response)


def test_a_manager_adds_and_removes_members_of_their_group(maggie_client, maggie, acme, lyon, paris, ines, otto):
    second = UserGroupFactory(organization=acme, name="Lyon 2")
    grant_ = Grant.objects.get(user=maggie, right=Right.MANAGE_USERS)
    grant_.grant_groups.create(organization=acme, group=second)
    newcomer = UserFactory(organization=acme, first_name="Nina")
    MembershipFactory(group=second, user=newcomer)
    page = maggie_client.get(reverse("groups:add_members", args=[lyon.pk]))
    assert "Nina" in body(page) and "Otto" not in body(page) and "Ines" not in body(page)
    response = maggie_client.post(reverse("groups:add_members", args=[lyon.pk]), {"users": [newcomer.pk]})
    assert response.status_code == 302
    assert lyon.memberships.filter(user=newcomer).exists()
    confirm = maggie_client.get(reverse("groups:remove_members", args=[lyon.pk]), {"users": [ines.pk]})
    assert "Ines" in body(confirm)
    maggie_client.post(reverse("groups:remove_members", args=[lyon.pk]), {"users": [ines.pk]})
    assert not lyon.memberships.filter(user=ines).exists()


@pytest.mark.parametrize("tampered", ["otto", "foreign", "garbage"])
def test_tampered_member_ids_are_a_form_error_and_change_nothing(
    tampered, maggie_client, lyon, otto, ines, mallory, globex
):
    user_id = {"otto": otto.pk, "foreign": mallory.pk, "garbage": "1;drop"}[tampered]
    before = set(Membership.objects.values_list("group_id", "user_id"))
    for name in ["groups:add_members", "groups:remove_members"]:
        response = maggie_client.post(reverse(name, args=[lyon.pk]), {"users": [user_id]})
        assert response.status_code == 200
        assert "Select people from the list." in body(response)
    assert set(Membership.objects.values_list("group_id", "user_id")) == before


def test_out_of_scope_and_foreign_groups_are_404_on_every_group_page(maggie_client, paris, globex):
    foreign = UserGroupFactory(organization=globex)
    for group in [paris, foreign]:
        for name in ["groups:detail", "groups:add_members", "groups:remove_members"]:
            assert maggie_client.get(reverse(name, args=[group.pk])).status_code == 404
            assert maggie_client.post(reverse(name, args=[group.pk]), {"users": ["1"]}).status_code == 404


def test_an_out_of_scope_group_in_a_query_string_shows_nothing(maggie_client, paris, ines, lyon):
    response = maggie_client.get(reverse("groups:grid"), {"group": paris.pk})
    assert response.status_code == 200
    assert "Ines" not in body(response)
    assert "not valid" in body(response)
    response = maggie_client.get(reverse("groups:grid"), {"cols": [paris.pk, "x"]})
    assert response.status_code == 200
    assert "Paris" not in body(response)


def test_the_grid_saves_many_memberships_at_once(alice_client, lyon, paris, ines, otto):
    url = reverse("groups:grid")
    page = alice_client.get(url)
    assert f'value="{ines.pk}:{lyon.pk}" checked' in body(page)
    response = alice_client.post(
        url,
        {
            "rows": [ines.pk, otto.pk],
            "cols": [lyon.pk, paris.pk],
            "member": [f"{ines.pk}:{paris.pk}", f"{otto.pk}:{lyon.pk}", f"{otto.pk}:{paris.pk}"],
        },
    )
    assert response.status_code == 302
    assert set(Membership.objects.values_list("user_id", "group_id")) == {
        (ines.pk, paris.pk),
        (otto.pk, lyon.pk),
        (otto.pk, paris.pk),
    }


@pytest.mark.parametrize(
    "tamper", ["row_out_of_scope", "col_out_of_scope", "cell_outside_grid", "garbage_cell", "foreign_col"]
)
def test_a_tampered_grid_changes_nothing(tamper, maggie_client, lyon, paris, ines, otto, globex):
    foreign = UserGroupFactory(organization=globex)
    data = {"rows": [ines.pk], "cols": [lyon.pk], "member": []}
    if tamper == "row_out_of_scope":
        data["rows"].append(otto.pk)
        data["member"] = [f"{otto.pk}:{lyon.pk}"]
    elif tamper == "col_out_of_scope":
        data["cols"].append(paris.pk)
        data["member"] = [f"{ines.pk}:{paris.pk}"]
    elif tamper == "cell_outside_grid":
        data["member"] = [f"{ines.pk}:{paris.pk}"]
    elif tamper == "garbage_cell":
        data["member"] = ["x:y"]
    else:
        data["cols"] = [foreign.pk]
        data["member"] = [f"{ines.pk}:{foreign.pk}"]
    before = set(Membership.objects.values_list("user_id", "group_id"))
    response = maggie_client.post(reverse("groups:grid"), data)
    assert response.status_code == 200
    assert set(Membership.objects.values_list("user_id", "group_id")) == before


def test_an_administrator_edits_rights_and_profiles(alice_client, bob, acme, lyon, paris):
    profile = RightsProfileFactory(organization=acme, name="Regional")
    url = reverse("groups:user_rights", args=[bob.pk])
    assert alice_client.get(url).status_code == 200
    response = alice_client.post(
        url,
        {
            "profiles": [profile.pk],
            "invite_scope": "groups",
            "invite_groups": [lyon.pk],
            "manage_users_scope": "all",
            "view_results_scope": "none",
            "manage_questionnaires_scope": "none",
        },
    )
    assert response.status_code == 302
    assert set(Grant.objects.filter(user=bob).values_list("right", "all_users")) == {
        ("invite", False),
        ("manage_users", True),
    }
    assert list(bob.rights_profiles.all()) == [profile]
    page = alice_client.get(url)
    assert "For all users" in body(page)


def test_choosing_groups_without_any_group_is_a_form_error(alice_client, bob):
    response = alice_client.post(
        reverse("groups:user_rights", args=[bob.pk]), {"invite_scope": "groups", "manage_users_scope": "none"}
    )
    assert response.status_code == 200
    assert "Choose at least one group." in body(response)
    assert not Grant.objects.exists()


def test_the_last_administrator_cannot_demote_themselves_on_the_rights_page(alice_client, alice):
    response = alice_client.post(reverse("groups:user_rights", args=[alice.pk]), {})
    assert response.status_code == 200
    assert "last active administrator" in body(response)
    alice.refresh_from_db()
    assert alice.is_administrator


def test_a_manager_cannot_reach_any_rights_page(maggie_client, maggie):
    for url in [reverse("groups:user_rights", args=[maggie.pk]), reverse("groups:rights")]:
        assert maggie_client.get(url).status_code == 403
    response = maggie_client.post(reverse("groups:user_rights", args=[maggie.pk]), {"is_administrator": "on"})
    assert response.status_code == 403
    maggie.refresh_from_db()
    assert not maggie.is_administrator


def test_a_foreign_or_out_of_scope_group_id_in_a_rights_form_is_refused(alice_client, bob, globex):
    foreign = UserGroupFactory(organization=globex)
    response = alice_client.post(
        reverse("groups:user_rights", args=[bob.pk]), {"invite_scope": "groups", "invite_groups": [foreign.pk]}
    )
    assert response.status_code == 200
    assert not Grant.objects.exists()


def test_another_tenants_grant_cannot_be_edited(alice_client, mallory, globex):
    foreign_user = UserFactory(organization=globex)
    grant(foreign_user, Right.INVITE, everyone=True)
    profile = RightsProfileFactory(organization=globex)
    assert alice_client.post(reverse("groups:user_rights", args=[foreign_user.pk]), {}).status_code == 404
    assert alice_client.post(reverse("groups:profile_update", args=[profile.pk]), {"name": "x"}).status_code == 404
    assert alice_client.post(reverse("groups:profile_delete", args=[profile.pk])).status_code == 404
    assert Grant.objects.filter(user=foreign_user, all_users=True).exists()
    profile.refresh_from_db()


def test_profiles_are_created_edited_and_deleted(alice_client, acme, lyon, bob):
    response = alice_client.post(
        reverse("groups:profile_create"),
        {"name": "Regional", "description": "Lyon", "invite_scope": "groups", "invite_groups": [lyon.pk]},
    )
    assert response.status_code == 302
    profile = RightsProfile.objects.get(name="Regional")
    assert alice_client.get(reverse("groups:profile_update", args=[profile.pk])).status_code == 200
    alice_client.post(
        reverse("groups:profile_update", args=[profile.pk]), {"name": "Regional", "view_results_scope": "all"}
    )
    assert set(Grant.objects.filter(profile=profile).values_list("right", flat=True)) == {"view_results"}
    duplicate = alice_client.post(reverse("groups:profile_create"), {"name": "REGIONAL"})
    assert "already used" in body(duplicate)
    alice_client.post(reverse("groups:profile_delete", args=[profile.pk]))
    assert not RightsProfile.objects.exists()


def test_navigation_follows_rights(alice_client, maggie_client, bob_client):
    def nav(client):
        return body(client.get(reverse("accounts:me")))

    assert 'href="/groups/"' in nav(alice_client) and 'href="/rights/"' in nav(alice_client)
    assert 'href="/groups/"' in nav(maggie_client) and 'href="/rights/"' not in nav(maggie_client)
    assert 'href="/groups/"' not in nav(bob_client) and 'href="/rights/"' not in nav(bob_client)


def test_filters_and_forms_offer_only_the_groups_in_scope(maggie_client, alice_client, lyon, paris, globex, bob):
    foreign = UserGroupFactory(organization=globex, name="Berlin")
    for url in [reverse("groups:grid"), reverse("groups:add_members", args=[lyon.pk])]:
        page = body(maggie_client.get(url))
        assert f'<option value="{lyon.pk}">Lyon</option>' in page
        assert "Paris" not in page and "Berlin" not in page
    rights_page = body(alice_client.get(reverse("groups:user_rights", args=[bob.pk])))
    assert "Paris" in rights_page and foreign.name not in rights_page


@pytest.mark.parametrize("page", ["groups:detail", "groups:add_members", "groups:grid"])
def test_every_people_search_of_the_group_pages_reads_numbers_with_the_organisations_region(
    alice_client, acme, lyon, page
):
    """A Belgian organisation types Belgian national numbers: 0470 12 34 56 is +32 470 12 34 56."""
    acme.phone_region = "BE"
    acme.save()
    belgian = UserFactory(
        organization=acme, first_name="Bram", email="", mobile="+32470123456", preferred_channel="sms"
    )
    other = UserFactory(organization=acme, first_name="Other", email="o@acme.example")
    for person in (belgian, other):
        if page == "groups:detail":
            MembershipFactory(group=lyon, user=person)
    url = reverse(page) if page == "groups:grid" else reverse(page, args=[lyon.pk])
    found = body(alice_client.get(url, {"q": "0470 12 34 56"}))
    assert "Bram" in found and "Other" not in found
