from django.urls import path

from . import views, views_contacts, views_contacts_add, views_import, views_settings, views_users

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("me/", views.me, name="me"),
    path("users/", views_users.UserListView.as_view(), name="user_list"),
    path("users/new/", views_users.UserCreateView.as_view(), name="user_create"),
    path("users/bulk/", views_users.UserBulkView.as_view(), name="user_bulk"),
    path("users/bulk/<int:pk>/", views_users.UserBulkJobView.as_view(), name="user_bulk_job"),
    path("users/bulk/<int:pk>/undo/", views_users.UserBulkUndoView.as_view(), name="user_bulk_undo"),
    path("users/export/<str:fmt>/", views_users.UserExportView.as_view(), name="user_export"),
    path("users/import/", views_import.ImportUploadView.as_view(), name="user_import"),
    path("users/import/sample.<str:fmt>", views_import.ImportSampleView.as_view(), name="user_import_sample"),
    path("users/import/<int:pk>/", views_import.ImportJobView.as_view(), name="user_import_job"),
    path("users/import/<int:pk>/progress/", views_import.ImportProgressView.as_view(), name="user_import_progress"),
    path("users/import/<int:pk>/confirm/", views_import.ImportConfirmView.as_view(), name="user_import_confirm"),
    path("users/<int:pk>/", views_users.UserDetailView.as_view(), name="user_detail"),
    path("users/<int:pk>/edit/", views_users.UserEditView.as_view(), name="user_edit"),
    path("users/<int:pk>/status/<str:to>/", views_users.UserStatusView.as_view(), name="user_status"),
    path("contacts/", views_contacts.ContactListView.as_view(), name="contact_list"),
    path("contacts/new/", views_contacts_add.ContactCreateView.as_view(), name="contact_create"),
    path("contacts/import/", views_contacts_add.ContactImportView.as_view(), name="contact_import"),
    path("contacts/convert/", views_contacts.ContactConvertView.as_view(), name="contact_convert"),
    path("contacts/<int:pk>/edit/", views_contacts.ContactEditView.as_view(), name="contact_edit"),
    path("contacts/<int:pk>/delete/", views_contacts.ContactDeleteView.as_view(), name="contact_delete"),
    path("settings/organisation/", views_settings.OrganizationSettingsView.as_view(), name="organization_settings"),
    path("settings/user-types/", views_settings.UserTypeListView.as_view(), name="user_type_list"),
    path("settings/user-types/<int:pk>/edit/", views_settings.UserTypeEditView.as_view(), name="user_type_edit"),
    path("settings/user-types/<int:pk>/delete/", views_settings.UserTypeDeleteView.as_view(), name="user_type_delete"),
]
