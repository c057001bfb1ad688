"""Token pages (anyone with the link) and the invitations admin pages (holders of the invite right)."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.identity import Channel
from accounts.models import BulkJob
from experquiz.errors import DomainError
from experquiz.parsing import parse_ids
from experquiz.throttle import client_throttle_address, login_identity, password_reset_throttles, token_throttle
from experquiz.web import (
    confirmation,
    confirmed,
    message_from_service,
    page_of,
    query_string,
    speak_recipients_language,
    use_language,
)
from flows import bulk
from flows.invitations import invitations_invite_addresses, invitations_paste_preview
from flows.jobs import group_invitations_start
from invitations import selectors
from invitations.messages import recipient_language
from invitations.models import Invitation
from invitations.selectors import SendPreview
from invitations.services import acceptance, account, resets
from rights.mixins import right_required
from rights.names import Right
from rights.selectors import actor_scope, groups_in_scope, users_in_scope

from .filters import InvitationFilter
from .forms import (
    AcceptInvitationForm,
    ForgotPasswordForm,
    GroupResendForm,
    PasteAddressesForm,
    ResetPasswordForm,
)

Kind = Invitation.Kind
PAGE_SIZE = 50
BACKEND = "accounts.backends.LoginIdBackend"


# --- Token pages ----------------------------------------------------------------------------------


def token_page(view):
    """Public, rate-limited per client address, never cached.

    Only failed look-ups (unknown, used, revoked or expired links: `_problem_page`) count towards the
    limit, as failed logins do, so a whole office behind one address can open its valid links. Every
    request is counted first and decided on its count (simultaneous requests cannot all slip under the
    limit), then given back unless its look-up failed: once the answer is written (the WSGI server
    closes the response after sending it), so the visitor does not wait for that round trip.

    The token never leaves in a Referer header: the site-wide policy is same-origin. (`no-referrer`
    here would make browsers send `Origin: null` with the form, which CSRF protection refuses.)
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        throttle = token_throttle()
        ip = client_throttle_address(request)
        if not throttle.attempt(ip):
            return render(request, "invitations/token_throttled.jinja", status=429, using="jinja2")
        response = view(request, *args, **kwargs)
        if not getattr(response, "token_lookup_failed", False):
            # Run by `response.close()`, which the WSGI server (and Django's test client) calls when the
            # answer is sent. Until then the attempt stays counted: stricter, never looser.
            response._resource_closers.append(lambda: throttle.refund(ip))
        return response

    return login_not_required(never_cache(wrapped))


PROBLEM_STATUS = {"unknown": 404, "used": 410, "revoked": 410, "expired": 410}


def _problem_page(request, problem, *, kind):
    response = render(
        request,
        "invitations/token_problem.jinja",
        {"problem": problem, "kind": kind},
        status=PROBLEM_STATUS[problem],
        using="jinja2",
    )
    response.token_lookup_failed = True  # counted by `token_page`
    return response


def _usable_invitation(request, token, kind, *, page):
    """(the invitation behind a link, None) while it can be used, else (None, the page saying why)."""
    invitation = selectors.invitation_by_token(request.organization, token, [kind])
    problem = "unknown" if invitation is None else acceptance.invitation_problem(invitation)
    if problem:
        return None, _problem_page(request, problem, kind=page)
    return invitation, None


