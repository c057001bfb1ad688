"""Reads of questionnaires and attempts, always from an actor's point of view.

Two different questions are answered here:
- who may *manage* a questionnaire: the scope rule of `manage_questionnaires` (rights floor,
  `shared_in_scope`): everything for administrators and organisation-wide holders; for a
  group-scoped holder, the questionnaires shown to one of their groups and those they made;
- who may *take* one freely: membership, not rights. A published questionnaire is open to every
  user when it is visible to all users, and to the current members of its groups when it is visible
  to chosen groups; a private one only by invitation. Leaving a group closes it at once (nothing is
  cached), but an attempt already started stays the person's own.
"""

import functools
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import Contact
from experquiz.sql_rows import Statement, Table
from groups.models import Membership
from invitations.models import Invitation
from invitations.tokens import hash_token
from rights.names import Right
from rights.selectors import actor_scope, shared_in_scope

from .models import Answer, Assignee, Assignment, Attempt, Choice, Question, Questionnaire, QuestionnaireGroup

Visibility = Questionnaire.Visibility
# Answers that arrive this long after the time limit still count: the page was sent in time.
GRACE = timedelta(seconds=30)


def _is_tenant_user(actor) -> bool:
    return actor is not None and actor.is_authenticated and actor.organization_id is not None


def _shown_to_groups(group_ids) -> Q:
    """Questionnaires visible to at least one of `group_ids`."""
    links = QuestionnaireGroup.objects.filter(group_id__in=group_ids)
    return Q(visibility=Visibility.GROUPS, pk__in=links.values("questionnaire_id"))


def questionnaires_in_scope(actor, right: str = Right.MANAGE_QUESTIONNAIRES):
    """The questionnaires `actor` may see and change with `right`; every management page starts here."""
    if not _is_tenant_user(actor):
        return Questionnaire.objects.none()
    rule = shared_in_scope(actor, right, shared_with=_shown_to_groups, made_by="created_by")
    return Questionnaire.objects.filter(organization_id=actor.organization_id).filter(rule)


def questionnaires_invitable_by(actor):
    """The published questionnaires `actor` may invite people to (with the `invite` right): those they
    manage (`questionnaires_in_scope`), and those shown to people they may invite — every non-private
    one for an organisation-wide inviter, those visible to all users or to one of their groups for a
    group-scoped one. A private questionnaire is invited to by those who manage it only."""
    if not _is_tenant_user(actor):
        return Questionnaire.objects.none()
    scope = actor_scope(actor, Right.INVITE)
    if not scope:
        return Questionnaire.objects.none()
    if scope.all_users:
        shown = ~Q(visibility=Visibility.PRIVATE)
    else:
        shown = Q(visibility=Visibility.ALL) | _shown_to_groups(scope.group_ids)
    managed = questionnaires_in_scope(actor).values("pk")
    return Questionnaire.objects.filter(organization_id=actor.organization_id, is_published=True).filter(
        shown | Q(pk__in=managed)
    )


def question_count_of(questionnaire):
    """A subquery: the number of questions of `questionnaire` (an OuterRef to it)."""
    return (
        Question.objects.filter(questionnaire=questionnaire)
        .order_by()
        .values("questionnaire")
        .annotate(n=Count("pk"))
        .values("n")
    )


def with_counts(questionnaires):
    """Annotate the number of questions and of attempts (started and submitted)."""
    questions = question_count_of(OuterRef("pk"))
    attempts = Attempt.objects.filter(questionnaire=OuterRef("pk")).order_by().values("questionnaire")
    return questionnaires.annotate(
        question_count=Subquery(questions),
        attempt_count=Subquery(attempts.annotate(n=Count("pk")).values("n")),
        submitted_count=Subquery(attempts.filter(submitted_at__isnull=False).annotate(n=Count("pk")).values("n")),
    )


def has_attempts(questionnaire) -> bool:
    """Whether anyone has started `questionnaire` (its questions are then fixed)."""
    return Attempt.objects.filter(organization_id=questionnaire.organization_id, questionnaire=questionnaire).exists()


def questions_of(questionnaire):
    """The questions of `questionnaire` in order, with their choices in order."""
    return (
        Question.objects.filter(organization_id=questionnaire.organization_id, questionnaire=questionnaire)
        .order_by("position", "pk")
        .prefetch_related("choices")
    )


def questionnaires_open_to(user):
    """The published questionnaires `user` may start freely: visible to all users, or to a group they
    are a member of now."""
    if not _is_tenant_user(user):
        return Questionnaire.objects.none()
    member_of = Membership.objects.filter(organization_id=user.organization_id, user_id=user.pk).values("group_id")
    return Questionnaire.objects.filter(organization_id=user.organization_id, is_published=True).filter(
        Q(visibility=Visibility.ALL) | _shown_to_groups(member_of)
    )


def free_attempts_of(user):
    """`user`'s own attempts made without an invitation."""
    if not _is_tenant_user(user):
        return Attempt.objects.none()
    return Attempt.objects.filter(organization_id=user.organization_id, user_id=user.pk, invitation__isnull=True)


