"""Reads of assessment invitations (assignments) for the pages that make and follow them.

Who may invite to a questionnaire: `questionnaires_invitable_by` (holders of `invite`). Who may follow
an assessment invitation: organisation-wide inviters all of them; a group-scoped inviter those of
the questionnaires they may invite to, and those they made (even if the questionnaire has been
unpublished since). Whom they see in it: only the people of their own `invite` scope (users of
their groups; contacts only for organisation-wide inviters); the counts are the assignment's own.
"""

from django.db.models import Case, Count, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from invitations.models import Invitation
from rights.names import Right
from rights.selectors import actor_scope, users_in_scope

from .models import Assignee, Assignment
from .selectors import questionnaires_invitable_by


class State:
    """Where a person invited stands (shown on the assignment page, in this order of precedence)."""

    REMOVED = "removed"
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"


def assignments_in_scope(actor):
    """The assessment invitations `actor` may follow and extend (see the module's docstring)."""
    if not getattr(actor, "is_authenticated", False) or actor.organization_id is None:
        return Assignment.objects.none()
    scope = actor_scope(actor, Right.INVITE)
    if not scope:
        return Assignment.objects.none()
    assignments = Assignment.objects.filter(organization_id=actor.organization_id)
    if scope.all_users:
        return assignments
    return assignments.filter(Q(questionnaire__in=questionnaires_invitable_by(actor)) | Q(created_by=actor))


def with_people_counts(assignments):
    """Annotate `invited` (current places), `started`, `submitted` and `removed`."""
    current = Q(assignees__removed_at__isnull=True)
    return assignments.annotate(
        invited=Count("assignees", filter=current, distinct=True),
        started=Count("assignees", filter=current & Q(assignees__attempt__isnull=False), distinct=True),
        submitted=Count("assignees", filter=current & Q(assignees__attempt__submitted_at__isnull=False), distinct=True),
        removed=Count("assignees", filter=Q(assignees__removed_at__isnull=False), distinct=True),
    )


def is_open_for_adding(assignment, now=None) -> bool:
    """People can be added until the window closes."""
    return (now or timezone.now()) < assignment.closes_at


def _first_messages(assignment):
    """The messages of `assignment` that invited people (its reminders aside)."""
    return Invitation.objects.filter(
        organization_id=assignment.organization_id, batch_id=assignment.batch_id, is_reminder=False
    )


def assignment_packets(assignment) -> list[dict]:
    """The packets `assignment`'s messages were sent in, in sending order: each one's `packet` label (the
    first letters of its first and last person's names) and counts (`total`, `sent`, `failed`).
    Packets of people added later that happen to share a label are counted together."""
    Delivery = Invitation.Delivery
    return list(
        _first_messages(assignment)
        .exclude(packet="")
        .values("packet")
        .annotate(
            first=Min("pk"),
            total=Count("pk"),
            sent=Count("pk", filter=Q(delivery=Delivery.SENT)),
            failed=Count("pk", filter=Q(delivery=Delivery.FAILED)),
        )
        .order_by("first")
    )


def _packet_of(assignment):
    return _first_messages(assignment).order_by("-pk")


def assignment_people(actor, assignment):
    """The people of `assignment` that `actor` may see, each with its `state` (a `State` value), its
    attempt and the packet of their message, by name. Removed people stay listed (their link says
    they were removed)."""
    reach = Q(user__in=users_in_scope(actor, Right.INVITE))
    # Contacts belong to no group: only organisation-wide inviters reach them.
    if actor_scope(actor, Right.INVITE).all_users:
        reach |= Q(contact__isnull=False)
    return (
        Assignee.objects.filter(organization_id=assignment.organization_id, assignment=assignment)
        .filter(reach)
        .select_related("user", "contact", "attempt")
        .annotate(
            packet=Coalesce(
                Subquery(_packet_of(assignment).filter(user_id=OuterRef("user_id")).values("packet")[:1]),
                Subquery(_packet_of(assignment).filter(contact_id=OuterRef("contact_id")).values("packet")[:1]),
            ),
            state=Case(
                When(removed_at__isnull=False, then=Value(State.REMOVED)),
                When(attempt__submitted_at__isnull=False, then=Value(State.SUBMITTED)),
                When(attempt__isnull=False, then=Value(State.IN_PROGRESS)),
                default=Value(State.NOT_STARTED),
            ),
        )
        .order_by("user__last_name", "contact__last_name", "user__first_name", "contact__first_name", "pk")
    )
