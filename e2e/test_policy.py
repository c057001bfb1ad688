"""The scripts that used to be inline (the language menu, progress bars) still work now that the
Content-Security-Policy refuses inline code; the page fixtures fail any test the policy blocked."""

import pytest

from accounts.models import BulkJob
from accounts.tests.factories import AdministratorFactory, OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin(transactional_db, password):
    organization = OrganizationFactory(slug="acme", name="Acme")
    return AdministratorFactory(organization=organization, email="ada@acme.example", first_name="Ada")


def log_in(page, tenant_url, user, password):
    page.goto(tenant_url(user.organization, "/login/"))
    page.get_by_label("Email or mobile number").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def test_the_language_menu_switches_the_page_to_french(page, admin, tenant_url, password):
    log_in(page, tenant_url, admin, password)
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("heading", name="Tableau de bord").wait_for()
    assert page.locator("html").get_attribute("lang") == "fr"


def test_a_running_job_shows_its_progress_bar_at_its_width(page, admin, tenant_url, password):
    job = BulkJob.objects.create(
        organization=admin.organization, created_by=admin, action="deactivate", total=300, progress=150
    )
    log_in(page, tenant_url, admin, password)
    page.goto(tenant_url(admin.organization, f"/users/bulk/{job.pk}/"))
    bar = page.locator("#job-progress .progress-bar")
    bar.wait_for()
    assert bar.evaluate("element => element.style.width") == "50%"
    assert bar.inner_text() == "150 / 300"
