"""Forms of the people pages. They validate input; the services do the writing."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.identity import EMAIL_MAX, EMPLOYEE_NUMBER_MAX, MOBILE_TYPED_MAX, NAME_MAX, identity_form_clean
from accounts.models import Channel, Contact, Language, User, UserType
from rights.names import Right
from rights.selectors import groups_in_scope


def _identity_field(label, limit, widget=forms.TextInput, **attrs):
    """A field of a person's identity: its rule is accounts.identity's, like on every other path,
    so the form only caps what a browser lets one type (and refuses NUL bytes, as every form does)."""
    return forms.CharField(label=label, required=False, widget=widget(attrs={"maxlength": limit, **attrs}))


def _first_name():
    return _identity_field(_("First name"), NAME_MAX)


def _last_name():
    return _identity_field(_("Last name"), NAME_MAX)


def _email():
    return _identity_field(_("Email address"), EMAIL_MAX, forms.EmailInput)


def _mobile(**attrs):
    return _identity_field(_("Mobile number"), MOBILE_TYPED_MAX, type="tel", **attrs)


class UserForm(forms.Form):
    first_name = _first_name()
    last_name = _last_name()
    email = _email()
    mobile = _mobile(autocomplete="off")
    mobile.help_text = _("Any usual format, e.g. 06 12 34 56 78 or +33 6 12 34 56 78.")
    employee_number = _identity_field(_("Employee number"), EMPLOYEE_NUMBER_MAX)
    preferred_channel = forms.ChoiceField(label=_("Preferred channel"), choices=Channel.choices)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    user_type = forms.ModelChoiceField(label=_("User type"), queryset=UserType.objects.none(), required=False)
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = request.organization
        self.fields["user_type"].queryset = UserType.objects.for_org(self.organization)
        self.fields["groups"].queryset = groups_in_scope(request.user, Right.MANAGE_USERS).order_by("name")
        # A manager scoped to some groups must put the people they create in one of them.
        self.fields["groups"].required = not request.user.is_administrator
        if not self.is_bound and "language" not in self.initial:
            self.initial["language"] = self.organization.language

    def clean(self):
        return identity_form_clean(self, super().clean(), self.organization)

    @classmethod
    def initial_for(cls, user: User) -> dict:
        return {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "mobile": user.mobile_display,
            "employee_number": user.employee_number,
            "preferred_channel": user.preferred_channel,
            "language": user.language,
            "user_type": user.user_type_id,
            "groups": list(user.user_groups.values_list("pk", flat=True)),
        }


class ContactForm(forms.ModelForm):
    first_name = _first_name()
    last_name = _last_name()
    email = _email()
    mobile = _mobile()

    class Meta:
        model = Contact
        fields = ["first_name", "last_name", "email", "mobile", "language", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean(self):
        return identity_form_clean(self, super().clean(), self.organization, contact=True)

    def _post_clean(self):
        # Validation of the instance (uniqueness included) happens in the service, on save.
        pass


class ConvertForm(forms.Form):
    to = forms.ChoiceField(
        label=_("Convert to users who are"),
        choices=[
            (User.Status.CREATED, _("Created (no message sent)")),
            (User.Status.INVITED, _("Invited")),
            (User.Status.ACTIVE, _("Active (temporary password)")),
        ],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, can_invite=True, **kwargs):
        super().__init__(*args, **kwargs)
        # "Invited" sends an invitation: offered only to holders of the invite right.
        if not can_invite:
            self.fields["to"].choices = [c for c in self.fields["to"].choices if c[0] != User.Status.INVITED]


class UserTypeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8, comma or semicolon separated) or Excel .xlsx."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )
    invite = forms.BooleanField(label=_("Send invitations to the new users afterwards"), required=False)

    def __init__(self, *args, can_invite=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_invite = can_invite
        # Sending invitations takes the invite right: without it the box is not offered.
        if not can_invite:
            self.fields["invite"].widget = forms.HiddenInput()

    def clean(self):
        data = super().clean()
        if data.get("invite") and not self.can_invite:
            # On the form, not on the (hidden) box: the page must say why nothing was uploaded.
            raise ValidationError(
                _("You do not hold the right to invite, so this import cannot send invitations."), code="no_invite"
            )
        return data


class StatusChangeForm(forms.Form):
    """The reason an administrator may give for a status change, kept in the history."""

    reason = forms.CharField(label=_("Reason (optional, kept in the history)"), max_length=300, required=False)
