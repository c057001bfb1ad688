"""The JSON interchange format of questionnaires: export, and the checks of a file before import.

    {"title": "…", "kind": "evaluation" | "training" | "e-learning", "instructions": "…",
     "visibility": "private" | "all" | "groups", "groups": ["Lyon", …], "time_limit_minutes": null,
     "questions": [{"text": "…", "choices": [{"text": "…", "correct": true}, …]}, …]}

Only `title` and `questions` are required (the others default to evaluation, no instructions,
private, no groups, no time limit). Reading writes nothing: it returns what
`services.questionnaire_import` takes, or raises InterchangeError listing every problem, each
naming where it is (the question's number, the choice's number, the key). Unknown keys are refused
with their name, so a misspelt key never passes silently. Groups are named as on the groups page
(case does not matter) and must be among those the importer may choose.
"""

import json
from dataclasses import dataclass, field

from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from groups.models import UserGroup
from rights.names import Right
from rights.selectors import groups_in_scope

from .errors import InterchangeError
from .models import MAX_TIME_LIMIT_MINUTES, Choice, Question, Questionnaire
from .selectors import questions_of
from .services import MAX_CHOICES, MAX_QUESTIONS, ChoiceSpec, QuestionSpec

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_INSTRUCTIONS = 20_000
# Past this many problems the list stops: the file needs a closer look anyway.
MAX_ERRORS = 50

TOP_KEYS = ("title", "kind", "instructions", "visibility", "groups", "time_limit_minutes", "questions")
QUESTION_KEYS = ("text", "choices")
CHOICE_KEYS = ("text", "correct")
KINDS = [kind.value for kind in Questionnaire.Kind]
VISIBILITIES = [visibility.value for visibility in Questionnaire.Visibility]


@dataclass
class QuestionnaireFile:
    """A file that passed every check: the arguments of `services.questionnaire_import`."""

    title: str
    kind: str
    instructions: str
    visibility: str
    groups: list = field(default_factory=list)
    time_limit_minutes: int | None = None
    questions: list = field(default_factory=list)

    def as_kwargs(self) -> dict:
        return {
            "title": self.title,
            "kind": self.kind,
            "instructions": self.instructions,
            "visibility": self.visibility,
            "groups": self.groups,
            "time_limit_minutes": self.time_limit_minutes,
            "questions": self.questions,
        }


def questionnaire_export(questionnaire, *, group_ids=None) -> dict:
    """The questionnaire in the interchange format. `group_ids`: the groups the exporting person may
    see (None: all); the others are left out of the file, as they are out of that person's pages."""
    groups = questionnaire.groups.order_by("name")
    if group_ids is not None:
        groups = groups.filter(pk__in=group_ids)
    return {
        "title": questionnaire.title,
        "kind": questionnaire.kind,
        "instructions": questionnaire.instructions,
        "visibility": questionnaire.visibility,
        "groups": [group.name for group in groups],
        "time_limit_minutes": questionnaire.time_limit_minutes,
        "questions": [
            {
                "text": question.text,
                "choices": [{"text": choice.text, "correct": choice.is_correct} for choice in question.choices.all()],
            }
            for question in questions_of(questionnaire)
        ],
    }


