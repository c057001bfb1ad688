from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvitationsConfig(AppConfig):
    name = "invitations"
    verbose_name = _("Invitations")

    def ready(self):
        from accounts.signals import account_links_outdated

        from . import checks  # noqa: F401
        from .services import on_account_links_outdated

        account_links_outdated.connect(on_account_links_outdated, dispatch_uid="invitations.account_links_revoke")
