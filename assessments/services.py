"""Every write on questionnaires, their questions and the attempts people make at them.

Each service checks its actor itself (the convention of every floor): the questionnaire services
need `manage_questionnaires` over the questionnaire (`selectors.questionnaires_in_scope`), the
attempt services need the attempt to be the actor's own. `actor=None` means the system (commands).
Each writes its audit event in its own transaction, except `answer_save` (see there).

Locks: the services that change questions take the questionnaire's row FOR UPDATE, which also waits
for a transaction that is inserting an attempt (the attempt's foreign key holds a KEY SHARE lock on
the row): so "nobody has started it yet" stays true until the change commits, and an attempt never
sees half-edited questions.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Contact
from audit.models import Action
from audit.services import audit_record
from groups.models import UserGroup
from invitations.models import Invitation
from rights.names import Right
from rights.selectors import actor_has_right, actor_scope

from .errors import AttemptClosed, Gone, NotAllowed, NotOpen, QuestionnaireLocked
from .models import Answer, Assignment, Attempt, Choice, Question, Questionnaire, QuestionnaireGroup
from .selectors import is_time_up, questionnaires_in_scope, questionnaires_open_to, score_of

Visibility = Questionnaire.Visibility
RIGHT = Right.MANAGE_QUESTIONNAIRES
MAX_CHOICES = 20
MAX_QUESTIONS = 500


@dataclass
class ChoiceSpec:
    text: str
    is_correct: bool = False


@dataclass
class QuestionSpec:
    text: str
    choices: list[ChoiceSpec] = field(default_factory=list)


# Checks ------------------------------------------------------------------------------------------


def _require_manager(actor, organization_id) -> None:
    if actor is None:
        return
    # An anonymous visitor has no organisation: refused like anyone without the right (fail closed).
    if getattr(actor, "organization_id", None) != organization_id or not actor_has_right(actor, RIGHT):
        raise NotAllowed(_("You may not manage questionnaires."))


def _require_in_scope(actor, questionnaire) -> None:
    if actor is None:
        return
    if not questionnaires_in_scope(actor).filter(pk=questionnaire.pk).exists():
        raise NotAllowed(_("You may only act on the questionnaires in your scope."))


def _lock(questionnaire) -> Questionnaire:
    locked = Questionnaire.objects.select_for_update().filter(pk=questionnaire.pk).first()
    if locked is None:
        raise Gone(_("This questionnaire has been deleted meanwhile."))
    return locked


def _locked_question(questionnaire, question) -> Question:
    """`question` read again under the questionnaire's lock: someone may have removed it meanwhile."""
    fresh = Question.objects.filter(
        organization_id=questionnaire.organization_id, questionnaire=questionnaire, pk=question.pk
    ).first()
    if fresh is None:
        raise Gone(_("This question has been removed meanwhile."))
    return fresh


def _require_unlocked(questionnaire) -> None:
    if Attempt.objects.filter(organization_id=questionnaire.organization_id, questionnaire=questionnaire).exists():
        raise QuestionnaireLocked(
            _(
                "People have started this questionnaire: its questions can no longer change. Export it and import "
                "the file to make a new version."
            )
        )


def _groups_to_store(*, actor, organization_id, visibility, groups, current=(), was=None) -> list[UserGroup]:
    """The groups a questionnaire will be visible to, checked against `actor`'s scope.

    A group-scoped holder picks among their own groups and may not show a questionnaire to all users;
    the groups outside their scope that it is already shown to are kept as they are (they cannot
    see them, so they cannot have meant to remove them), and for the same reason they may not make
    such a questionnaire private or visible to all. `was`: the visibility before an update (one of
    their own questionnaires that an administrator showed to all users may stay so).
    """
    groups = list({group.pk: group for group in groups}.values())
    if any(group.organization_id != organization_id for group in groups):
        raise NotAllowed(_("You may only choose the groups in your scope."))
    scope = actor_scope(actor, RIGHT) if actor is not None else None
    kept = []
    if scope is not None and not scope.all_users:
        if visibility == Visibility.ALL and was != Visibility.ALL:
            raise NotAllowed(_("Only someone who manages the questionnaires of all users may show one to all users."))
        if any(group.pk not in scope.group_ids for group in groups):
            raise NotAllowed(_("You may only choose the groups in your scope."))
        kept = [group for group in current if group.pk not in scope.group_ids]
        if kept and visibility != Visibility.GROUPS:
            raise NotAllowed(
                _(
                    "This questionnaire is also shown to groups outside your scope: only someone who manages the "
                    "questionnaires of all users may change who sees it."
                )
            )
    if visibility != Visibility.GROUPS:
        return []
    chosen = groups + [group for group in kept if group.pk not in {g.pk for g in groups}]
    if not chosen:
        raise ValidationError({"groups": _("Choose at least one group, or another visibility.")})
    return chosen


