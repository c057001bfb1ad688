import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Channel
from invitations.models import Invitation

SELECT = forms.Select(attrs={"class": "form-select form-select-sm"})


class InvitationFilter(django_filters.FilterSet):
    """Filters of the invitations list: plain choices only, nothing that could list another tenant's rows."""

    STATES = [
        ("outstanding", _("Not accepted yet")),
        ("pending", _("Waiting to be sent")),
        ("sent", _("Sent")),
        ("failed", _("Failed")),
        ("used", _("Accepted / used")),
        ("revoked", _("Revoked")),
        ("all", _("All")),
    ]

    kind = django_filters.ChoiceFilter(
        label=_("Kind"), choices=Invitation.Kind.choices, empty_label=_("Any kind"), widget=SELECT
    )
    channel = django_filters.ChoiceFilter(
        label=_("Channel"), choices=Channel.choices, empty_label=_("Any channel"), widget=SELECT
    )
    state = django_filters.ChoiceFilter(
        label=_("State"), choices=STATES, empty_label=None, method="filter_state", widget=SELECT
    )

    class Meta:
        model = Invitation
        fields = ["kind", "channel", "state"]

    def __init__(self, data=None, *args, **kwargs):
        # The list opens on what still needs attention: invitations not accepted yet.
        data = data.copy() if data is not None else {}
        data.setdefault("state", "outstanding")
        super().__init__(data, *args, **kwargs)

    def filter_state(self, queryset, name, value):
        if value == "outstanding":
            return queryset.outstanding()
        if value in ("pending", "sent", "failed"):
            return queryset.outstanding().filter(delivery=value)
        if value == "used":
            return queryset.filter(used_at__isnull=False)
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset
