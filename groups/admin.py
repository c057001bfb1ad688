"""Platform staff's view of groups. Read-only, deletion included: every change goes through
groups.services, which checks scopes, tells the rights floor, forgets the people counts and writes the
audit trail; the admin would bypass them."""

from django.contrib import admin

from .models import Membership, UserGroup


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
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
