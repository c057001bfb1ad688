"""Taking a questionnaire from one's own space (`/me/`): start, one question per page, review, submit,
score. Phone first: one question per screen, big labelled choices.

Every answer is saved when the person moves on (Next, Previous, Review), so a reload, a lost
connection or another device resumes where they were. A person reaches only their own attempts
(anyone else's is a 404); what they may start is decided by `my_questionnaires` (published and
visible to them now, or already started by them).
"""

from contextlib import suppress
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from assessments import services
from assessments.errors import AttemptClosed, LinkUnusable
from assessments.invited import invited_attempt_start
from assessments.selectors import (
    answers_of,
    attempt_of,
    is_time_up,
    link_of,
    my_assignments,
    my_questionnaires,
    questions_of,
)
from experquiz.errors import DomainError

from .forms import AnswerForm


@dataclass(frozen=True)
class Route:
    """Where the pages of an attempt live and who takes it: the signed-in user in their own space
    (`/me/attempts/…`), or a contact through their link (`/a/<token>/…`, web.assessments.views_link).
    The pages below serve both."""

    actor: object
    token: str = ""

    def _name(self, page):
        return f"assessment_link_{page}" if self.token else f"assessments:take_{page}"

    def _args(self, attempt, *more):
        return [self.token, *more] if self.token else [attempt.pk, *more]

    def attempt(self, attempt) -> str:
        """Where the attempt's state is shown (the score once submitted)."""
        if self.token:
            return reverse("assessment_link", args=[self.token])
        return reverse("assessments:take", args=[attempt.pk])

    def question(self, attempt, number) -> str:
        return reverse(self._name("question"), args=self._args(attempt, number))

    def review(self, attempt) -> str:
        return reverse(self._name("review"), args=self._args(attempt))

    def submit(self, attempt) -> str:
        return reverse(self._name("submit"), args=self._args(attempt))

    @property
    def home(self) -> str:
        """Where the person goes afterwards: their own space (a contact has none)."""
        return "" if self.token else reverse("accounts:me")


def _attempt(request, attempt_id):
    attempt = attempt_of(request.user, attempt_id)
    if attempt is None:
        raise Http404
    return attempt


def _first_to_answer(attempt) -> int | None:
    """The number of the first question not answered yet, None when all are."""
    answered = answers_of(attempt)
    for number, question_id in enumerate(questions_of(attempt.questionnaire).values_list("pk", flat=True), start=1):
        if not answered.get(question_id):
            return number
    return None


def resume_url(route, attempt) -> str:
    """Where an open attempt goes on: the first question not answered, or the review."""
    number = None if is_time_up(attempt) else _first_to_answer(attempt)
    return route.review(attempt) if number is None else route.question(attempt, number)


def submit_time_up(request, route, attempt):
    # Submitted meanwhile (another tab): the result page says so all the same.
    with suppress(AttemptClosed):
        services.attempt_submit(attempt=attempt, actor=route.actor)
    messages.warning(request, _("Time is up: your answers were submitted as they stood."))
    return redirect(route.attempt(attempt))


@require_POST
def take_start(request, questionnaire_id):
    """Start (or resume) the questionnaire: the attempt is made once, then found again."""
    questionnaire = get_object_or_404(my_questionnaires(request.user), pk=questionnaire_id)
    try:
        attempt = services.attempt_start(questionnaire=questionnaire, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("accounts:me")
    return redirect("assessments:take", attempt_id=attempt.pk)


@require_POST
def assigned_start(request, assignee_id):
    """Start (or resume), from `/me/`, an assessment the person is invited to: as if they had opened
    the most recent link sent to them for it."""
    assignee = get_object_or_404(my_assignments(request.user), pk=assignee_id)
    invitation = link_of(assignee)
    try:
        if invitation is None:
            raise LinkUnusable(_("This link is no longer valid."), reason="revoked")
        attempt = invited_attempt_start(invitation=invitation, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("accounts:me")
    return redirect("assessments:take", attempt_id=attempt.pk)


@require_safe
def take(request, attempt_id):
    """The attempt's own address: the score once submitted, otherwise where the person left off."""
    attempt = _attempt(request, attempt_id)
    if attempt.is_submitted:
        return render(request, "assessments/take_result.html", {"attempt": attempt, "home": Route(request.user).home})
    return redirect(resume_url(Route(request.user), attempt))


def take_question(request, attempt_id, number):
    return question_page(request, Route(request.user), _attempt(request, attempt_id), number)


@require_safe
def take_review(request, attempt_id):
    return review_page(request, Route(request.user), _attempt(request, attempt_id))


@require_POST
def take_submit(request, attempt_id):
    return submit(request, Route(request.user), _attempt(request, attempt_id))


# The pages of an attempt, whoever takes it ----------------------------------------------------------


def question_page(request, route, attempt, number):
    """Question `number` (from 1): shows the saved answer; a POST saves it and moves on."""
    if attempt.is_submitted:
        return redirect(route.attempt(attempt))
    questions = list(questions_of(attempt.questionnaire))
    if not 1 <= number <= len(questions):
        raise Http404
    if is_time_up(attempt):
        if request.method == "POST":
            return submit_time_up(request, route, attempt)
        return redirect(route.review(attempt))
    question = questions[number - 1]
    several = sum(1 for choice in question.choices.all() if choice.is_correct) > 1
    saved = answers_of(attempt)
    chosen = saved.get(question.pk, [])
    initial = {"choices": chosen if several else (chosen[0] if chosen else None)}
    form = AnswerForm(
        request.POST if request.method == "POST" else None, question=question, several=several, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.answer_save(attempt=attempt, question=question, choice_ids=form.chosen(), actor=route.actor)
        except AttemptClosed:
            if is_time_up(attempt):
                return submit_time_up(request, route, attempt)
            messages.info(request, _("These answers have been submitted: they can no longer change."))
            return redirect(route.attempt(attempt))
        except ValidationError as error:
            form.add_error(None, error.messages)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            go = request.POST.get("go")
            if go == "previous" and number > 1:
                return redirect(route.question(attempt, number - 1))
            if go == "review" or number == len(questions):
                return redirect(route.review(attempt))
            return redirect(route.question(attempt, number + 1))
    answered = sum(1 for choices in saved.values() if choices)
    return render(
        request,
        "assessments/take_question.html",
        {
            "attempt": attempt,
            "questionnaire": attempt.questionnaire,
            "question": question,
            "form": form,
            "number": number,
            "total": len(questions),
            "several": several,
            "answered": answered,
            "percent": round(100 * answered / len(questions)),
            "is_last": number == len(questions),
        },
    )


def review_page(request, route, attempt):
    """Every question, answered or not, with the button that submits."""
    if attempt.is_submitted:
        return redirect(route.attempt(attempt))
    saved = answers_of(attempt)
    rows = [
        (number, question, bool(saved.get(question.pk)), route.question(attempt, number))
        for number, question in enumerate(questions_of(attempt.questionnaire), start=1)
    ]
    unanswered = sum(1 for _number, _question, done, _url in rows if not done)
    return render(
        request,
        "assessments/take_review.html",
        {
            "attempt": attempt,
            "questionnaire": attempt.questionnaire,
            "rows": rows,
            "unanswered": unanswered,
            "time_up": is_time_up(attempt),
            "submit_url": route.submit(attempt),
        },
    )


def submit(request, route, attempt):
    try:
        services.attempt_submit(attempt=attempt, actor=route.actor)
    except AttemptClosed:
        messages.info(request, _("These answers had already been submitted."))
    else:
        messages.success(request, _("Your answers have been submitted."))
    return redirect(route.attempt(attempt))
