"""Platform staff's view of groups and rights. Read-only: every change goes through groups.services,
which checks scopes; the admin would bypass them."""

from django.contrib import admin

from .models import Grant, Membership, ProfileAssignment, RightsProfile, UserGroup


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(UserGroup)
class UserGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "organization", "created_at"]
    list_select_related = ["organization"]
    list_filter = ["organization"]
    search_fields = ["name"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "group", "organization", "added_at", "added_by"]
    list_select_related = ["user", "group", "organization", "added_by"]


@admin.register(RightsProfile)
class RightsProfileAdmin(ReadOnlyAdmin):
    list_display = ["name", "organization", "created_at"]
    list_select_related = ["organization"]


@admin.register(ProfileAssignment)
class ProfileAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["user", "profile", "organization", "assigned_at"]
    list_select_related = ["user", "profile", "organization"]


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ["right", "user", "profile", "all_users", "organization", "granted_at"]
    list_select_related = ["user", "profile", "organization"]
    list_filter = ["right", "all_users"]
