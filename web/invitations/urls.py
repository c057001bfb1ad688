from django.urls import path

from . import views

app_name = "invitations"

urlpatterns = [
    # Links in messages: kept short so an SMS with the link stays within 160 characters.
    path("i/<str:token>/", views.accept, name="accept"),
    path("r/<str:token>/", views.reset, name="reset"),
    path("password/forgot/", views.password_forgot, name="password_forgot"),
    # Admin area.
    path("invitations/", views.invitation_list, name="list"),
    path("invitations/paste/", views.paste, name="paste"),
    path("invitations/<int:pk>/resend/", views.invitation_resend, name="resend"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="revoke"),
    path("invitations/resend-group/", views.group_resend, name="group_resend"),
    path("invitations/batches/<int:pk>/", views.batch_detail, name="batch"),
    path("invitations/batches/<int:pk>/progress/", views.batch_progress, name="batch_progress"),
    path("invitations/batches/<int:pk>/retry/", views.batch_retry, name="batch_retry"),
    path("invitations/users/send/", views.users_send, name="users_send"),
    path("invitations/users/<int:user_id>/send/", views.user_send, name="user_send"),
    path("invitations/users/<int:user_id>/revoke/", views.user_revoke, name="user_revoke"),
    path("invitations/users/<int:user_id>/activate/", views.user_activate, name="user_activate"),
]
