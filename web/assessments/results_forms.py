"""The results lists' filters: which assessment invitation (or free access) and which state."""

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from assessments.results import FREE, RowState


def window_label(opens_at, closes_at) -> str:
    opens = date_format(timezone.localtime(opens_at), "SHORT_DATETIME_FORMAT")
    closes = date_format(timezone.localtime(closes_at), "SHORT_DATETIME_FORMAT")
    return f"{opens} → {closes}"


class ResultsFilterForm(forms.Form):
    """`assignments`: the questionnaire's invitations (None on a person's page, where there is no such
    filter). An unknown choice is refused, and the page then shows everything with a warning."""

    assignment = forms.ChoiceField(label=_("Invitation"), required=False)
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("Any state")), *RowState.choices])

    def __init__(self, data=None, *, assignments=None):
        super().__init__(data)
        if assignments is None:
            del self.fields["assignment"]
            return
        self.assignments = {str(assignment.pk): assignment for assignment in assignments}
        self.fields["assignment"].choices = [
            ("", _("Every invitation and free access")),
            *((pk, window_label(a.opens_at, a.closes_at)) for pk, a in self.assignments.items()),
            (FREE, _("Free access only")),
        ]

    def chosen(self) -> dict:
        """{"assignment": an Assignment, FREE or None, "state": "" or a RowState}: empty when invalid."""
        if not self.is_bound or not self.is_valid():
            return {"assignment": None, "state": ""}
        picked = self.cleaned_data.get("assignment") or ""
        assignment = FREE if picked == FREE else getattr(self, "assignments", {}).get(picked)
        return {"assignment": assignment, "state": self.cleaned_data["state"]}


class ResultsSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)

    def search(self) -> str:
        """The text searched for ("" when none, or when what was sent is not text)."""
        return (self.cleaned_data.get("q") or "").strip() if self.is_valid() else ""
