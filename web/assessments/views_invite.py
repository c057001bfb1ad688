"""Inviting people to an assessment (a new assessment invitation, or more people in one), for
holders of `invite` who may see the questionnaire with that right.

Three steps, each its own view: pick (the page; a POST to it only redraws it, keeping what was
picked, so searching works without JavaScript), review (a POST that checks the choice and shows the
summary of `assessment_invitation_preview`: it writes and sends nothing), confirm (a POST that
makes the invitation through the service and redirects to its page). The review page's form carries
a one-time key: a second click, or the same form posted again, finds the invitation already made.
"""

import hashlib
import secrets

from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from assessments.assignment_selectors import assignments_in_scope, is_open_for_adding
from assessments.models import AssessmentSettings
from assessments.selectors import questionnaires_invitable_by
from experquiz.errors import DomainError
from experquiz.parsing import parse_ids
from experquiz.web import form_error_from_service
from flows.assessments import (
    assessment_invitation_preview,
    assessment_invite,
    assignment_add_people,
)
from flows.filters import UserFilter
from groups.selectors import groups_with_counts
from rights.mixins import right_required
from rights.names import Right
from rights.selectors import actor_scope, contacts_in_scope, groups_in_scope, users_in_scope

from .forms_invite import DATETIME_LOCAL, InviteForm, PeopleForm, PickerSearchForm

RIGHT = Right.INVITE
# How many matches of a search the picker lists (the rest: narrow the search, or pick a group).
SHOWN = 50
# How long a confirmed review's key is remembered (a late second click still finds the invitation).
ONCE_SECONDS = 24 * 3600


def questionnaire_for_invite(request, questionnaire_id):
    return get_object_or_404(questionnaires_invitable_by(request.user), pk=questionnaire_id)


def assignment_for_invite(request, questionnaire_id, assignment_id):
    assignments = assignments_in_scope(request.user).select_related("questionnaire", "batch")
    return get_object_or_404(assignments, pk=assignment_id, questionnaire_id=questionnaire_id)


def assessment_settings(organization) -> AssessmentSettings:
    """The organisation's options, or the defaults when it never set them (read only: nothing saved)."""
    return AssessmentSettings.objects.filter(organization=organization).first() or AssessmentSettings(
        organization=organization
    )


def sending_time(settings: AssessmentSettings, opens_at, now=None):
    """When the messages of an invitation opening at `opens_at` go: None for at once."""
    now = now or timezone.now()
    if not settings.send_minutes_before_opening:
        return None
    send_at = opens_at - timezone.timedelta(minutes=settings.send_minutes_before_opening)
    return send_at if send_at > now else None


def _choices(request):
    """What the actor may pick: their `invite` scope."""
    user = request.user
    return {
        "groups": groups_in_scope(user, RIGHT),
        "users": users_in_scope(user, RIGHT),
        "contacts": contacts_in_scope(user, RIGHT),
    }


def _form(request, assignment=None, data=None, initial=None):
    kwargs = {"organization": request.organization, "initial": initial or {}, **_choices(request)}
    if assignment is not None:
        return PeopleForm(data, **kwargs)
    window = assessment_settings(request.organization).default_window_hours
    return InviteForm(data, window_hours=window, **kwargs)


