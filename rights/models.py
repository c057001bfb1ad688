"""Grants and rights profiles (DESIGN §6).

These models were born in the groups app: their tables keep the names they had there (`db_table`),
and their constraint and index names too, so moving them here moved no data.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from experquiz.naming import NamedInOrganization
from experquiz.tenancy import OrgQuerySet
from groups.models import UserGroup

from .names import Right


class RightsProfile(NamedInOrganization):
    """A named bundle of scoped rights assigned to many users: editing it changes every holder at once."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    holders = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="ProfileAssignment",
        through_fields=("profile", "user"),
        related_name="rights_profiles",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        db_table = "usergroups_rightsprofile"
        verbose_name = _("rights profile")
        verbose_name_plural = _("rights profiles")
        ordering = ["name"]
        constraints = [
            # Names ignore case and accents (experquiz.naming).
            models.UniqueConstraint(fields=["organization", "name_key"], name="rights_rightsprofile_unique_name_key"),
        ]

    def __str__(self):
        return self.name


class ProfileAssignment(models.Model):
    """A user holds a rights profile."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    profile = models.ForeignKey(RightsProfile, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_assignments")
    assigned_at = models.DateTimeField(_("assigned"), auto_now_add=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        db_table = "usergroups_profileassignment"
        verbose_name = _("profile assignment")
        verbose_name_plural = _("profile assignments")
        constraints = [
            models.UniqueConstraint(fields=["organization", "profile", "user"], name="groups_profileassignment_unique"),
        ]
        indexes = [models.Index(fields=["organization", "user"], name="groups_profileassign_org_user")]

    def __str__(self):
        return f"{self.user} ← {self.profile}"


class Grant(models.Model):
    """One scoped right, held personally by a user or bundled in a profile.

    The scope is either every user of the organisation (`all_users`) or the members of the groups
    linked through GrantGroup. A grant with neither is never stored: the services delete it.
    """

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    right = models.CharField(_("right"), max_length=30, choices=Right.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="grants"
    )
    profile = models.ForeignKey(RightsProfile, on_delete=models.CASCADE, null=True, blank=True, related_name="grants")
    all_users = models.BooleanField(_("all users"), default=False)
    groups = models.ManyToManyField(UserGroup, through="GrantGroup", related_name="grants", blank=True)
    granted_at = models.DateTimeField(_("granted"), auto_now=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        db_table = "usergroups_grant"
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, profile__isnull=True) | Q(user__isnull=True, profile__isnull=False),
                name="groups_grant_user_xor_profile",
            ),
            models.CheckConstraint(
                condition=Q(right__in=[choice.value for choice in Right]), name="groups_grant_right_valid"
            ),
            models.UniqueConstraint(
                fields=["organization", "user", "right"],
                condition=Q(user__isnull=False),
                name="groups_grant_unique_user_right",
            ),
            models.UniqueConstraint(
                fields=["organization", "profile", "right"],
                condition=Q(profile__isnull=False),
                name="groups_grant_unique_profile_right",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "user", "right"], name="groups_grant_org_user"),
            models.Index(fields=["organization", "profile", "right"], name="groups_grant_org_profile"),
        ]

    def __str__(self):
        return f"{self.get_right_display()} ({self.user or self.profile})"


class GrantGroup(models.Model):
    """A group a grant is scoped to."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="grant_groups")
    group = models.ForeignKey(UserGroup, on_delete=models.CASCADE, related_name="+")

    objects = OrgQuerySet.as_manager()

    class Meta:
        db_table = "usergroups_grantgroup"
        verbose_name = _("grant group")
        verbose_name_plural = _("grant groups")
        constraints = [
            models.UniqueConstraint(fields=["organization", "grant", "group"], name="groups_grantgroup_unique"),
        ]
        indexes = [models.Index(fields=["organization", "group"], name="groups_grantgroup_org_group")]

    def __str__(self):
        return f"{self.grant} → {self.group}"
