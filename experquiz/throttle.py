"""Fixed-window counters in the cache, for rate limits on login and token pages.

With several web processes the cache must be shared (CACHE_URL=redis://…); the embedded default
(local memory) limits per process, which is enough for a single-process run.
"""

import contextlib
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


def client_ip(request) -> str:
    """The client address; X-Forwarded-For is trusted only for the configured number of proxies."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


@dataclass(frozen=True)
class Throttle:
    scope: str
    limit: int
    window: int  # seconds

    def _key(self, identity: str) -> str:
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return f"throttle:{self.scope}:{digest}"

    def is_blocked(self, identity: str) -> bool:
        return (cache.get(self._key(identity)) or 0) >= self.limit

    def hit(self, identity: str) -> int:
        """Count one attempt; the window starts at the first one."""
        key = self._key(identity)
        if cache.add(key, 1, self.window):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, self.window)
            return 1

    def reset(self, identity: str) -> None:
        cache.delete(self._key(identity))


def login_identity(organization, raw: str) -> str:
    """One key per person however they typed their login ID, so retyping it differently gains nothing.

    A mobile number typed "06 12 34 56 78", "0612345678" or "+33 6 12 34 56 78" is one key.
    """
    from . import phones

    raw = (raw or "").strip().lower()
    if organization is not None and phones.looks_like_phone(raw):
        with contextlib.suppress(phones.InvalidPhoneNumber):
            raw = phones.to_e164(raw, organization.phone_region)
    return f"{organization.pk if organization else 0}:{raw}"


# The named limits, in one place. Settings are read when called, so tests can change them.


def login_throttles() -> tuple[Throttle, Throttle]:
    """Failed logins, per login ID (see `login_identity`) and per client address."""
    window = settings.LOGIN_THROTTLE_WINDOW
    return (
        Throttle("login-id", settings.LOGIN_THROTTLE_PER_ID, window),
        Throttle("login-ip", settings.LOGIN_THROTTLE_PER_IP, window),
    )


def token_throttle() -> Throttle:
    """Failed token look-ups (unknown, used, revoked or expired links), per client address."""
    return Throttle("token-ip", settings.TOKEN_THROTTLE_PER_IP, settings.TOKEN_THROTTLE_WINDOW)


def password_reset_throttles() -> tuple[Throttle, Throttle]:
    """Password-reset requests, per login ID (see `login_identity`) and per client address."""
    window = settings.TOKEN_THROTTLE_WINDOW
    return (
        Throttle("reset-id", settings.PASSWORD_RESET_THROTTLE_PER_ID, window),
        Throttle("reset-ip", settings.PASSWORD_RESET_THROTTLE_PER_IP, window),
    )