def _set_groups(questionnaire, groups) -> None:
    QuestionnaireGroup.objects.filter(
        organization_id=questionnaire.organization_id, questionnaire=questionnaire
    ).exclude(group__in=groups).delete()
    QuestionnaireGroup.objects.bulk_create(
        [
            QuestionnaireGroup(organization_id=questionnaire.organization_id, questionnaire=questionnaire, group=group)
            for group in groups
        ],
        ignore_conflicts=True,
    )


def _audited(questionnaire, groups) -> dict:
    return {
        "title": questionnaire.title,
        "kind": questionnaire.kind,
        "instructions": questionnaire.instructions,
        "time_limit_minutes": questionnaire.time_limit_minutes,
        "visibility": questionnaire.visibility,
        "groups": sorted(group.name for group in groups),
    }


def _clean(questionnaire) -> None:
    questionnaire.title = (questionnaire.title or "").strip()
    questionnaire.full_clean(exclude=["organization", "created_by"])


def _clean_question(text: str, choices) -> tuple[str, list[ChoiceSpec]]:
    """A question's text and its choices, blank choices dropped; refuses what cannot be asked."""
    text = (text or "").strip()
    choices = [ChoiceSpec((c.text or "").strip(), bool(c.is_correct)) for c in choices]
    choices = [c for c in choices if c.text]
    errors = {}
    if not text:
        errors["text"] = _("Write the question.")
    elif len(text) > Question._meta.get_field("text").max_length:
        errors["text"] = _("A question has at most %(n)s characters.") % {
            "n": Question._meta.get_field("text").max_length
        }
    if len(choices) < 2:
        errors["choices"] = _("A question needs at least two choices.")
    elif len(choices) > MAX_CHOICES:
        errors["choices"] = _("A question has at most %(n)s choices.") % {"n": MAX_CHOICES}
    elif not any(c.is_correct for c in choices):
        errors["choices"] = _("Mark at least one choice as correct.")
    elif any(len(c.text) > Choice._meta.get_field("text").max_length for c in choices):
        errors["choices"] = _("A choice has at most %(n)s characters.") % {
            "n": Choice._meta.get_field("text").max_length
        }
    if errors:
        raise ValidationError(errors)
    return text, choices


def _write_choices(question, choices: list[ChoiceSpec]) -> None:
    Choice.objects.bulk_create(
        Choice(
            organization_id=question.organization_id,
            question=question,
            position=number,
            text=choice.text,
            is_correct=choice.is_correct,
        )
        for number, choice in enumerate(choices, start=1)
    )


def _choices_summary(choices) -> str:
    return "; ".join(f"{c.text}{' ✓' if c.is_correct else ''}" for c in choices)


