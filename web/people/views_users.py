"""The users pages of the admin area: list with filters, bulk actions, detail, create, edit, status."""

import functools
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from accounts.errors import LoginIdTaken
from accounts.models import BulkJob, Transition, User
from accounts.selectors import status_counts
from accounts.services import users_export_record
from audit.selectors import events_about
from experquiz.errors import DomainError
from experquiz.keyset import read_page
from experquiz.parsing import parse_ids
from experquiz.web import (
    confirmation,
    confirmed,
    form_error_from_service,
    message_from_service,
    per_page_choice,
    query_string,
)
from flows import bulk
from flows.filters import FILTERS_COUNTED, SORT_CHOICES, UserFilter
from flows.jobs import bulk_job_start, bulk_undo_start
from flows.people import user_create_with_groups, user_status_action, user_update_with_groups
from groups.selectors import people_for_list
from rights.mixins import RightRequiredMixin, check_right
from rights.names import Right
from rights.selectors import PeopleListReads, groups_in_scope, users_in_scope

from .people_forms import StatusChangeForm, UserForm
from .user_rows import COLUMNS as ROW_COLUMNS
from .user_rows import costly_columns, menu_options, person_rows, rows_markup, with_row_values, with_selected

Status = User.Status
PAGE_SIZES = [25, 50, 100, 200]
# Where in the list a page is (experquiz.keyset): dropped by every link that changes the list.
POSITION = ("page", "cursor")
# Up to this many matching users, or this share of the people the organisation lists, a page of a
# filtered list is found by collecting the matches and sorting them; beyond, by reading the sort's
# index in order, checking each user against the filters (see UserFilter.sort_small_result). Reading
# in order costs about (page size × listed ÷ matches) rows when the matches are spread through the
# order, far more when they sit together (a surname): ~2 s for a common surname at 1,000,000 people.
FILTER_FIRST_MAX = 5000
FILTER_FIRST_SHARE = 0.05
# The table's columns: (label, sort key or None, first direction when clicked: "" up, "-" down).
COLUMNS = [
    (gettext_lazy("Name"), "name", ""),
    (gettext_lazy("Email"), None, ""),
    (gettext_lazy("Mobile"), None, ""),
    (gettext_lazy("Type"), None, ""),
    (gettext_lazy("Status"), "status", ""),
    (gettext_lazy("Groups"), None, ""),
    (gettext_lazy("Last login"), "last_login", "-"),
    (gettext_lazy("Created"), "created", "-"),
]
# The filter form's labels, as the form's fields have them.
FILTER_LABELS = {name: UserFilter.base_filters[name].label for name in ("q", "group", "type", "sort")}


@functools.cache
def _list_links(prefix: str, urlconf) -> dict[str, str]:
    return {
        "create": reverse("accounts:user_create", urlconf),
        "import": reverse("accounts:user_import", urlconf),
        "export_csv": reverse("accounts:user_export", urlconf, args=["csv"]),
        "export_xlsx": reverse("accounts:user_export", urlconf, args=["xlsx"]),
        "bulk": reverse("accounts:user_bulk", urlconf),
    }


def list_links() -> dict[str, str]:
    """The addresses the list's buttons lead to: reversed once per script prefix and URLconf, not per request."""
    return _list_links(get_script_prefix(), get_urlconf())


def filtered_users(request, params, right=Right.MANAGE_USERS, reads=None) -> UserFilter:
    """The FilterSet of the people list over the users `request.user` may act on with `right`; its
    menus read by `reads` (a PeopleListReads) when given."""
    return UserFilter(params, queryset=users_in_scope(request.user, right), actor=request.user, reads=reads)


def list_order(filterset: UserFilter, total: int, listed: int | None = None):
    """The list's order, written the way PostgreSQL reads fastest for `total` matches out of the
    `listed` people of the organisation (None: unknown)."""
    small = total <= FILTER_FIRST_MAX or (listed is not None and total <= listed * FILTER_FIRST_SHARE)
    return filterset.order(small_result=small and filterset.is_filtered())


