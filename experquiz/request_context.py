"""Who is asking, for code that has no request: the client address and a request id.

The middleware sets them for the duration of a request, so a service deep below a view can record
them (the audit trail does) without every caller passing the request down. Outside a request
(commands, Celery workers) they are empty unless `bound(...)` sets them.
"""

import contextlib
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings

from .throttle import client_ip

REQUEST_ID_HEADER = "X-Request-ID"
# A request id from a proxy in front is kept only if it is short and plain: it ends up in the
# database and in log lines.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


@dataclass(frozen=True)
class RequestContext:
    client_ip: str = ""
    request_id: str = ""


NO_REQUEST = RequestContext()
_current: ContextVar[RequestContext] = ContextVar("experquiz_request_context", default=NO_REQUEST)


def current() -> RequestContext:
    """The context of the request being served, or an empty one outside a request."""
    return _current.get()


@contextlib.contextmanager
def bound(*, client_ip: str = "", request_id: str = ""):
    """Run a block as if serving a request from `client_ip` (tasks replaying a request, tests)."""
    token = _current.set(RequestContext(client_ip=client_ip, request_id=request_id))
    try:
        yield
    finally:
        _current.reset(token)


def enter(*, client_ip: str = "", request_id: str = ""):
    """Start serving as `request_id` until `leave(token)` (for a task caused by that request)."""
    return _current.set(RequestContext(client_ip=client_ip, request_id=request_id))


def leave(token) -> None:
    _current.reset(token)


def request_id_for(request) -> str:
    """The proxy's X-Request-ID when it is a plain short token, otherwise a new random id.

    Only with a trusted proxy in front (TRUSTED_PROXY_COUNT): without one, the header comes from the
    client, who could file its requests under any id."""
    given = request.headers.get(REQUEST_ID_HEADER, "").strip() if settings.TRUSTED_PROXY_COUNT else ""
    return given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Sets the request context for the request and answers with its request id (for support)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        context = RequestContext(client_ip=client_ip(request), request_id=request_id_for(request))
        request.request_id = context.request_id
        token = _current.set(context)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[REQUEST_ID_HEADER] = context.request_id
        return response
