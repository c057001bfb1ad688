import functools

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import SetPasswordForm
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts.identity import NAME_MAX, Identity, identity_form_clean
from accounts.models import UserType


@functools.cache
def _password_rules_html(language: str):
    # Django's password_validators_help_text_html is lazy: kept as is, the text would be written again
    # each time a page prints it. str() writes it now; it stays safe HTML.
    return str(password_validation.password_validators_help_text_html())


@receiver(setting_changed)
def _password_rules_changed(*, setting, **kwargs):
    if setting == "AUTH_PASSWORD_VALIDATORS":
        _password_rules_html.cache_clear()


def password_rules_html():
    """The password rules' help text (Django's validators, their texts in the current language),
    written once per language and process: it depends on nothing else, and the link pages, opened by
    everyone a message reaches, wrote it at every request (the validators' texts, joined as HTML)."""
    return _password_rules_html(translation.get_language())


class NewPasswordForm(SetPasswordForm):
    """Django's form to choose a password, with its rules' help text written once per language."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = password_rules_html()


class AcceptInvitationForm(NewPasswordForm):
    """Names and a password of one's own (Django's password validators and field names)."""

    # The names' rule is accounts.identity's, as on every path that writes a person.
    first_name = forms.CharField(
        label=_("First name"), widget=forms.TextInput(attrs={"autocomplete": "given-name", "maxlength": NAME_MAX})
    )
    last_name = forms.CharField(
        label=_("Last name"), widget=forms.TextInput(attrs={"autocomplete": "family-name", "maxlength": NAME_MAX})
    )

    field_order = ["first_name", "last_name", "new_password1", "new_password2"]

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.fields["first_name"].initial = user.first_name
        self.fields["last_name"].initial = user.last_name
        self.order_fields(self.field_order)

    def clean(self):
        identity_form_clean(self, self.cleaned_data, self.user.organization, current=Identity.of(self.user))
        # The similarity validator compares the password with the names being typed, not the stored ones.
        self.user.first_name = self.cleaned_data.get("first_name", self.user.first_name)
        self.user.last_name = self.cleaned_data.get("last_name", self.user.last_name)
        return super().clean()

    def save(self, commit=True):
        raise NotImplementedError("Use invitations.services.acceptance.invitation_accept")


class ResetPasswordForm(NewPasswordForm):
    def save(self, commit=True):
        raise NotImplementedError("Use invitations.services.acceptance.password_reset_complete")


class ForgotPasswordForm(forms.Form):
    username = forms.CharField(
        label=_("Email or mobile number"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none"}),
    )


class PasteAddressesForm(forms.Form):
    addresses = forms.CharField(
        label=_("Email addresses and mobile numbers"),
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": "ann@example.com, 06 12 34 56 78; bob@example.com"}),
        help_text=_("Separate them with commas, semicolons or new lines. Up to 1,000 at a time."),
    )
    user_type = forms.ModelChoiceField(label=_("User type"), queryset=UserType.objects.none(), required=False)
    group = forms.ModelChoiceField(label=_("Add to group"), queryset=None, required=False)

    def __init__(self, *args, organization, groups, group_required=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user_type"].queryset = UserType.objects.for_org(organization)
        self.fields["group"].queryset = groups
        # A group-scoped inviter must put new users in one of their groups.
        self.fields["group"].required = group_required


class GroupResendForm(forms.Form):
    group = forms.ModelChoiceField(label=_("Group"), queryset=None)

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups
