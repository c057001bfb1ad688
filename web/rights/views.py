"""Rights pages: who holds what, rights profiles, one person's rights. Administrators only.

Thin like the group pages, whose building blocks (people search, scoped pickers, form errors)
they reuse; the URLs live in the groups namespace (web.groups.urls includes web.rights.urls).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from experquiz.errors import DomainError
from experquiz.web import form_error_from_service, posted
from rights import services as rights_services
from rights.mixins import right_required
from rights.models import ProfileAssignment
from rights.names import ADMINISTRATOR, Right
from rights.selectors import (
    actor_rights,
    groups_in_scope,
    personal_grants,
    profile_grants,
    profile_holders,
    profiles_for,
    rights_holders,
    users_in_scope,
)
from web.groups.filters import search_people
from web.groups.forms import PeopleSearchForm

from .forms import ProfileForm, UserRightsForm


@right_required(ADMINISTRATOR)
def rights_overview(request):
    """Rights profiles, the people holding any right, and a search to open anyone's rights page."""
    people = users_in_scope(request.user, ADMINISTRATOR)
    holders = people.filter(rights_holders(request.organization.pk)).prefetch_related("rights_profiles")
    search = PeopleSearchForm(request.GET)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    found = search_people(people.not_deleted(), query, region=request.organization.phone_region)[:20] if query else None
    profiles = profiles_for(request.user).annotate(holder_count=Count("assignments"))
    return render(
        request,
        "groups/rights_overview.html",
        {"holders": holders, "found": found, "q": query, "profiles": profiles},
    )


def _describe(scopes: dict, groups_by_id: dict) -> list:
    """[(right label, "all users" or the group names)] for display."""
    described = []
    for right in Right:
        scope = scopes.get(right.value)
        if scope:
            if scope.all_users:
                reach = _("all users")
            else:
                reach = ", ".join(sorted(str(groups_by_id[g]) for g in scope.group_ids if g in groups_by_id))
            described.append((right.label, reach))
    return described


@right_required(ADMINISTRATOR)
def user_rights(request, user_id):
    """An administrator sets a user's administrator flag, rights profiles and personal grants."""
    person = get_object_or_404(users_in_scope(request.user, ADMINISTRATOR), pk=user_id)
    form = UserRightsForm(posted(request), actor=request.user, user=person, personal=personal_grants(person))
    if request.method == "POST" and form.is_valid():
        try:
            rights_services.user_rights_set(
                user=person,
                actor=request.user,
                is_administrator=form.cleaned_data["is_administrator"],
                profiles=form.cleaned_data["profiles"],
                grants=form.cleaned_data["grants"],
            )
        except DomainError as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Rights of %(user)s saved.") % {"user": person})
            return redirect("groups:user_rights", user_id=person.pk)
    groups_by_id = {group.pk: group for group in groups_in_scope(request.user, ADMINISTRATOR)}
    return render(
        request,
        "groups/user_rights.html",
        {"person": person, "form": form, "effective": _describe(actor_rights(person), groups_by_id)},
    )


@right_required(ADMINISTRATOR)
def profile_create(request):
    form = ProfileForm(posted(request), actor=request.user, grants={})
    if request.method == "POST" and form.is_valid():
        try:
            profile = rights_services.profile_create(
                organization=request.organization, actor=request.user, **form.profile()
            )
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Rights profile “%(name)s” created.") % {"name": profile.name})
            return redirect("groups:rights")
    return render(request, "groups/rightsprofile_form.html", {"form": form})


@right_required(ADMINISTRATOR)
def profile_update(request, profile_id):
    """Edit a profile: the change applies at once to everyone holding it (listed on the page)."""
    profile = get_object_or_404(profiles_for(request.user), pk=profile_id)
    form = ProfileForm(
        posted(request),
        actor=request.user,
        grants=profile_grants(profile),
        initial={"name": profile.name, "description": profile.description},
    )
    if request.method == "POST" and form.is_valid():
        try:
            rights_services.profile_update(profile=profile, actor=request.user, **form.profile())
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Rights profile “%(name)s” saved.") % {"name": profile.name})
            return redirect("groups:rights")
    holders = profile_holders(actor=request.user, profile=profile)
    return render(request, "groups/rightsprofile_form.html", {"form": form, "profile": profile, "holders": holders})


@right_required(ADMINISTRATOR)
def profile_delete(request, profile_id):
    profile = get_object_or_404(profiles_for(request.user), pk=profile_id)
    if request.method == "POST":
        rights_services.profile_delete(profile=profile, actor=request.user)
        messages.success(request, _("Rights profile “%(name)s” deleted.") % {"name": profile.name})
        return redirect("groups:rights")
    holder_count = ProfileAssignment.objects.filter(organization_id=profile.organization_id, profile=profile).count()
    return render(
        request, "groups/rightsprofile_confirm_delete.html", {"profile": profile, "holder_count": holder_count}
    )
