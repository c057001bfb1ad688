"""Taking an assessment through its link (`/a/<token>/`): the attempts of assessment invitations.

The link is the message (`invitations.Invitation`, kind assessment) sent for one person's place
(`Assignee`); one attempt per place, whichever of the person's links (first message, reminder) they
open. The person is the actor: the link's user, signed in as themselves, or its contact, whom the link
itself authorises (a contact has no account). Answering and submitting are the attempt services of
`assessments.services` (`answer_save`, `attempt_submit`), which take either.

The window: an attempt starts between `opens_at` and `closes_at`, and its deadline is the sooner of
the questionnaire's time limit and the closing time, so an attempt in progress when the window closes
takes no more answers (the services refuse them after the deadline). It is then submitted as it
stands: by the next request that acts on it, and within a minute by `attempts_submit_overdue` (beat).
"""

from contextlib import suppress
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Contact
from audit.models import Action
from audit.services import audit_record

from .errors import AttemptClosed, LinkUnusable, NotAllowed
from .models import Assignee, Attempt
from .selectors import GRACE, assignee_of, attempt_of_assignee, link_problem
from .services import recorded_actor, submit_locked

OVERDUE_BATCH = 500


def _require_link_holder(actor, invitation) -> None:
    """`actor` is the person the link was sent to: its user (signed in as themselves; a forwarded link
    does not let anyone else in), or its contact (found from the link by the page)."""
    if invitation.user_id:
        own = not isinstance(actor, Contact) and getattr(actor, "pk", None) == invitation.user_id
    else:
        own = isinstance(actor, Contact) and actor.pk == invitation.contact_id
    if not own or getattr(actor, "organization_id", None) != invitation.organization_id:
        raise NotAllowed(_("This link was sent to someone else."))


def _refuse(reason):
    messages = {
        "unknown": _("This link is not known."),
        "completed": _("You have already completed this assessment."),
        "removed": _("You were removed from this assessment invitation."),
        "revoked": _("This link is no longer valid."),
        "too_late": _("This assessment has closed: it is too late to take it."),
        "not_open": _("This assessment is not open yet."),
        "unpublished": _("This assessment is not available for now."),
    }
    raise LinkUnusable(messages[reason], reason=reason)


def invited_attempt_start(*, invitation, actor) -> Attempt:
    """Start `actor`'s attempt through their link `invitation`, or give back the one they have at that
    place (in progress: to resume it). Refused with LinkUnusable (removed, completed, revoked, too late,
    not open yet, unpublished) or NotAllowed (someone else's link). Two starts at once make one attempt
    (the database keeps one per place)."""
    _require_link_holder(actor, invitation)
    try:
        return _invited_attempt_create(invitation=invitation, actor=actor)
    except IntegrityError:
        # The same person pressed Start twice at once (or in two tabs): the other request made it.
        attempt = attempt_of_assignee(assignee_of(invitation))
        if attempt is None:
            raise
        return attempt


@transaction.atomic
def _invited_attempt_create(*, invitation, actor) -> Attempt:
    assignee = assignee_of(invitation)
    if assignee is not None:
        # The place's row, locked: removing someone (allowed until they start) waits for this start.
        assignee = (
            Assignee.objects.select_for_update(of=("self",))
            .select_related("assignment__questionnaire")
            .get(pk=assignee.pk)
        )
    attempt = attempt_of_assignee(assignee) if assignee is not None else None
    if attempt is not None and not attempt.is_submitted:
        # Resuming: whatever happened to the link since, the attempt is the person's (its deadline,
        # never after the closing time, ends it).
        return attempt
    now = timezone.now()
    problem = link_problem(invitation, assignee, attempt, now)
    if problem:
        _refuse(problem)
    assignment = assignee.assignment
    questionnaire = assignment.questionnaire
    limit = questionnaire.time_limit_minutes
    deadline = min(now + timedelta(minutes=limit), assignment.closes_at) if limit else assignment.closes_at
    attempt = Attempt.objects.create(
        organization_id=assignee.organization_id,
        questionnaire=questionnaire,
        user_id=invitation.user_id,
        contact_id=invitation.contact_id,
        assignee=assignee,
        invitation=invitation,
        started_at=now,
        deadline_at=deadline,
    )
    audit_record(
        organization=assignee.organization_id,
        actor=recorded_actor(actor),
        action=Action.ATTEMPT_STARTED,
        target=attempt,
        user=invitation.user_id,
        label=questionnaire.title,
        after={"contact": str(actor)} if isinstance(actor, Contact) else None,
    )
    return attempt


@transaction.atomic
def assignee_mark_opened(*, invitation, actor) -> bool:
    """Note when the person first saw their link's page in a browser (the page's own script posts it;
    a GET never writes, since mail scanners open links). True when this call noted it.

    Not audited: the time on the row is its own record, and it is bookkeeping for the results page."""
    _require_link_holder(actor, invitation)
    assignee = assignee_of(invitation)
    if assignee is None:
        return False
    return bool(Assignee.objects.filter(pk=assignee.pk, opened_at__isnull=True).update(opened_at=timezone.now()))


def attempts_submit_overdue(*, now=None) -> int:
    """Submit, as they stand, the attempts whose time is up (time limit, or the window of their
    invitation closed) and that nobody submitted: the system's work (beat, every minute). Returns how
    many it submitted; an attempt submitted meanwhile by its person is left as it is."""
    now = now or timezone.now()
    due = Attempt.objects.in_progress().filter(deadline_at__lt=now - GRACE).order_by("deadline_at", "pk")
    submitted = 0
    for pk in due.values_list("pk", flat=True)[:OVERDUE_BATCH]:
        with suppress(AttemptClosed), transaction.atomic():
            locked = Attempt.objects.select_for_update().filter(pk=pk, submitted_at__isnull=True).first()
            if locked is None:
                continue
            submit_locked(locked, actor=None)
            submitted += 1
    return submitted
