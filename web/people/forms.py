from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from experquiz.throttle import client_ip, login_identity, login_throttles


class LoginForm(AuthenticationForm):
    """Email or mobile number and password, with failed attempts limited per login ID and per IP."""

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
        "throttled": _("Too many failed attempts. Please wait %(minutes)s minutes and try again."),
    }

    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return self.cleaned_data
        identity = login_identity(getattr(self.request, "organization", None), username)
        ip = client_ip(self.request)
        per_id, per_ip = login_throttles()
        # Checked before hashing anything: a blocked attempt costs no password hash.
        if per_id.is_blocked(identity) or per_ip.is_blocked(ip):
            self.throttled = True
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": max(1, settings.LOGIN_THROTTLE_WINDOW // 60)},
            )
        self.user_cache = authenticate(self.request, username=username, password=password)
        if self.user_cache is None:
            per_id.hit(identity)
            per_ip.hit(ip)
            raise self.get_invalid_login_error()
        per_id.reset(identity)
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class OwnPasswordChangeForm(PasswordChangeForm):
    def save(self, commit=True):
        from accounts.services import user_set_password

        return user_set_password(user=self.user, password=self.cleaned_data["new_password1"])
