"""The organisation settings form. Bounds and cross-field rules are the service's
(flows.organization): it names the field each refusal is about, shown next to it."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Language
from flows.organization import MAX_LIFETIME_DAYS, MAX_SEND_MINUTES, MAX_WINDOW_HOURS

AT_ONCE, BEFORE_OPENING = "at_once", "before_opening"


class OrganizationSettingsForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Default language"),
        choices=Language.choices,
        help_text=_("Of new people and contacts, and of the pages before anyone signs in."),
    )
    phone_region = forms.CharField(
        label=_("Default phone region"),
        max_length=2,
        min_length=2,
        help_text=_("Two-letter country code used to read national phone numbers such as 06 12 34 56 78."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 3}),
    )
    invitation_lifetime_days = forms.IntegerField(
        label=_("Account invitations last (days)"), min_value=1, max_value=MAX_LIFETIME_DAYS
    )
    invitation_reminder_days = forms.IntegerField(
        label=_("Remind those who have not accepted (days before the link expires)"),
        min_value=0,
        max_value=MAX_LIFETIME_DAYS,
        help_text=_("0: no reminder."),
    )
    sending = forms.ChoiceField(
        label=_("Assessment invitations are sent"),
        choices=[(AT_ONCE, _("At once, when the invitation is made")), (BEFORE_OPENING, _("Before the opening"))],
        widget=forms.RadioSelect,
    )
    send_minutes_before_opening = forms.IntegerField(
        label=_("Minutes before the opening"),
        required=False,
        min_value=1,
        max_value=MAX_SEND_MINUTES,
        help_text=_("Only when they are sent before the opening."),
    )
    default_window_hours = forms.IntegerField(
        label=_("Assessment window, by default (hours)"), min_value=1, max_value=MAX_WINDOW_HOURS
    )
    assessment_reminder_hours = forms.IntegerField(
        label=_("Remind those who have not started (hours before the window closes)"),
        min_value=0,
        max_value=MAX_WINDOW_HOURS,
        help_text=_("0: no reminder."),
    )

    @classmethod
    def initial_from(cls, current) -> dict:
        """The form's initial values from flows.organization.OrganizationSettings."""
        initial = {field: getattr(current, field) for field in cls.base_fields if hasattr(current, field)}
        initial["sending"] = BEFORE_OPENING if current.send_minutes_before_opening else AT_ONCE
        if not current.send_minutes_before_opening:
            initial["send_minutes_before_opening"] = None
        return initial

    def clean(self):
        data = super().clean()
        minutes_missing = (
            not data.get("send_minutes_before_opening") and "send_minutes_before_opening" not in self.errors
        )
        if data.get("sending") == BEFORE_OPENING and minutes_missing:
            self.add_error("send_minutes_before_opening", _("Say how many minutes before the opening the messages go."))
        return data

    def settings(self) -> dict:
        """The service's arguments (valid form only)."""
        data = dict(self.cleaned_data)
        if data.pop("sending") == AT_ONCE:
            data["send_minutes_before_opening"] = 0
        return data
