"""Fixed-window counters in the cache, for rate limits on login and token pages.

With several web processes the cache must be shared (CACHE_URL=redis://…); the embedded default
(local memory) limits per process, which is enough for a single-process run.
"""

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
