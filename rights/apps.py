from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RightsConfig(AppConfig):
    name = "rights"
    verbose_name = _("Rights")

    def ready(self):
        # The floors below ask and tell the rights floor through hooks, never by importing it: every
        # service checks its actor through experquiz.authorization, which these selectors answer.
        from experquiz import authorization
        from groups.signals import group_deleted, group_deleting

        from . import receivers, selectors

        authorization.register(
            actor_scope=selectors.actor_scope,
            users_in_scope=selectors.users_in_scope,
            groups_in_scope=selectors.groups_in_scope,
        )
        group_deleting.connect(
            receivers.outdate_links_of_group_rights_holders, dispatch_uid="rights.outdate_links_of_holders"
        )
        group_deleted.connect(receivers.drop_grants_of_deleted_group, dispatch_uid="rights.drop_grants")
