from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Contact, Organization, StatusChange, User, UserType
from .selectors import people_changed
from .services import LINK_FIELDS, account_links_outdated_for, link_fields_changes

admin.site.site_header = _("ExperQuiz platform administration")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "phone_region", "language", "created_at"]
    search_fields = ["name", "slug"]


@admin.register(UserType)
class UserTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "organization"]
    list_select_related = ["organization"]
    list_filter = ["organization"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "mobile", "organization", "status", "is_administrator", "last_login"]
    list_select_related = ["organization"]
    list_filter = ["status", "is_administrator", "organization", "user_type", "user_groups"]
    search_fields = ["email", "mobile", "last_name", "first_name"]
    # Status only changes through accounts.services.user_change_status, which keeps the history, and
    # administrator rights through rights.services (the last-administrator rule, the audit trail).
    readonly_fields = [
        "status",
        "is_administrator",
        "password",
        "last_login",
        "created_at",
        "updated_at",
        "created_by",
    ]
    exclude = ["groups", "user_permissions"]
    raw_id_fields = ["user_type"]

    def save_model(self, request, obj, form, change):
        # The organisation before the person, as the services do; the cached counts follow.
        if obj.organization_id:
            people_changed(obj.organization_id)
        super().save_model(request, obj, form, change)
        if not change:
            return
        # An edit here skips the services: the links already sent for the old login IDs or channel
        # must stop working all the same.
        changes = link_fields_changes({name: form.initial.get(name) for name in LINK_FIELDS}, obj)
        if changes:
            account_links_outdated_for(user_ids=[obj.pk], reason=changes, actor=None)

    def has_delete_permission(self, request, obj=None):
        # A person of an organisation is deleted by user_change_status (kept, with their history);
        # removing the row would skip the last-administrator rule and the audit trail.
        return super().has_delete_permission(request, obj) and (obj is None or obj.organization_id is None)

    def delete_model(self, request, obj):
        if obj.organization_id:
            people_changed(obj.organization_id)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        organization_ids = set(queryset.exclude(organization=None).values_list("organization_id", flat=True))
        for organization_id in sorted(organization_ids):
            people_changed(organization_id)
        super().delete_queryset(request, queryset)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "mobile", "organization", "converted_to"]
    list_select_related = ["organization", "converted_to"]
    search_fields = ["email", "mobile", "last_name"]
    raw_id_fields = ["converted_to", "created_by"]


@admin.register(StatusChange)
class StatusChangeAdmin(admin.ModelAdmin):
    list_display = ["user", "from_status", "to_status", "actor", "created_at"]
    list_select_related = ["user", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
