"""`/healthz` for load balancers and monitors: can this web process serve? Database, broker, cache.

Answered by a middleware before the tenant is looked up, the session loaded or the user checked, so
it works on the bare domain, on every tenant host and under whatever Host a probe sends, with no
login, no rate limit and no redirect to HTTPS (SECURE_REDIRECT_EXEMPT): a probe of a process whose
database is down gets its 503 here, not the 500 the tenant lookup would raise. The answer names each
part and says "ok" or "error", never an address, a password or an exception's text (those go to the
log, with the request id).
"""

import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

PATHS = {"/healthz", "/healthz/"}
BROKER_TIMEOUT = 2.0  # seconds: a probe must answer before the load balancer gives up on it


def _database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", 30)
    try:
        if cache.get(key) != "1":
            raise RuntimeError("the cache did not keep a value")
    finally:
        cache.delete(key)


def _broker() -> None:
    from .celery import app

    with app.connection_for_write(settings.CELERY_BROKER_URL) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)


def checks() -> dict[str, str]:
    """{part: "ok" | "error" | "not used"}; the embedded default (no broker) runs tasks in-process."""
    results = {}
    parts = [("database", _database), ("cache", _cache)]
    if settings.CELERY_BROKER_URL:
        parts.append(("broker", _broker))
    else:
        results["broker"] = "not used"
    for name, check in parts:
        started = time.monotonic()
        try:
            check()
        except Exception:
            logger.exception("Health check: the %s is not available", name)
            results[name] = "error"
        else:
            results[name] = "ok"
        logger.debug("Health check of the %s took %.3fs", name, time.monotonic() - started)
    return results


def healthz(request) -> JsonResponse:
    results = checks()
    healthy = all(value != "error" for value in results.values())
    response = JsonResponse({"status": "ok" if healthy else "error", "checks": results}, status=200 if healthy else 503)
    add_never_cache_headers(response)
    return response


class HealthCheckMiddleware:
    """Answers GET/HEAD /healthz before anything that needs the database or a tenant."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path in PATHS and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)