def _next_position(questionnaire) -> int:
    last = (
        Question.objects.filter(organization_id=questionnaire.organization_id, questionnaire=questionnaire)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    return (last or 0) + 1


def _number_of(question) -> int:
    """The question's number as people see it (1 for the first), whatever gaps its positions have."""
    earlier = Question.objects.filter(
        organization_id=question.organization_id,
        questionnaire_id=question.questionnaire_id,
        position__lt=question.position,
    )
    return earlier.count() + 1


# Questionnaires ----------------------------------------------------------------------------------


def _questionnaire_save_new(*, organization, actor, groups, **fields) -> Questionnaire:
    """Validate and save a new questionnaire with the groups it is shown to (create and import)."""
    questionnaire = Questionnaire(organization=organization, created_by=actor, **fields)
    _clean(questionnaire)
    groups = _groups_to_store(
        actor=actor, organization_id=organization.pk, visibility=questionnaire.visibility, groups=groups
    )
    questionnaire.save()
    _set_groups(questionnaire, groups)
    return questionnaire


@transaction.atomic
def questionnaire_create(
    *,
    organization,
    actor,
    title: str,
    kind: str = Questionnaire.Kind.EVALUATION,
    instructions: str = "",
    time_limit_minutes: int | None = None,
    visibility: str = Visibility.PRIVATE,
    groups=(),
) -> Questionnaire:
    """Create an unpublished questionnaire (no questions yet)."""
    _require_manager(actor, organization.pk)
    questionnaire = _questionnaire_save_new(
        organization=organization,
        actor=actor,
        groups=groups,
        title=title,
        kind=kind,
        instructions=instructions or "",
        time_limit_minutes=time_limit_minutes,
        visibility=visibility,
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.QUESTIONNAIRE_CREATED,
        target=questionnaire,
        after=_audited(questionnaire, groups),
    )
    return questionnaire


@transaction.atomic
def questionnaire_update(
    *,
    questionnaire: Questionnaire,
    actor,
    title: str,
    kind: str,
    instructions: str = "",
    time_limit_minutes: int | None = None,
    visibility: str = Visibility.PRIVATE,
    groups=(),
) -> Questionnaire:
    """Change a questionnaire's settings (its questions have their own services). A time limit
    changed here applies to attempts started afterwards."""
    _require_in_scope(actor, questionnaire)
    locked = _lock(questionnaire)
    current = list(locked.groups.all())
    was = locked.visibility
    before = _audited(locked, current)
    locked.title, locked.kind, locked.instructions = title, kind, instructions or ""
    locked.time_limit_minutes, locked.visibility = time_limit_minutes, visibility
    _clean(locked)
    groups = _groups_to_store(
        actor=actor,
        organization_id=locked.organization_id,
        visibility=visibility,
        groups=groups,
        current=current,
        was=was,
    )
    locked.save()
    _set_groups(locked, groups)
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.QUESTIONNAIRE_UPDATED,
        target=locked,
        before=before,
        after=_audited(locked, groups),
    )
    return locked


@transaction.atomic
def questionnaire_delete(*, questionnaire: Questionnaire, actor) -> None:
    """Delete a questionnaire nobody has started nor been invited to; one with attempts keeps its
    results, one with invitations keeps them (unpublish it)."""
    _require_in_scope(actor, questionnaire)
    locked = _lock(questionnaire)
    attempts = Attempt.objects.filter(organization_id=locked.organization_id, questionnaire=locked).count()
    if attempts:
        raise QuestionnaireLocked(
            ngettext(
                "%(count)d person has started this questionnaire: unpublish it instead, so that their result is kept.",
                "%(count)d people have started this questionnaire: unpublish it instead, so that their results are "
                "kept.",
                attempts,
            )
            % {"count": attempts}
        )
    invitations = Assignment.objects.filter(organization_id=locked.organization_id, questionnaire=locked).count()
    if invitations:
        raise QuestionnaireLocked(
            ngettext(
                "People have been invited to this questionnaire (%(count)d invitation): unpublish it instead, so "
                "that their invitations are kept.",
                "People have been invited to this questionnaire (%(count)d invitations): unpublish it instead, so "
                "that their invitations are kept.",
                invitations,
            )
            % {"count": invitations}
        )
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.QUESTIONNAIRE_DELETED,
        target=locked,
        before={"title": locked.title, "kind": locked.kind},
    )
    locked.delete()


def _publish(questionnaire, actor, published: bool) -> Questionnaire:
    _require_in_scope(actor, questionnaire)
    locked = _lock(questionnaire)
    if locked.is_published == published:
        return locked
    if published:
        questions = list(
            Question.objects.filter(organization_id=locked.organization_id, questionnaire=locked).prefetch_related(
                "choices"
            )
        )
        if not questions:
            raise ValidationError(_("Add at least one question before publishing."))
        for number, question in enumerate(questions, start=1):
            choices = list(question.choices.all())
            if len(choices) < 2 or not any(choice.is_correct for choice in choices):
                raise ValidationError(
                    _("Question %(number)s needs at least two choices, one of them correct.") % {"number": number}
                )
    locked.is_published = published
    locked.save(update_fields=["is_published", "updated_at"])
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.QUESTIONNAIRE_PUBLISHED if published else Action.QUESTIONNAIRE_UNPUBLISHED,
        target=locked,
    )
    return locked


@transaction.atomic
def questionnaire_publish(*, questionnaire: Questionnaire, actor) -> Questionnaire:
    """Publish: those it is visible to may start it (it needs at least one question)."""
    return _publish(questionnaire, actor, True)


