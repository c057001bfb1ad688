"""Group and membership pages. Thin: a selector reads (always scoped by the actor), a
service writes, a domain error becomes a form message. Objects out of the actor's scope and other
tenants' objects are fetched through the scoped querysets, so they are a 404, alike."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from experquiz.errors import DomainError
from experquiz.parsing import parse_ids
from experquiz.web import form_error_from_service, message_from_service, page_of, posted, query_string
from groups import services
from groups.models import Membership, UserGroup
from groups.selectors import groups_with_counts
from rights.mixins import right_required
from rights.names import ADMINISTRATOR, Right
from rights.selectors import (
    group_candidates,
    group_members,
    group_memberships,
    groups_in_scope,
    users_in_scope,
)

from .filters import GroupFilter, MemberFilter, PeopleFilter, filtered
from .forms import (
    GroupForm,
    MembershipGridForm,
    PickPeopleForm,
)

PAGE_SIZE = 50
GRID_PAGE_SIZE = 25
GRID_MAX_COLUMNS = 12


def _group(request, group_id, right=Right.MANAGE_USERS) -> UserGroup:
    return get_object_or_404(groups_in_scope(request.user, right), pk=group_id)


# Groups ------------------------------------------------------------------------------------------


@right_required(Right.MANAGE_USERS)
def group_list(request):
    """Groups in the actor's scope, with their active and total member counts."""
    filterset = GroupFilter(request.GET or None, queryset=groups_with_counts(groups_in_scope(request.user)))
    return render(
        request,
        "groups/usergroup_list.html",
        {
            "filter": filterset,
            "page": page_of(request, filtered(filterset), PAGE_SIZE),
            "query": query_string(request.GET, "page"),
        },
    )


@right_required(ADMINISTRATOR)
def group_create(request):
    form = GroupForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(organization=request.organization, actor=request.user, **form.cleaned_data)
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Group “%(name)s” created.") % {"name": group.name})
            return redirect("groups:detail", group_id=group.pk)
    return render(request, "groups/usergroup_form.html", {"form": form})


@right_required(ADMINISTRATOR)
def group_update(request, group_id):
    group = _group(request, group_id, ADMINISTRATOR)
    form = GroupForm(posted(request), initial={"name": group.name, "description": group.description})
    if request.method == "POST" and form.is_valid():
        try:
            services.group_update(group=group, actor=request.user, **form.cleaned_data)
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Group “%(name)s” saved.") % {"name": group.name})
            return redirect("groups:detail", group_id=group.pk)
    return render(request, "groups/usergroup_form.html", {"form": form, "group": group})


@right_required(ADMINISTRATOR)
def group_delete(request, group_id):
    group = _group(request, group_id, ADMINISTRATOR)
    if request.method == "POST":
        name = group.name
        try:
            services.group_delete(group=group, actor=request.user)
        except DomainError as error:
            message_from_service(request, error)
            return redirect("groups:detail", group_id=group.pk)
        messages.success(request, _("Group “%(name)s” deleted. Its members were not changed.") % {"name": name})
        return redirect("groups:list")
    counted = groups_with_counts(UserGroup.objects.filter(pk=group.pk)).get()
    return render(request, "groups/usergroup_confirm_delete.html", {"group": counted})


@right_required(Right.MANAGE_USERS)
def group_detail(request, group_id):
    """A group's members (filter by status, search), who added them and when."""
    group = _group(request, group_id)
    filterset = MemberFilter(
        request.GET or None, queryset=group_memberships(actor=request.user, group=group), request=request
    )
    counted = groups_with_counts(UserGroup.objects.filter(pk=group.pk)).get()
    return render(
        request,
        "groups/usergroup_detail.html",
        {
            "group": counted,
            "filter": filterset,
            "page": page_of(request, filtered(filterset), PAGE_SIZE),
            "query": query_string(request.GET, "page"),
        },
    )