def _picker(request, questionnaire, form, assignment=None, *, data=None):
    """The pick page: `form` (its errors shown when it was checked) and the lists to pick from, with
    what was picked kept checked. `data`: the POST the page is redrawn from (None: a fresh page)."""
    data = data if data is not None else (request.POST if request.method == "POST" else {})
    choices = _choices(request)
    picked = {name: set(parse_ids(data.getlist(name) if hasattr(data, "getlist") else [])) for name in choices}

    searches = PickerSearchForm({name: data.get(name) or "" for name in ("group_q", "contact_q")})
    group_q = searches.term("group_q")
    groups = groups_with_counts(choices["groups"])
    shown_groups = groups.filter(name__icontains=group_q) if group_q else groups
    picked_groups = list(groups.filter(pk__in=picked["groups"]))
    shown_groups = [group for group in shown_groups[: SHOWN * 4] if group.pk not in picked["groups"]]

    finder = UserFilter(_finder_data(data), queryset=choices["users"], actor=request.user, right=RIGHT, prefix="find")
    matches = finder.qs.exclude(pk__in=picked["users"])
    found_users = list(matches.select_related("user_type")[:SHOWN])
    picked_users = list(choices["users"].filter(pk__in=picked["users"]).order_by("last_name", "first_name", "pk"))

    may_pick_contacts = actor_scope(request.user, RIGHT).all_users
    contact_q = searches.term("contact_q")
    found_contacts, picked_contacts = [], []
    if may_pick_contacts:
        contacts = choices["contacts"].filter(converted_to__isnull=True)
        if contact_q:
            contacts = contacts.search(contact_q, request.organization.phone_region)
        found_contacts = list(
            contacts.exclude(pk__in=picked["contacts"]).order_by("last_name", "first_name", "pk")[:SHOWN]
        )
        picked_contacts = list(choices["contacts"].filter(pk__in=picked["contacts"]).order_by("last_name", "pk"))

    return render(
        request,
        "assessments/invite_pick.html",
        {
            "questionnaire": questionnaire,
            "assignment": assignment,
            "form": form,
            "searches": searches,
            "picked_groups": picked_groups,
            "shown_groups": shown_groups,
            "finder": finder,
            "found_users": found_users,
            "more_users": len(found_users) == SHOWN and matches[SHOWN : SHOWN + 1].exists(),
            "picked_users": picked_users,
            "may_pick_contacts": may_pick_contacts,
            "found_contacts": found_contacts,
            "picked_contacts": picked_contacts,
            "shown": SHOWN,
            "urls": _urls(questionnaire, assignment),
        },
    )


def _finder_data(data):
    """The user search's own fields (prefixed `find-`), always bound so its defaults apply (no
    deleted users unless asked, sorted by name)."""
    return {key: data.get(key) for key in ("find-q", "find-status", "find-group", "find-type") if data.get(key)}


def _urls(questionnaire, assignment):
    if assignment is None:
        args = [questionnaire.pk]
        return {
            "pick": reverse("assessments:invite", args=args),
            "review": reverse("assessments:invite_review", args=args),
            "confirm": reverse("assessments:invite_confirm", args=args),
            "back": reverse("assessments:detail", args=args),
        }
    args = [questionnaire.pk, assignment.pk]
    return {
        "pick": reverse("assessments:assignment_add", args=args),
        "review": reverse("assessments:assignment_add_review", args=args),
        "confirm": reverse("assessments:assignment_add_confirm", args=args),
        "back": reverse("assessments:assignment", args=args),
    }


def _redrawn_form(request, assignment):
    """An unchecked form showing what was typed (a redraw is not a submission: no errors yet)."""
    initial = {"addresses": request.POST.get("addresses", "")}
    if assignment is None:
        for name in ("opens_at", "closes_at"):
            if request.POST.get(name):
                initial[name] = request.POST[name]
    return _form(request, assignment, initial=initial)


def _pick(request, questionnaire, assignment=None):
    if request.method == "POST":
        return _picker(request, questionnaire, _redrawn_form(request, assignment), assignment)
    return _picker(request, questionnaire, _form(request, assignment), assignment)


def _review(request, questionnaire, assignment=None):
    form = _form(request, assignment, data=request.POST)
    if not form.is_valid():
        return _picker(request, questionnaire, form, assignment)
    try:
        summary = assessment_invitation_preview(
            actor=request.user, questionnaire=questionnaire, selection=form.selection(), assignment=assignment
        )
    except DomainError as error:
        form_error_from_service(form, error)
        return _picker(request, questionnaire, form, assignment)
    settings = assessment_settings(request.organization)
    if assignment is None:
        opens_at, closes_at = form.cleaned_data["opens_at"], form.cleaned_data["closes_at"]
        send_at = sending_time(settings, opens_at)
    else:
        opens_at, closes_at = assignment.opens_at, assignment.closes_at
        send_at = assignment.send_at if assignment.send_at > timezone.now() else None
    return render(
        request,
        "assessments/invite_review.html",
        {
            "questionnaire": questionnaire,
            "assignment": assignment,
            "form": form,
            "summary": summary,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "send_at": send_at,
            "window_values": {
                "opens_at": timezone.localtime(opens_at).strftime(DATETIME_LOCAL),
                "closes_at": timezone.localtime(closes_at).strftime(DATETIME_LOCAL),
            },
            "selection": form.selection(),
            "once": secrets.token_urlsafe(16),
            "urls": _urls(questionnaire, assignment),
            "listed": 50,
        },
    )


