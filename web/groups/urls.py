from django.urls import path

from . import views

app_name = "groups"

urlpatterns = [
    path("groups/", views.group_list, name="list"),
    path("groups/new/", views.group_create, name="create"),
    path("groups/memberships/", views.membership_grid, name="grid"),
    path("groups/<int:group_id>/", views.group_detail, name="detail"),
    path("groups/<int:group_id>/edit/", views.group_update, name="update"),
    path("groups/<int:group_id>/delete/", views.group_delete, name="delete"),
    path("groups/<int:group_id>/members/add/", views.group_add_members, name="add_members"),
    path("groups/<int:group_id>/members/remove/", views.group_remove_members, name="remove_members"),
    path("rights/", views.rights_overview, name="rights"),
    path("rights/profiles/new/", views.profile_create, name="profile_create"),
    path("rights/profiles/<int:profile_id>/", views.profile_update, name="profile_update"),
    path("rights/profiles/<int:profile_id>/delete/", views.profile_delete, name="profile_delete"),
    path("users/<int:user_id>/rights/", views.user_rights, name="user_rights"),
]
