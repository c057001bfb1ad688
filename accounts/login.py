"""The login check both login pages share: a tenant's (web.people.forms.LoginForm) and the
platform admin's (accounts.admin_site)."""

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from experquiz.throttle import login_attempt


class ThrottledLoginMixin:
    """Django's authentication form, with failed logins rate-limited (`experquiz.throttle.login_attempt`).

    Each attempt is counted before any password is hashed, and one over a limit is refused without
    hashing. Mixed in before an AuthenticationForm (tenant login, platform admin login), whose
    `clean()` it replaces; `throttled` tells the view to answer 429.
    """

    throttled = False
    throttled_message = _("Too many failed attempts. Please wait %(minutes)s minutes and try again.")

    def clean(self):
        attempt = self.clean_credentials()
        if attempt is not None:
            attempt.succeeded()
        return self.cleaned_data

    def clean_credentials(self):
        """Count the attempt, then check the login ID and password; the counted attempt, or None when
        a field is missing (its own error says so). Raises ValidationError on any refusal."""
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return None
        attempt = login_attempt(self.request, username)
        if attempt.blocked:
            self.throttled = True
            raise ValidationError(self.throttled_message, code="throttled", params={"minutes": attempt.minutes})
        self.user_cache = authenticate(self.request, username=username, password=password)
        if self.user_cache is None:
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(self.user_cache)
        return attempt
