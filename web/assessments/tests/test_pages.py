"""The questionnaire pages: wiring, scope, messages. (Every URL is also walked by the access matrix
with other tenants' and out-of-scope ids: web/tests/access.py.)"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import UserFactory
from assessments.models import Attempt, Question, Questionnaire
from assessments.tests.factories import make_questionnaire
from audit.models import Action, AuditEvent
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db


@pytest.fixture
def quinn(acme, lyon):
    """Manages the questionnaires of Lyon only."""
    user = UserFactory(organization=acme, email="quinn@acme.example", first_name="Quinn", last_name="Trainer")
    grant(user, Right.MANAGE_QUESTIONNAIRES, lyon)
    return user


@pytest.fixture
def quinn_client(quinn, make_client):
    return make_client(quinn.organization, quinn)


def html(response) -> str:
    import html as html_module

    return html_module.unescape(response.content.decode())


def test_an_administrator_builds_a_questionnaire_from_the_pages(alice_client, lyon):
    response = alice_client.post(
        "/questionnaires/new/",
        {"title": "Fire safety", "kind": "training", "visibility": "groups", "groups": [lyon.pk], "instructions": ""},
    )
    questionnaire = Questionnaire.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/questionnaires/{questionnaire.pk}/"
    add = f"/questionnaires/{questionnaire.pk}/questions/new/"
    response = alice_client.post(
        add,
        {"text": "Oil fire?", "choice_1": "Water", "choice_2": "Foam", "correct_2": "on", "another": "1"},
    )
    assert response["Location"] == add  # "Save and add another"
    alice_client.post(add, {"text": "Exit?", "choice_1": "Stairs", "correct_1": "on", "choice_3": "Lift"})
    page = html(alice_client.get(f"/questionnaires/{questionnaire.pk}/"))
    assert page.index("Oil fire?") < page.index("Exit?")
    assert "Lyon" in page and "Not published" in page
    second = questionnaire.questions.get(text="Exit?")
    assert [(c.text, c.is_correct) for c in second.choices.all()] == [("Stairs", True), ("Lift", False)]
    alice_client.post(f"/questionnaires/{questionnaire.pk}/questions/{second.pk}/move/", {"direction": "up"})
    assert list(questionnaire.questions.values_list("text", flat=True)) == ["Exit?", "Oil fire?"]
    response = alice_client.post(f"/questionnaires/{questionnaire.pk}/publish/", follow=True)
    assert "“Fire safety” is published." in html(response)
    listed = html(alice_client.get("/questionnaires/?published=yes"))
    assert "Fire safety" in listed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "Q?", "choice_1": "Only one", "correct_1": "on"}, "A question needs at least two choices."),
        ({"text": "Q?", "choice_1": "A", "choice_2": "B"}, "Mark at least one choice as correct."),
        ({"text": "Q?", "choice_1": "A", "choice_2": "B", "correct_3": "on"}, "Choice 3 is marked correct but has"),
        ({"text": "", "choice_1": "A", "correct_1": "on", "choice_2": "B"}, "This field is required."),
    ],
)
def test_the_question_editor_says_what_is_missing(alice_client, acme, data, message):
    questionnaire = make_questionnaire(acme, questions=0, published=False)
    response = alice_client.post(f"/questionnaires/{questionnaire.pk}/questions/new/", data)
    assert response.status_code == 200 and message in html(response)
    assert not Question.objects.exists()


def test_the_question_editor_shows_spare_rows_for_more_choices(alice_client, acme):
    questionnaire = make_questionnaire(acme, questions=1, published=False)
    question = questionnaire.questions.get()
    page = html(alice_client.get(f"/questionnaires/{questionnaire.pk}/questions/{question.pk}/edit/"))
    assert 'value="Right 1"' in page and 'value="Wrong 1"' in page
    # Two filled rows: four shown (two spare), the others hidden until "Add a choice".
    assert page.count("data-choice-row") == 20 and page.count("data-spare") == 16


def test_publishing_an_empty_questionnaire_says_why_not(alice_client, acme):
    questionnaire = make_questionnaire(acme, questions=0, published=False)
    response = alice_client.post(f"/questionnaires/{questionnaire.pk}/publish/", follow=True)
    assert "Add at least one question before publishing." in html(response)
    questionnaire.refresh_from_db()
    assert not questionnaire.is_published


def test_a_started_questionnaire_shows_its_questions_as_fixed_and_cannot_be_deleted(alice_client, acme, bob):
    from django.utils import timezone

    questionnaire = make_questionnaire(acme, questions=2)
    Attempt.objects.create(organization=acme, questionnaire=questionnaire, user=bob, started_at=timezone.now())
    page = html(alice_client.get(f"/questionnaires/{questionnaire.pk}/"))
    assert "its questions can no longer change" in page and "Add a question" not in page
    response = alice_client.post(f"/questionnaires/{questionnaire.pk}/delete/", follow=True)
    assert "unpublish it instead" in html(response)
    question = questionnaire.questions.first()
    response = alice_client.post(
        f"/questionnaires/{questionnaire.pk}/questions/{question.pk}/edit/",
        {"text": "Changed?", "choice_1": "A", "correct_1": "on", "choice_2": "B"},
    )
    assert "its questions can no longer change" in html(response)
    assert Questionnaire.objects.filter(pk=questionnaire.pk).exists()
    assert not questionnaire.questions.filter(text="Changed?").exists()


def test_a_group_scoped_holder_sees_their_groups_questionnaires_and_their_own(quinn_client, quinn, acme, lyon, paris):
    make_questionnaire(acme, title="Shared", visibility="groups", groups=[lyon, paris])
    make_questionnaire(acme, title="Elsewhere", visibility="groups", groups=[paris])
    make_questionnaire(acme, title="Everyone", visibility="all")
    make_questionnaire(acme, title="Quinn's draft", visibility="private", created_by=quinn)
    page = html(quinn_client.get("/questionnaires/"))
    assert "Shared" in page and "Quinn's draft" in page
    assert "Elsewhere" not in page and "Everyone" not in page
    # Only her own group is named; the other is counted.
    assert "Lyon" in page and "Paris" not in page and "(+1 group outside your scope)" in page
    for_paris = Questionnaire.objects.get(title="Elsewhere")
    assert quinn_client.get(f"/questionnaires/{for_paris.pk}/").status_code == 404
    # The form offers neither "All users" nor the groups outside her scope.
    form = html(quinn_client.get("/questionnaires/new/"))
    assert 'value="all"' not in form and "Paris" not in form and "Lyon" in form


def test_a_plain_user_gets_a_403_and_another_tenants_questionnaire_a_404(bob_client, alice_client, globex):
    assert bob_client.get("/questionnaires/").status_code == 403
    theirs = make_questionnaire(globex)
    assert alice_client.get(f"/questionnaires/{theirs.pk}/").status_code == 404
    assert alice_client.get(f"/questionnaires/{theirs.pk}/export/").status_code == 404


def test_export_gives_a_json_file_that_imports_back(alice_client, acme, lyon):
    original = make_questionnaire(acme, title="Ladders", questions=3, visibility="groups", groups=[lyon])
    response = alice_client.get(f"/questionnaires/{original.pk}/export/")
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == 'attachment; filename="ladders.json"'
    data = json.loads(response.content)
    assert data["title"] == "Ladders" and data["groups"] == ["Lyon"] and len(data["questions"]) == 3
    upload = SimpleUploadedFile("ladders.json", response.content, content_type="application/json")
    response = alice_client.post("/questionnaires/import/", {"file": upload, "publish": "on"})
    copy = Questionnaire.objects.exclude(pk=original.pk).get()
    assert response["Location"] == f"/questionnaires/{copy.pk}/"
    assert copy.is_published and copy.questions.count() == 3 and list(copy.groups.all()) == [lyon]
    event = AuditEvent.objects.get(action=Action.QUESTIONNAIRE_IMPORTED)
    assert event.actor.email == "alice@acme.example" and event.after["file"] == "ladders.json"


def test_an_import_with_problems_lists_them_all_and_writes_nothing(alice_client, acme):
    data = {
        "title": "Broken",
        "colour": "red",
        "questions": [{"text": "Q?", "choices": [{"text": "A", "correct": False}, {"text": "B"}]}],
    }
    upload = SimpleUploadedFile("broken.json", json.dumps(data).encode(), content_type="application/json")
    response = alice_client.post("/questionnaires/import/", {"file": upload})
    page = html(response)
    assert response.status_code == 200 and "The file has 2 problems: nothing was imported." in page
    assert "“colour”: unknown key" in page and "Question 1, “choices”: mark at least one choice as correct." in page
    assert not Questionnaire.objects.exists()


def test_an_upload_over_the_limit_is_refused_before_it_is_read(alice_client, settings):
    from assessments.interchange import MAX_FILE_BYTES

    upload = SimpleUploadedFile("huge.json", b" " * (MAX_FILE_BYTES + 1), content_type="application/json")
    response = alice_client.post("/questionnaires/import/", {"file": upload})
    assert "The file is larger than 2 MB." in html(response)
    assert not Questionnaire.objects.exists()


def test_a_scoped_holder_importing_may_name_only_their_groups(quinn_client, acme, lyon, paris):
    data = {
        "title": "Mine",
        "visibility": "all",
        "questions": [{"text": "Q?", "choices": [{"text": "A", "correct": True}, {"text": "B"}]}],
    }
    upload = SimpleUploadedFile("mine.json", json.dumps(data).encode(), content_type="application/json")
    response = quinn_client.post("/questionnaires/import/", {"file": upload})
    assert "Only someone who manages the questionnaires of all users may show one to all users." in html(response)
    data |= {"visibility": "groups", "groups": ["Paris"]}
    upload = SimpleUploadedFile("mine.json", json.dumps(data).encode(), content_type="application/json")
    assert "unknown group “Paris”" in html(quinn_client.post("/questionnaires/import/", {"file": upload}))
    assert not Questionnaire.objects.exists()
