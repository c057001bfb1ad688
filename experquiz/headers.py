"""Response headers that keep people's pages out of caches (the Content-Security-Policy itself
comes from django-csp, configured in settings)."""

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