class UserListView(RightRequiredMixin, View):
    required_right = Right.MANAGE_USERS

    def get(self, request):
        # The menus, and the kept counts when no filter is asked for: one round trip for an
        # administrator (PeopleListReads). A filtered list counts its own (status_counts, below).
        filtered = any(request.GET.get(key) for key in FILTERS_COUNTED)
        reads = PeopleListReads(request.user, Right.MANAGE_USERS, with_counts=not filtered)
        filterset = filtered_users(request, request.GET, reads=reads)
        if not filterset.is_valid():
            messages.warning(request, _("Some filters were not understood and were ignored."))
        data = filterset.form.cleaned_data
        # The tabs count the list with the other filters. Without any, over a whole organisation,
        # they are the counts the database keeps at every write (exact, no cache); otherwise they are
        # counted, and cached until the organisation's people change, with the one known word that
        # holds the search's word, if any: the page then reads that word's people in name order.
        counts = None if filterset.is_filtered() else reads.status_counts()
        listed = None
        if counts is None:
            extra = {key: request.GET.get(key, "") for key in FILTERS_COUNTED if data.get(key)}
            counts, listed, filterset.search_word = status_counts(
                filterset.without_status,
                organization=request.organization,
                cache_key=f"{request.user.pk}:{urlencode(sorted(extra.items()))}",
                word_term=filterset.word_term(),
            )
        not_deleted = sum(n for status, n in counts.items() if status != Status.DELETED)
        current = data.get("status") or ""
        tabs = [("", _("All"), not_deleted)] + [(s.value, s.label, counts.get(s.value, 0)) for s in Status]
        tabs = [
            {"value": value, "label": label, "count": n, "query": query_string(request.GET, *POSITION, status=value)}
            for value, label, n in tabs
        ]
        total = counts.get(current, 0) if current else not_deleted
        sort = data.get("sort") or "name"
        columns = []
        for label, key, first in COLUMNS:
            column = {"label": label, "query": None, "sorted": None}
            if key:
                # A click sorts by the column; a second click reverses the order.
                default = first + key
                reverse_ = default[1:] if default.startswith("-") else f"-{default}"
                column["query"] = query_string(request.GET, *POSITION, sort=reverse_ if sort == default else default)
                column["sorted"] = {key: "ascending", f"-{key}": "descending"}.get(sort)
            columns.append(column)
        per_page = per_page_choice(request, PAGE_SIZES)
        # The count is the tab's: no COUNT(*) per page. Pages are read from the cursor of the page
        # their link was on, so a deep page costs what the first one does (experquiz.keyset).
        page = read_page(
            with_row_values(filterset.qs),
            order=list_order(filterset, total, listed),
            columns=ROW_COLUMNS,
            per_page=per_page,
            count=total,
            number=request.GET.get("page"),
            cursor=request.GET.get("cursor", ""),
            costly_columns=costly_columns(),
        )
        # The menus' rows are the ones the filters were checked against (one query each, not two);
        # every menu and the rows' group badges show only the groups the viewer may see.
        group_choices = filterset.form.fields["group"].choices_list()
        type_choices = filterset.form.fields["type"].choices_list()
        users = person_rows(page.object_list, group_names=dict(group_choices), type_names=dict(type_choices))
        row_labels = {
            "select": _("Select %(name)s"),
            "admin": _("admin"),
            "edit": _("Edit"),
            "empty": _("No user matches these filters."),
        }
        selected_group = data["group"].pk if data.get("group") else None
        group_options = menu_options(group_choices)
        # Jinja2 on base.jinja (web/jinja_env.py): every value below is ready to print, the texts
        # with a number chosen here (ngettext) as Django's {% blocktranslate count %} chose them.
        return render(
            request,
            "accounts/user_list.jinja",
            {
                "page": page,
                "users": users,
                "rows": rows_markup(users, row_labels),
                "texts": {
                    "apply_to_all": ngettext(
                        "Apply to the %(counter)s user matching this filter, not just the checked rows",
                        "Apply to all %(counter)s users matching this filter, not just the checked rows",
                        total,
                    )
                    % {"counter": total},
                    "count": ngettext("%(counter)s user", "%(counter)s users", total) % {"counter": total},
                    "page_of": _("page %(number)s of %(pages)s") % {"number": page.number, "pages": page.num_pages},
                    "of_pages": _("of %(pages)s") % {"pages": page.num_pages},
                },
                "links": list_links(),
                "tabs": tabs,
                "columns": columns,
                "current_status": current,
                "total": total,
                # The filter form as the visitor sent it (Django's BoundField.value(): the raw value).
                "filter_labels": FILTER_LABELS,
                "filter_values": {"q": request.GET.get("q") or "", "sort": request.GET.get("sort")},
                "sort_choices": SORT_CHOICES,
                "page_sizes": PAGE_SIZES,
                "per_page": per_page,
                "query_without_page": query_string(request.GET, *POSITION),
                "pagination": page.links(request.GET),
                # The "go to page" box keeps the list as it is.
                "list_fields": [
                    (name, value) for name in request.GET if name not in POSITION for value in request.GET.getlist(name)
                ],
                "actions": bulk.actions_for(request.user),
                # The two menus of every group (filter and bulk action): one string join for both; a
                # template loop over 250 groups cost more than the page's rows.
                "group_options_filter": with_selected(group_options, selected_group),
                "group_options": group_options,
                "type_choices": type_choices,
                "selected_type": data["type"].pk if data.get("type") else None,
            },
            using="jinja2",
        )


