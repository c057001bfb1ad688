from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "groups"
    label = "usergroups"  # "groups" would clash with django.contrib.auth's Group in reverse names
    verbose_name = _("User groups")
