"""The platform's Django admin (bare domain, platform staff): it sees every tenant.

Its login is rate-limited like a tenant's (`ThrottledLoginMixin`) and, with PLATFORM_ADMIN_OTP (on in
production), needs a code from a TOTP device too (django-otp): a session opened by password alone,
or by a device that is not the user's, does not get in. Staff enrol a device with
`manage.py addtotpdevice EMAIL`.
"""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LogoutView
from django.urls import reverse
from django.utils.decorators import method_decorator
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.models import Device

from .forms import ThrottledLoginMixin


class PlatformLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class PlatformOTPLoginForm(ThrottledLoginMixin, OTPAdminAuthenticationForm):
    """Password, then the TOTP code; a wrong code counts as a failed login."""

    def clean(self):
        attempt = self.clean_credentials()
        self.clean_otp(self.get_user())
        if attempt is not None:
            attempt.succeeded()
        return self.cleaned_data

    def _chosen_device(self, user):
        # django-otp asks to choose a device before it checks a code, which takes a second round for
        # the usual case of one authenticator app: with a single confirmed device, that one is meant.
        device = super()._chosen_device(user)
        if device is None and not self.cleaned_data.get("otp_device"):
            devices = list(devices_for_user(user, confirmed=True))
            if len(devices) == 1:
                device = Device.from_persistent_id(devices[0].persistent_id, for_verify=True)
        return device


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