class UserBulkView(RightRequiredMixin, View):
    """Run one registered bulk action on the checked users or on every user matching the filters."""

    required_right = Right.MANAGE_USERS

    def post(self, request):
        filters = request.POST.get("filters", "")
        back = reverse("accounts:user_list") + (f"?{filters}" if filters else "")
        action = bulk.REGISTRY.get(request.POST.get("action", ""))
        if action is None:
            messages.error(request, _("Choose an action."))
            return redirect(back)
        check_right(request, action.right)
        if request.POST.get("all_matching"):
            filterset = filtered_users(request, QueryDict(filters), action.right)
            if not filterset.is_valid():
                # An ignored filter would widen "all matching" to people the admin did not mean.
                messages.error(request, _("The filters are not valid any more; nothing was changed."))
                return redirect(reverse("accounts:user_list"))
            users = filterset.qs
        else:
            ids = parse_ids(request.POST.getlist("ids"))
            users = (
                users_in_scope(request.user, action.right).filter(pk__in=ids).order_by("last_name", "first_name", "pk")
            )
        count = users.count()
        if count == 0:
            messages.error(request, _("Select at least one user."))
            return redirect(back)
        if count > bulk.MAX_USERS:
            messages.error(
                request,
                _("%(count)s users selected: an action changes at most %(max)s at a time. Narrow the filter.")
                % {"count": count, "max": bulk.MAX_USERS},
            )
            return redirect(back)
        params = {}
        if action.needs_group:
            group_id = request.POST.get("group", "")
            group = groups_in_scope(request.user, action.right).filter(pk__in=parse_ids([group_id])).first()
            if group is None:
                messages.error(request, _("Choose the group for “%(action)s”.") % {"action": action.label})
                return redirect(back)
            params["group"] = group
        if count > bulk.SYNC_MAX and not request.POST.get("all_matching"):
            # The background job selects by the filters: it must never widen a list of ticked users.
            messages.error(
                request, _("Tick at most %(max)s users, or apply to all matching users.") % {"max": bulk.SYNC_MAX}
            )
            return redirect(back)
        if action.field:
            # A "set" action asks for its value first, on a page of its own, then confirms as the others.
            posted = request.POST.get("value", "")
            params["value"] = bulk.field_value(action, request.organization, posted)
            if params["value"] is None:
                return self.choose_value(request, action, count, back, error=bool(posted))
        # Confirmed first: what cannot be undone, sends messages, or acts on more than one person.
        sends = action.name == "invite" or (action.transition is not None and action.transition.temporary_password)
        if (action.confirm or sends or count > 1) and not request.POST.get("confirmed"):
            return render(
                request,
                "accounts/user_bulk_confirm.html",
                {
                    "action": action,
                    "lines": bulk.preview(action, users, params, organization=request.organization),
                    "count": count,
                    "sample": list(users[:10]),
                    "group": params.get("group"),
                    "value": params.get("value"),
                    "post": request.POST,
                    "ids": request.POST.getlist("ids"),
                    "back": back,
                },
            )
        if count > bulk.SYNC_MAX or action.undoable:
            # Too many for one request: a worker runs it and the job page follows its progress. An
            # undoable action runs as a job at any size: the job keeps what it changed, for its undo.
            job = bulk_job_start(
                organization=request.organization,
                actor=request.user,
                action=action,
                filters=filters,
                group=params.get("group"),
                total=count,
                params={"value": params["value"]} if action.field else None,
                ids=None if request.POST.get("all_matching") else list(users.values_list("pk", flat=True)),
                background=count > bulk.SYNC_MAX,
            )
            if count > bulk.SYNC_MAX:
                return redirect("accounts:user_bulk_job", pk=job.pk)
            messages.add_message(
                request, messages.constants.DEFAULT_LEVELS[(job.level or "info").upper()], job_result(request, job)
            )
            return redirect(back)
        outcome = bulk.run(action, users=users, actor=request.user, params=params)
        message = outcome.summary()
        if outcome.link:
            message = format_html('{} <a href="{}">{}</a>', message, outcome.link, _("Follow the sending"))
        messages.add_message(request, messages.constants.DEFAULT_LEVELS[outcome.level.upper()], message)
        return redirect(back)

    def choose_value(self, request, action, count, back, *, error):
        """The page asking which value a "set" action sets, posting the same selection back."""
        choices = bulk.field_choices(action, request.organization)
        if not choices:
            messages.error(request, _("There is no user type to choose yet: add them under “User types” first."))
            return redirect(back)
        fields = [
            (name, value)
            for name in request.POST
            if name not in ("csrfmiddlewaretoken", "confirmed", "value")
            for value in request.POST.getlist(name)
        ]
        return render(
            request,
            "accounts/user_bulk_value.html",
            {
                "action": action,
                "count": count,
                "choices": choices,
                "label": VALUE_LABELS[action.field],
                "error": _("Choose one of the values offered.") if error else "",
                "fields": fields,
                "back": back,
            },
        )


