"""An assessment invitation's page: its window, counts, people and their progress, its packets and
sending, and removing someone who has not started. Holders of `invite` who may see its
questionnaire with that right; they see the people of their own scope only."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assessments.assignment_selectors import (
    State,
    assignment_packets,
    assignment_people,
    is_open_for_adding,
    with_people_counts,
)
from experquiz.errors import DomainError
from experquiz.web import message_from_service, page_of, query_string
from flows.assessments import assignment_remove_person
from invitations.selectors import batch_progress, batches_visible_to
from rights.mixins import right_required

from .views_invite import RIGHT, assignment_for_invite

PAGE_SIZE = 50
STATES = {
    State.NOT_STARTED: gettext_lazy("Not started"),
    State.IN_PROGRESS: gettext_lazy("In progress"),
    State.SUBMITTED: gettext_lazy("Submitted"),
    State.REMOVED: gettext_lazy("Removed"),
}


@right_required(RIGHT)
def assignment_detail(request, questionnaire_id, assignment_id):
    assignment = assignment_for_invite(request, questionnaire_id, assignment_id)
    counted = with_people_counts(type(assignment).objects.filter(pk=assignment.pk)).get()
    people = assignment_people(request.user, assignment)
    # `?state=` lists only the people in one state (who has not started yet, say).
    shown_state = request.GET.get("state") if request.GET.get("state") in STATES else ""
    if shown_state:
        people = people.filter(state=shown_state)
    people = page_of(request, people, PAGE_SIZE)
    for assignee in people:
        assignee.state_label = STATES[assignee.state]
        assignee.removable = assignee.state == State.NOT_STARTED
    return render(
        request,
        "assessments/assignment_detail.html",
        {
            "questionnaire": assignment.questionnaire,
            "assignment": assignment,
            "counts": [
                ("invited", _("Invited"), counted.invited),
                (State.NOT_STARTED, STATES[State.NOT_STARTED], counted.invited - counted.started),
                (State.IN_PROGRESS, STATES[State.IN_PROGRESS], counted.started - counted.submitted),
                (State.SUBMITTED, STATES[State.SUBMITTED], counted.submitted),
                (State.REMOVED, STATES[State.REMOVED], counted.removed),
            ],
            "people": people,
            "shown_state": shown_state,
            "query": query_string(request.GET, "page"),
            "open_for_adding": is_open_for_adding(assignment),
            "progress": batch_progress(assignment.batch),
            "packets": assignment_packets(assignment),
            "batch_visible": batches_visible_to(request.user).filter(pk=assignment.batch_id).exists(),
        },
    )


@right_required(RIGHT)
def assignee_remove(request, questionnaire_id, assignment_id, assignee_id):
    """GET asks to confirm; POST removes the person (refused once they have started)."""
    assignment = assignment_for_invite(request, questionnaire_id, assignment_id)
    assignee = get_object_or_404(assignment_people(request.user, assignment), pk=assignee_id)
    back = redirect("assessments:assignment", questionnaire_id=questionnaire_id, assignment_id=assignment_id)
    if assignee.state != State.NOT_STARTED:
        messages.info(
            request,
            _("%(person)s can no longer be removed: %(state)s.")
            % {
                "person": assignee.person,
                "state": STATES[assignee.state].lower(),
            },
        )
        return back
    if request.method == "POST":
        try:
            assignment_remove_person(actor=request.user, assignee=assignee)
        except DomainError as error:
            message_from_service(request, error)
        else:
            messages.success(
                request, _("%(person)s is no longer invited: their link now says so.") % {"person": assignee.person}
            )
        return back
    return render(
        request,
        "assessments/assignee_confirm_remove.html",
        {"questionnaire": assignment.questionnaire, "assignment": assignment, "assignee": assignee},
    )
