"""The forms of an assessment invitation: whom to invite (groups, users, contacts, pasted addresses)
and, for a new one, its opening window.

Every choice is offered, and accepted, only from the actor's `invite` scope; a pasted line that is
neither an email address nor a mobile number is refused here with its line number, before any
summary is made."""

import re
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.identity import IdentityInvalid, email_clean, mobile_clean
from flows.assessment_people import MAX_PASTED_ADDRESSES
from flows.assessments import Selection
from web.groups.forms import ScopedChoicesField

# How many refused lines are named in the message (the rest are counted).
NAMED_LINES = 10
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _choices_field(label, message):
    return ScopedChoicesField(
        label=label,
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": message, "invalid_pk_value": message},
    )


def pasted_parts(text: str):
    """(line number, address as typed) for every address of a pasted text: one or more per line,
    separated by commas or semicolons."""
    for number, line in enumerate((text or "").splitlines(), start=1):
        for part in re.split(r"[,;]+", line):
            if part.strip():
                yield number, part.strip()


class PeopleForm(forms.Form):
    """Whom to invite. `groups`, `users` and `contacts` are the querysets the actor may pick from."""

    groups = _choices_field(_("Groups"), _("Pick groups from the list."))
    users = _choices_field(_("Users"), _("Pick users from the list."))
    contacts = _choices_field(_("Contacts"), _("Pick contacts from the list."))
    addresses = forms.CharField(
        label=_("Emails or mobile numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "autocomplete": "off", "spellcheck": "false", "class": "form-control"}),
        help_text=_(
            "One or more per line, separated by commas or semicolons; any usual phone format. An address "
            "of a user or contact invites them; an unknown one becomes a new contact."
        ),
    )

    def __init__(self, data=None, *, organization, groups, users, contacts, **kwargs):
        super().__init__(data, **kwargs)
        self.organization = organization
        self.fields["groups"].queryset = groups
        self.fields["users"].queryset = users
        self.fields["contacts"].queryset = contacts

    def clean_addresses(self):
        text = self.cleaned_data["addresses"]
        parts = list(pasted_parts(text))
        if len(parts) > MAX_PASTED_ADDRESSES:
            raise ValidationError(
                _("Paste at most %(max)d addresses at a time (%(count)d given).")
                % {"max": MAX_PASTED_ADDRESSES, "count": len(parts)}
            )
        refused = []
        for number, part in parts:
            try:
                if "@" in part:
                    email_clean(part)
                else:
                    mobile_clean(self.organization, part)
            except IdentityInvalid:
                refused.append((number, part))
        if refused:
            errors = [
                _("Line %(line)d: “%(text)s” is neither an email address nor a mobile number.")
                % {"line": number, "text": part[:80]}
                for number, part in refused[:NAMED_LINES]
            ]
            more = len(refused) - NAMED_LINES
            if more > 0:
                errors.append(ngettext("And %(count)d more line.", "And %(count)d more lines.", more) % {"count": more})
            raise ValidationError(errors)
        return text

    def clean(self):
        data = super().clean()
        if not self.errors and not any(data.get(name) for name in ("groups", "users", "contacts", "addresses")):
            self.add_error(None, _("Pick at least one group, user or contact, or paste an address."))
        return data

    def selection(self) -> Selection:
        data = self.cleaned_data
        return Selection(
            group_ids=tuple(group.pk for group in data["groups"]),
            user_ids=tuple(user.pk for user in data["users"]),
            contact_ids=tuple(contact.pk for contact in data["contacts"]),
            addresses=data["addresses"],
        )


class PickerSearchForm(forms.Form):
    """The searches of the pick page's group and contact lists (the user list has the people list's
    own filters). Invalid text (a NUL byte) is refused with its message, and searches nothing."""

    group_q = forms.CharField(label=_("Search groups"), required=False, max_length=100)
    contact_q = forms.CharField(label=_("Search contacts"), required=False, max_length=100)

    def term(self, name) -> str:
        """What to search for in one list: the typed text, or nothing when it was refused."""
        self.is_valid()
        return (self.cleaned_data.get(name) or "").strip()


class WindowInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__({"class": "form-control", **(attrs or {})}, format=DATETIME_LOCAL)


class InviteForm(PeopleForm):
    """A new invitation: whom, and its window, in the organisation's time zone (the site's)."""

    opens_at = forms.DateTimeField(label=_("Opens at"), input_formats=[DATETIME_LOCAL], widget=WindowInput)
    closes_at = forms.DateTimeField(label=_("Closes at"), input_formats=[DATETIME_LOCAL], widget=WindowInput)

    def __init__(self, data=None, *, window_hours: int, **kwargs):
        # Now, to the minute (what a datetime-local input shows), then the default length.
        opens = timezone.localtime().replace(second=0, microsecond=0)
        defaults = {"opens_at": opens, "closes_at": opens + timedelta(hours=window_hours)}
        kwargs["initial"] = {**defaults, **(kwargs.get("initial") or {})}
        super().__init__(data, **kwargs)

    def clean(self):
        data = super().clean()
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes:
            if closes <= opens:
                self.add_error("closes_at", _("The window must close after it opens."))
            elif closes <= timezone.now():
                self.add_error("closes_at", _("This time has passed: choose a closing time to come."))
        return data
