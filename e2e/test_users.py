import re

import pytest

from accounts.tests.factories import (
    PASSWORD,
    AdministratorFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UserGroupFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team(transactional_db):
    org = OrganizationFactory(slug="teamco", name="Team Co")
    admin = AdministratorFactory(organization=org, email="ada@team.example", first_name="Ada", last_name="Admin")
    sales = UserGroupFactory(organization=org, name="Sales")
    UserGroupFactory(organization=org, name="Support")
    people = {}
    for first, last, status, in_sales in [
        ("Ann", "Bee", "active", True),
        ("Carl", "Dee", "active", True),
        ("Eve", "Fox", "inactive", True),
        ("Gus", "Hall", "active", False),
    ]:
        people[first] = UserFactory(organization=org, first_name=first, last_name=last, status=status)
        if in_sales:
            MembershipFactory(group=sales, user=people[first])
    return org, admin, people


def test_an_administrator_filters_selects_and_deactivates_two_users(page, team, tenant_url, screenshot):
    org, admin, people = team
    page.goto(tenant_url(org, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    page.get_by_role("link", name="Users", exact=True).first.click()
    page.get_by_role("heading", name="Users").wait_for()
    page.get_by_role("link", name=re.compile(r"^Active \d+$")).click()
    page.get_by_label("Group", exact=True).select_option(label="Sales")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=active**group=*")
    rows = page.locator("tbody tr")
    assert rows.count() == 2  # Ann and Carl: active and in Sales; Eve is inactive, Gus not in Sales
    screenshot(page, "users-filtered")

    page.get_by_label("Select Ann Bee").check()
    page.get_by_label("Select Carl Dee").check()
    page.get_by_label("With the selected users").select_option(label="Deactivate")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("heading", name="Deactivate: 2 users?").wait_for()
    page.get_by_role("button", name="Yes, Deactivate").click()

    alert = page.get_by_role("alert").filter(has_text="deactivated")
    alert.wait_for()
    assert "2 deactivated." in alert.inner_text()
    # Back on the same filtered view, now empty; the filters survived the action.
    assert "status=active" in page.url and "group=" in page.url
    assert page.get_by_text("No user matches these filters.").is_visible()
    screenshot(page, "users-deactivated")
    for first in ("Ann", "Carl"):
        people[first].refresh_from_db()
        assert people[first].status == "inactive"
    people["Gus"].refresh_from_db()
    assert people["Gus"].status == "active"


def test_an_administrator_imports_a_french_csv_after_a_preview(page, team, tenant_url, screenshot, tmp_path):
    org, admin, people = team
    csv_file = tmp_path / "équipe.csv"
    csv_file.write_text(
        "Prénom;Nom;E-mail;Téléphone mobile;Groupes\n"
        "Zoé;Lefèvre;zoe@team.example;06 12 34 56 78;Support\n"
        "Ann;Bee;" + people["Ann"].email + ";;Sales\n",
        encoding="utf-8-sig",
    )
    page.goto(tenant_url(org, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(tenant_url(org, "/users/import/"))
    page.get_by_label("File").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check the file").click()
    page.get_by_text("1 to create").wait_for()
    assert page.get_by_text("1 to update").is_visible()
    screenshot(page, "import-preview")
    page.get_by_role("button", name="Import: create 1, update 1").click()
    page.get_by_text("Import done: 1 users created, 1 updated.").wait_for()
    page.get_by_role("link", name="See the users").click()
    page.get_by_label("Search").fill("zoe lefevre")
    page.get_by_label("Search").press("Enter")
    page.get_by_role("link", name="Zoé Lefèvre", exact=True).wait_for()


def _no_serious_accessibility_fault(page):
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    serious = [(v["id"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, serious


def test_an_administrator_sets_the_type_of_two_users_then_undoes_it(page, team, tenant_url, screenshot):
    from accounts.models import User, UserType

    org, admin, people = team
    trainer = UserType.objects.create(organization=org, name="Trainer")
    page.goto(tenant_url(org, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(tenant_url(org, "/users/"))

    page.get_by_label("Select Ann Bee").check()
    page.get_by_label("Select Carl Dee").check()
    page.get_by_label("With the selected users").select_option(label="Set the type")
    page.get_by_role("button", name="Apply").click()
    # First the value, on a page of its own…
    page.get_by_role("heading", name="Set the type: 2 users").wait_for()
    _no_serious_accessibility_fault(page)
    page.get_by_label("New type").select_option(label="Trainer")
    page.get_by_role("button", name="Continue").click()
    # …then exactly what will happen, before anything is written.
    page.get_by_role("heading", name="Set the type: 2 users?").wait_for()
    assert page.get_by_text("Set the type to ‘Trainer’ for 2 users.").is_visible()
    assert not User.objects.filter(user_type=trainer).exists()
    screenshot(page, "users-set-type-confirm")
    page.get_by_role("button", name="Yes, Set the type").click()

    alert = page.get_by_role("alert").filter(has_text="changed to type")
    alert.wait_for()
    assert "2 changed to type ‘Trainer’." in alert.inner_text()
    assert set(User.objects.filter(user_type=trainer).values_list("first_name", flat=True)) == {"Ann", "Carl"}
    screenshot(page, "users-set-type-done")

    alert.get_by_role("button", name="Undo").click()
    page.get_by_role("heading", name="Undo “Set the type to ‘Trainer’”?").wait_for()
    assert page.get_by_text("Undo “Set the type to ‘Trainer’” for 2 users.").is_visible()
    _no_serious_accessibility_fault(page)
    page.get_by_role("button", name="Yes, undo").click()
    page.get_by_role("alert").filter(has_text="put back").wait_for()
    assert "2 put back as they were." in page.get_by_role("alert").filter(has_text="put back").inner_text()
    assert not User.objects.filter(user_type=trainer).exists()


def test_on_a_phone_the_users_are_cards_with_what_matters_and_the_bulk_checkboxes_work(
    phone_page, team, tenant_url, screenshot
):
    """Below the md breakpoint each person is a card: the checkbox (labelled), the name as a link, the
    login ID, the status, the groups and the Edit button; the header's columns are gone, and the page's
    checkbox sits above the cards."""
    page = phone_page
    org, admin, people = team
    page.goto(tenant_url(org, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(tenant_url(org, "/users/?group=" + str(people["Ann"].user_groups.get().pk)))

    card = page.locator("tbody tr").filter(has=page.get_by_role("link", name="Ann Bee", exact=True))
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    for shown in (
        card.get_by_text(people["Ann"].email),
        card.get_by_text("Active", exact=True),
        card.get_by_text("Sales", exact=True),
        card.get_by_role("link", name="Edit Ann Bee"),
    ):
        assert shown.filter(visible=True).count() == 1, shown
    # The table's header is out of sight (left to screen readers); the login ID shows once, on the card.
    assert page.locator("thead").bounding_box()["width"] <= 1
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    screenshot(page, "users-phone-cards")

    page.get_by_label("Select every user on this page").filter(visible=True).check()
    assert page.locator("input.row-check:checked").count() == 3  # Ann, Carl and Eve: Sales
    page.get_by_label("Select Eve Fox").uncheck()
    page.get_by_label("With the selected users").select_option(label="Deactivate")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("heading", name="Deactivate: 2 users?").wait_for()
