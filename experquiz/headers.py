"""Response headers that keep people's pages out of caches (the Content-Security-Policy itself
comes from django-csp, configured in settings)."""

import functools

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer to a signed-in person: pages, exports, downloads.

    A shared computer's browser cache or a proxy must not keep a copy of people's data. The token
    pages (links in messages) are marked by their own view; a response that already says how it
    may be cached keeps what it says.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if "Cache-Control" not in response and user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response


@functools.cache
def _site_policy() -> str:
    return build_policy()


@receiver(setting_changed)
def _site_policy_changed(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _site_policy.cache_clear()


# What a view (django-csp's decorators) or a template (a nonce) may set to change the policy of one answer.
_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")


class SitePolicyCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the site-wide Content-Security-Policy written once per process.

    The policy comes from settings only (no nonce, no report-only policy, no excluded prefix), yet
    django-csp built the header from the settings' directives at every answer. An answer whose view
    changed its policy (django-csp's decorators) or used a nonce still gets django-csp's own header.
    """

    def process_response(self, request, response):
        policy = settings.CONTENT_SECURITY_POLICY or {}
        if (
            settings.DEBUG
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or policy.get("EXCLUDE_URL_PREFIXES")
            or getattr(request, "_csp_nonce", None) is not None
            or any(getattr(response, name, None) is not None for name in _PER_RESPONSE)
        ):
            return super().process_response(request, response)
        header = _site_policy()
        if header and HEADER not in response and getattr(response, "_csp_exempt", False) is False:
            response[HEADER] = header
        # As django-csp does: a nonce asked for after the header is written is an error, not a silent no-op.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
