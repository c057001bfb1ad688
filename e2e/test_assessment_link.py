"""A contact takes an assessment from the email on a phone (390×844): the administrator invites them by
pasting their address, the message goes out over SMTP on loopback, the contact opens the link, starts,
answers half, reloads, comes back through the link and resumes where they were, submits and sees their
score; the link then says it was already completed; the administrator sees the score."""

import re

import pytest

from accounts.tests.factories import AdministratorFactory, OrganizationFactory
from assessments.models import Assignee, Attempt
from assessments.tests.factories import make_questionnaire
from e2e.test_assessments import phone_ready
from invitations.tests.realworld import SmtpServer, body_text, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN_PASSWORD = "admin-pass-for-e2e"
ASSESSMENT_LINK = re.compile(r"https?://[^\s\"<>]+/a/[A-Za-z0-9_-]{43}/")


@pytest.fixture
def smtp(settings, live_server):
    server = SmtpServer()
    server.start()
    # No broker: the messages are sent in-process, over real SMTP, as in the embedded default.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.BASE_DOMAIN = "localhost:" + live_server.url.rsplit(":", 1)[1]
    yield server
    server.stop()


def invite(admin, questionnaire, addresses):
    """The administrator's assessment invitation, as the questionnaire's page makes it."""
    from flows.assessments import Selection, assessment_invite

    selection = Selection(group_ids=(), user_ids=(), contact_ids=(), addresses=addresses)
    assignment, summary = assessment_invite(actor=admin, questionnaire=questionnaire, selection=selection)
    assert summary.total == 1, summary
    return assignment


def answer(page, number, label, *, go="Next"):
    page.get_by_role("heading", name=re.compile(rf"^Question {number} of \d+$")).wait_for()
    page.get_by_label(label, exact=True).check()
    page.get_by_role("button", name=go, exact=True).click()


def test_a_contact_takes_an_assessment_from_the_email_on_a_phone_and_the_administrator_sees_the_score(
    page, phone_page, smtp, tenant_url, screenshot, transactional_db
):
    acme = OrganizationFactory(slug="acme", name="Acme")
    admin = AdministratorFactory(organization=acme, email="ada@acme.example", first_name="Ada", password=ADMIN_PASSWORD)
    questionnaire = make_questionnaire(
        acme,
        title="Fire safety",
        questions=4,
        visibility="private",
        instructions="Four questions, one or more answers each.",
        time_limit_minutes=15,
    )
    invite(admin, questionnaire, "cora.candidate@example.com")

    wait_until(lambda: smtp.to("cora.candidate@example.com"), timeout=15, message="the assessment email")
    message = smtp.to("cora.candidate@example.com")[0]
    link = ASSESSMENT_LINK.search(body_text(message)).group(0)
    assert link.startswith(tenant_url(acme, "/a/"))
    assert message.get_body(preferencelist=("html",)) is not None  # text and HTML parts

    # The contact opens the link on their phone: the landing page, then its script notes it opened.
    phone = phone_page
    phone.goto(link)
    phone.get_by_role("heading", name="Fire safety").wait_for()
    body = phone.locator("main").inner_text()
    assert "Acme" in body and "Four questions, one or more answers each." in body and "15 minutes" in body
    wait_until(lambda: Assignee.objects.filter(opened_at__isnull=False).exists(), timeout=10, message="opened")
    screenshot(phone, "assessment-link-landing-phone")
    phone_ready(phone)

    phone.get_by_role("button", name="Start").click()
    answer(phone, 1, "Right 1")
    answer(phone, 2, "Wrong 2")
    phone.get_by_role("heading", name="Question 3 of 4").wait_for()
    phone_ready(phone)
    # A reload keeps them where they were; so does opening the link again (another tab, later).
    phone.reload()
    phone.get_by_role("heading", name="Question 3 of 4").wait_for()
    phone.goto(link)
    phone.get_by_role("button", name="Resume").click()
    phone.get_by_role("heading", name="Question 3 of 4").wait_for()
    phone.get_by_label("Right 3", exact=True).check()
    phone.get_by_label("Also right 3").check()
    phone.get_by_role("button", name="Next", exact=True).click()
    answer(phone, 4, "Right 4", go="Save and review")
    phone.get_by_role("heading", name="Review your answers").wait_for()
    phone_ready(phone)
    phone.get_by_role("button", name="Submit my answers").click()
    phone.get_by_role("heading", name="Your score").wait_for()
    assert phone.locator("[data-score]").inner_text().strip() == "75 %"
    screenshot(phone, "assessment-link-score-phone")
    phone_ready(phone)
    attempt = Attempt.objects.get()
    assert attempt.contact is not None and attempt.is_submitted

    # The link is used up: opening it again (another browser) says so, with no answer shown.
    phone.context.clear_cookies()
    phone.goto(link)
    phone.get_by_text("You have already completed this assessment.").wait_for()
    assert "Right 1" not in phone.content() and "75" not in phone.locator("main").inner_text()
    phone_ready(phone)

    # The administrator sees the score.
    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill(admin.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    see_score(page, tenant_url, acme, questionnaire)
    screenshot(page, "assessment-link-admin-score")


def see_score(page, tenant_url, acme, questionnaire):
    """The questionnaire's results page: the contact's row, submitted, with the score."""
    page.goto(tenant_url(acme, f"/results/questionnaires/{questionnaire.pk}/"))
    row = page.get_by_role("row").filter(has_text="cora.candidate@example.com")
    row.wait_for()
    assert "75 %" in row.inner_text() and "Submitted" in row.inner_text()
    assert page.locator('[data-count="submitted"]').inner_text().strip() == "1"
    assert page.locator('[data-count="opened"]').inner_text().strip() == "1"
