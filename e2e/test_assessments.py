"""Taking a questionnaire on a phone (390×844): a user of a group opens their space, starts the
questionnaire shown to their group, answers half, reloads, resumes where they were, submits and sees
their score."""

import pytest

from accounts.tests.factories import MembershipFactory, OrganizationFactory, UserFactory, UserGroupFactory
from assessments.models import Attempt
from assessments.tests.factories import make_questionnaire

pytestmark = pytest.mark.django_db(transaction=True)


def phone_ready(page):
    """Nothing scrolls sideways on a 390 px screen, and axe-core finds no serious accessibility fault."""
    from axe_playwright_python.sync_playwright import Axe

    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways on a phone"
    violations = Axe().run(page).response["violations"]
    serious = [(v["id"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, serious


def test_a_group_member_takes_a_questionnaire_on_a_phone_with_a_reload_half_way(
    phone_page, tenant_url, password, screenshot, transactional_db
):
    page = phone_page
    acme = OrganizationFactory(slug="acme", name="Acme")
    lyon = UserGroupFactory(organization=acme, name="Lyon")
    paris = UserGroupFactory(organization=acme, name="Paris")
    ines = UserFactory(organization=acme, email="ines@acme.example", first_name="Ines", last_name="Inscope")
    MembershipFactory(group=lyon, user=ines)
    questionnaire = make_questionnaire(
        acme,
        title="Fire safety",
        questions=4,
        visibility="groups",
        groups=[lyon],
        instructions="Four questions, one or more answers each.",
    )
    make_questionnaire(acme, title="Paris only", visibility="groups", groups=[paris])

    page.goto(tenant_url(acme, "/login/"))
    page.get_by_label("Email or mobile number").fill("ines@acme.example")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Hello Ines").wait_for()
    assert page.get_by_role("heading", name="Assessments you are invited to").is_visible()
    card = page.get_by_role("article", name="Fire safety")
    assert card.is_visible() and "4 questions" in card.inner_text()
    assert "Paris only" not in page.content()
    screenshot(page, "me-phone")
    phone_ready(page)

    card.get_by_role("button", name="Start Fire safety").click()
    page.get_by_role("heading", name="Question 1 of 4").wait_for()
    screenshot(page, "question-phone")
    phone_ready(page)
    # Big, labelled choices: tapping the text picks the answer.
    choice = page.get_by_label("Right 1")
    box = page.locator("label.take-choice").first.bounding_box()
    assert box["height"] >= 44, box
    page.get_by_text("Right 1").click()
    assert choice.is_checked()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Question 2 of 4").wait_for()
    page.get_by_label("Wrong 2").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Question 3 of 4").wait_for()

    # Half-way: the page is reloaded (or the phone loses its connection) ...
    page.reload()
    page.get_by_role("heading", name="Question 3 of 4").wait_for()
    page.goto(tenant_url(acme, "/me/"))
    page.get_by_role("link", name="Resume Fire safety").click()
    # ... and resumes on the first question not answered yet, the earlier answers kept.
    page.get_by_role("heading", name="Question 3 of 4").wait_for()
    page.get_by_role("button", name="Previous").click()
    page.get_by_role("heading", name="Question 2 of 4").wait_for()
    assert page.get_by_label("Wrong 2").is_checked()
    page.get_by_role("button", name="Next").click()

    # Question 3 has two right answers: checkboxes.
    page.get_by_role("heading", name="Question 3 of 4").wait_for()
    assert page.get_by_text("Choose every right answer.").is_visible()
    page.get_by_label("Right 3", exact=True).check()
    page.get_by_label("Also right 3").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Question 4 of 4").wait_for()
    page.get_by_label("Right 4").check()
    page.get_by_role("button", name="Save and review").click()
    page.get_by_role("heading", name="Review your answers").wait_for()
    screenshot(page, "review-phone")
    phone_ready(page)
    page.get_by_role("button", name="Submit my answers").click()

    page.get_by_role("heading", name="Your score").wait_for()
    assert page.locator("[data-score]").inner_text() == "75 %"
    assert page.get_by_text("3 of 4 questions answered right.").is_visible()
    screenshot(page, "score-phone")
    phone_ready(page)
    page.get_by_role("link", name="Back to my space").click()
    assert "Your score: 75 %" in page.get_by_role("article", name="Fire safety").inner_text()
    attempt = Attempt.objects.get(questionnaire=questionnaire, user=ines)
    assert attempt.submitted_at is not None and attempt.correct_count == 3