@transaction.atomic
def questionnaire_unpublish(*, questionnaire: Questionnaire, actor) -> Questionnaire:
    """Unpublish: nobody may start it any more; attempts already started may still be finished."""
    return _publish(questionnaire, actor, False)


@transaction.atomic
def questionnaire_import(
    *,
    organization,
    actor,
    title: str,
    kind: str,
    instructions: str = "",
    time_limit_minutes: int | None = None,
    visibility: str = Visibility.PRIVATE,
    groups=(),
    questions: list[QuestionSpec],
    publish: bool = False,
    source: str = "",
) -> Questionnaire:
    """Create a questionnaire with all its questions at once (a JSON file: assessments.interchange
    reads it), published if asked. All or nothing."""
    _require_manager(actor, organization.pk)
    if not questions:
        raise ValidationError({"questions": _("Add at least one question.")})
    if len(questions) > MAX_QUESTIONS:
        raise ValidationError({"questions": _("A questionnaire has at most %(n)s questions.") % {"n": MAX_QUESTIONS}})
    cleaned = [_clean_question(question.text, question.choices) for question in questions]
    questionnaire = _questionnaire_save_new(
        organization=organization,
        actor=actor,
        groups=groups,
        title=title,
        kind=kind,
        instructions=instructions or "",
        time_limit_minutes=time_limit_minutes,
        visibility=visibility,
        is_published=publish,
    )
    made = Question.objects.bulk_create(
        Question(organization=organization, questionnaire=questionnaire, position=number, text=text)
        for number, (text, _choices) in enumerate(cleaned, start=1)
    )
    Choice.objects.bulk_create(
        Choice(organization=organization, question=question, position=number, text=c.text, is_correct=c.is_correct)
        for question, (_text, choices) in zip(made, cleaned, strict=True)
        for number, c in enumerate(choices, start=1)
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.QUESTIONNAIRE_IMPORTED,
        target=questionnaire,
        after={
            "title": questionnaire.title,
            "questions": len(made),
            "published": publish,
            "file": source,
        },
    )
    return questionnaire


# Questions ---------------------------------------------------------------------------------------


@transaction.atomic
def question_create(*, questionnaire: Questionnaire, actor, text: str, choices: list[ChoiceSpec]) -> Question:
    """Add a question at the end, with its choices (at least two, at least one correct)."""
    _require_in_scope(actor, questionnaire)
    locked = _lock(questionnaire)
    _require_unlocked(locked)
    text, choices = _clean_question(text, choices)
    count = Question.objects.filter(organization_id=locked.organization_id, questionnaire=locked).count()
    if count >= MAX_QUESTIONS:
        raise ValidationError(_("A questionnaire has at most %(n)s questions.") % {"n": MAX_QUESTIONS})
    question = Question.objects.create(
        organization_id=locked.organization_id, questionnaire=locked, position=_next_position(locked), text=text
    )
    _write_choices(question, choices)
    locked.save(update_fields=["updated_at"])
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.QUESTION_CREATED,
        target=locked,
        after={"question": count + 1, "text": text, "choices": _choices_summary(choices)},
    )
    return question


@transaction.atomic
def question_update(*, question: Question, actor, text: str, choices: list[ChoiceSpec]) -> Question:
    """Rewrite a question and its choices (while nobody has started the questionnaire)."""
    _require_in_scope(actor, question.questionnaire)
    locked = _lock(question.questionnaire)
    _require_unlocked(locked)
    text, choices = _clean_question(text, choices)
    question = _locked_question(locked, question)
    old_choices = list(question.choices.all())
    before = {"text": question.text, "choices": _choices_summary(old_choices)}
    question.text = text
    question.save(update_fields=["text"])
    Choice.objects.filter(organization_id=question.organization_id, question=question).delete()
    _write_choices(question, choices)
    locked.save(update_fields=["updated_at"])
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.QUESTION_UPDATED,
        target=locked,
        before={"question": _number_of(question), **before},
        after={"question": _number_of(question), "text": text, "choices": _choices_summary(choices)},
    )
    return question


@transaction.atomic
def question_delete(*, question: Question, actor) -> None:
    """Remove a question (while nobody has started the questionnaire); the others keep their order."""
    _require_in_scope(actor, question.questionnaire)
    locked = _lock(question.questionnaire)
    _require_unlocked(locked)
    question = _locked_question(locked, question)
    siblings = Question.objects.filter(organization_id=locked.organization_id, questionnaire=locked)
    if locked.is_published and not siblings.exclude(pk=question.pk).exists():
        raise ValidationError(_("A published questionnaire keeps at least one question: unpublish it first."))
    number = _number_of(question)
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.QUESTION_DELETED,
        target=locked,
        before={"question": number, "text": question.text},
    )
    siblings.filter(pk=question.pk).delete()
    locked.save(update_fields=["updated_at"])


