"""Taking a questionnaire from /me/ through the pages: start, answers saved as one goes, resume after
a reload, submit once, the score; what membership and publication change; the time limit; and two
submissions at once over HTTP on PostgreSQL."""

import html
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import MembershipFactory
from assessments.models import Answer, Attempt
from assessments.tests.factories import correct_ids, make_questionnaire, wrong_ids
from assessments.tests.test_attempts import at_once, postgres  # noqa: F401  (a fixture)
from audit.models import Action, AuditEvent
from groups.services import group_remove_members

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def start(client, questionnaire):
    response = client.post(f"/me/questionnaires/{questionnaire.pk}/start/")
    assert response.status_code == 302, response.status_code
    return response


def test_me_lists_what_is_open_with_start_resume_and_score(bob_client, bob, acme, lyon):
    make_questionnaire(acme, title="Everyone's quiz", questions=2)
    make_questionnaire(acme, title="Lyon's quiz", visibility="groups", groups=[lyon])
    make_questionnaire(acme, title="Draft quiz", published=False)
    page = text(bob_client.get("/me/"))
    assert "Assessments you are invited to" in page  # filled by invitations, next
    assert "Everyone's quiz" in page and "Start" in page
    assert "Lyon's quiz" not in page and "Draft quiz" not in page
    MembershipFactory(group=lyon, user=bob)
    assert "Lyon's quiz" in text(bob_client.get("/me/"))


def test_the_whole_flow_with_a_reload_in_the_middle(bob_client, bob, acme):
    questionnaire = make_questionnaire(acme, title="Safety basics", questions=4)
    q1, q2, q3, q4 = questionnaire.questions.all()
    response = start(bob_client, questionnaire)
    attempt = Attempt.objects.get()
    assert response["Location"] == f"/me/attempts/{attempt.pk}/"
    assert bob_client.get(response["Location"])["Location"] == f"/me/attempts/{attempt.pk}/questions/1/"
    page = text(bob_client.get(f"/me/attempts/{attempt.pk}/questions/1/"))
    assert "Question 1 of 4" in page and "Question 1?" in page and "Choose one answer." in page
    assert 'type="radio"' in page
    response = bob_client.post(f"/me/attempts/{attempt.pk}/questions/1/", {"choices": correct_ids(q1)[0], "go": "next"})
    assert response["Location"] == f"/me/attempts/{attempt.pk}/questions/2/"
    bob_client.post(f"/me/attempts/{attempt.pk}/questions/2/", {"choices": wrong_ids(q2)[0], "go": "next"})
    # The third has two right answers: checkboxes.
    page = text(bob_client.get(f"/me/attempts/{attempt.pk}/questions/3/"))
    assert "Choose every right answer." in page and 'type="checkbox"' in page

    # A reload (or a new tab, a lost connection): /me/ offers to resume, which lands on question 3.
    me = text(bob_client.get("/me/"))
    assert "Resume" in me and "Start" not in me
    assert bob_client.get(f"/me/attempts/{attempt.pk}/")["Location"] == f"/me/attempts/{attempt.pk}/questions/3/"
    page = text(bob_client.get(f"/me/attempts/{attempt.pk}/questions/1/"))
    assert f'value="{correct_ids(q1)[0]}" class="form-check-input" id="id_choices_0" checked' in page
    # Starting again resumes the same attempt.
    start(bob_client, questionnaire)
    assert Attempt.objects.count() == 1

    bob_client.post(f"/me/attempts/{attempt.pk}/questions/3/", {"choices": correct_ids(q3), "go": "next"})
    response = bob_client.post(f"/me/attempts/{attempt.pk}/questions/4/", {"go": "review"})  # left unanswered
    assert response["Location"] == f"/me/attempts/{attempt.pk}/review/"
    review = text(bob_client.get(response["Location"]))
    assert "1 question is not answered: it will count as wrong." in review
    response = bob_client.post(f"/me/attempts/{attempt.pk}/submit/", follow=True)
    result = text(response)
    assert "Your answers have been submitted." in result
    assert "50 %" in result and "2 of 4 questions answered right." in result
    assert "Your score: 50 %" in text(bob_client.get("/me/"))

    # Submitted: nothing changes any more, and the pages say so instead of showing the questions.
    again = bob_client.post(f"/me/attempts/{attempt.pk}/submit/", follow=True)
    assert "These answers had already been submitted." in text(again)
    response = bob_client.post(f"/me/attempts/{attempt.pk}/questions/4/", {"choices": correct_ids(q4)[0]})
    assert response["Location"] == f"/me/attempts/{attempt.pk}/"
    assert Answer.objects.get(question=q4).choices == []
    attempt.refresh_from_db()
    assert (attempt.correct_count, str(attempt.score)) == (2, "50.00")
    assert AuditEvent.objects.filter(action=Action.ATTEMPT_SUBMITTED).count() == 1


def test_previous_goes_back_and_saves_on_the_way(bob_client, acme):
    questionnaire = make_questionnaire(acme, questions=2)
    q1, q2 = questionnaire.questions.all()
    start(bob_client, questionnaire)
    attempt = Attempt.objects.get()
    response = bob_client.post(
        f"/me/attempts/{attempt.pk}/questions/2/", {"choices": correct_ids(q2)[0], "go": "previous"}
    )
    assert response["Location"] == f"/me/attempts/{attempt.pk}/questions/1/"
    assert Answer.objects.get(question=q2).choices == correct_ids(q2)


