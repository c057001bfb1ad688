import json
import urllib.error
import urllib.request

from django.conf import settings

from .. import SmsError
from .base import BaseSmsBackend

# Answers that say the gateway itself cannot take messages now (overloaded, down behind its proxy).
UNAVAILABLE = {429, 502, 503, 504}


class SmsBackend(BaseSmsBackend):
    """A gateway over HTTP: POST `{"to": "+33…", "body": "…"}` as JSON to `SMS_URL`.

    `SMS_TOKEN`, when set, goes in an `Authorization: Bearer` header. Any answer other than 2xx, a
    timeout or a refused connection is a transient failure: the caller retries later. A gateway that
    cannot be reached, or answers 429, 502, 503 or 504, is an outage (no fault of the message).
    """

    def __init__(self, url=None, token=None, timeout=None, **kwargs):
        super().__init__(**kwargs)
        self.url = url or settings.SMS_URL
        self.token = settings.SMS_TOKEN if token is None else token
        self.timeout = timeout or settings.SMS_TIMEOUT
        if not self.url:
            raise SmsError("SMS_URL is not set", transient=False)

    def send_messages(self, messages) -> int:
        for message in messages:
            self._post(message)
        return len(messages)

    def _post(self, message):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps({"to": message.to, "body": message.body}).encode()
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SmsError(f"SMS gateway answered {exc.code}", outage=exc.code in UNAVAILABLE) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmsError(f"SMS gateway unreachable: {reason}", outage=True) from exc
        if not 200 <= status < 300:
            raise SmsError(f"SMS gateway answered {status}")
