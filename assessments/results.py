"""Reads of results (DESIGN §8): who was invited to a questionnaire, who opened their link, started,
submitted, and their scores, for holders of `view_results`, within their scope.

The scope is over people, like every right (rights.selectors): a holder over all users sees every
user and every contact; a group-scoped holder sees the current members of their groups, and no
contact (contacts belong to no group). A questionnaire's results page shows only the rows of people
in scope; the questionnaire itself is reachable when it is shared with one of the holder's groups or
made by them (the rule of `shared_in_scope`), or when someone in their scope was invited to it or
took it.

One row per place in an assessment invitation (`Assignee`, with its attempt if any) and one per
free-access attempt (no invitation). Both kinds are read as one SQL UNION of the same named columns,
so filters, sorting and paging happen in the database: a page costs the same few queries whatever
its size, and the rows are plain dicts (see ROW_COLUMNS).
"""

from django.db.models import Case as SqlCase
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    TextChoices,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from rights.names import Right
from rights.selectors import actor_scope, contacts_in_scope, shared_in_scope, user_ids_in_scope

from .models import Assignee, Assignment, Attempt, Questionnaire, QuestionnaireGroup

RIGHT = Right.VIEW_RESULTS


class RowState(TextChoices):
    """Where a person is: each row has the furthest step it reached (removed: taken off the invitation
    before starting)."""

    INVITED = "invited", _("Invited, link not opened")
    OPENED = "opened", _("Opened, not started")
    STARTED = "started", _("Started, not submitted")
    SUBMITTED = "submitted", _("Submitted")
    REMOVED = "removed", _("Removed from the invitation")


# Row kinds: a place in an assessment invitation, or an attempt made freely (no invitation).
INVITED, FREE = "invited", "free"

# The columns of a row, in order: both halves of the UNION annotate these, in this order.
ROW_COLUMNS = (
    "kind",
    "row_id",
    "assignment_no",
    "questionnaire_no",
    "title",
    "person_user",
    "person_contact",
    "first",
    "last",
    "email",
    "mobile",
    "invited_at",
    "removed",
    "opened",
    "opens",
    "closes",
    "attempt_no",
    "started",
    "submitted",
    "result",
    "right_answers",
    "asked",
    "state",
    "latest",
)

# Sort keys of the results lists → the columns ordered by (ties broken by row kind and id).
SORTS = {
    "name": ("last", "first"),
    "state": ("state",),
    "score": ("result",),
    "date": ("latest",),
    "invited": ("invited_at",),
    "title": ("title",),
}


def _null(field):
    return Value(None, output_field=field)


def _person_columns(prefix=""):
    return {
        "first": Coalesce(F(f"{prefix}user__first_name"), F(f"{prefix}contact__first_name")),
        "last": Coalesce(F(f"{prefix}user__last_name"), F(f"{prefix}contact__last_name")),
        "email": Coalesce(F(f"{prefix}user__email"), F(f"{prefix}contact__email")),
        "mobile": Coalesce(F(f"{prefix}user__mobile"), F(f"{prefix}contact__mobile")),
    }


def _assignee_columns():
    state = SqlCase(
        When(removed_at__isnull=False, then=Value(RowState.REMOVED.value)),
        When(attempt__submitted_at__isnull=False, then=Value(RowState.SUBMITTED.value)),
        When(attempt__isnull=False, then=Value(RowState.STARTED.value)),
        When(opened_at__isnull=False, then=Value(RowState.OPENED.value)),
        default=Value(RowState.INVITED.value),
        output_field=CharField(),
    )
    return {
        "kind": Value(INVITED, output_field=CharField()),
        "row_id": F("pk"),
        "assignment_no": F("assignment_id"),
        "questionnaire_no": F("assignment__questionnaire_id"),
        "title": F("assignment__questionnaire__title"),
        "person_user": F("user_id"),
        "person_contact": F("contact_id"),
        **_person_columns(),
        "invited_at": F("added_at"),
        "removed": F("removed_at"),
        "opened": F("opened_at"),
        "opens": F("assignment__opens_at"),
        "closes": F("assignment__closes_at"),
        "attempt_no": F("attempt__pk"),
        "started": F("attempt__started_at"),
        "submitted": F("attempt__submitted_at"),
        "result": F("attempt__score"),
        "right_answers": F("attempt__correct_count"),
        "asked": F("attempt__question_count"),
        "state": state,
        "latest": Coalesce(F("attempt__submitted_at"), F("attempt__started_at"), F("opened_at"), F("added_at")),
    }


