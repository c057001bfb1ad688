"""The reminder before an assessment invitation closes: one per invitation, to the people still in it
who have not started, `reminder_hours_before_closing` hours before it closes (AssessmentSettings; 0:
never). Run by beat (`flows.tasks.assessments_send_reminders`)."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from assessments.models import AssessmentSettings, Assignee, Assignment, Attempt
from audit.models import Action
from audit.services import audit_event, audit_record_many

from .assessments import _message_rows, _send

# How many invitations one run reminds: the next run (a minute later) takes the rest.
PER_RUN = 200
INACTIVE = [status for status in User.Status if status != User.Status.ACTIVE]


def _not_started(assignment):
    """The people still in `assignment` who have not started (users: still active)."""
    started = Attempt.objects.filter(assignee=OuterRef("pk"))
    return (
        Assignee.objects.current()
        .filter(assignment=assignment)
        .exclude(Exists(started))
        .exclude(user__isnull=False, user__status__in=INACTIVE)
        .select_related("user", "contact")
        .order_by("pk")
    )


@transaction.atomic
def assignments_send_reminders() -> int:
    """Send the reminders that are due; the number of people reminded. Each invitation is reminded
    once, whichever process runs this: the invitation is locked (others skip it) and marked."""
    now = timezone.now()
    events, reminded = [], 0
    for settings_row in AssessmentSettings.objects.filter(reminder_hours_before_closing__gt=0):
        due = (
            Assignment.objects.select_for_update(skip_locked=True)
            .filter(
                organization_id=settings_row.organization_id,
                reminded_at__isnull=True,
                opens_at__lte=now,
                send_at__lte=now,
                closes_at__gt=now,
                closes_at__lte=now + timedelta(hours=settings_row.reminder_hours_before_closing),
            )
            .order_by("closes_at")[:PER_RUN]
        )
        for assignment in due:
            people = [assignee.person for assignee in _not_started(assignment)]
            Assignment.objects.filter(pk=assignment.pk).update(reminded_at=now)
            if people:
                _send(_message_rows(assignment=assignment, people=people, actor=None, now=now, is_reminder=True))
            events.append(
                audit_event(
                    organization=assignment.organization_id,
                    actor=None,
                    action=Action.ASSESSMENT_REMINDED,
                    target=assignment,
                    after={"people": len(people)},
                )
            )
            reminded += len(people)
    audit_record_many(events)
    return reminded
