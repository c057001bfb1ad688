"""Platform staff's view of rights. Read-only: every change goes through rights.services, which
checks that nobody grants more than they hold; the admin would bypass it."""

from django.contrib import admin

from groups.admin import ReadOnlyAdmin

from .models import Grant, ProfileAssignment, RightsProfile


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
