"""Tenancy: the organisation is resolved once, from the host, and every tenant query is scoped by it.

A request on ``<slug>.<BASE_DOMAIN>`` gets ``request.organization``; the bare ``BASE_DOMAIN`` gets
``None`` and the platform URLconf (neutral page, Django admin for platform staff). Any other host
is a 404, so nothing is ever served without knowing whose data it is.
"""

from django.conf import settings
from django.contrib.auth import logout
from django.db import models
from django.shortcuts import redirect
from django.urls import reverse


def split_host(host: str) -> tuple[str, str]:
    """Return (hostname, port) of 'name[:port]', lower-cased, with IPv6 brackets kept."""
    host = host.lower()
    if host.endswith("]"):
        return host, ""
    name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
    return name, port


def base_hostname() -> str:
    return split_host(settings.BASE_DOMAIN)[0]


def tenant_slug_from_host(host: str) -> str | None:
    """The tenant slug a host names, "" for the bare base domain, None for a host we do not serve."""
    name, _ = split_host(host)
    base = base_hostname()
    if name == base:
        return ""
    suffix = "." + base
    if name.endswith(suffix):
        slug = name[: -len(suffix)]
        if slug and "." not in slug:
            return slug
    return None


def organization_url(organization, path: str = "/") -> str:
    """An absolute URL on an organisation's host, usable outside a request (e-mails, SMS, workers)."""
    scheme = "https" if settings.HTTPS else "http"
    return f"{scheme}://{organization.slug}.{settings.BASE_DOMAIN}{path}"


class TenantSessionMiddleware:
    """A session belongs to one organisation: a user of another one is logged out here.

    Cookies are host-only, so this only bites when a cookie is copied by hand between hosts; it
    keeps the rule true whatever the browser does.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        organization = request.organization
        if user.is_authenticated and user.organization_id != (organization.pk if organization else None):
            logout(request)
            if organization is not None:
                return redirect(settings.LOGIN_URL)
            return redirect(reverse("admin:login", urlconf=settings.PLATFORM_URLCONF))
        if user.is_authenticated and organization is not None:
            # The same row, loaded already: `user.organization` costs no second query.
            user.organization = organization
        return self.get_response(request)


def organization_context(request):
    return {"organization": getattr(request, "organization", None)}


class OrgQuerySet(models.QuerySet):
    """Base queryset of every tenant-owned model."""

    def for_org(self, organization):
        if organization is None:
            raise ValueError("A tenant query needs an organisation.")
        return self.filter(organization=organization)
