"""The one-time assessment link, `/a/<token>/`, on a phone first (DESIGN §7–8).

GET shows the landing page (organisation, questionnaire, instructions, number of questions, time limit,
window) and changes nothing: mail scanners open links. The page's own script posts once to note that it
was seen (`opened`). POST starts the attempt, or resumes it.

Who may use a link: a user's link asks them to sign in as themselves (a forwarded link lets nobody
else in, and says nothing to them), then their attempt is taken in their own space (`/me/attempts/…`).
A contact's link is the contact's credential: their attempt's pages live under the link
(`/a/<token>/q/<n>/`, review, submit) and also need the browser session in which they pressed Start
or Resume (its hash of the token), so a page address copied elsewhere shows nothing; opening the link
again and pressing Resume carries on from another device.

Unknown, revoked and expired links answer like the account links (the same pages, status codes and
per-address limit on failed look-ups: `token_page`); an expired assessment link says it is too late.
"""

import hmac

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from assessments.errors import LinkUnusable
from assessments.invited import assignee_mark_opened, invited_attempt_start
from assessments.selectors import assessment_link_by_token, is_time_up, link_problem
from experquiz.errors import DomainError
from web.invitations.views import token_page

from .views_take import Route, question_page, resume_url, review_page, submit, submit_time_up

SESSION_KEY = "assessment_links"  # hashes of the links this browser session started or resumed
SESSION_LINKS = 10
# Like the account links': unknown 404, used up or no longer usable 410.
STATUS = {
    "unknown": 404,
    "revoked": 410,
    "completed": 410,
    "removed": 410,
    "too_late": 410,
    "not_open": 200,
    "unpublished": 200,
}


class Link:
    """A link found and its holder checked: the invitation, the place, the attempt (if any) and the
    person taking it (the signed-in user, or the contact)."""

    def __init__(self, request, invitation, assignee):
        self.token_hash = invitation.token_hash
        self.invitation = invitation
        self.assignee = assignee
        self.assignment = assignee.assignment
        self.questionnaire = self.assignment.questionnaire
        self.attempt = getattr(assignee, "attempt", None)
        self.actor = request.user if invitation.user_id else assignee.contact

    @property
    def problem(self):
        return link_problem(self.invitation, self.assignee, self.attempt)


def _failed(response):
    response.token_lookup_failed = True  # counted by `token_page`, like a wrong account link
    return response


def _problem_page(request, problem: str, status: int):
    """The link pages' own problem page ("unknown", "revoked"), counted as a failed look-up."""
    return _failed(
        render(
            request,
            "invitations/token_problem.jinja",
            {"problem": problem, "kind": "assessment"},
            status=status,
            using="jinja2",
        )
    )


def _find(request, token):
    """(Link, None) for a link its holder may use, or (None, the response to give instead)."""
    invitation, assignee = assessment_link_by_token(request.organization, token)
    if assignee is None:
        return None, _problem_page(request, "unknown", 404)
    if invitation.user_id:
        if not request.user.is_authenticated:
            return None, redirect_to_login(request.get_full_path())
        if request.user.pk != invitation.user_id:
            # Signed in as someone else (a forwarded link): nothing about the assessment is shown.
            return None, render(request, "assessments/link_someone_else.html", status=403)
    return Link(request, invitation, assignee), None


def _state_page(request, link, problem):
    if problem == "revoked":
        return _problem_page(request, "revoked", 410)
    if problem == "completed" and link.attempt is not None and _bound(request, link):
        # The person who just submitted, in the browser they took it in: their score.
        return render(request, "assessments/take_result.html", {"attempt": link.attempt, "home": ""})
    response = render(
        request,
        "assessments/link_landing.jinja",
        _context(link, problem),
        status=STATUS.get(problem, 200),
        using="jinja2",
    )
    return _failed(response) if response.status_code >= 400 else response


def _context(link, problem):
    minutes = link.questionnaire.time_limit_minutes
    # Jinja2 templates choose no plural (web/jinja_env.py): the view writes the time limit.
    time_limit = ngettext("%(counter)s minute", "%(counter)s minutes", minutes) % {"counter": minutes}
    return {
        "link": link,
        "problem": problem,
        "assignment": link.assignment,
        "questionnaire": link.questionnaire,
        "question_count": link.questionnaire.question_count,
        "time_limit": time_limit if minutes else _("none"),
        "attempt": link.attempt,
        "time_zone": timezone.get_current_timezone_name(),
    }


def _bound(request, link) -> bool:
    """Whether this browser session started or resumed the link (contacts' pages need it)."""
    return any(hmac.compare_digest(known, link.token_hash) for known in request.session.get(SESSION_KEY, []))


def _bind(request, link) -> None:
    known = [known for known in request.session.get(SESSION_KEY, []) if known != link.token_hash]
    request.session[SESSION_KEY] = [*known, link.token_hash][-SESSION_LINKS:]


@token_page
def link_page(request, token):
    """GET: the landing page (or why the link cannot be used now); POST: start, or resume."""
    link, response = _find(request, token)
    if response:
        return response
    if request.method in ("GET", "HEAD"):
        return _state_page(request, link, link.problem)
    if request.method != "POST":
        return HttpResponse(status=405)
    try:
        attempt = invited_attempt_start(invitation=link.invitation, actor=link.actor)
    except LinkUnusable as refusal:
        return _state_page(request, link, refusal.reason)
    except DomainError:
        raise Http404 from None
    route = Route(link.actor, "" if link.invitation.user_id else token)
    if not link.invitation.user_id:
        _bind(request, link)
    if is_time_up(attempt):
        # The window closed (or the time limit passed) while it was under way: submitted as it stands.
        return submit_time_up(request, route, attempt)
    return redirect(resume_url(route, attempt))


@token_page
@require_POST
def opened(request, token):
    """The landing page's script: the person saw their link in a browser (once; answers 204)."""
    link, response = _find(request, token)
    if response:
        return response if response.status_code != 302 else HttpResponse(status=403)
    assignee_mark_opened(invitation=link.invitation, actor=link.actor)
    return HttpResponse(status=204)


def _contact_attempt(request, token):
    """(Route, attempt) of a contact's attempt under way through this link in this browser session,
    or (None, the response: the landing page, where Resume binds the session)."""
    link, response = _find(request, token)
    if response:
        return None, response
    if link.invitation.user_id:
        # A user's attempt lives in their own space.
        if link.attempt is None:
            return None, redirect("assessment_link", token)
        return None, redirect("assessments:take", attempt_id=link.attempt.pk)
    if link.attempt is None or not _bound(request, link):
        return None, redirect("assessment_link", token)
    if link.attempt.is_submitted:
        return None, redirect("assessment_link", token)
    return Route(link.actor, token), link.attempt


@token_page
def question(request, token, number):
    route, attempt = _contact_attempt(request, token)
    if route is None:
        return attempt
    return question_page(request, route, attempt, number)


@token_page
def review(request, token):
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    route, attempt = _contact_attempt(request, token)
    if route is None:
        return attempt
    return review_page(request, route, attempt)


@token_page
@require_POST
def submit_answers(request, token):
    route, attempt = _contact_attempt(request, token)
    if route is None:
        return attempt
    return submit(request, route, attempt)
