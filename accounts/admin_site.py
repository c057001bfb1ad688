"""The platform's Django admin (bare domain, platform staff): it sees every tenant.

Its login is rate-limited like a tenant's (`ThrottledLoginMixin`) and, with PLATFORM_ADMIN_OTP (on in
production), needs a code from a TOTP device too (django-otp): a session opened by password alone,
or by a device that is not the user's, does not get in. Staff enrol a device with
`manage.py addtotpdevice EMAIL`.
"""

from django import forms
from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LogoutView
from django.db import transaction
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_totp.models import TOTPDevice

from .login import ThrottledLoginMixin


class PlatformLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class PlatformOTPLoginForm(PlatformLoginForm):
    """Password and the code of one of the member's TOTP devices (django-otp's admin login template).

    Whatever is wrong (login ID, password, code), the answer is the same and the attempt counts as a
    failed login: saying "now the code" would tell a guesser the password was right.
    """

    otp_token = forms.CharField(required=False, max_length=16)
    error_messages = {
        **PlatformLoginForm.error_messages,
        "invalid_login": _(
            "Please enter the correct %(username)s, password and authenticator code for a staff account."
        ),
    }

    def clean(self):
        attempt = self.clean_credentials()
        if attempt is not None:
            device = _device_accepting(self.user_cache, (self.cleaned_data.get("otp_token") or "").strip())
            if device is None:
                self.user_cache = None
                raise self.get_invalid_login_error()
            self.user_cache.otp_device = device  # django-otp keeps it in the session at login
            attempt.succeeded()
        return self.cleaned_data


def _device_accepting(user, token):
    """The user's confirmed TOTP device that accepts `token` (each device throttles its own failures
    and refuses a code already used), or None."""
    if not token:
        return None
    with transaction.atomic():
        for device in TOTPDevice.objects.devices_for_user(user, confirmed=True).select_for_update():
            if device.verify_token(token):
                return device
    return None


class PlatformAdminSite(OTPAdminSite):
    """Django's default admin site (see PlatformAdminConfig), for platform staff."""

    name = "admin"

    def __init__(self, name="admin"):
        super().__init__(name)

    # Read at each request, so the setting can be changed by a test.
    @property
    def login_form(self):
        return PlatformOTPLoginForm if settings.PLATFORM_ADMIN_OTP else PlatformLoginForm

    @property
    def login_template(self):
        return OTPAdminSite.login_template if settings.PLATFORM_ADMIN_OTP else None

    def has_permission(self, request):
        if settings.PLATFORM_ADMIN_OTP:
            return super().has_permission(request)  # staff, and verified by one of their own devices
        return AdminSite.has_permission(self, request)

    @method_decorator(login_not_required)
    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if getattr(form, "throttled", False):
            response.status_code = 429
        return response

    def logout(self, request, extra_context=None):
        # LOGOUT_REDIRECT_URL names the tenants' login page, which the bare domain does not have.
        request.current_app = self.name
        return LogoutView.as_view(next_page=reverse("admin:login", current_app=self.name))(request)
