from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RightsConfig(AppConfig):
    name = "rights"
    verbose_name = _("Rights")

    def ready(self):
        # The floors below ask and tell the rights floor through hooks, never by importing it.
        from groups import scope
        from groups.signals import group_deleted, group_deleting

        from . import receivers, selectors
        from .names import ADMINISTRATOR

        scope.register(
            actor_is_administrator=lambda actor: selectors.actor_scope(actor, ADMINISTRATOR) == selectors.EVERYONE,
            groups_in_scope=selectors.groups_in_scope,
            users_in_scope=selectors.users_in_scope,
            must_place_new_users_in_a_group=selectors.must_place_new_users_in_a_group,
        )
        group_deleting.connect(
            receivers.outdate_links_of_group_rights_holders, dispatch_uid="rights.outdate_links_of_holders"
        )
        group_deleted.connect(receivers.drop_grants_of_deleted_group, dispatch_uid="rights.drop_grants")
