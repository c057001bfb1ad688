"""ROOT_URLCONF: the pages of an organisation's host (<slug>.<BASE_DOMAIN>), by area.

The bare BASE_DOMAIN is served by `web.urls_platform` instead (PLATFORM_URLCONF, chosen by
accounts.middleware.TenantMiddleware). The roots live here, on the top floor, because they include
every page.
"""

from django.urls import include, path

from .assessments import urls as assessments_urls
from .assessments import urls_link as assessment_link_urls
from .audit import urls as audit_urls
from .groups import urls as groups_urls
from .invitations import urls as invitations_urls
from .people import urls as people_urls
from .people.views import home, language_choose

# The link pages first: opened by everyone a message reaches, they are the most requested, and Django
# tries the patterns in order (no other area's pattern matches their short prefixes: i/, r/, a/…).
urlpatterns = [
    path("", include(invitations_urls)),
    path("", include(assessment_link_urls)),
    path("", home, name="home"),
    path("", include(people_urls)),
    path("", include(groups_urls)),
    path("", include(audit_urls)),
    path("", include(assessments_urls)),
    path("i18n/setlang/", language_choose, name="set_language"),
]
