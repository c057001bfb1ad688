from django.urls import include, path

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
    # The rights pages keep their names in this namespace (groups:rights, groups:user_rights, …).
    path("", include("web.rights.urls")),
]