@transaction.atomic
def question_move(*, question: Question, actor, up: bool) -> Question:
    """Swap a question with the one before it (`up`) or after it."""
    _require_in_scope(actor, question.questionnaire)
    locked = _lock(question.questionnaire)
    _require_unlocked(locked)
    question = _locked_question(locked, question)
    siblings = Question.objects.filter(organization_id=locked.organization_id, questionnaire=locked)
    if up:
        other = siblings.filter(position__lt=question.position).order_by("-position").first()
    else:
        other = siblings.filter(position__gt=question.position).order_by("position").first()
    if other is None:
        return question
    number = _number_of(question)
    mine, theirs = question.position, other.position
    # Positions are unique (checked row by row): park one at 0 (never a real position, and the
    # questionnaire's lock keeps anyone else from parking there now) while the other moves.
    Question.objects.filter(pk=question.pk).update(position=0)
    Question.objects.filter(pk=other.pk).update(position=mine)
    Question.objects.filter(pk=question.pk).update(position=theirs)
    question.position = theirs
    locked.save(update_fields=["updated_at"])
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.QUESTION_MOVED,
        target=locked,
        before={"question": number},
        after={"question": number - 1 if up else number + 1, "text": question.text},
    )
    return question


# Attempts ----------------------------------------------------------------------------------------


def _require_own(actor, attempt) -> None:
    """`actor` is the attempt's person: its user (signed in), or its contact (authorised by the link sent
    to them: the pages find the contact from the link, see assessments.invited)."""
    if actor is None:
        return
    if isinstance(actor, Contact):
        own = attempt.contact_id is not None and attempt.contact_id == actor.pk
    else:
        own = attempt.user_id is not None and attempt.user_id == getattr(actor, "pk", None)
    if not own:
        raise NotAllowed(_("This is not your attempt."))


def recorded_actor(actor):
    """Who the audit trail names for `actor`: a user, or nobody for a contact (who has no account; the
    event names the attempt, and its client address is kept)."""
    return None if isinstance(actor, Contact) else actor


def _require_taker(actor, questionnaire) -> None:
    """`actor` is a person of the questionnaire's organisation. An attempt is always someone's own:
    the system (actor=None) starts none, and an anonymous visitor takes a test only by invitation."""
    if (
        actor is None
        or not getattr(actor, "is_authenticated", False)
        or getattr(actor, "organization_id", None) != questionnaire.organization_id
    ):
        raise NotOpen(_("This questionnaire is not open to you."))


def attempt_start(*, questionnaire: Questionnaire, actor) -> Attempt:
    """Start `actor`'s free-access attempt at `questionnaire`, or give back the one they have.

    Starting needs the questionnaire published and open to them now (visibility and membership);
    an attempt they already have stays theirs whatever happened since. Two starts at once give one
    attempt (the database keeps one free attempt per user and questionnaire). Refused (NotOpen, a
    NotAllowed) otherwise, and for anyone but a person of the organisation.
    """
    _require_taker(actor, questionnaire)
    existing = Attempt.objects.filter(
        organization_id=questionnaire.organization_id,
        questionnaire=questionnaire,
        user_id=actor.pk,
        invitation__isnull=True,
    ).first()
    if existing is not None:
        return existing
    try:
        return _attempt_create(questionnaire=questionnaire, actor=actor)
    except IntegrityError:
        # The same person pressed Start twice at once: the other request made it.
        return Attempt.objects.get(
            organization_id=questionnaire.organization_id,
            questionnaire=questionnaire,
            user_id=actor.pk,
            invitation__isnull=True,
        )


@transaction.atomic
def _attempt_create(*, questionnaire, actor) -> Attempt:
    if not questionnaires_open_to(actor).filter(pk=questionnaire.pk).exists():
        if not questionnaire.is_published:
            raise NotOpen(_("This questionnaire is not published: it cannot be started."))
        raise NotOpen(_("This questionnaire is not open to you."))
    now = timezone.now()
    limit = questionnaire.time_limit_minutes
    attempt = Attempt.objects.create(
        organization_id=questionnaire.organization_id,
        questionnaire=questionnaire,
        user=actor,
        started_at=now,
        deadline_at=now + timedelta(minutes=limit) if limit else None,
    )
    audit_record(
        organization=questionnaire.organization_id,
        actor=actor,
        action=Action.ATTEMPT_STARTED,
        target=attempt,
        user=actor,
        label=questionnaire.title,
    )
    return attempt


