"""An administrator's change, then the audit trail that records it, in a real browser."""

import pytest

from accounts.tests.factories import AdministratorFactory, OrganizationFactory, UserFactory
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_administrator_finds_their_change_in_the_audit_trail(page, tenant_url, password, screenshot):
    acme = OrganizationFactory(slug="acme", name="Acme")
    AdministratorFactory(organization=acme, email="alice@acme.example", first_name="Alice", last_name="Admin")
    bob = UserFactory(organization=acme, email="bob@acme.example", first_name="Bob", last_name="Plain")
    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill("alice@acme.example")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    # Deactivate Bob from his page, confirming with a reason.
    page.goto(tenant_url(acme, f"/users/{bob.pk}/"))
    page.get_by_role("link", name="Deactivate…").click()
    page.get_by_label("Reason").fill("Left the company")
    page.get_by_role("button", name="Deactivate").click()
    page.get_by_text("Bob Plain is now inactive.").wait_for()

    # His page shows the change under "Activity".
    activity = page.locator("#activity")
    assert activity.get_by_text("Status changed").is_visible()
    assert activity.get_by_text("Alice Admin").is_visible()
    assert activity.get_by_text("Left the company").is_visible()

    # The trail, from the navigation: who, what, from which address.
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Audit trail").click()
    page.get_by_role("heading", name="Audit trail").wait_for()
    row = page.locator(f'tr[data-action="{Action.USER_STATUS_CHANGED}"]')
    assert row.get_by_text("Alice Admin").is_visible() and row.get_by_text("127.0.0.1").is_visible()
    screenshot(page, "audit-trail")
    event = AuditEvent.objects.get(action=Action.USER_STATUS_CHANGED)
    assert event.client_ip == "127.0.0.1" and len(event.request_id) == 32

    # Filtering by another action leaves nothing; the person's link narrows the trail to him.
    page.get_by_label("Action").select_option(Action.GROUP_CREATED.value)
    page.get_by_role("button", name="Filter").click()
    page.get_by_text("No activity recorded.").wait_for()
    page.get_by_label("Action").select_option("")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Bob Plain").first.click()
    page.get_by_text("About Bob Plain").wait_for()
