import pytest
from django.core.management import call_command

from accounts.models import Organization
from accounts.tests.factories import UserFactory
from flows.management.commands.seed_demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", "--users", "30", "--contacts", "3")
    return Organization.objects.get(slug="demo")


def test_the_demo_administrator_logs_in_and_sees_the_dashboard(page, demo, tenant_url, screenshot):
    page.goto(tenant_url(demo, "/"))
    assert "/login/" in page.url
    page.get_by_label("Email or mobile number").fill(DEMO_ADMIN_EMAIL.upper())
    page.get_by_label("Password").fill(DEMO_ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    screenshot(page, "dashboard")
    assert page.url == tenant_url(demo, "/")
    active = page.locator('[data-status="active"]').inner_text()
    assert int(active) == demo.users.filter(status="active").count()
    # Log out through the menu, with the keyboard-reachable button.
    page.get_by_role("button", name="Toggle navigation").click() if page.get_by_role(
        "button", name="Toggle navigation"
    ).is_visible() else None
    page.get_by_role("button", name="Ada Admin").or_(page.get_by_role("link", name="Ada Admin")).click()
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()


def test_a_wrong_password_shows_the_generic_message(page, demo, tenant_url):
    page.goto(tenant_url(demo, "/login/"))
    page.get_by_label("Email or mobile number").fill(DEMO_ADMIN_EMAIL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("These details do not match an active account.").wait_for()


def test_a_user_logs_in_with_a_mobile_number_on_a_phone(phone_page, demo, tenant_url, password, screenshot):
    UserFactory(organization=demo, email="", mobile="+33612345678", preferred_channel="sms", first_name="Maud")
    phone_page.goto(tenant_url(demo, "/login/"))
    screenshot(phone_page, "login-phone")
    # Nothing overflows sideways on a 390 px wide screen.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    phone_page.get_by_label("Email or mobile number").fill("06 12 34 56 78")
    phone_page.get_by_label("Password").fill(password)
    phone_page.get_by_label("Password").press("Enter")
    phone_page.get_by_role("heading", name="Hello Maud").wait_for()