@token_page
def accept(request, token):
    """GET shows the form and changes nothing (mail scanners open links); POST finishes the account."""
    invitation, problem_page = _usable_invitation(request, token, Kind.ACCOUNT, page="account")
    if problem_page:
        return problem_page
    speak_recipients_language(request, recipient_language(invitation))
    form = AcceptInvitationForm(invitation.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = acceptance.invitation_accept(
                invitation=invitation,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                password=form.cleaned_data["new_password1"],
            )
        except acceptance.InvitationUnusable as exc:
            return _problem_page(request, exc.reason, kind="account")
        except ValidationError as exc:
            form.add_error("new_password2", exc)
        else:
            login(request, user, backend=BACKEND)
            messages.success(request, _("Welcome, %(name)s: your account is ready.") % {"name": user.first_name})
            return use_language(redirect("home"), user.language)
    return render(request, "invitations/accept.jinja", {"form": form, "invitation": invitation}, using="jinja2")


@token_page
def reset(request, token):
    """Choose a new password from a reset link; GET changes nothing."""
    invitation, problem_page = _usable_invitation(request, token, Kind.PASSWORD_RESET, page="reset")
    if problem_page:
        return problem_page
    speak_recipients_language(request, recipient_language(invitation))
    form = ResetPasswordForm(invitation.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = acceptance.password_reset_complete(
                invitation=invitation, password=form.cleaned_data["new_password1"]
            )
        except acceptance.InvitationUnusable as exc:
            return _problem_page(request, exc.reason, kind="reset")
        except ValidationError as exc:
            form.add_error("new_password2", exc)
        else:
            login(request, user, backend=BACKEND)
            messages.success(request, _("Your new password is set."))
            return redirect("home")
    return render(request, "invitations/reset.html", {"form": form})


@token_page
def password_forgot(request):
    """Ask for a reset link. The answer, and the work done to give it, are the same whether or not the
    account exists: the look-up happens in the queued task, never in this request."""
    form = ForgotPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login_id = form.cleaned_data["username"]
        per_id, per_ip = password_reset_throttles()
        # The same key as the login page's: one person, however the login ID is typed.
        identity = login_identity(request.organization, login_id)
        ip = client_throttle_address(request)
        # Both counted first, then decided (a list, not a short-circuit). Over the limit we still
        # answer "sent": the page must not tell an attacker anything.
        within = [per_id.attempt(identity), per_ip.attempt(ip)]
        if all(within):
            resets.password_reset_ask(organization=request.organization, login_id=login_id)
        return render(request, "invitations/password_forgot_sent.html")
    return render(request, "invitations/password_forgot.html", {"form": form})


# --- Admin pages ----------------------------------------------------------------------------------


def _back_url(request, default="invitations:list") -> str:
    target = request.POST.get("next") or request.GET.get("next")
    # Only a path of this site: `redirect()` would take any other word for a view name and fail (a 500).
    if (
        target
        and target.startswith("/")
        and "\x00" not in target
        and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    ):
        return target
    return reverse(default)


def _back(request, default="invitations:list"):
    return HttpResponseRedirect(_back_url(request, default))


def _confirm_sending(request, people, *, title, back=None):
    """The confirmation step before account invitations go to `people` (a scoped queryset)."""
    preview = selectors.account_invitations_preview(people)
    return confirmation(
        request,
        title=title,
        lines=[preview.summary()],
        button=ngettext("Send %(n)d invitation", "Send %(n)d invitations", preview.total) % {"n": preview.total},
        back=back or _back_url(request),
        people=people.order_by("last_name", "first_name", "pk")[:10],
        count=people.count(),
    )


def _report_send(request, result):
    if result.invited:
        messages.success(
            request,
            ngettext(
                "%(count)d invitation is on its way.", "%(count)d invitations are on their way.", len(result.invited)
            )
            % {"count": len(result.invited)},
        )
    if result.skipped:
        names = ", ".join(f"{user} ({reason})" for user, reason in result.skipped[:20])
        more = len(result.skipped) - 20
        messages.warning(
            request,
            ngettext("%(count)d skipped: %(names)s", "%(count)d skipped: %(names)s", len(result.skipped))
            % {"count": len(result.skipped), "names": names + (f" … (+{more})" if more > 0 else "")},
        )


@right_required(Right.INVITE)
def invitation_list(request):
    visible = selectors.invitations_visible_to(request.user)
    filters = InvitationFilter(request.GET, queryset=visible.select_related("user", "contact", "batch"))
    invitations = filters.qs
    page = page_of(request, invitations, PAGE_SIZE)
    batches = selectors.batches_with_counts(selectors.batches_visible_to(request.user))[:10]
    groups = groups_in_scope(request.user, Right.INVITE)
    return render(
        request,
        "invitations/invitation_list.html",
        {
            "filters": filters,
            "page": page,
            "batches": batches,
            "group_form": GroupResendForm(groups=groups),
            "query": query_string(request.GET, "page"),
        },
    )


def _invitation(request, pk):
    return get_object_or_404(selectors.invitations_visible_to(request.user), pk=pk)


@require_POST
@right_required(Right.INVITE)
def invitation_resend(request, pk):
    invitation = _invitation(request, pk)
    try:
        _report_send(request, account.invitation_resend(invitation=invitation, actor=request.user))
    except DomainError as exc:
        message_from_service(request, exc)
    return _back(request)


@require_POST
@right_required(Right.INVITE)
def invitation_revoke(request, pk):
    invitation = _invitation(request, pk)
    try:
        account.invitation_revoke(invitation=invitation, actor=request.user)
    except DomainError as exc:
        message_from_service(request, exc)
    else:
        messages.success(request, _("The link sent to %(address)s no longer works.") % {"address": invitation.address})
    return _back(request)


@require_POST
@right_required(Right.INVITE)
def group_resend(request):
    form = GroupResendForm(request.POST, groups=groups_in_scope(request.user, Right.INVITE))
    if not form.is_valid():
        messages.error(request, _("Choose one of your groups."))
        return _back(request)
    group = form.cleaned_data["group"]
    members = users_in_scope(request.user, Right.INVITE).filter(memberships__group=group).awaiting_invitation()
    if not confirmed(request) and members.exists():
        return _confirm_sending(
            request, members.distinct(), title=_("Invite again the people of %(group)s") % {"group": group}
        )
    if bulk.group_too_big_for_a_request(group):
        # Too many for one request: a worker invites them, and the batch page follows the sending.
        batch, _job = group_invitations_start(organization=request.organization, actor=request.user, group=group)
        messages.success(
            request,
            _("The invitations to %(group)s are being prepared and sent; this page follows them.") % {"group": group},
        )
        return redirect("invitations:batch", pk=batch.pk)
    result = account.invitations_resend_to_group(organization=request.organization, group=group, actor=request.user)
    if not result.invited:
        messages.info(request, _("Everyone in this group has already accepted."))
        return _back(request)
    _report_send(request, result)
    return redirect("invitations:batch", pk=result.batch.pk)


def _scoped_user(request, user_id):
    return get_object_or_404(users_in_scope(request.user, Right.INVITE), pk=user_id)


@require_POST
@right_required(Right.INVITE)
def user_send(request, user_id):
    """Send, or send again, the account invitation of one user (buttons on the user's page)."""
    people = users_in_scope(request.user, Right.INVITE).filter(pk=_scoped_user(request, user_id).pk)
    result = account.invitations_send(organization=request.organization, users=people, actor=request.user)
    _report_send(request, result)
    return _back(request)


@require_POST
@right_required(Right.INVITE)
def users_send(request):
    """Bulk "send invitations": POST `users` ids (several); ids out of scope are ignored."""
    ids = parse_ids(request.POST.getlist("users"))
    people = users_in_scope(request.user, Right.INVITE).filter(pk__in=ids)
    if not people.exists():
        messages.error(request, _("Select at least one user."))
        return _back(request)
    if not confirmed(request):
        return _confirm_sending(request, people, title=_("Send invitations"))
    result = account.invitations_send(organization=request.organization, users=people, actor=request.user)
    _report_send(request, result)
    if result.batch and not request.POST.get("next"):
        return redirect("invitations:batch", pk=result.batch.pk)
    return _back(request)


@require_POST
@right_required(Right.INVITE)
def user_revoke(request, user_id):
    user = _scoped_user(request, user_id)
    count = account.invitations_revoke_for_user(user=user, actor=request.user)
    messages.success(
        request,
        ngettext("%(count)d link revoked for %(user)s.", "%(count)d links revoked for %(user)s.", count)
        % {"count": count, "user": user},
    )
    return _back(request)


@require_POST
@right_required(Right.MANAGE_USERS)
def user_activate(request, user_id):
    """Activate a created or invited user with a temporary password sent over their preferred channel."""
    user = get_object_or_404(users_in_scope(request.user, Right.MANAGE_USERS), pk=user_id)
    if not confirmed(request):
        by_email = user.preferred_channel == Channel.EMAIL
        line = (
            _("%(user)s becomes active and receives a temporary password by e-mail at %(address)s.")
            if by_email
            else _("%(user)s becomes active and receives a temporary password by SMS at %(address)s.")
        )
        address = user.email if by_email else user.mobile_display
        return confirmation(
            request,
            title=_("Activate %(user)s with a temporary password") % {"user": user},
            lines=[line % {"user": user, "address": address}, _("Any link sent to them before stops working.")],
            button=_("Activate and send the password"),
            back=_back_url(request),
        )
    try:
        invitation = account.user_activate_with_temporary_password(user=user, actor=request.user)
    except DomainError as exc:
        message_from_service(request, exc)
    else:
        messages.success(
            request,
            _("%(user)s is active; a temporary password is on its way to %(address)s.")
            % {"user": user, "address": invitation.address},
        )
    return _back(request)


def _confirm_paste(request, new, preview):
    by_email = sum(1 for kind, _value in new if kind == "email")
    lines = [SendPreview(by_email=by_email, by_sms=len(new) - by_email).summary()]
    if preview.known:
        known = ", ".join(address for address, _user in preview.known)
        lines.append(
            ngettext(
                "%(n)d address already known, not invited again: %(addresses)s",
                "%(n)d addresses already known, not invited again: %(addresses)s",
                len(preview.known),
            )
            % {"n": len(preview.known), "addresses": known}
        )
    if preview.invalid:
        invalid = ", ".join(f"{text} ({reason})" for text, reason in preview.invalid)
        lines.append(
            ngettext(
                "%(n)d entry not understood: %(entries)s",
                "%(n)d entries not understood: %(entries)s",
                len(preview.invalid),
            )
            % {"n": len(preview.invalid), "entries": invalid}
        )
    return confirmation(
        request,
        title=_("Invite by email or mobile"),
        lines=lines,
        button=ngettext("Send %(n)d invitation", "Send %(n)d invitations", len(new)) % {"n": len(new)},
        back=reverse("invitations:paste"),
        people=[value for _kind, value in new[:10]],
        count=len(new),
    )


@right_required(Right.INVITE)
def paste(request):
    groups = groups_in_scope(request.user, Right.INVITE)
    scoped = not actor_scope(request.user, Right.INVITE).all_users
    form = PasteAddressesForm(
        request.POST or None, organization=request.organization, groups=groups, group_required=scoped
    )
    result = None
    known = []
    if request.method == "POST" and form.is_valid() and not confirmed(request):
        try:
            new, preview = invitations_paste_preview(
                organization=request.organization,
                actor=request.user,
                text=form.cleaned_data["addresses"],
                group=form.cleaned_data["group"],
            )
        except DomainError as exc:
            form.add_error("addresses", exc.message)
        else:
            if new:
                return _confirm_paste(request, new, preview)
    if request.method == "POST" and form.is_valid() and not form.errors:
        try:
            result = invitations_invite_addresses(
                organization=request.organization,
                actor=request.user,
                text=form.cleaned_data["addresses"],
                user_type=form.cleaned_data["user_type"],
                group=form.cleaned_data["group"],
            )
        except DomainError as exc:
            form.add_error("addresses", exc.message)
        else:
            if result.send and result.send.invited:
                _report_send(request, result.send)
            if result.send and result.send.batch and not result.known and not result.invalid:
                return redirect("invitations:batch", pk=result.send.batch.pk)
            form = PasteAddressesForm(organization=request.organization, groups=groups, group_required=scoped)
            # A known address is echoed as typed; whose it is only when that person is in scope.
            visible = set(
                users_in_scope(request.user, Right.INVITE)
                .filter(pk__in=[user.pk for _address, user in result.known])
                .values_list("pk", flat=True)
            )
            known = [(address, user if user.pk in visible else None) for address, user in result.known]
    return render(request, "invitations/paste.html", {"form": form, "result": result, "known": known})


def _batch(request, pk):
    return get_object_or_404(selectors.batches_visible_to(request.user), pk=pk)


def _progress(batch) -> dict:
    """The batch's delivery counts; while a worker is still inviting a group into it
    (flows.jobs.group_invitations_start), the people it has not reached yet count as pending."""
    progress = selectors.batch_progress(batch)
    job = BulkJob.objects.filter(
        organization_id=batch.organization_id,
        action="invite_group",
        params__batch_id=batch.pk,
        state=BulkJob.State.RUNNING,
    ).first()
    if job is not None:
        to_come = max(job.total - job.progress, 0)
        progress["pending"] += to_come
        progress["total"] += to_come
        done = progress["sent"] + progress["failed"]
        progress["percent"] = round(100 * done / progress["total"]) if progress["total"] else 0
        progress["done"] = False
    return progress


@right_required(Right.INVITE)
def batch_detail(request, pk):
    batch = _batch(request, pk)
    # Only the invitations of people still in the actor's scope: someone invited by this manager
    # who has since left their groups is out of reach (the counts stay the batch's).
    failed = (
        selectors.invitations_visible_to(request.user)
        .filter(batch=batch, delivery=Invitation.Delivery.FAILED)
        .select_related("user", "contact")[:200]
    )
    return render(
        request,
        "invitations/batch_detail.html",
        {
            "batch": batch,
            "progress": _progress(batch),
            "failed": failed,
            "packets": selectors.batch_packets(batch),
        },
    )


@right_required(Right.INVITE)
def batch_progress(request, pk):
    return JsonResponse(_progress(_batch(request, pk)))


@require_POST
@right_required(Right.INVITE)
def batch_retry(request, pk):
    batch = _batch(request, pk)
    count = account.batch_retry_failed(batch=batch, actor=request.user)
    messages.success(
        request,
        ngettext("%(count)d message queued again.", "%(count)d messages queued again.", count) % {"count": count},
    )
    return redirect("invitations:batch", pk=batch.pk)
