"""Text messages, with pluggable backends in the manner of Django's email framework.

`SMS_BACKEND` names the backend class; when it is not set, `SMS_URL` selects the HTTP gateway
backend and its absence the console backend. Backends: console (development), locmem (tests: the
messages land in `experquiz.sms.outbox`), http (a gateway that takes `{"to", "body"}` as JSON).
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

# Filled by the locmem backend, emptied by the tests.
outbox: list["SmsMessage"] = []


class SmsError(Exception):
    """Sending failed. `transient` failures (gateway down, timeout, non-2xx) are worth retrying; an
    `outage` (the gateway cannot be reached, or says it is unavailable) is no fault of the message."""

    def __init__(self, message, *, transient=True, outage=False):
        super().__init__(message)
        self.transient = transient
        self.outage = outage


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    body: str


def backend_path() -> str:
    if getattr(settings, "SMS_BACKEND", ""):
        return settings.SMS_BACKEND
    if getattr(settings, "SMS_URL", ""):
        return "experquiz.sms.backends.http.SmsBackend"
    return "experquiz.sms.backends.console.SmsBackend"


def get_connection(backend: str | None = None, **kwargs):
    """An SMS backend instance; reuse it for a whole packet like an SMTP connection."""
    return import_string(backend or backend_path())(**kwargs)


def send_sms(to: str, body: str, *, connection=None) -> int:
    connection = connection or get_connection()
    return connection.send_messages([SmsMessage(to=to, body=body)])
