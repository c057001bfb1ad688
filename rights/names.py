"""The rights an organisation's users can hold (DESIGN §6).

`administrator` is the `User.is_administrator` flag: everything in the organisation, including
granting rights. The others are scoped: to all users, or to the users of chosen groups.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Right(models.TextChoices):
    MANAGE_USERS = "manage_users", _("Manage users")
    INVITE = "invite", _("Invite")
    VIEW_RESULTS = "view_results", _("View results")
    MANAGE_QUESTIONNAIRES = "manage_questionnaires", _("Manage questionnaires")


ADMINISTRATOR = "administrator"