VALUE_LABELS = {
    "user_type": gettext_lazy("New type"),
    "language": gettext_lazy("New language"),
    "preferred_channel": gettext_lazy("New preferred channel"),
}


def job_result(request, job) -> str:
    """What a bulk job did, with the button that undoes it when it can be undone."""
    message = job.summary
    if job.link:
        message = format_html('{} <a href="{}">{}</a>', message, job.link, _("Follow the sending"))
    if not bulk.undo_refusal(job):
        button = render_to_string("accounts/_bulk_undo_button.html", {"job": job}, request=request)
        message = format_html("{} {}", message, button)
    return message


class UserBulkJobView(RightRequiredMixin, View):
    """A bulk action running in the background: progress while it runs, then what happened."""

    required_right = Right.MANAGE_USERS

    def get(self, request, pk):
        job = get_object_or_404(BulkJob.objects.for_org(request.organization).filter(created_by=request.user), pk=pk)
        if request.headers.get("Accept") == "application/json":
            return JsonResponse(
                {"state": job.state, "progress": job.progress, "total": job.total, "percent": job.percent}
            )
        action = bulk.REGISTRY.get(job.action)
        back = reverse("accounts:user_list") + (f"?{job.filters}" if job.filters else "")
        undone_by = BulkJob.objects.filter(undo_of=job).first()
        return render(
            request,
            "accounts/user_bulk_job.html",
            {
                "job": job,
                "label": action.label if action else job.action,
                "back": back,
                "can_undo": not bulk.undo_refusal(job),
                "undone_by": undone_by,
                "undoes": bulk.describe(job.undo_of) if job.undo_of_id else "",
            },
        )


class UserBulkUndoView(RightRequiredMixin, View):
    """Undo a bulk action (a POST): the first shows what will be put back and who is skipped, the
    second, confirmed, does it."""

    required_right = Right.MANAGE_USERS

    def post(self, request, pk):
        job = get_object_or_404(
            BulkJob.objects.for_org(request.organization)
            .filter(created_by=request.user)
            .select_related("group", "organization"),
            pk=pk,
        )
        page = reverse("accounts:user_bulk_job", args=[job.pk])
        refusal = bulk.undo_refusal(job)
        if refusal:
            messages.error(request, refusal)
            return redirect(page)
        if not confirmed(request):
            lines, people, count = bulk.undo_preview(job, request.user)
            return confirmation(
                request,
                title=_("Undo “%(what)s”?") % {"what": bulk.describe(job)},
                lines=lines,
                button=_("Yes, undo"),
                back=page,
                people=people[:10],
                count=count,
            )
        try:
            undo = bulk_undo_start(job=job, actor=request.user)
        except DomainError as error:
            message_from_service(request, error)
            return redirect(page)
        if undo.state == BulkJob.State.RUNNING:
            return redirect("accounts:user_bulk_job", pk=undo.pk)
        messages.add_message(request, messages.constants.DEFAULT_LEVELS[(undo.level or "info").upper()], undo.summary)
        return redirect(reverse("accounts:user_list") + (f"?{job.filters}" if job.filters else ""))


