from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("People")


class PlatformAdminConfig(admin_apps.AdminConfig):
    """Django's admin, whose default site is the platform's (rate-limited login, optional OTP)."""

    default = False  # AccountsConfig stays the configuration of "accounts"
    default_site = "accounts.admin_site.PlatformAdminSite"
