"""The questionnaires list's filters. The group filter offers only the actor's groups (a queryset
scoped by the request, never django-filter's automatic one)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from assessments.models import Questionnaire, QuestionnaireGroup
from rights.mixins import groups_in_scope_of
from rights.names import Right
from web.groups.filters import SearchInput


class QuestionnaireFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), field_name="title", lookup_expr="icontains", widget=SearchInput)
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=Questionnaire.Kind.choices, empty_label=_("Any kind"))
    published = django_filters.ChoiceFilter(
        label=_("State"),
        choices=[("yes", _("Published")), ("no", _("Not published"))],
        empty_label=_("Any state"),
        method="in_state",
    )
    visibility = django_filters.ChoiceFilter(
        label=_("Visible to"), choices=Questionnaire.Visibility.choices, empty_label=_("Anyone or no one")
    )
    group = django_filters.ModelChoiceFilter(
        label=_("Shown to group"),
        queryset=groups_in_scope_of(Right.MANAGE_QUESTIONNAIRES),
        method="shown_to",
        empty_label=_("Any group"),
    )

    class Meta:
        model = Questionnaire
        fields = []

    def in_state(self, queryset, name, value):
        return queryset.filter(is_published=value == "yes")

    def shown_to(self, queryset, name, value):
        links = QuestionnaireGroup.objects.filter(organization_id=value.organization_id, group=value)
        return queryset.filter(visibility=Questionnaire.Visibility.GROUPS, pk__in=links.values("questionnaire_id"))
