from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

from experquiz.tenancy import tenant_slug_from_host

from .selectors import organization_by_slug


class TenantMiddleware:
    """Set ``request.organization`` from the host; unknown tenants are a 404."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # get_host() validates against ALLOWED_HOSTS and raises DisallowedHost (a 400) for garbage.
        slug = tenant_slug_from_host(request.get_host())
        if slug is None:
            raise Http404("Unknown host")
        if slug == "":
            request.organization = None
            request.urlconf = settings.PLATFORM_URLCONF
        else:
            # With its people version, read now, before anything the request counts (accounts.selectors).
            request.organization = organization_by_slug(slug)
            if request.organization is None:
                raise Http404("Unknown organisation")
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """A user given a temporary password must choose their own before going anywhere else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.must_change_password and request.organization is not None:
            allowed = {reverse("accounts:password_change"), reverse("accounts:logout"), reverse("set_language")}
            if request.path not in allowed:
                return redirect("accounts:password_change")
        return self.get_response(request)
