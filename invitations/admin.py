from django.contrib import admin

from .models import Invitation, InvitationBatch, InvitationSettings


@admin.register(InvitationSettings)
class InvitationSettingsAdmin(admin.ModelAdmin):
    list_display = ["organization", "reminder_days_before_expiry"]
    list_select_related = ["organization"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only for platform staff: every change goes through the invitations services."""

    list_display = ["__str__", "organization", "kind", "delivery", "attempts", "created_at", "used_at", "revoked_at"]
    list_select_related = ["organization"]
    list_filter = ["kind", "delivery", "channel", "organization"]
    search_fields = ["address"]
    exclude = ["token_hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InvitationBatch)
class InvitationBatchAdmin(admin.ModelAdmin):
    list_display = ["__str__", "organization", "created_by", "created_at"]
    list_select_related = ["organization", "created_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
