"""FilterSets of the group pages. Every choice of a group is declared with a queryset scoped by the
request: django-filter's automatic foreign-key filters would list every tenant's rows."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from groups.models import Membership
from rights.mixins import groups_in_scope_of
from rights.names import Right


def search_people(queryset, words: str, prefix: str = "", region: str = "FR"):
    """People matching `words` the same way as the users list (`UserQuerySet.search`): names, email,
    mobile typed in any format and employee number, case- and accent-insensitive."""
    from accounts.search import search_terms

    # NUL cannot reach PostgreSQL (a 500); form fields refuse it, callers with raw input rely on this.
    for term in search_terms(words.replace("\x00", ""), region):
        queryset = queryset.filter(**{f"{prefix}search_text__contains": term})
    return queryset


def _region(request) -> str:
    organization = getattr(request, "organization", None)
    return organization.phone_region if organization else "FR"


def filtered(filterset):
    """The filtered queryset, or nothing at all when the filter is invalid (e.g. a tampered group id):
    the page then shows the form's error instead of silently ignoring it."""
    if filterset.is_bound and not filterset.is_valid():
        return filterset.queryset.none()
    return filterset.qs


class SearchInput(forms.TextInput):
    input_type = "search"


class GroupFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search", widget=SearchInput)

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


class MemberFilter(django_filters.FilterSet):
    """Filters a group's memberships by the member's status and by a search on the member."""

    status = django_filters.ChoiceFilter(
        label=_("Status"), field_name="user__status", choices=User.Status.choices, empty_label=_("Any status")
    )
    q = django_filters.CharFilter(label=_("Search"), method="search", widget=SearchInput)

    class Meta:
        model = Membership
        fields = []

    def search(self, queryset, name, value):
        return search_people(queryset, value, prefix="user__", region=_region(self.request))


class PeopleFilter(django_filters.FilterSet):
    """Filters users (the rows of the membership grid, the candidates to add to a group)."""

    q = django_filters.CharFilter(label=_("Search"), method="search", widget=SearchInput)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=User.Status.choices, empty_label=_("Any status"))
    group = django_filters.ModelChoiceFilter(
        label=_("In group"),
        queryset=groups_in_scope_of(Right.MANAGE_USERS),
        method="in_group",
        empty_label=_("Any group"),
    )

    class Meta:
        model = User
        fields = []

    def search(self, queryset, name, value):
        return search_people(queryset, value, region=_region(self.request))

    def in_group(self, queryset, name, value):
        members = Membership.objects.filter(organization_id=value.organization_id, group=value)
        return queryset.filter(pk__in=members.values("user_id"))
