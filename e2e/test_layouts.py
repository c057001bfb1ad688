"""Every page of the admin area, and the pages a link in a message opens, at a desktop size and at
a phone's (390×844): no page is wider than the window, and axe-core finds no serious or critical
accessibility fault. Screenshots of each land in test-results/ (not committed)."""

import re

import pytest
from django.core import mail

from accounts.models import User
from accounts.tests.factories import (
    PASSWORD,
    AdministratorFactory,
    ContactFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UserGroupFactory,
)
from assessments.tests.factories import make_questionnaire
from invitations.models import InvitationBatch
from invitations.services import account
from invitations.tests.helpers import last_token

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def world(transactional_db):
    """An organisation with what makes pages wide: long names and addresses, statuses, groups, an
    invitation on its way, a contact, a questionnaire."""
    org = OrganizationFactory(slug="acme", name="Acme Training Centre")
    admin = AdministratorFactory(organization=org, email="ada@acme.example", first_name="Ada", last_name="Admin")
    group = UserGroupFactory(organization=org, name="Regional managers of the south-west")
    UserGroupFactory(organization=org, name="Lyon")
    people = []
    for n, status in enumerate(["active", "created", "invited", "inactive", "active", "created"] * 5):
        person = UserFactory(
            organization=org,
            first_name=f"Maximilienne{n}",
            last_name="de la Tour-Montgolfier",
            email=f"maximilienne.delatour-montgolfier.{n}@a-very-long-domain-name.example.com",
            mobile=f"+3361234{n:04d}",
            status=status,
        )
        MembershipFactory(group=group, user=person)
        people.append(person)
    ContactFactory(
        organization=org,
        first_name="Bartholomew",
        last_name="Featherstonehaugh",
        email="bartholomew.featherstonehaugh@another-long-domain.example.org",
        mobile="+33756123456",
    )
    newcomer = UserFactory(organization=org, email="noa@acme.example", status="created", first_name="", last_name="")
    account.invitations_send(organization=org, users=User.objects.filter(pk=newcomer.pk), actor=admin)
    questionnaire = make_questionnaire(org, title="Fire safety at the regional warehouses", questions=3)
    return {
        "org": org,
        "admin": admin,
        "group": group,
        "person": people[0],
        "contact": org.contacts.first() if hasattr(org, "contacts") else None,
        "questionnaire": questionnaire,
        "batch": InvitationBatch.objects.filter(organization=org).first(),
        "token": last_token(newcomer.email),
    }


def admin_pages(world):
    person, group = world["person"].pk, world["group"].pk
    from accounts.models import Contact

    contact = Contact.objects.filter(organization=world["org"]).first().pk
    return [
        "/",
        "/users/",
        f"/users/{person}/",
        f"/users/{person}/edit/",
        "/users/new/",
        "/users/import/",
        f"/users/{person}/rights/",
        "/contacts/",
        "/contacts/new/",
        "/contacts/import/",
        f"/contacts/{contact}/edit/",
        "/groups/",
        "/groups/new/",
        "/groups/memberships/",
        f"/groups/{group}/",
        f"/groups/{group}/edit/",
        f"/groups/{group}/members/add/",
        "/rights/",
        "/rights/profiles/new/",
        "/invitations/",
        "/invitations/paste/",
        f"/invitations/batches/{world['batch'].pk}/",
        "/audit/",
        "/settings/user-types/",
        "/questionnaires/",
        f"/questionnaires/{world['questionnaire'].pk}/",
    ]


def public_pages(world):
    return ["/login/", "/password/forgot/", f"/i/{world['token']}/"]


def problems_of(page, window: int) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    problems = []
    # Compared with the window asked for: a phone browser zooms out to show a page wider than the
    # screen, and window.innerWidth grows with it.
    width = page.evaluate("document.scrollingElement.scrollWidth")
    if width > window:
        problems.append(f"{width} px wide in a {window} px window")
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [node["target"] for node in violation["nodes"][:3]]
            problems.append(f"axe {violation['id']} ({violation['impact']}): {targets}")
    return problems


def log_in(page, url):
    page.goto(url("/login/"))
    page.get_by_label("Email or mobile number").fill("ada@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_page_fits_the_window_and_passes_axe(browser, world, tenant_url, screenshot, size):
    found = {}
    url = lambda path: tenant_url(world["org"], path)  # noqa: E731
    context = browser.new_context(viewport=VIEWPORTS[size], is_mobile=size == "phone", has_touch=size == "phone")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        for path in public_pages(world):
            page.goto(url(path))
            found[path] = problems_of(page, VIEWPORTS[size]["width"])
            screenshot(page, f"layout-{size}-{path.strip('/').split('/')[0] or 'home'}-public")
        mail.outbox.clear()
        log_in(page, url)
        for path in admin_pages(world):
            response = page.goto(url(path))
            assert response.status == 200, f"{path}: {response.status}"
            found[path] = problems_of(page, VIEWPORTS[size]["width"])
            screenshot(
                page, f"layout-{size}-" + (re.sub(r"\d+", "n", path).strip("/").replace("/", "-") or "dashboard")
            )
    finally:
        context.close()
    failing = {path: problems for path, problems in found.items() if problems}
    assert not failing, "\n".join(f"{path}: {'; '.join(problems)}" for path, problems in failing.items())
