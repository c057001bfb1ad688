"""An administrator invites a created user from the users list; the user opens the link from the email
on a phone."""

import re

import pytest

from accounts.models import User
from accounts.tests.factories import AdministratorFactory, OrganizationFactory, UserFactory
from invitations.tests.helpers import LINK
from invitations.tests.realworld import SmtpServer, body_text, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN_PASSWORD = "admin-pass-for-e2e"
NEW_PASSWORD = "violet-umbrella-42"


@pytest.fixture
def smtp(settings, live_server):
    server = SmtpServer()
    server.start()
    # No broker: the invitation is sent in-process, over real SMTP, as in the embedded default.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.BASE_DOMAIN = "localhost:" + live_server.url.rsplit(":", 1)[1]
    yield server
    server.stop()


def test_an_invited_user_finishes_the_account_from_the_email_and_logs_in(
    page, phone_page, smtp, tenant_url, screenshot, transactional_db
):
    acme = OrganizationFactory(slug="acme", name="Acme")
    admin = AdministratorFactory(organization=acme, email="ada@acme.example", first_name="Ada", password=ADMIN_PASSWORD)
    UserFactory(organization=acme, email="noa@acme.example", status="created", first_name="", last_name="")
    other = UserFactory(organization=acme, email="otto@acme.example", status="created", first_name="Otto")

    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.get_by_role("link", name="Users", exact=True).first.click()
    page.get_by_role("link", name=re.compile(r"^Created 2$")).click()
    page.wait_for_url("**status=created**")
    assert page.locator("tbody tr").count() == 2
    page.get_by_label("Select noa@acme.example").check()
    page.get_by_label("With the selected users").select_option(label="Send invitations")
    page.get_by_role("button", name="Apply").click()
    # What will be sent is said first.
    page.get_by_text("Send 1 invitation: 1 by e-mail, 0 by SMS.").wait_for()
    page.get_by_role("button", name="Yes, Send invitations").click()
    alert = page.get_by_role("alert").filter(has_text="invited")
    alert.wait_for()
    assert "1 invited." in alert.inner_text()
    screenshot(page, "users-invited")
    # The outcome links to the batch page, which follows the sending live.
    alert.get_by_role("link", name="Follow the sending").click()
    page.locator("[data-progress-fill]", has_text="100%").wait_for()
    screenshot(page, "invitation-batch")
    other.refresh_from_db()
    assert other.status == User.Status.CREATED  # not ticked, not invited

    wait_until(lambda: smtp.to("noa@acme.example"), timeout=10, message="the invitation email")
    link = LINK.search(body_text(smtp.to("noa@acme.example")[0])).group(0)
    assert link.startswith(tenant_url(acme, "/i/"))

    phone_page.goto(link)
    phone_page.get_by_role("heading", name="Finish your account").wait_for()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone_page, "invitation-accept-phone")
    phone_page.get_by_label("First name").fill("Noa")
    phone_page.get_by_label("Last name").fill("Levi")
    phone_page.locator("#id_new_password1").fill(NEW_PASSWORD)
    phone_page.locator("#id_new_password2").fill(NEW_PASSWORD)
    phone_page.get_by_role("button", name="Create my account").click()
    phone_page.get_by_role("heading", name="Hello Noa").wait_for()

    # The link is spent; the account logs in with the password just chosen.
    phone_page.context.clear_cookies()
    phone_page.goto(link)
    phone_page.get_by_role("heading", name="This link was already used").wait_for()
    phone_page.get_by_role("link", name="Log in").click()
    phone_page.get_by_label("Email or mobile number").fill("noa@acme.example")
    phone_page.get_by_label("Password").fill(NEW_PASSWORD)
    phone_page.get_by_role("button", name="Log in").click()
    phone_page.get_by_role("heading", name="Hello Noa").wait_for()
    assert re.fullmatch(re.escape(tenant_url(acme, "/me/")), phone_page.url)


def test_the_administrator_pastes_addresses_and_follows_the_sending(page, smtp, tenant_url, screenshot):
    acme = OrganizationFactory(slug="acme", name="Acme")
    admin = AdministratorFactory(organization=acme, email="ada@acme.example", first_name="Ada", password=ADMIN_PASSWORD)
    UserFactory(organization=acme, email="known@acme.example", first_name="Kim", last_name="Known")
    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Invitations").first.click()
    page.get_by_role("link", name="Invite by email or mobile").click()
    addresses = "new1@acme.example; known@acme.example\nnew2@acme.example"
    page.get_by_label("Email addresses and mobile numbers").fill(addresses)
    page.get_by_role("button", name="Invite").click()
    page.get_by_text("Send 2 invitations: 2 by e-mail, 0 by SMS.").wait_for()
    page.get_by_role("button", name="Send 2 invitations").click()
    page.get_by_text("2 new users invited.").wait_for()
    page.get_by_text("known@acme.example — Kim Known (active)").wait_for()
    screenshot(page, "invitation-paste-result")
    page.get_by_role("link", name="Follow the sending").click()
    page.locator("[data-progress-fill]", has_text="100%").wait_for()
    wait_until(lambda: len(smtp.messages) == 2, timeout=10, message="two invitations")
    page.goto(tenant_url(acme, "/invitations/"))
    page.get_by_role("cell", name="new1@acme.example").first.wait_for()
    screenshot(page, "invitation-list")
