from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from accounts.login import ThrottledLoginMixin


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    """Email or mobile number and password, with failed attempts limited (see ThrottledLoginMixin)."""

    username = forms.CharField(
        label=_("Email or mobile number"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none"}),
    )
    error_messages = {
        # One message whatever failed: unknown login ID, wrong password or an account that is not active.
        "invalid_login": _(
            "These details do not match an active account. Check your email or mobile number and your password."
        ),
        "inactive": _(
            "These details do not match an active account. Check your email or mobile number and your password."
        ),
    }


class OwnPasswordChangeForm(PasswordChangeForm):
    def save(self, commit=True):
        from accounts.services import user_set_password

        return user_set_password(user=self.user, password=self.cleaned_data["new_password1"], actor=self.user)
