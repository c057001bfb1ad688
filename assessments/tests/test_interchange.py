"""The JSON interchange format: every problem named by question, choice and key; nothing written on
error; unknown keys refused with their name; export → import gives the same questionnaire back."""

import json

import pytest

from accounts.tests.factories import UserFactory
from assessments.errors import InterchangeError
from assessments.interchange import MAX_FILE_BYTES, export_bytes, questionnaire_export, read_questionnaire
from assessments.models import Choice, Question, Questionnaire
from assessments.services import questionnaire_import
from audit.models import AuditEvent
from groups.tests.factories import grant
from rights.names import Right

from .factories import make_questionnaire

pytestmark = pytest.mark.django_db


def good(**overrides) -> dict:
    data = {
        "title": "Fire safety",
        "kind": "training",
        "instructions": "One answer or more per question.",
        "visibility": "groups",
        "groups": ["lyon"],
        "time_limit_minutes": 15,
        "questions": [
            {"text": "Which extinguisher for oil?", "choices": [{"text": "Water"}, {"text": "Foam", "correct": True}]},
            {
                "text": "Who may call the fire brigade?",
                "choices": [{"text": "Anyone", "correct": True}, {"text": "Only managers", "correct": False}],
            },
        ],
    }
    return data | overrides


def read(data, acme, actor=None):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return read_questionnaire(raw, organization=acme, actor=actor)


def errors_of(data, acme, actor=None) -> list[str]:
    with pytest.raises(InterchangeError) as caught:
        read(data, acme, actor)
    assert not Questionnaire.objects.exists() and not Question.objects.exists()
    return caught.value.errors


def test_a_good_file_reads_into_what_the_import_service_takes(acme, lyon):
    result = read(good(), acme)
    assert (result.title, result.kind, result.visibility, result.time_limit_minutes) == (
        "Fire safety",
        "training",
        "groups",
        15,
    )
    assert result.groups == [lyon]  # named as on the groups page, whatever the case
    assert [q.text for q in result.questions] == ["Which extinguisher for oil?", "Who may call the fire brigade?"]
    assert [(c.text, c.is_correct) for c in result.questions[0].choices] == [("Water", False), ("Foam", True)]
    assert not Questionnaire.objects.exists()  # reading writes nothing


def test_only_title_and_questions_are_required(acme):
    result = read({"title": "Minimal", "questions": good()["questions"]}, acme)
    assert (result.kind, result.visibility, result.groups, result.time_limit_minutes, result.instructions) == (
        "evaluation",
        "private",
        [],
        None,
        "",
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("title"), "“title”: is required"),
        (lambda d: d.update(title="  "), "“title”: is required"),
        (lambda d: d.update(title=42), "“title”: must be text"),
        (lambda d: d.update(title="x" * 201), "“title”: is too long (200 characters at most)"),
        (lambda d: d.update(kind="quiz"), "“kind”: must be one of: “evaluation”, “training”, “e-learning”"),
        (lambda d: d.update(visibility="friends"), "“visibility”: must be one of"),
        (lambda d: d.update(groups=["Lyon", "Atlantis"]), "“groups”: unknown group “Atlantis”"),
        (lambda d: d.update(groups=[]), "“groups”: name at least one group"),
        (lambda d: d.update(groups="Lyon"), "“groups”: must be a list of group names"),
        (lambda d: d.update(visibility="all"), "“groups”: groups are named only when “visibility” is “groups”"),
        (lambda d: d.update(time_limit_minutes=0), "“time_limit_minutes”: must be null (no limit) or a whole number"),
        (lambda d: d.update(time_limit_minutes="15"), "“time_limit_minutes”: must be null"),
        (lambda d: d.update(time_limit_minutes=True), "“time_limit_minutes”: must be null"),
        (lambda d: d.update(time_limit_minutes=1.5), "“time_limit_minutes”: must be null"),
        (lambda d: d.update(questions=[]), "“questions”: is required: a list of at least one question"),
        (lambda d: d.pop("questions"), "“questions”: is required"),
        (lambda d: d.update(colour="red"), "“colour”: unknown key (the keys here are: title, kind, instructions"),
        (lambda d: d.update(instructions="a\x00b"), "“instructions”: contains a NUL character"),
        (lambda d: d["questions"][1].update(text=""), "Question 2, “text”: is required and may not be empty"),
        (lambda d: d["questions"][1].update(text=["x"]), "Question 2, “text”: must be text"),
        (
            lambda d: d["questions"][1].update(answer=1),
            "Question 2, “answer”: unknown key (the keys here are: text, choices)",
        ),
        (lambda d: d["questions"][1].pop("choices"), "Question 2, “choices”: must be a list of choices"),
        (
            lambda d: d["questions"][1].update(choices=[{"text": "Only", "correct": True}]),
            "Question 2, “choices”: a question needs at least two choices",
        ),
        (
            lambda d: d["questions"][0]["choices"][1].update(correct=False),
            "Question 1, “choices”: mark at least one choice as correct",
        ),
        (
            lambda d: d["questions"][0]["choices"][1].update(correct="yes"),
            "Question 1, choice 2, “correct”: must be true or false",
        ),
        (lambda d: d["questions"][0]["choices"][0].update(text=" "), "Question 1, choice 1, “text”: is required"),
        (
            lambda d: d["questions"][0]["choices"][0].update(right=True),
            "Question 1, choice 1, “right”: unknown key (the keys here are: text, correct)",
        ),
        (
            lambda d: d["questions"][0]["choices"].__setitem__(0, "Water"),
            "Question 1, choice 1, “choices”: each choice",
        ),
        (lambda d: d["questions"].append("Why?"), "Question 3, “questions”: each question must be an object"),
        (
            lambda d: d["questions"][0].update(choices=[{"text": f"C{n}", "correct": True} for n in range(21)]),
            "Question 1, “choices”: a question has at most 20 choices",
        ),
    ],
)
def test_each_problem_names_the_question_the_choice_and_the_key(acme, lyon, change, expected):
    data = good()
    change(data)
    errors = errors_of(data, acme)
    assert any(expected in error for error in errors), errors