@right_required(Right.MANAGE_USERS)
def group_add_members(request, group_id):
    """Search and pick people in the actor's scope to add to the group."""
    group = _group(request, group_id)
    candidates = group_candidates(actor=request.user, group=group)
    filterset = PeopleFilter(request.GET or None, queryset=candidates, request=request)
    form = PickPeopleForm(posted(request), queryset=candidates)
    if request.method == "POST" and form.is_valid():
        try:
            added = services.group_add_members(group=group, users=form.cleaned_data["users"], actor=request.user)
        except DomainError as error:
            form_error_from_service(form, error)
        else:
            messages.success(
                request,
                ngettext("%(count)d person added to %(group)s.", "%(count)d people added to %(group)s.", added)
                % {"count": added, "group": group.name},
            )
            return redirect("groups:detail", group_id=group.pk)
    return render(
        request,
        "groups/membership_add.html",
        {
            "group": group,
            "filter": filterset,
            "form": form,
            "page": page_of(request, filtered(filterset).select_related("user_type"), PAGE_SIZE),
            "query": query_string(request.GET, "page"),
        },
    )


@right_required(Right.MANAGE_USERS)
def group_remove_members(request, group_id):
    """Confirm, then remove the selected members (`?users=…`); the users themselves are untouched."""
    group = _group(request, group_id)
    members = group_members(actor=request.user, group=group)
    form = PickPeopleForm(request.POST if request.method == "POST" else request.GET, queryset=members)
    if not form.is_valid():
        if request.method == "GET" and "users" not in request.GET:
            messages.info(request, _("Select the members to remove."))
            return redirect("groups:detail", group_id=group.pk)
        return render(request, "groups/membership_remove.html", {"group": group, "form": form}, status=200)
    if request.method == "POST":
        try:
            removed = services.group_remove_members(group=group, users=form.cleaned_data["users"], actor=request.user)
        except DomainError as error:
            form_error_from_service(form, error)
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d person removed from %(group)s.", "%(count)d people removed from %(group)s.", removed
                )
                % {"count": removed, "group": group.name},
            )
            return redirect("groups:detail", group_id=group.pk)
    return render(
        request, "groups/membership_remove.html", {"group": group, "form": form, "chosen": form.cleaned_data["users"]}
    )


@right_required(Right.MANAGE_USERS)
def membership_grid(request):
    """Users × groups with checkboxes, filtered and paginated: many memberships in one save."""
    actor = request.user
    people = users_in_scope(actor).not_deleted()
    groups = groups_in_scope(actor)
    if request.method == "POST":
        form = MembershipGridForm(request.POST, users=people, groups=groups)
        if form.is_valid():
            try:
                added, removed = services.memberships_set(
                    actor=actor, users=form.cleaned_data["rows"], groups=form.cleaned_data["cols"],
                    pairs=form.cleaned_data["pairs"],
                )  # fmt: skip
            except DomainError as error:
                message_from_service(request, error)
            else:
                messages.success(
                    request,
                    _("Memberships saved: %(added)d added, %(removed)d removed.")
                    % {"added": added, "removed": removed},
                )
            return redirect(f"{reverse('groups:grid')}?{request.GET.urlencode()}")
        for error in form.errors.values():
            messages.error(request, " ".join(error))
    filterset = PeopleFilter(request.GET or None, queryset=people, request=request)
    column_ids = request.GET.getlist("cols")
    columns = groups.filter(pk__in=parse_ids(column_ids)) if column_ids else groups
    columns = list(columns[:GRID_MAX_COLUMNS])
    page = page_of(request, filtered(filterset), GRID_PAGE_SIZE)
    have = set(
        Membership.objects.filter(
            organization_id=request.organization.pk,
            user_id__in=[user.pk for user in page],
            group_id__in=[group.pk for group in columns],
        ).values_list("user_id", "group_id")
    )
    rows = [(user, [(group, (user.pk, group.pk) in have) for group in columns]) for user in page]
    return render(
        request,
        "groups/membership_grid.html",
        {
            "filter": filterset,
            "page": page,
            "rows": rows,
            "columns": columns,
            "all_groups": groups,
            "more_columns": groups.count() > len(columns),
            "query": query_string(request.GET, "page"),
            "full_query": request.GET.urlencode(),
        },
    )