def _once_key(request, token) -> str | None:
    """The cache key of a reviewed summary's one-time key (hashed: it is whatever the form sent)."""
    if not token:
        return None
    digest = hashlib.sha256(token[:200].encode("utf-8", "replace")).hexdigest()
    return f"assessment-invite:{request.user.pk}:{digest}"


def _confirm(request, questionnaire, assignment=None):
    key = _once_key(request, request.POST.get("once"))
    form = _form(request, assignment, data=request.POST)
    if key is None:
        messages.error(request, _("This summary has expired: review the invitation again."))
        return _picker(request, questionnaire, _redrawn_form(request, assignment), assignment)
    if not form.is_valid():
        return _picker(request, questionnaire, form, assignment)
    # One invitation per reviewed summary, however many times its button is pressed: the first
    # request takes the key (atomically, in the shared cache), the others are sent where it led.
    if not cache.add(key, "", ONCE_SECONDS):
        done = cache.get(key)
        if done:
            messages.info(request, _("These invitations were already made."))
            return redirect("assessments:assignment", questionnaire_id=questionnaire.pk, assignment_id=done)
        messages.info(request, _("These invitations are being made: look again in a moment."))
        return redirect(_urls(questionnaire, assignment)["back"])
    try:
        if assignment is None:
            assignment, summary = assessment_invite(
                actor=request.user,
                questionnaire=questionnaire,
                selection=form.selection(),
                opens_at=form.cleaned_data["opens_at"],
                closes_at=form.cleaned_data["closes_at"],
            )
        else:
            summary = assignment_add_people(actor=request.user, assignment=assignment, selection=form.selection())
    except DomainError as error:
        cache.delete(key)
        form_error_from_service(form, error)
        return _picker(request, questionnaire, form, assignment)
    cache.set(key, assignment.pk, ONCE_SECONDS)
    messages.success(
        request,
        ngettext("%(count)d person invited to “%(title)s”.", "%(count)d people invited to “%(title)s”.", summary.total)
        % {"count": summary.total, "title": questionnaire.title},
    )
    return redirect("assessments:assignment", questionnaire_id=questionnaire.pk, assignment_id=assignment.pk)


# A new assessment invitation ---------------------------------------------------------------------


@right_required(RIGHT)
def invite(request, questionnaire_id):
    """Pick whom to invite and the window (a POST redraws the page with its searches)."""
    return _pick(request, questionnaire_for_invite(request, questionnaire_id))


@right_required(RIGHT)
@require_POST
def invite_review(request, questionnaire_id):
    """The summary of what confirming will do: nothing is written or sent."""
    return _review(request, questionnaire_for_invite(request, questionnaire_id))


@right_required(RIGHT)
@require_POST
def invite_confirm(request, questionnaire_id):
    return _confirm(request, questionnaire_for_invite(request, questionnaire_id))


# More people in an assessment invitation ---------------------------------------------------------


def _open_assignment(request, questionnaire_id, assignment_id):
    """(assignment, None) while people can be added, else (None, the redirect saying why)."""
    assignment = assignment_for_invite(request, questionnaire_id, assignment_id)
    if not is_open_for_adding(assignment):
        messages.error(request, _("This invitation has closed: nobody can be added to it."))
        return None, redirect("assessments:assignment", questionnaire_id=questionnaire_id, assignment_id=assignment_id)
    return assignment, None


@right_required(RIGHT)
def assignment_add(request, questionnaire_id, assignment_id):
    assignment, closed = _open_assignment(request, questionnaire_id, assignment_id)
    return closed or _pick(request, assignment.questionnaire, assignment)


@right_required(RIGHT)
@require_POST
def assignment_add_review(request, questionnaire_id, assignment_id):
    assignment, closed = _open_assignment(request, questionnaire_id, assignment_id)
    return closed or _review(request, assignment.questionnaire, assignment)


@right_required(RIGHT)
@require_POST
def assignment_add_confirm(request, questionnaire_id, assignment_id):
    assignment, closed = _open_assignment(request, questionnaire_id, assignment_id)
    return closed or _confirm(request, assignment.questionnaire, assignment)