def test_a_tampered_choice_is_a_form_error_not_a_500(bob_client, acme):
    questionnaire = make_questionnaire(acme, questions=2)
    q1, q2 = questionnaire.questions.all()
    start(bob_client, questionnaire)
    attempt = Attempt.objects.get()
    for value in (correct_ids(q2)[0], "abc", "-1", "99999999999999999999"):
        response = bob_client.post(f"/me/attempts/{attempt.pk}/questions/1/", {"choices": value})
        assert response.status_code == 200 and "Choose among the choices shown." in text(response)
    assert not Answer.objects.exists()
    assert bob_client.get(f"/me/attempts/{attempt.pk}/questions/3/").status_code == 404


def test_someone_elses_attempt_is_a_404(bob_client, ines, acme):
    questionnaire = make_questionnaire(acme)
    theirs = Attempt.objects.create(
        organization=acme, questionnaire=questionnaire, user=ines, started_at=timezone.now()
    )
    for url in (
        f"/me/attempts/{theirs.pk}/",
        f"/me/attempts/{theirs.pk}/questions/1/",
        f"/me/attempts/{theirs.pk}/review/",
    ):
        assert bob_client.get(url).status_code == 404
    assert bob_client.post(f"/me/attempts/{theirs.pk}/submit/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.submitted_at is None


def test_leaving_the_group_closes_it_but_an_attempt_in_progress_stays(alice, ines, acme, lyon, make_client):
    client = make_client(acme, ines)
    started = make_questionnaire(acme, title="Started quiz", visibility="groups", groups=[lyon])
    other = make_questionnaire(acme, title="Other quiz", visibility="groups", groups=[lyon])
    start(client, started)
    attempt = Attempt.objects.get()
    group_remove_members(group=lyon, users=[ines], actor=alice)
    me = text(client.get("/me/"))
    assert "Started quiz" in me and "Resume" in me and "Other quiz" not in me
    assert client.post(f"/me/questionnaires/{other.pk}/start/").status_code == 404
    assert client.get(f"/me/attempts/{attempt.pk}/questions/1/").status_code == 200


def test_an_unpublished_questionnaire_cannot_be_started(alice, bob_client, acme):
    questionnaire = make_questionnaire(acme, published=False)
    assert bob_client.post(f"/me/questionnaires/{questionnaire.pk}/start/").status_code == 404
    assert not Attempt.objects.exists()


def test_when_time_is_up_the_answers_are_submitted_as_they_stood(bob_client, acme):
    questionnaire = make_questionnaire(acme, questions=2, time_limit_minutes=5)
    q1, q2 = questionnaire.questions.all()
    start(bob_client, questionnaire)
    attempt = Attempt.objects.get()
    assert "Ends at" in text(bob_client.get(f"/me/attempts/{attempt.pk}/questions/1/"))
    bob_client.post(f"/me/attempts/{attempt.pk}/questions/1/", {"choices": correct_ids(q1)[0]})
    Attempt.objects.filter(pk=attempt.pk).update(deadline_at=timezone.now() - timedelta(minutes=1))
    assert bob_client.get(f"/me/attempts/{attempt.pk}/questions/2/")["Location"] == f"/me/attempts/{attempt.pk}/review/"
    assert "Time is up" in text(bob_client.get(f"/me/attempts/{attempt.pk}/review/"))
    response = bob_client.post(f"/me/attempts/{attempt.pk}/questions/2/", {"choices": correct_ids(q2)[0]}, follow=True)
    assert "Time is up: your answers were submitted as they stood." in text(response)
    attempt.refresh_from_db()
    assert attempt.submitted_at is not None and attempt.correct_count == 1


def test_two_submit_requests_at_once_record_one_submission(postgres):  # noqa: F811
    from accounts.tests.factories import OrganizationFactory, UserFactory

    acme = OrganizationFactory(slug="acme")
    bob = UserFactory(organization=acme)
    questionnaire = make_questionnaire(acme, questions=2)
    clients = []
    for _n in range(2):
        client = Client(HTTP_HOST="acme.localhost")
        client.force_login(bob)
        clients.append(client)
    start(clients[0], questionnaire)
    attempt = Attempt.objects.get()
    first = questionnaire.questions.first()
    clients[0].post(f"/me/attempts/{attempt.pk}/questions/1/", {"choices": correct_ids(first)[0]})
    url = f"/me/attempts/{attempt.pk}/submit/"
    results, waited = at_once(
        [lambda client=client: client.post(url, follow=True) for client in clients],
        f"SELECT 1 FROM {Attempt._meta.db_table} WHERE id = %s FOR UPDATE",
        [attempt.pk],
    )
    assert waited == 2, f"only {waited} of the 2 requests waited: no race happened"
    assert [response.status_code for response in results] == [200, 200]
    messages = sorted(
        "already" if "already been submitted" in text(r) else "submitted" for r in results if "submitted" in text(r)
    )
    assert messages == ["already", "submitted"]
    attempt.refresh_from_db()
    assert str(attempt.score) == "50.00"
    assert AuditEvent.objects.filter(action=Action.ATTEMPT_SUBMITTED).count() == 1
