"""Every form used by keyboard alone: Tab to a field, type, Tab on, Space or Enter. Logging in,
finishing an invited account, and a bulk action on the users list."""

import pytest

from accounts.models import User
from accounts.tests.factories import PASSWORD, AdministratorFactory, OrganizationFactory, UserFactory
from invitations.services import account
from invitations.tests.helpers import last_token

pytestmark = pytest.mark.django_db(transaction=True)


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches `selector` (as a keyboard user would)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is never reached with the Tab key")


@pytest.fixture
def acme(transactional_db):
    org = OrganizationFactory(slug="acme", name="Acme")
    AdministratorFactory(organization=org, email="ada@acme.example", first_name="Ada", last_name="Admin")
    return org


def log_in_by_keyboard(page, url):
    page.goto(url)
    tab_to(page, "input[name=username]")
    page.keyboard.type("ada@acme.example")
    tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Dashboard").wait_for()


def test_logging_in_by_keyboard_alone(page, acme, tenant_url):
    log_in_by_keyboard(page, tenant_url(acme, "/login/"))


def test_finishing_an_invited_account_by_keyboard_alone(page, acme, tenant_url):
    admin = User.objects.get(email="ada@acme.example")
    newcomer = UserFactory(organization=acme, email="noa@acme.example", status="created", first_name="", last_name="")
    account.invitations_send(organization=acme, users=User.objects.filter(pk=newcomer.pk), actor=admin)
    page.goto(tenant_url(acme, f"/i/{last_token(newcomer.email)}/"))
    for name, value in [
        ("first_name", "Noa"),
        ("last_name", "Keys"),
        ("new_password1", "violet-umbrella-42"),
        ("new_password2", "violet-umbrella-42"),
    ]:
        tab_to(page, f"input[name={name}]")
        page.keyboard.type(value)
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.get_by_text("Welcome, Noa").wait_for()


def test_a_bulk_action_on_the_users_list_by_keyboard_alone(page, acme, tenant_url):
    bob = UserFactory(organization=acme, email="bob@acme.example", first_name="Bob", last_name="Keys")
    log_in_by_keyboard(page, tenant_url(acme, "/login/"))
    page.goto(tenant_url(acme, "/users/"))
    tab_to(page, f"input[type=checkbox][value='{bob.pk}']")
    page.keyboard.press("Space")
    tab_to(page, "select#bulk-action")
    page.keyboard.type("Deac")  # a closed list picks the option typed, as in any browser
    assert page.locator("select#bulk-action").input_value() == "deactivate"
    tab_to(page, "form[action$='/users/bulk/'] button[type=submit]")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Deactivate: 1 user?").wait_for()
    tab_to(page, "input[name=confirmed] ~ button[type=submit]")
    page.keyboard.press("Enter")
    page.get_by_role("alert").filter(has_text="deactivated").wait_for()
    bob.refresh_from_db()
    assert bob.status == "inactive"
