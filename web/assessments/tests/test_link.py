"""The assessment link `/a/<token>/` through the pages: the landing page (a GET writes nothing), the
script's "opened" POST, a contact's whole attempt with a reload and a resume from another device, the
link used up, the window, a removed person, revoked and unknown links, a user's link (sign in as
yourself; a forwarded link shows nothing), the `/me/` section, and the per-address limit."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import ContactFactory, UserFactory
from assessments.models import Answer, Assignee, Attempt
from assessments.tests.factories import add_link, correct_ids, make_assignment, make_questionnaire, wrong_ids
from invitations.models import Invitation
from web.tests.test_access_matrix import snapshot

pytestmark = pytest.mark.django_db
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def cora(acme):
    return ContactFactory(organization=acme, first_name="Cora", last_name="Candidate", email="cora@example.com")


@pytest.fixture
def quiz(acme):
    return make_questionnaire(
        acme, title="Safety basics", questions=3, time_limit_minutes=20, instructions="Read each question twice."
    )


@pytest.fixture
def cora_link(quiz, cora):
    _assignment, tokens = make_assignment(quiz, people=[cora])
    return f"/a/{tokens[cora]}/"


def test_the_landing_page_shows_the_assessment_and_a_get_writes_nothing(anon, cora_link):
    before = snapshot()
    with CaptureQueriesContext(connection) as queries:
        response = anon.get(cora_link)
    assert response.status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if WRITES.match(q["sql"])]
    assert snapshot() == before
    page = text(response)
    for shown in ("Acme", "Safety basics", "Read each question twice.", "20 minutes", "Europe/Paris", "Start"):
        assert shown in page, shown
    assert re.search(r"data-question-count>3<", page)
    assert 'src="/static/assessments/link_opened.js"' in page and "data-link-opened" in page
    assert "cache" in response["Cache-Control"]


def test_the_pages_script_notes_the_link_opened_once_with_csrf(acme, cora_link):
    browser = Client(HTTP_HOST="acme.localhost", enforce_csrf_checks=True)
    page = text(browser.get(cora_link))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert browser.post(f"{cora_link}opened/").status_code == 403  # no CSRF token: refused
    assert Assignee.objects.get().opened_at is None
    assert browser.post(f"{cora_link}opened/", {"csrfmiddlewaretoken": token}).status_code == 204
    first = Assignee.objects.get().opened_at
    assert first is not None
    assert browser.post(f"{cora_link}opened/", {"csrfmiddlewaretoken": token}).status_code == 204
    assert Assignee.objects.get().opened_at == first
    assert browser.get(f"{cora_link}opened/").status_code == 405


def test_a_contact_takes_it_reloads_resumes_elsewhere_submits_and_the_link_is_used_up(anon, acme, quiz, cora_link):
    q1, q2, q3 = quiz.questions.all()
    response = anon.post(cora_link)
    attempt = Attempt.objects.get()
    assert attempt.contact is not None and attempt.assignee is not None
    assert response["Location"] == f"{cora_link}q/1/"
    page = text(anon.get(f"{cora_link}q/1/"))
    assert "Question 1 of 3" in page and "Question 1?" in page
    response = anon.post(f"{cora_link}q/1/", {"choices": correct_ids(q1)[0], "go": "next"})
    assert response["Location"] == f"{cora_link}q/2/"
    # A reload shows the same question; the saved answer is kept.
    assert "Question 2 of 3" in text(anon.get(f"{cora_link}q/2/"))
    # The address of a question alone, in another browser, shows nothing: back to the link's page ...
    other = Client(HTTP_HOST="acme.localhost")
    assert other.get(f"{cora_link}q/2/")["Location"] == cora_link
    assert other.post(f"{cora_link}q/2/", {"choices": wrong_ids(q2)[0], "go": "next"})["Location"] == cora_link
    assert Answer.objects.count() == 1
    # ... which offers to resume, where they were.
    landing = text(other.get(cora_link))
    assert "Resume" in landing and "Start" not in landing
    assert other.post(cora_link)["Location"] == f"{cora_link}q/2/"
    other.post(f"{cora_link}q/2/", {"choices": wrong_ids(q2)[0], "go": "next"})
    response = other.post(f"{cora_link}q/3/", {"choices": correct_ids(q3), "go": "review"})
    assert response["Location"] == f"{cora_link}review/"
    assert "Submit my answers" in text(other.get(f"{cora_link}review/"))
    response = other.post(f"{cora_link}submit/", follow=True)
    assert response.redirect_chain[-1][0] == cora_link
    assert "66.67 %" in text(response) and "Back to my space" not in text(response)
    attempt.refresh_from_db()
    assert attempt.is_submitted and str(attempt.score) == "66.67"
    assert Invitation.objects.get().used_at == attempt.submitted_at
    # Opening the link again, anywhere: already completed, no answer and no score shown.
    again = Client(HTTP_HOST="acme.localhost").get(cora_link)
    assert again.status_code == 410
    page = text(again)
    assert "You have already completed this assessment." in page
    assert "Right 1" not in page and "66.67" not in page and "Start" not in page and "Resume" not in page
    # Starting again does not make a new attempt, and the pages are closed.
    assert Client(HTTP_HOST="acme.localhost").post(cora_link).status_code == 410
    assert anon.post(f"{cora_link}q/1/", {"choices": wrong_ids(q1)[0]})["Location"] == cora_link
    assert Attempt.objects.count() == 1 and Answer.objects.count() == 3


def test_a_reminders_link_resumes_the_same_attempt_and_says_completed_after(anon, acme, cora, quiz, cora_link):
    anon.post(cora_link)
    reminder = f"/a/{add_link(Assignee.objects.get(), is_reminder=True)}/"
    assert anon.post(reminder)["Location"] == f"{reminder}q/1/"
    anon.post(f"{reminder}submit/")
    assert Attempt.objects.count() == 1
    assert "already completed" in text(Client(HTTP_HOST="acme.localhost").get(cora_link))


def test_before_the_window_opens_the_page_says_when(anon, quiz, cora):
    opens = timezone.now() + timedelta(days=1)
    _a, tokens = make_assignment(quiz, people=[cora], opens_at=opens)
    response = anon.get(f"/a/{tokens[cora]}/")
    assert response.status_code == 200
    page = text(response)
    assert "This assessment is not open yet." in page and "It opens on" in page
    assert anon.post(f"/a/{tokens[cora]}/").status_code == 200 and not Attempt.objects.exists()


def test_after_the_window_closes_it_is_too_late(anon, quiz, cora):
    now = timezone.now()
    _a, tokens = make_assignment(
        quiz, people=[cora], opens_at=now - timedelta(days=2), closes_at=now - timedelta(hours=1)
    )
    response = anon.get(f"/a/{tokens[cora]}/")
    assert response.status_code == 410 and "It is too late to take this assessment." in text(response)
    assert anon.post(f"/a/{tokens[cora]}/").status_code == 410 and not Attempt.objects.exists()


def test_an_attempt_under_way_when_the_window_closes_is_submitted_as_it_stands_on_next_access(anon, quiz, cora_link):
    q1 = quiz.questions.first()
    anon.post(cora_link)
    anon.post(f"{cora_link}q/1/", {"choices": correct_ids(q1)[0], "go": "next"})
    past = timezone.now() - timedelta(minutes=5)
    Attempt.objects.update(deadline_at=past)
    Invitation.objects.update(expires_at=past)
    quiz.assignments.update(opens_at=past - timedelta(hours=1), closes_at=past)
    # The landing page (a GET) says so and writes nothing; the next action submits it as it stands.
    before = snapshot()
    response = anon.get(cora_link)
    assert response.status_code == 410 and "submitted as they stood" in text(response)
    assert snapshot() == before
    response = anon.post(f"{cora_link}q/2/", {"choices": correct_ids(q1)[0], "go": "next"}, follow=True)
    assert "Time is up: your answers were submitted as they stood." in text(response)
    attempt = Attempt.objects.get()
    assert attempt.is_submitted and attempt.correct_count == 1


def test_a_removed_person_is_told_so(anon, cora, cora_link):
    Assignee.objects.update(removed_at=timezone.now())
    response = anon.get(cora_link)
    assert response.status_code == 410
    assert "You were removed from this assessment invitation" in text(response)
    assert "Start" not in text(response)


def test_revoked_and_unknown_links_answer_like_the_account_links(anon, cora_link):
    response = anon.get("/a/no-such-token/")
    assert response.status_code == 404 and "Unknown link" in text(response)
    Invitation.objects.update(revoked_at=timezone.now())
    response = anon.get(cora_link)
    assert response.status_code == 410 and "This link is no longer valid" in text(response)


def test_a_users_link_needs_them_signed_in_and_a_forwarded_link_shows_nothing(acme, quiz, bob, make_client):
    _a, tokens = make_assignment(quiz, people=[bob])
    url = f"/a/{tokens[bob]}/"
    response = make_client(acme).get(url)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={url}"
    other = UserFactory(organization=acme, first_name="Eve")
    for method in ("get", "post"):
        response = getattr(make_client(acme, other), method)(url)
        assert response.status_code == 403
        assert "This link is for someone else" in text(response) and "Safety basics" not in text(response)
    assert not Attempt.objects.exists()
    mine = make_client(acme, bob)
    assert "Safety basics" in text(mine.get(url))
    response = mine.post(url)
    attempt = Attempt.objects.get()
    assert attempt.user == bob and response["Location"] == f"/me/attempts/{attempt.pk}/questions/1/"
    # The pages under the link send a user to their own space.
    assert mine.get(f"{url}q/1/")["Location"] == f"/me/attempts/{attempt.pk}/"
    assert mine.post(f"/me/attempts/{attempt.pk}/submit/").status_code == 302
    assert Invitation.objects.get().used_at is not None
    assert "already completed" in text(mine.get(url))


def test_me_lists_the_invitations_to_do_in_progress_and_done(acme, bob, bob_client):
    now = timezone.now()
    todo = make_questionnaire(acme, title="Todo quiz", visibility="private")
    later = make_questionnaire(acme, title="Later quiz", visibility="private")
    closed = make_questionnaire(acme, title="Closed quiz", visibility="private")
    make_assignment(todo, people=[bob], closes_at=now + timedelta(hours=5))
    make_assignment(later, people=[bob], opens_at=now + timedelta(days=1))
    make_assignment(closed, people=[bob], opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1))
    removed, _ = make_assignment(make_questionnaire(acme, title="Removed quiz"), people=[bob])
    Assignee.objects.filter(assignment=removed).update(removed_at=now)
    page = text(bob_client.get("/me/"))
    section = page[page.index("data-invited") : page.index("data-open-questionnaires")]
    assert "Todo quiz" in section and "To do · closes" in section
    assert "Later quiz" in section and "Opens" in section
    assert "Closed quiz" in section and "not taken" in section
    assert "Removed quiz" not in section
    place = Assignee.objects.get(assignment__questionnaire=todo)
    response = bob_client.post(f"/me/assignments/{place.pk}/start/")
    attempt = Attempt.objects.get()
    assert attempt.assignee == place and response["Location"] == f"/me/attempts/{attempt.pk}/"
    assert "In progress · closes" in text(bob_client.get("/me/"))
    q1 = todo.questions.first()
    bob_client.post(f"/me/attempts/{attempt.pk}/questions/1/", {"choices": correct_ids(q1)[0], "go": "next"})
    bob_client.post(f"/me/attempts/{attempt.pk}/submit/")
    page = text(bob_client.get("/me/"))
    section = page[page.index("data-invited") : page.index("data-open-questionnaires")]
    assert "Your score: 33.33 %" in section and "1 of 3 right" in section
    # Someone else's place: 404; a place not open yet: refused with a message.
    other = make_assignment(make_questionnaire(acme), people=[UserFactory(organization=acme)])[0]
    assert bob_client.post(f"/me/assignments/{other.assignees.get().pk}/start/").status_code == 404
    not_yet = Assignee.objects.get(assignment__questionnaire=later)
    response = bob_client.post(f"/me/assignments/{not_yet.pk}/start/", follow=True)
    assert "This assessment is not open yet." in text(response)
    assert Attempt.objects.count() == 1


def test_failed_link_look_ups_are_limited_per_address_and_good_links_are_not(anon, cora_link, settings):
    settings.TOKEN_THROTTLE_PER_IP = 3
    for _ in range(5):
        assert anon.get(cora_link).status_code == 200  # a valid link costs nothing
    for _ in range(3):
        assert anon.get("/a/wrong-token/").status_code == 404
    assert anon.get("/a/wrong-token/").status_code == 429
    assert anon.get(cora_link).status_code == 429
