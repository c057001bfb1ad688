"""An administrator invites a group and a pasted address to a questionnaire on a laptop screen
(1366×900): picks, reviews the summary (nothing sent yet), confirms, and follows the invitation."""

import pytest

from accounts.models import Contact
from accounts.tests.factories import (
    AdministratorFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UserGroupFactory,
)
from assessments.models import Assignee, Assignment
from assessments.tests.factories import make_questionnaire

from .conftest import watch_policy

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN_PASSWORD = "admin-pass-for-e2e"


@pytest.fixture
def laptop_page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = watch_policy(page)
    yield page
    context.close()
    assert not blocked, f"The Content-Security-Policy blocked: {blocked}"


def accessible(page):
    """axe-core finds no serious or critical accessibility fault on the page."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    serious = [
        (v["id"], [n["html"][:120] for n in v["nodes"]]) for v in violations if v["impact"] in ("serious", "critical")
    ]
    assert not serious, serious


def test_an_administrator_invites_a_group_and_a_pasted_address(laptop_page, tenant_url, screenshot, transactional_db):
    page = laptop_page
    acme = OrganizationFactory(slug="acme", name="Acme")
    admin = AdministratorFactory(
        organization=acme, email="ada@acme.example", first_name="Ada", last_name="Admin", password=ADMIN_PASSWORD
    )
    lyon = UserGroupFactory(organization=acme, name="Lyon")
    UserGroupFactory(organization=acme, name="Paris")
    for first in ("Ines", "Ivan"):
        MembershipFactory(group=lyon, user=UserFactory(organization=acme, first_name=first, last_name="Lyonnais"))
    MembershipFactory(group=lyon, user=UserFactory(organization=acme, first_name="Ivo", status="inactive"))
    quiz = make_questionnaire(acme, title="Fire safety", visibility="all")

    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(tenant_url(acme, f"/questionnaires/{quiz.pk}/"))
    page.get_by_role("link", name="Invite people").click()
    page.get_by_role("heading", name="Invite people to “Fire safety”").wait_for()
    accessible(page)

    # Searching the groups keeps what is already typed.
    page.get_by_label("Emails or mobile numbers").fill("new.person@example.com\n06 12 34 56 78")
    page.get_by_role("searchbox", name="Search groups").fill("ly")
    page.get_by_role("button", name="Search groups").click()
    page.get_by_label("Lyon 3 members, 2 active").check()
    assert page.get_by_label("Emails or mobile numbers").input_value() == "new.person@example.com\n06 12 34 56 78"
    assert page.get_by_label("Paris").count() == 0
    screenshot(page, "invite-pick")
    page.get_by_role("button", name="Review").click()

    summary = page.locator("[data-summary]")
    summary.wait_for()
    assert "4 people will be invited." in summary.inner_text()
    assert "Sum of the group sizes: 3" in summary.inner_text()
    assert "new.person@example.com" in page.locator("[data-new-contacts]").inner_text()
    assert "Ivo" in page.locator("[data-skipped]").inner_text()
    assert not Assignment.objects.exists() and not Contact.objects.exists()
    accessible(page)
    screenshot(page, "invite-review")

    # The pasted lines travel in the confirmation form as they were typed, one address a line.
    page.get_by_role("button", name="Invite 4 people").click()
    page.get_by_role("heading", name="“Fire safety”: assessment invitation").wait_for()
    assert "4 people invited to “Fire safety”." in page.get_by_role("alert").first.inner_text()
    people = page.get_by_role("table")
    for name in ("Ines Lyonnais", "Ivan Lyonnais", "new.person@example.com", "+33 6 12 34 56 78"):
        assert name in people.inner_text()
    assert Assignee.objects.count() == 4 and Assignment.objects.count() == 1
    accessible(page)
    screenshot(page, "assignment")


def test_the_invitation_pages_fit_a_phone(phone_page, tenant_url, transactional_db):
    """On a 390 px screen nothing scrolls sideways, from picking to the invitation's page."""
    page = phone_page
    acme = OrganizationFactory(slug="acme", name="Acme")
    admin = AdministratorFactory(organization=acme, email="ada@acme.example", password=ADMIN_PASSWORD)
    lyon = UserGroupFactory(organization=acme, name="Lyon")
    MembershipFactory(group=lyon, user=UserFactory(organization=acme, first_name="Ines", last_name="Lyonnais"))
    quiz = make_questionnaire(acme, title="Fire safety", visibility="all")

    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(tenant_url(acme, f"/questionnaires/{quiz.pk}/invite/"))
    steps = [
        lambda: page.get_by_label("Lyon 1 member").check(),
        lambda: page.get_by_role("button", name="Review").click(),
        lambda: page.get_by_role("button", name="Invite 1 person").click(),
    ]
    for step in [None, *steps]:
        if step is not None:
            step()
            page.wait_for_load_state()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url
    page.get_by_role("heading", name="“Fire safety”: assessment invitation").wait_for()
    accessible(page)