def detail_actions(status) -> list[tuple[str, str, bool]]:
    """The status actions a person's page offers from `status`, as (target, label, needs confirmation):
    the administrators' moves of the lifecycle table (User.LIFECYCLE). Sending an invitation (→ invited)
    belongs to the invitations buttons the page includes, accepting one to the person."""
    return [(t.to, t.label, t.confirm) for t in User.transitions_from(status, by=Transition.ADMINISTRATOR)]


class UserDetailView(RightRequiredMixin, View):
    required_right = Right.MANAGE_USERS

    def get(self, request, pk):
        from invitations.selectors import latest_account_invitation

        person = get_object_or_404(self.scoped_users().select_related("user_type", "created_by"), pk=pk)
        # Invitation buttons only for someone the viewer may invite, not merely anyone.
        can_invite = users_in_scope(request.user, Right.INVITE).filter(pk=person.pk).exists()
        may_see_results = users_in_scope(request.user, Right.VIEW_RESULTS).filter(pk=person.pk).exists()
        history = list(person.status_changes.select_related("actor"))
        # Who created or changed this person is named only to a viewer who may see them: a
        # group-scoped manager must not learn the names of people out of their scope (shown as "—").
        named = {person.created_by_id, *(change.actor_id for change in history)} - {None, request.user.pk}
        visible = set(self.scoped_users().filter(pk__in=named).values_list("pk", flat=True)) | {request.user.pk}
        if person.created_by_id not in visible:
            person.created_by = None
        for change in history:
            if change.actor_id not in visible:
                change.actor = None
        return render(
            request,
            "accounts/user_detail.html",
            {
                "person": person,
                "history": history,
                # Only the groups the viewer may see: a manager scoped to some groups does not learn
                # the names of the others (administrators and organisation-wide holders see all).
                "groups": person.user_groups.filter(pk__in=self.scoped_groups()).order_by("name"),
                "actions": detail_actions(person.status),
                "can_invite": can_invite,
                "may_see_results": may_see_results,
                "latest_invitation": latest_account_invitation(person) if can_invite else None,
                # What was done to this person, by whom: administrators only (it names anyone).
                "activity": list(events_about(person)) if request.user.is_administrator else None,
            },
        )


class UserStatusView(RightRequiredMixin, View):
    """Move one user to the status in the URL: GET asks for confirmation, POST does it."""

    required_right = Right.MANAGE_USERS

    def dispatch(self, request, *args, **kwargs):
        # Only where an administrator's move of the lifecycle leads: invited is reached only by
        # sending an invitation (the invitations buttons), never set by hand.
        if kwargs["to"] not in {t.to for t in User.transitions_from(None, by=Transition.ADMINISTRATOR)}:
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def get_person(self, pk):
        return get_object_or_404(self.scoped_users(), pk=pk)

    def render_confirm(self, person, to, form):
        label = next((label for target, label, _c in detail_actions(person.status) if target == to), None)
        return render(
            self.request,
            "accounts/user_status_confirm.html",
            {"person": person, "to": Status(to), "label": label, "form": form},
        )

    def get(self, request, pk, to):
        return self.render_confirm(self.get_person(pk), to, StatusChangeForm())

    def post(self, request, pk, to):
        person = self.get_person(pk)
        # The reason goes through a form like every typed text: a NUL byte or an over-long reason is
        # an error next to the field, not a database error.
        form = StatusChangeForm(request.POST)
        if not form.is_valid():
            return self.render_confirm(person, to, form)
        try:
            invitation = user_status_action(user=person, to=to, actor=request.user, reason=form.cleaned_data["reason"])
            if invitation is not None:
                done = _("%(user)s is active; a temporary password is on its way to %(address)s.") % {
                    "user": person,
                    "address": invitation.address,
                }
            else:
                done = _("%(user)s is now %(status)s.") % {"user": person, "status": Status(to).label.lower()}
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
        return redirect("accounts:user_detail", pk=person.pk)