def export_bytes(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


class _Problems:
    def __init__(self):
        self.errors = []

    def add(self, message: str, *, key: str, question: int | None = None, choice: int | None = None) -> None:
        if len(self.errors) > MAX_ERRORS:
            return
        if len(self.errors) == MAX_ERRORS:
            self.errors.append(_("… and more problems: correct these first."))
            return
        if question is None:
            where = _("“%(key)s”") % {"key": key}
        elif choice is None:
            where = _("Question %(question)s, “%(key)s”") % {"question": question, "key": key}
        else:
            where = _("Question %(question)s, choice %(choice)s, “%(key)s”") % {
                "question": question,
                "choice": choice,
                "key": key,
            }
        self.errors.append(_("%(where)s: %(problem)s") % {"where": where, "problem": message})

    def unknown_keys(self, data: dict, allowed, **where) -> None:
        for key in data:
            if key not in allowed:
                self.add(
                    _("unknown key (the keys here are: %(allowed)s).") % {"allowed": ", ".join(allowed)},
                    key=str(key)[:50],
                    **where,
                )


def _text(problems, data, key, *, required, limit, **where) -> str:
    value = data.get(key, "")
    if value is None and not required:
        value = ""
    if not isinstance(value, str):
        problems.add(_("must be text."), key=key, **where)
        return ""
    if "\x00" in value:
        problems.add(_("contains a NUL character, which is not text."), key=key, **where)
        return ""
    value = value.strip()
    if required and not value:
        problems.add(_("is required and may not be empty."), key=key, **where)
    elif len(value) > limit:
        problems.add(_("is too long (%(n)s characters at most).") % {"n": limit}, key=key, **where)
    return value


def _choice_of(problems, data, key, allowed, default) -> str:
    value = data.get(key, default)
    if value not in allowed:
        problems.add(
            _("must be one of: %(allowed)s.") % {"allowed": ", ".join(f"“{value}”" for value in allowed)}, key=key
        )
        return default
    return value


def _decode(raw: bytes, problems) -> object:
    if len(raw) > MAX_FILE_BYTES:
        problems.add(_("the file is larger than %(n)s MB.") % {"n": MAX_FILE_BYTES // (1024 * 1024)}, key="file")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add(_("the file is not UTF-8 text."), key="file")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problems.add(
            _("not valid JSON (line %(line)s, column %(column)s: %(reason)s).")
            % {"line": error.lineno, "column": error.colno, "reason": error.msg},
            key="file",
        )
    except RecursionError:
        problems.add(_("not valid JSON (nested too deeply)."), key="file")
    return None


def _groups(problems, data, *, organization, actor, visibility) -> list:
    names = data.get("groups", [])
    if names is None:
        names = []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        problems.add(_("must be a list of group names."), key="groups")
        return []
    if visibility != Questionnaire.Visibility.GROUPS:
        if names:
            problems.add(_("groups are named only when “visibility” is “groups”."), key="groups")
        return []
    if not names:
        problems.add(_("name at least one group when “visibility” is “groups”."), key="groups")
        return []
    # The groups the importer may choose, named as on their groups page: for a group-scoped holder,
    # a group outside their scope is as unknown as a group that does not exist.
    if actor is None:
        choosable = UserGroup.objects.filter(organization_id=organization.pk)
    else:
        choosable = groups_in_scope(actor, Right.MANAGE_QUESTIONNAIRES)
    wanted = {name.strip().lower(): name for name in names}
    found = {group.lname: group for group in choosable.annotate(lname=Lower("name")).filter(lname__in=list(wanted))}
    for lowered, name in wanted.items():
        if lowered not in found:
            problems.add(_("unknown group “%(name)s”.") % {"name": name.strip()[:100]}, key="groups")
    return list(found.values())


def _time_limit(problems, data):
    value = data.get("time_limit_minutes")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIME_LIMIT_MINUTES:
        problems.add(
            _("must be null (no limit) or a whole number of minutes from 1 to %(max)s.")
            % {"max": MAX_TIME_LIMIT_MINUTES},
            key="time_limit_minutes",
        )
        return None
    return value


def _question(problems, data, number) -> QuestionSpec | None:
    if not isinstance(data, dict):
        problems.add(_("each question must be an object with “text” and “choices”."), key="questions", question=number)
        return None
    problems.unknown_keys(data, QUESTION_KEYS, question=number)
    text = _text(
        problems, data, "text", required=True, limit=Question._meta.get_field("text").max_length, question=number
    )
    choices = data.get("choices")
    if not isinstance(choices, list):
        problems.add(_("must be a list of choices."), key="choices", question=number)
        return None
    if len(choices) < 2:
        problems.add(_("a question needs at least two choices."), key="choices", question=number)
    elif len(choices) > MAX_CHOICES:
        problems.add(_("a question has at most %(n)s choices.") % {"n": MAX_CHOICES}, key="choices", question=number)
    specs = []
    for index, choice in enumerate(choices[: MAX_CHOICES + 1], start=1):
        where = {"question": number, "choice": index}
        if not isinstance(choice, dict):
            problems.add(_("each choice must be an object with “text” and “correct”."), key="choices", **where)
            continue
        problems.unknown_keys(choice, CHOICE_KEYS, **where)
        choice_text = _text(
            problems, choice, "text", required=True, limit=Choice._meta.get_field("text").max_length, **where
        )
        correct = choice.get("correct", False)
        if not isinstance(correct, bool):
            problems.add(_("must be true or false."), key="correct", **where)
            correct = False
        specs.append(ChoiceSpec(choice_text, correct))
    if len(specs) == len(choices) and len(specs) >= 2 and not any(spec.is_correct for spec in specs):
        problems.add(_("mark at least one choice as correct."), key="choices", question=number)
    return QuestionSpec(text, specs)


def read_questionnaire(raw: bytes, *, organization, actor) -> QuestionnaireFile:
    """Check a questionnaire file completely, writing nothing: InterchangeError lists what is wrong."""
    problems = _Problems()
    data = _decode(raw, problems)
    if problems.errors:
        raise InterchangeError(problems.errors)
    if not isinstance(data, dict):
        raise InterchangeError([_('The file must hold one JSON object: {"title": …, "questions": […]}.')])
    problems.unknown_keys(data, TOP_KEYS)
    title = _text(problems, data, "title", required=True, limit=Questionnaire._meta.get_field("title").max_length)
    kind = _choice_of(problems, data, "kind", KINDS, Questionnaire.Kind.EVALUATION)
    instructions = _text(problems, data, "instructions", required=False, limit=MAX_INSTRUCTIONS)
    visibility = _choice_of(problems, data, "visibility", VISIBILITIES, Questionnaire.Visibility.PRIVATE)
    groups = _groups(problems, data, organization=organization, actor=actor, visibility=visibility)
    time_limit = _time_limit(problems, data)
    questions = data.get("questions")
    specs = []
    if not isinstance(questions, list) or not questions:
        problems.add(_("is required: a list of at least one question."), key="questions")
    elif len(questions) > MAX_QUESTIONS:
        problems.add(_("a questionnaire has at most %(n)s questions.") % {"n": MAX_QUESTIONS}, key="questions")
    else:
        for number, question in enumerate(questions, start=1):
            spec = _question(problems, question, number)
            if spec is not None:
                specs.append(spec)
    if problems.errors:
        raise InterchangeError(problems.errors)
    return QuestionnaireFile(
        title=title,
        kind=kind,
        instructions=instructions,
        visibility=visibility,
        groups=groups,
        time_limit_minutes=time_limit,
        questions=specs,
    )
