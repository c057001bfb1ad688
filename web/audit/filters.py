"""Filters of the audit trail page. Every choice of a person comes from a queryset scoped by the
request's organisation: django-filter's automatic foreign-key filters would list every tenant's rows."""

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.search import search_terms
from audit.models import Action
from rights.selectors import rights_holders

# Dates are clamped to this range: the year 1 or 9999 would overflow once converted to UTC.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9000, 1, 1)


def _organization_users(request):
    organization = getattr(request, "organization", None)
    if organization is None:
        return get_user_model().objects.none()
    return get_user_model().objects.filter(organization=organization)


def _actors(request):
    """Who may act in the admin area: administrators and holders of a right (the people an
    administrator looks for); everyone else's own actions are found through the person filter."""
    organization = getattr(request, "organization", None)
    if organization is None:
        return get_user_model().objects.none()
    return _organization_users(request).filter(rights_holders(organization.pk)).order_by("last_name", "first_name")


def _start_of(day):
    return timezone.make_aware(datetime.combine(min(max(day, FIRST_DAY), LAST_DAY), time.min))


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


class AuditFilter(django_filters.FilterSet):
    """`?actor=&action=&q=&person=&since=&until=`: who, what, about whom, when."""

    actor = django_filters.ModelChoiceFilter(
        queryset=_actors, label=_("By"), empty_label=_("Anyone"), widget=forms.Select(attrs={"class": "form-select"})
    )
    action = django_filters.ChoiceFilter(choices=Action.choices, label=_("Action"), empty_label=_("Any action"))
    q = django_filters.CharFilter(
        method="filter_q",
        label=_("About"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name, email or mobile")}),
    )
    # One exact person, from the links of the page and of each person's page (no list of every user).
    person = django_filters.ModelChoiceFilter(
        queryset=_organization_users, field_name="target_user", widget=forms.HiddenInput
    )
    since = django_filters.DateFilter(method="filter_since", label=_("From"), widget=DateInput())
    until = django_filters.DateFilter(method="filter_until", label=_("To"), widget=DateInput())

    def filter_q(self, queryset, name, value):
        for term in search_terms(value.replace("\x00", ""), self.request.organization.phone_region):
            queryset = queryset.filter(target_user__search_text__contains=term)
        return queryset

    def filter_since(self, queryset, name, value):
        return queryset.filter(created_at__gte=_start_of(value))

    def filter_until(self, queryset, name, value):
        return queryset.filter(created_at__lt=_start_of(value + timedelta(days=1)))