def my_questionnaires(user):
    """The rows of the "open to you" part of `/me/`: what `user` may start now, plus any questionnaire
    they have a free attempt at (an attempt in progress stays reachable after leaving a group, and a
    score stays theirs). Each carries `my_attempt_id`, `my_submitted_at` and `my_score`."""
    mine = free_attempts_of(user).filter(questionnaire=OuterRef("pk"))
    open_ids = questionnaires_open_to(user).values("pk")
    rows = Questionnaire.objects.filter(organization_id=user.organization_id).filter(
        Q(pk__in=open_ids) | Q(Exists(mine))
    )
    return (
        with_counts(rows)
        .annotate(
            my_attempt_id=Subquery(mine.values("pk")[:1]),
            my_submitted_at=Subquery(mine.values("submitted_at")[:1]),
            my_score=Subquery(mine.values("score")[:1]),
            my_correct=Subquery(mine.values("correct_count")[:1]),
            my_total=Subquery(mine.values("question_count")[:1]),
        )
        .order_by("title", "pk")
    )


def attempt_of(user, attempt_id):
    """`user`'s own attempt `attempt_id`, or None (someone else's and other tenants' alike)."""
    if not _is_tenant_user(user):
        return None
    attempts = Attempt.objects.filter(organization_id=user.organization_id, user_id=user.pk)
    return attempts.select_related("questionnaire").filter(pk=attempt_id).first()


def answers_of(attempt) -> dict[int, list[int]]:
    """{question id: chosen choice ids} of `attempt`."""
    return dict(attempt.answers.filter(organization_id=attempt.organization_id).values_list("question_id", "choices"))


def is_time_up(attempt, now=None) -> bool:
    """Whether `attempt`'s time limit (if any) has passed, grace included."""
    now = now or timezone.now()
    return attempt.deadline_at is not None and now > attempt.deadline_at + GRACE


def score_of(attempt) -> tuple[int, int]:
    """(questions answered exactly right, questions asked): right means every correct choice and no
    other was chosen; a question left unanswered counts as wrong."""
    correct = {}
    for question_id, choice_id in Choice.objects.filter(
        organization_id=attempt.organization_id, question__questionnaire_id=attempt.questionnaire_id, is_correct=True
    ).values_list("question_id", "pk"):
        correct.setdefault(question_id, set()).add(choice_id)
    total = Question.objects.filter(
        organization_id=attempt.organization_id, questionnaire_id=attempt.questionnaire_id
    ).count()
    answers = Answer.objects.filter(organization_id=attempt.organization_id, attempt_id=attempt.pk)
    right = sum(
        1
        for question_id, chosen in answers.values_list("question_id", "choices")
        if set(chosen) == correct.get(question_id)
    )
    return right, total


# Assessment invitations -------------------------------------------------------------------------


def assignee_of(invitation):
    """The place in an assessment invitation that `invitation` (one of its messages) was sent for: the
    assignment is the message's batch, and the person its recipient. None when there is none (a link
    of another kind, or a place that no longer exists)."""
    if invitation is None or invitation.batch_id is None:
        return None
    person = {"user_id": invitation.user_id} if invitation.user_id else {"contact_id": invitation.contact_id}
    return (
        Assignee.objects.filter(
            organization_id=invitation.organization_id, assignment__batch_id=invitation.batch_id, **person
        )
        .select_related("assignment__questionnaire", "attempt", "contact")
        .first()
    )


@functools.cache
def _assessment_link_sql() -> tuple[tuple[Table, ...], Statement]:
    invitation, assignee, assignment = Table(Invitation, "i"), Table(Assignee, "p"), Table(Assignment, "g")
    questionnaire, attempt, contact = Table(Questionnaire, "q"), Table(Attempt, "t"), Table(Contact, "c")
    question = Table(Question, "n")
    # The place is `assignee_of`'s: the assignment whose batch the message belongs to, and the
    # recipient's row in it (each side of the OR has its own unique index). Only names from the models
    # go into the text; the values are parameters. The unique index on the hash leaves empty ones out:
    # saying so lets the prepared statement's generic plan use it.
    sql = (
        f"SELECT {invitation.columns}, {assignee.columns}, {assignment.columns}, {questionnaire.columns},"  # noqa: S608
        f" {attempt.columns}, {contact.columns},"
        f" (SELECT COUNT(*) FROM {question.source}"
        f" WHERE {question.column('questionnaire')} = {questionnaire.column('id')})"
        f" FROM {invitation.source}"
        f" LEFT JOIN {assignment.source} ON {assignment.column('batch')} = {invitation.column('batch')}"
        f" LEFT JOIN {assignee.source} ON {assignee.column('assignment')} = {assignment.column('id')}"
        f" AND {assignee.column('organization')} = {invitation.column('organization')}"
        f" AND ({assignee.column('user')} = {invitation.column('user')}"
        f" OR {assignee.column('contact')} = {invitation.column('contact')})"
        f" LEFT JOIN {questionnaire.source} ON {questionnaire.column('id')} = {assignment.column('questionnaire')}"
        f" LEFT JOIN {attempt.source} ON {attempt.column('assignee')} = {assignee.column('id')}"
        f" LEFT JOIN {contact.source} ON {contact.column('id')} = {assignee.column('contact')}"
        f" WHERE {invitation.column('organization')} = %s AND {invitation.column('token_hash')} = %s"
        f" AND {invitation.column('token_hash')} <> '' AND {invitation.column('kind')} = %s"
    )
    tables = (invitation, assignee, assignment, questionnaire, attempt, contact)  # in the order of the row
    return tables, Statement("experquiz_assessment_link", sql)