def _attempt_columns():
    state = SqlCase(
        When(submitted_at__isnull=False, then=Value(RowState.SUBMITTED.value)),
        default=Value(RowState.STARTED.value),
        output_field=CharField(),
    )
    return {
        "kind": Value(FREE, output_field=CharField()),
        "row_id": F("pk"),
        "assignment_no": _null(IntegerField()),
        "questionnaire_no": F("questionnaire_id"),
        "title": F("questionnaire__title"),
        "person_user": F("user_id"),
        "person_contact": F("contact_id"),
        **_person_columns(),
        "invited_at": _null(DateTimeField()),
        "removed": _null(DateTimeField()),
        "opened": _null(DateTimeField()),
        "opens": _null(DateTimeField()),
        "closes": _null(DateTimeField()),
        "attempt_no": F("pk"),
        "started": F("started_at"),
        "submitted": F("submitted_at"),
        "result": F("score"),
        "right_answers": F("correct_count"),
        "asked": F("question_count"),
        "state": state,
        "latest": Coalesce(F("submitted_at"), F("started_at")),
    }


def _rows(queryset, columns):
    # Annotated in ROW_COLUMNS' order on both halves, so the UNION's columns line up.
    assert tuple(columns) == ROW_COLUMNS
    return queryset.order_by().annotate(**columns).values(*ROW_COLUMNS)


def people_in_scope(actor) -> Q:
    """The rows (assignees or attempts) of people `actor` may see the results of; the rows are already
    limited to the actor's organisation."""
    if actor_scope(actor, RIGHT).all_users:
        # Every user and every contact of the organisation (users_in_scope and contacts_in_scope give
        # them all for this right): no filter, rather than two semi-joins that keep every row.
        return Q()
    users = user_ids_in_scope(actor, RIGHT)
    contacts = contacts_in_scope(actor, RIGHT).values("pk")
    return Q(user_id__in=users) | Q(contact_id__in=contacts)


def _no_one(actor) -> bool:
    return actor is None or not actor.is_authenticated or actor.organization_id is None


def _shown_to_groups(group_ids) -> Q:
    links = QuestionnaireGroup.objects.filter(group_id__in=group_ids)
    return Q(visibility=Questionnaire.Visibility.GROUPS, pk__in=links.values("questionnaire_id"))


def result_questionnaires(actor):
    """The questionnaires whose results `actor` may open: shared with one of their groups or made by
    them (everything for administrators and organisation-wide holders), or that someone in their scope
    was invited to or took."""
    if _no_one(actor):
        return Questionnaire.objects.none()
    organization_id = actor.organization_id
    in_scope = people_in_scope(actor)
    invited = Assignee.objects.filter(organization_id=organization_id, assignment__questionnaire=OuterRef("pk"))
    took = Attempt.objects.filter(organization_id=organization_id, questionnaire=OuterRef("pk"))
    questionnaires = Questionnaire.objects.filter(organization_id=organization_id)
    rule = shared_in_scope(actor, RIGHT, shared_with=_shown_to_groups, made_by="created_by")
    if not rule:  # an empty Q: every questionnaire (an empty Q would vanish from the OR below)
        return questionnaires
    return questionnaires.filter(rule | Q(Exists(invited.filter(in_scope))) | Q(Exists(took.filter(in_scope))))


def with_result_counts(questionnaires, actor):
    """Annotate, within `actor`'s scope: `invited_count` (people still invited), `submitted_count`
    (submitted attempts, invited or free) and `started_count` (every attempt)."""
    in_scope = people_in_scope(actor)
    assignees = Assignee.objects.filter(assignment__questionnaire=OuterRef("pk"), removed_at__isnull=True)
    attempts = Attempt.objects.filter(questionnaire=OuterRef("pk"))

    def count(queryset):
        counted = queryset.filter(in_scope).order_by().values("organization_id").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return questionnaires.annotate(
        invited_count=count(assignees),
        started_count=count(attempts),
        submitted_count=count(attempts.filter(submitted_at__isnull=False)),
    )


def assignments_of(questionnaire):
    """The assessment invitations of `questionnaire`, newest window first (the results filter's choices)."""
    return Assignment.objects.filter(
        organization_id=questionnaire.organization_id, questionnaire=questionnaire
    ).order_by("-opens_at", "-pk")


def _halves(actor, questionnaire, assignment=None):
    """(assignees, free attempts) of `questionnaire` in `actor`'s scope; `assignment`: an invitation's
    people only ("free" for the free attempts only)."""
    organization_id = questionnaire.organization_id
    in_scope = people_in_scope(actor)
    assignments = Assignment.objects.filter(organization_id=organization_id, questionnaire=questionnaire)
    assignees = Assignee.objects.filter(
        organization_id=organization_id, assignment_id__in=assignments.values("pk")
    ).filter(in_scope)
    free = Attempt.objects.filter(
        organization_id=organization_id, questionnaire=questionnaire, assignee__isnull=True
    ).filter(in_scope)
    if assignment == FREE:
        assignees = assignees.none()
    elif assignment is not None:
        assignees, free = assignees.filter(assignment=assignment), free.none()
    return assignees, free


