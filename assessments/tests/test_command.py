"""manage.py importquestionnaire SLUG FILE [--dry-run] [--publish], run as a real process would be."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.models import Question, Questionnaire
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db

QUIZ = {
    "title": "Fire safety",
    "kind": "evaluation",
    "visibility": "groups",
    "groups": ["Lyon"],
    "questions": [
        {"text": "Oil fire?", "choices": [{"text": "Water", "correct": False}, {"text": "Foam", "correct": True}]},
        {"text": "Exit?", "choices": [{"text": "Lift"}, {"text": "Stairs", "correct": True}]},
    ],
}


@pytest.fixture
def quiz_file(tmp_path):
    def write(data, name="quiz.json"):
        path = tmp_path / name
        path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
        return str(path)

    return write


def run(*args):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("importquestionnaire", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_imports_and_prints_the_id_and_title(acme, lyon, quiz_file):
    out, _err = run("acme", quiz_file(QUIZ))
    questionnaire = Questionnaire.objects.get()
    assert f"Imported questionnaire {questionnaire.pk}: “Fire safety”" in out
    assert "2 questions, not published" in out
    assert not questionnaire.is_published and questionnaire.created_by is None
    assert list(questionnaire.groups.all()) == [lyon]
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.after["file"]) == (Action.QUESTIONNAIRE_IMPORTED, None, "quiz.json")


def test_publish_publishes(acme, lyon, quiz_file):
    out, _err = run("acme", quiz_file(QUIZ), "--publish")
    assert Questionnaire.objects.get().is_published
    assert "published)" in out


def test_a_dry_run_checks_and_writes_nothing(acme, lyon, quiz_file):
    out, _err = run("acme", quiz_file(QUIZ), "--dry-run", "--publish")
    assert "Dry run: “Fire safety” (2 questions) can be imported; nothing was written." in out
    assert not Questionnaire.objects.exists() and not AuditEvent.objects.exists()


def test_errors_name_the_question_and_the_key_and_exit_non_zero(acme, lyon, quiz_file):
    bad = json.loads(json.dumps(QUIZ))
    bad["questions"][1]["choices"][1]["correct"] = False
    bad["questions"][0]["answer"] = "Foam"
    with pytest.raises(CommandError, match="nothing was imported"):
        run("acme", quiz_file(bad))
    assert not Questionnaire.objects.exists() and not Question.objects.exists()


def test_the_error_lines_are_printed_and_the_exit_status_is_not_zero(acme, lyon, quiz_file):
    from io import StringIO

    bad = json.loads(json.dumps(QUIZ))
    bad["questions"][1]["choices"][1]["correct"] = False
    bad["questions"][0]["answer"] = "Foam"
    bad["groups"] = ["Atlantis"]
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("importquestionnaire", "acme", quiz_file(bad), stdout=StringIO(), stderr=err)
    # manage.py exits with this status (BaseCommand.run_from_argv).
    assert caught.value.returncode != 0
    lines = err.getvalue().splitlines()
    assert "Question 1, “answer”: unknown key (the keys here are: text, choices)." in lines
    assert "Question 2, “choices”: mark at least one choice as correct." in lines
    assert "“groups”: unknown group “Atlantis”." in lines
    assert not Questionnaire.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(("nowhere", "quiz.json"), "No organisation “nowhere”"), (("acme", "/no/such/file.json"), "No file")],
)
def test_a_wrong_organisation_or_file_is_a_clear_error(acme, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_a_file_that_is_not_json_is_refused(acme, quiz_file):
    with pytest.raises(CommandError):
        run("acme", quiz_file("title: Fire safety"))
    assert not Questionnaire.objects.exists()
