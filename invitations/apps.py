from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvitationsConfig(AppConfig):
    name = "invitations"
    verbose_name = _("Invitations")

    def ready(self):
        from accounts.signals import account_links_outdated, temporary_password_pending, user_status_changed

        from . import (
            checks,  # noqa: F401
            receivers,
            tasks,  # noqa: F401  registers the tasks: the services publish them by name
        )

        # The people floor's hooks (accounts.signals): pending links are revoked here.
        user_status_changed.connect(receivers.revoke_on_status_change, dispatch_uid="invitations.revoke_on_status")
        temporary_password_pending.connect(
            receivers.answer_temporary_password_pending, dispatch_uid="invitations.temporary_password_pending"
        )
        account_links_outdated.connect(
            receivers.revoke_outdated_account_links, dispatch_uid="invitations.account_links_revoke"
        )
