"""A manager scoped to one group, in a real browser: sees and acts on that group's members only."""

import pytest

from accounts.tests.factories import MembershipFactory, OrganizationFactory, UserFactory, UserGroupFactory
from groups.models import Membership
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lyon_world(transactional_db):
    acme = OrganizationFactory(slug="acme", name="Acme")
    lyon = UserGroupFactory(organization=acme, name="Lyon")
    paris = UserGroupFactory(organization=acme, name="Paris")
    manager = UserFactory(organization=acme, email="maggie@acme.example", first_name="Maggie", last_name="Manager")
    grant(manager, Right.MANAGE_USERS, lyon)
    ines = UserFactory(organization=acme, email="ines@acme.example", first_name="Ines", last_name="Inscope")
    ivan = UserFactory(organization=acme, email="ivan@acme.example", first_name="Ivan", last_name="Inscope")
    otto = UserFactory(organization=acme, email="otto@acme.example", first_name="Otto", last_name="Outscope")
    for user in (ines, ivan):
        MembershipFactory(group=lyon, user=user)
    MembershipFactory(group=paris, user=otto)
    return {"acme": acme, "lyon": lyon, "paris": paris, "manager": manager, "ines": ines, "ivan": ivan}


def test_a_manager_scoped_to_one_group_sees_and_acts_on_its_members_only(
    page, lyon_world, tenant_url, password, screenshot
):
    acme, lyon, paris = lyon_world["acme"], lyon_world["lyon"], lyon_world["paris"]
    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill("maggie@acme.example")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    # A scoped manager lands on the users she manages.
    page.get_by_role("heading", name="Users").wait_for()

    # Navigation offers the pages of the rights she holds, and no others.
    navigation = page.get_by_role("navigation", name="Main navigation")
    navigation.get_by_role("link", name="Groups").click()
    page.get_by_role("heading", name="Groups").wait_for()
    assert navigation.get_by_role("link", name="Rights").count() == 0
    assert page.get_by_role("link", name="Lyon").is_visible()
    assert "Paris" not in page.content()
    assert page.get_by_role("link", name="New group").count() == 0

    page.get_by_role("link", name="Lyon").click()
    page.get_by_role("heading", name="Lyon").wait_for()
    screenshot(page, "group-manager")
    assert page.get_by_text("ines@acme.example").is_visible()
    assert page.get_by_text("ivan@acme.example").is_visible()
    assert "Otto" not in page.content()

    # Remove one member, confirming on the next page, with the keyboard for the last step.
    page.get_by_role("link", name="Remove Ines Inscope").click()
    page.get_by_role("heading", name="Remove members from Lyon?").wait_for()
    page.get_by_role("button", name="Remove from the group").focus()
    page.keyboard.press("Enter")
    page.get_by_text("1 person removed from Lyon.").wait_for()
    assert "ines@acme.example" not in page.content()
    assert set(Membership.objects.filter(group=lyon).values_list("user__first_name", flat=True)) == {"Ivan"}

    # The membership grid shows only her group and the people she manages.
    page.goto(tenant_url(acme, "/groups/memberships/"))
    page.get_by_role("heading", name="Membership grid").wait_for()
    screenshot(page, "membership-grid")
    assert page.get_by_role("columnheader", name="Lyon").is_visible()
    assert "Paris" not in page.content() and "Otto" not in page.content() and "Ines" not in page.content()

    # Another group's page is not found, not forbidden: its existence does not leak.
    response = page.goto(tenant_url(acme, f"/groups/{paris.pk}/"))
    assert response.status == 404
    assert "Paris" not in page.content()


def test_an_administrator_builds_a_rights_profile_and_gives_it_to_a_manager(
    page, lyon_world, tenant_url, password, screenshot
):
    acme = lyon_world["acme"]
    UserFactory(organization=acme, email="ada@acme.example", first_name="Ada", last_name="Admin", is_administrator=True)
    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill("ada@acme.example")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    # A clashing group name is a clear form message.
    page.goto(tenant_url(acme, "/groups/new/"))
    page.get_by_label("Name").fill("LYON")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("is already used").wait_for()

    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Rights").click()
    page.get_by_role("link", name="New rights profile").click()
    page.get_by_label("Name").fill("Regional manager")
    invite = page.get_by_role("group", name="Invite")
    invite.get_by_label("For the users of these groups").check()
    page.get_by_role("group", name="Groups for “Invite”").get_by_label("Paris").check()
    # The group boxes show only once "for the users of these groups" is chosen.
    results_groups = page.get_by_role("group", name="Groups for “View results”")
    assert results_groups.is_hidden()
    page.get_by_role("group", name="View results").get_by_label("For the users of these groups").check()
    results_groups.get_by_label("Lyon").check()
    screenshot(page, "rights-profile")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Rights profile “Regional manager” created.").wait_for()

    page.get_by_label("Search people").fill("maggie")
    page.get_by_label("Search people").press("Enter")
    page.get_by_role("list", name="Search results").get_by_role("link", name="Maggie Manager").click()
    page.get_by_label("Regional manager").check()
    page.get_by_role("button", name="Save rights").click()
    page.get_by_text("Rights of Maggie Manager saved.").wait_for()
    screenshot(page, "user-rights")
    effective = page.locator("[data-effective-rights]").inner_text()
    assert "Manage users: Lyon" in effective and "Invite: Paris" in effective and "View results: Lyon" in effective
