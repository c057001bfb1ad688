"""URLs of an organisation's host (<slug>.<BASE_DOMAIN>).

The pages live in the web package, included by dotted path: experquiz imports no app.
"""

from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

urlpatterns = [
    path("", include("web.urls")),
    path("", include("web.people.urls")),
    path("", include("web.groups.urls")),
    path("", include("web.invitations.urls")),
    path("", include("web.audit.urls")),
    path("", include("web.assessments.urls")),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
]