def visible_login_id_holder(actor, existing):
    """The user holding a clashing login ID if `actor` may see them (manage_users scope), else None.

    A clash says only that the ID is taken; naming whose it is would tell a group-scoped manager
    who exists outside their groups (or which address an administrator uses).
    """
    if existing is None:
        return None
    return users_in_scope(actor, Right.MANAGE_USERS).filter(pk=existing.pk).first()


def user_link(user):
    return format_html('<a href="{}">{}</a>', reverse("accounts:user_detail", args=[user.pk]), user)


def person_form_error(request, form, error):
    """Show a service refusal on a person's form; a clash links to the holder only if the viewer may
    see them (experquiz.web.form_error_from_service shows every other refusal)."""
    if not isinstance(error, LoginIdTaken):
        form_error_from_service(form, error)
        return
    holder = visible_login_id_holder(request.user, error.existing)
    if holder is not None:
        message = {
            "email": _("This email address already belongs to {}."),
            "mobile": _("This mobile number already belongs to {}."),
            "employee_number": _("This employee number already belongs to {}."),
        }[error.field]
        form.add_error(error.field, format_html(message, user_link(holder)))
    else:
        message = {
            "email": _("This email address is already taken."),
            "mobile": _("This mobile number is already taken."),
            "employee_number": _("This employee number is already taken."),
        }[error.field]
        form.add_error(error.field, message)


class UserCreateView(RightRequiredMixin, View):
    required_right = Right.MANAGE_USERS

    def get(self, request):
        return render(request, "accounts/user_form.html", {"form": UserForm(request=request)})

    def post(self, request):
        form = UserForm(request.POST, request=request)
        if form.is_valid():
            try:
                person = user_create_with_groups(
                    organization=request.organization, actor=request.user, **form.cleaned_data
                )
            except (DomainError, ValidationError) as error:
                person_form_error(request, form, error)
            else:
                messages.success(request, _("%(user)s was created.") % {"user": person})
                return redirect("accounts:user_detail", pk=person.pk)
        return render(request, "accounts/user_form.html", {"form": form})


class UserEditView(RightRequiredMixin, View):
    required_right = Right.MANAGE_USERS

    def get_person(self, pk):
        return get_object_or_404(self.scoped_users(), pk=pk)

    def get(self, request, pk):
        person = self.get_person(pk)
        form = UserForm(initial=UserForm.initial_for(person), request=request)
        return render(request, "accounts/user_form.html", {"form": form, "person": person})

    def post(self, request, pk):
        person = self.get_person(pk)
        form = UserForm(request.POST, request=request)
        if form.is_valid():
            try:
                person = user_update_with_groups(
                    user=person,
                    actor=request.user,
                    manageable_groups=list(form.fields["groups"].queryset),
                    **form.cleaned_data,
                )
            except (DomainError, ValidationError) as error:
                person_form_error(request, form, error)
            else:
                messages.success(request, _("%(user)s was saved.") % {"user": person})
                return redirect("accounts:user_detail", pk=person.pk)
        return render(request, "accounts/user_form.html", {"form": form, "person": person})


class UserExportView(RightRequiredMixin, View):
    """The current filtered list (all pages) as CSV or Excel."""

    required_right = Right.MANAGE_USERS

    def get(self, request, fmt):
        from .export import csv_response, user_header, user_rows, xlsx_response

        filterset = filtered_users(request, request.GET)
        if not filterset.is_valid():
            messages.error(request, _("Some filters were not understood: fix them before exporting."))
            return redirect(reverse("accounts:user_list") + "?" + request.GET.urlencode())
        users_export_record(
            organization=request.organization,
            actor=request.user,
            fmt="xlsx" if fmt == "xlsx" else "csv",
            filters={key: value for key, value in request.GET.items() if value and key in filterset.filters},
            rows=filterset.qs.count(),
        )
        rows = user_rows(people_for_list(filterset.qs, groups=self.scoped_groups()))
        filename = f"users-{request.organization.slug}"
        if fmt == "xlsx":
            return xlsx_response(user_header(), rows, filename)
        return csv_response(user_header(), rows, filename)
