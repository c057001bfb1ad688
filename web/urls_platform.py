"""URLs of the bare BASE_DOMAIN: a neutral page, and Django's admin for platform staff only."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.generic import TemplateView
from django.views.i18n import set_language

urlpatterns = [
    path("", login_not_required(TemplateView.as_view(template_name="platform/index.html")), name="platform-index"),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
]
