from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from experquiz.naming import NamedInOrganization
from experquiz.tenancy import OrgQuerySet


class UserGroup(NamedInOrganization):
    """A named set of users: picked when inviting, used for visibility and to scope rights."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="user_groups")
    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", through_fields=("group", "user"), related_name="user_groups"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("user group")
        verbose_name_plural = _("user groups")
        ordering = ["name"]
        constraints = [
            # Names ignore case and accents (experquiz.naming).
            models.UniqueConstraint(fields=["organization", "name_key"], name="groups_usergroup_unique_name_key"),
        ]

    def __str__(self):
        return self.name


class Membership(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(UserGroup, on_delete=models.CASCADE, related_name="memberships")
    # Indexed with the group (Meta.indexes), not alone: a page's people and their groups are read
    # from that index only (groups.selectors.group_ids_by_user), without a visit to the table.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    # The member's name, copied and kept equal to the user's by the database's triggers (migration
    # 0005), whatever writes the membership or renames the user: with the index below, a group's
    # members are read in the people list's name order, a page at a time (flows.filters.UserFilter),
    # instead of collecting and sorting the whole group. Never written by the code: the triggers
    # overwrite whatever is given.
    member_last_name = models.CharField(max_length=150, blank=True, default="", db_default="", editable=False)
    member_first_name = models.CharField(max_length=150, blank=True, default="", db_default="", editable=False)
    # The member's search text (accounts.search), copied the same way (migration 0006) and held by the
    # index below: a group filtered by a search checks its members' words in that index, in name
    # order, and reads only the matching members from the users table.
    member_search_text = models.CharField(max_length=600, blank=True, default="", db_default="", editable=False)
    # The member's user type (its pk; None: no type), copied the same way (migrations 0008–0009) and
    # held by the index below: a group filtered by a type checks its members' type in that index and
    # reads only the members of that type from the users table.
    member_type_id = models.BigIntegerField(null=True, blank=True, editable=False)
    added_at = models.DateTimeField(_("added"), auto_now_add=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["organization", "group", "user"], name="groups_membership_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "user"], name="groups_membership_org_user"),
            models.Index(fields=["user", "group"], name="groups_membership_user_group"),
            models.Index(
                fields=["group", "member_last_name", "member_first_name", "user"],
                include=["member_search_text", "member_type_id"],
                name="groups_membership_group_name",
            ),
        ]

    def __str__(self):
        return f"{self.user} ∈ {self.group}"