def test_every_problem_is_listed_at_once(acme, lyon):
    data = good(kind="quiz", colour="red")
    data["questions"][0]["choices"][1]["correct"] = False
    data["questions"][1]["text"] = ""
    errors = errors_of(data, acme)
    assert len(errors) == 4, errors


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"title": "x",', "not valid JSON (line 1, column"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'["a list"]', "one JSON object"),
        (b" " * (MAX_FILE_BYTES + 1), "larger than 2 MB"),
    ],
)
def test_a_file_that_is_not_a_questionnaire_is_refused_clearly(acme, raw, expected):
    errors = errors_of(raw, acme)
    assert expected in errors[0]


def test_a_group_scoped_importer_names_only_their_own_groups(acme, lyon, paris):
    quinn = UserFactory(organization=acme)
    grant(quinn, Right.MANAGE_QUESTIONNAIRES, lyon)
    assert "unknown group “Paris”" in " ".join(errors_of(good(groups=["Lyon", "Paris"]), acme, quinn))
    assert read(good(groups=["Lyon"]), acme, quinn).groups == [lyon]


def test_export_then_import_gives_the_same_questionnaire(alice, acme, lyon, paris):
    original = make_questionnaire(
        acme,
        title="Ladders",
        questions=4,
        visibility="groups",
        groups=[lyon, paris],
        kind="e-learning",
        instructions="Take your time.\nTwo lines.",
        time_limit_minutes=30,
    )
    exported = questionnaire_export(original)
    raw = export_bytes(exported)
    copy = questionnaire_import(organization=acme, actor=alice, **read(raw, acme, alice).as_kwargs())
    assert copy.pk != original.pk
    assert questionnaire_export(copy) == exported
    assert exported["groups"] == ["Lyon", "Paris"]
    assert exported["questions"][2]["choices"] == [
        {"text": "Right 3", "correct": True},
        {"text": "Wrong 3", "correct": False},
        {"text": "Also right 3", "correct": True},
    ]


def test_an_export_leaves_out_the_groups_the_exporter_cannot_see(acme, lyon, paris):
    questionnaire = make_questionnaire(acme, visibility="groups", groups=[lyon, paris])
    assert questionnaire_export(questionnaire, group_ids={lyon.pk})["groups"] == ["Lyon"]


def test_the_import_writes_everything_or_nothing(alice, acme, lyon, monkeypatch):
    """A failure half-way (here: writing the choices) leaves no questionnaire, question nor event."""
    result = read(good(), acme)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Choice.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        questionnaire_import(organization=acme, actor=alice, **result.as_kwargs())
    assert not Questionnaire.objects.exists() and not Question.objects.exists() and not AuditEvent.objects.exists()
