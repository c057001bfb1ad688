"""URLs of an organisation's host (<slug>.<BASE_DOMAIN>)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from accounts.views import home

urlpatterns = [
    path("", home, name="home"),
    path("", include("accounts.urls")),
    path("", include("groups.urls")),
    path("", include("invitations.urls")),
    path("", include("audit.urls")),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
]