def _open_attempt(attempt) -> Attempt:
    """Lock `attempt` if it is still open; the lock makes an answer and a submission wait for each other."""
    locked = Attempt.objects.select_for_update().filter(pk=attempt.pk, submitted_at__isnull=True).first()
    if locked is None:
        raise AttemptClosed(_("These answers have been submitted: they can no longer change."))
    return locked


@transaction.atomic
def answer_save(*, attempt: Attempt, question: Question, choice_ids, actor) -> Answer:
    """Save (or replace) `actor`'s answer to one question of their open attempt: the chosen choices.

    Not audited: the answer row is its own record (with its time), the start and the submission are
    audited, and this is the hottest write of the product (every click of every person taking a test).
    """
    _require_own(actor, attempt)
    locked = _open_attempt(attempt)
    if is_time_up(locked):
        raise AttemptClosed(_("Time is up: your answers can no longer change."))
    if question.questionnaire_id != locked.questionnaire_id or question.organization_id != locked.organization_id:
        raise NotAllowed(_("This question is not part of your questionnaire."))
    offered = set(
        Choice.objects.filter(organization_id=question.organization_id, question=question).values_list("pk", flat=True)
    )
    chosen = set(choice_ids)
    if any(not isinstance(pk, int) or isinstance(pk, bool) for pk in chosen):
        raise ValidationError({"choices": _("Choose among the choices shown.")})
    chosen = sorted(chosen)
    if not set(chosen) <= offered:
        raise ValidationError({"choices": _("Choose among the choices shown.")})
    answer, _created = Answer.objects.update_or_create(
        organization_id=locked.organization_id,
        attempt=locked,
        question=question,
        defaults={"choices": chosen, "answered_at": timezone.now()},
    )
    return answer


@transaction.atomic
def attempt_submit(*, attempt: Attempt, actor) -> Attempt:
    """Submit `actor`'s attempt: its score is recorded and its answers no longer change. Once only: the
    second of two submissions at once finds it submitted (AttemptClosed). An attempt made through an
    assessment invitation also uses up the person's links to it (opening one again says it is done)."""
    _require_own(actor, attempt)
    return submit_locked(_open_attempt(attempt), actor=actor)


def submit_locked(locked: Attempt, *, actor) -> Attempt:
    """The submission itself, on an attempt locked open by the caller (attempt_submit, or the system
    submitting the attempts whose time is up: assessments.invited)."""
    right, total = score_of(locked)
    score = (Decimal(100 * right) / Decimal(total)).quantize(Decimal("0.01"), ROUND_HALF_UP) if total else Decimal(0)
    now = timezone.now()
    # Conditional: whatever a caller did before, only an attempt still open is submitted, once.
    updated = Attempt.objects.filter(pk=locked.pk, submitted_at__isnull=True).update(
        submitted_at=now, correct_count=right, question_count=total, score=score
    )
    if updated != 1:
        raise AttemptClosed(_("These answers have been submitted: they can no longer change."))
    locked.submitted_at, locked.correct_count, locked.question_count, locked.score = now, right, total, score
    if locked.assignee_id:
        _links_use_up(locked, now)
    audit_record(
        organization=locked.organization_id,
        actor=recorded_actor(actor),
        action=Action.ATTEMPT_SUBMITTED,
        target=locked,
        user=locked.user_id,
        label=locked.questionnaire.title,
        after={"score": f"{score}%", "right": f"{right}/{total}", "time_up": is_time_up(locked, now) or None},
    )
    return locked


def _links_use_up(attempt: Attempt, now) -> None:
    """Mark every link the person was sent for this place (first message, reminders) used."""
    person = {"user_id": attempt.user_id} if attempt.user_id else {"contact_id": attempt.contact_id}
    Invitation.objects.filter(
        organization_id=attempt.organization_id,
        kind=Invitation.Kind.ASSESSMENT,
        batch__assignment__assignees=attempt.assignee_id,
        used_at__isnull=True,
        **person,
    ).update(used_at=now)