def _ordered(rows, sort: str):
    key = sort.lstrip("-")
    columns = SORTS.get(key, SORTS["name"])
    descending = sort.startswith("-") and key in SORTS
    order = [F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True) for column in columns]
    return rows.order_by(*order, "kind", "row_id")


def questionnaire_results(actor, questionnaire, *, assignment=None, state: str = "", sort: str = "name"):
    """The result rows of `questionnaire` that `actor` may see: one per person invited (through each of
    its assessment invitations) and one per free-access attempt, filtered by invitation (`assignment`:
    an Assignment, "free", or None for all) and `state`, sorted by `sort` (a SORTS key, "-" for
    descending). A values queryset of ROW_COLUMNS dicts."""
    if _no_one(actor):
        return Assignee.objects.none().values(*ROW_COLUMNS)
    assignees, free = _halves(actor, questionnaire, assignment)
    return _union(assignees, free, state, sort)


def person_results(actor, *, user=None, contact=None, state: str = "", sort: str = "-date"):
    """The result rows of one person (a user or a contact): every assessment invitation they had a place
    in and every attempt they made freely. Empty when `actor` may not see the person's results."""
    if _no_one(actor) or (user is None) == (contact is None):
        return Assignee.objects.none().values(*ROW_COLUMNS)
    person = user or contact
    who = {"user": user} if user is not None else {"contact": contact}
    in_scope = people_in_scope(actor)
    assignees = Assignee.objects.filter(organization_id=person.organization_id, **who).filter(in_scope)
    free = Attempt.objects.filter(organization_id=person.organization_id, assignee__isnull=True, **who).filter(in_scope)
    return _union(assignees, free, state, sort)


def _union(assignees, free, state, sort):
    assignee_rows = _rows(assignees, _assignee_columns())
    free_rows = _rows(free, _attempt_columns())
    if state:
        assignee_rows = assignee_rows.filter(state=state)
        free_rows = free_rows.filter(state=state)
    return _ordered(assignee_rows.union(free_rows, all=True), sort)


def results_summary(actor, questionnaire, *, assignment=None) -> dict:
    """Counts over the rows `questionnaire_results` would show (before the state filter): people
    invited (still), removed, opened, started, submitted; free attempts started and submitted; the
    average score of the submitted attempts. Two queries."""
    empty = {
        "invited": 0,
        "removed": 0,
        "opened": 0,
        "started": 0,
        "submitted": 0,
        "free_started": 0,
        "free_submitted": 0,
        "average": None,
    }
    if _no_one(actor):
        return empty
    assignees, free = _halves(actor, questionnaire, assignment)
    current = Q(removed_at__isnull=True)
    invited = assignees.aggregate(
        invited=Count("pk", filter=current),
        removed=Count("pk", filter=~current),
        opened=Count("pk", filter=current & (Q(opened_at__isnull=False) | Q(attempt__isnull=False))),
        started=Count("attempt"),
        submitted=Count("attempt", filter=Q(attempt__submitted_at__isnull=False)),
        score_sum=Coalesce(
            _sum("attempt__score", Q(attempt__submitted_at__isnull=False)), Value(0, output_field=DecimalField())
        ),
    )
    freely = free.aggregate(
        free_started=Count("pk"),
        free_submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
        score_sum=Coalesce(_sum("score", Q(submitted_at__isnull=False)), Value(0, output_field=DecimalField())),
    )
    submitted = invited["submitted"] + freely["free_submitted"]
    summary = {**empty, **{key: invited[key] for key in ("invited", "removed", "opened", "started", "submitted")}}
    summary["free_started"], summary["free_submitted"] = freely["free_started"], freely["free_submitted"]
    if submitted:
        summary["average"] = (invited["score_sum"] + freely["score_sum"]) / submitted
    return summary


def rows_count(summary: dict, state: str = "") -> int:
    """How many rows `questionnaire_results` gives with `state`, from the `results_summary` of the same
    questionnaire, scope and invitation: the page needs no COUNT over the rows (each step's count
    includes the people who went further)."""
    started = summary["started"] - summary["submitted"] + summary["free_started"] - summary["free_submitted"]
    by_state = {
        RowState.REMOVED: summary["removed"],
        RowState.SUBMITTED: summary["submitted"] + summary["free_submitted"],
        RowState.STARTED: started,
        RowState.OPENED: summary["opened"] - summary["started"],
        RowState.INVITED: summary["invited"] - summary["opened"],
    }
    if state:
        return by_state.get(state, 0)
    return summary["invited"] + summary["removed"] + summary["free_started"]


def _sum(field, condition):
    return Sum(field, filter=condition)