def assessment_link_by_token(organization, token: str):
    """(invitation, its place) of the assessment link of `organization` that carries `token`, as
    `invitation_by_token` and `assignee_of` find them: the place with its assignment, questionnaire
    (and its number of questions, as `question_count`), attempt and contact loaded. (None, None) for
    an unknown token, (invitation, None) when the place no longer exists.

    Every request on a link's pages reads it: one statement, written once per process
    (experquiz.sql_rows), where the three querysets cost five milliseconds of CPU to compile each time.
    """
    if organization is None:
        raise ValueError("A tenant query needs an organisation.")
    if not token or len(token) > 100:
        return None, None
    tables, statement = _assessment_link_sql()
    row = statement.fetchone([organization.pk, hash_token(token), Invitation.Kind.ASSESSMENT.value])
    if row is None:
        return None, None
    start, built = 0, []
    for table in tables:
        built.append(table.build(row, start))
        start += len(table)
    invitation, assignee, assignment, questionnaire, attempt, contact = built
    invitation.organization = organization
    if assignee is None:
        return invitation, None
    questionnaire.question_count = row[start]
    assignment.questionnaire = questionnaire
    assignee.assignment = assignment
    assignee.contact = contact
    # The reverse one-to-one as select_related leaves it: the attempt, or None known to be none.
    Assignee.attempt.related.set_cached_value(assignee, attempt)
    if attempt is not None:
        attempt.assignee = assignee
    return invitation, assignee


def attempt_of_assignee(assignee):
    """The attempt made at `assignee`'s place, or None (read again: it may have been made meanwhile)."""
    return Attempt.objects.filter(organization_id=assignee.organization_id, assignee=assignee).first()


def my_assignments(user):
    """The assessment invitations `user` is (still) invited to, with their attempt at each: the "invited
    to" part of `/me/`. Each carries `my_attempt_id`, `my_submitted_at`, `my_score`, `my_correct`,
    `my_total` and `question_count`; the soonest to close first."""
    if not _is_tenant_user(user):
        return Assignee.objects.none()
    mine = Attempt.objects.filter(assignee=OuterRef("pk"))
    questions = question_count_of(OuterRef("assignment__questionnaire"))
    return (
        Assignee.objects.current()
        .filter(organization_id=user.organization_id, user_id=user.pk)
        .select_related("assignment__questionnaire")
        .annotate(
            my_attempt_id=Subquery(mine.values("pk")[:1]),
            my_submitted_at=Subquery(mine.values("submitted_at")[:1]),
            my_score=Subquery(mine.values("score")[:1]),
            my_correct=Subquery(mine.values("correct_count")[:1]),
            my_total=Subquery(mine.values("question_count")[:1]),
            question_count=Subquery(questions),
        )
        .order_by("assignment__closes_at", "pk")
    )


def link_of(assignee):
    """The most recent message (link) sent for `assignee`'s place and not revoked, or None: starting
    from `/me/` goes through it as if the person had opened it."""
    person = {"user_id": assignee.user_id} if assignee.user_id else {"contact_id": assignee.contact_id}
    return (
        Invitation.objects.filter(
            organization_id=assignee.organization_id,
            kind=Invitation.Kind.ASSESSMENT,
            batch_id=assignee.assignment.batch_id,
            revoked_at__isnull=True,
            **person,
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def assignment_state(row, now=None) -> str:
    """Where `user` stands on a row of `my_assignments`: done, in_progress, not_open (opens later),
    to_do, or closed (the window closed before they started)."""
    now = now or timezone.now()
    if row.my_submitted_at:
        return "done"
    if row.my_attempt_id:
        return "in_progress"
    if now >= row.assignment.closes_at:
        return "closed"
    return "not_open" if now < row.assignment.opens_at else "to_do"


def link_problem(invitation, assignee, attempt, now=None) -> str | None:
    """Why `invitation`'s link cannot start or resume an attempt at `assignee`'s place now (a reason of
    LinkUnusable), or None. An attempt already made decides first: a person who started keeps their
    attempt whatever happened to the link since."""
    now = now or timezone.now()
    if assignee is None:
        return "unknown"
    if attempt is not None and attempt.is_submitted:
        return "completed"
    if attempt is None and assignee.removed_at is not None:
        return "removed"
    if invitation.used_at is not None:
        return "completed"
    if invitation.revoked_at is not None and attempt is None:
        return "revoked"
    assignment = assignee.assignment
    if now >= assignment.closes_at or invitation.is_expired:
        return "too_late"
    if now < assignment.opens_at:
        return "not_open"
    if attempt is None and not assignment.questionnaire.is_published:
        return "unpublished"
    return None
