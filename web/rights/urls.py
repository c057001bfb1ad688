"""Included by web.groups.urls, so these names live in the `groups` namespace (no app_name here)."""

from django.urls import path

from . import views

urlpatterns = [
    path("rights/", views.rights_overview, name="rights"),
    path("rights/profiles/new/", views.profile_create, name="profile_create"),
    path("rights/profiles/<int:profile_id>/", views.profile_update, name="profile_update"),
    path("rights/profiles/<int:profile_id>/delete/", views.profile_delete, name="profile_delete"),
    path("users/<int:user_id>/rights/", views.user_rights, name="user_rights"),
]
