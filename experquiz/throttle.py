"""Fixed-window counters in the cache, for rate limits on login and token pages.

An attempt is counted before it is let through, atomically (the cache's add/incr), and the decision
is taken on the count: see `Throttle.attempt`. The cache must implement incr() atomically, as the
local-memory and Redis backends do (the database and file backends do not).

With several web processes the cache must be shared (CACHE_URL=redis://…); the embedded default
(local memory) limits per process, which is enough for a single-process run.
"""

import contextlib
import hashlib
import ipaddress
import weakref
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache


def client_ip(request) -> str:
    """The client address; X-Forwarded-For is trusted only for the configured number of proxies."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def throttle_address(ip: str) -> str:
    """What a per-address limit counts: an IPv6 client's /64, an IPv4 address as it is.

    An IPv6 subscriber holds a whole /64 and may use any of its addresses, each of which would start
    a fresh count. Only the limits use this: the audit trail keeps the client's own address.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 4:
        return ip
    if address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


def client_throttle_address(request) -> str:
    """The client's address as the per-address limits count it (`throttle_address`)."""
    return throttle_address(client_ip(request))


def _redis_backend():
    """The default cache when it is Django's Redis backend (its counters then cost one round trip)."""
    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


# Each counter change is one Lua script, one command and one round trip (Django's incr and decr take
# three and two: they check that the key exists first). HIT starts the counter at 0 with the window's
# expiry if it does not exist, then counts the attempt; REFUND gives one back, and deletes a counter
# that the window's end removed meanwhile (DECR re-creates it at -1, without an expiry).
HIT = "redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX') return redis.call('INCR', KEYS[1])"
REFUND = "local n = redis.call('DECR', KEYS[1]) if n < 0 then redis.call('DEL', KEYS[1]) end return n"
_scripts = weakref.WeakKeyDictionary()


def _redis_scripts(backend, key):
    """(the key as stored, HIT, REFUND) for `key` in `backend`, the scripts bound to a client made once
    per connection pool (Django's backend makes a new client, with its own copy of every reply
    parser, for each operation)."""
    full_key = backend.make_and_validate_key(key)
    pool = backend._cache._get_connection_pool(write=True)
    if pool not in _scripts:
        client = backend._cache._client(connection_pool=pool)
        _scripts[pool] = (client.register_script(HIT), client.register_script(REFUND))
    return full_key, *_scripts[pool]


@dataclass(frozen=True)
class Throttle:
    scope: str
    limit: int
    window: int  # seconds

    def _key(self, identity: str) -> str:
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return f"throttle:{self.scope}:{digest}"

    def attempt(self, identity: str) -> bool:
        """Count one attempt, then say whether it is within the limit.

        Counting comes first and the decision is taken on the count the cache returned: simultaneous
        requests each get their own number, so no more than `limit` of them pass. (Checking, doing the
        work, then counting lets a burst all pass the check before any of them is counted.)
        """
        return self.hit(identity) <= self.limit

    def hit(self, identity: str) -> int:
        """Count one attempt atomically (the cache's add/incr) and return the count in this window.

        The window starts at the first attempt.
        """
        key = self._key(identity)
        redis = _redis_backend()
        if redis is not None:
            full_key, hit, _refund = _redis_scripts(redis, key)
            return hit(keys=[full_key], args=[self.window])
        for _ in range(3):
            if cache.add(key, 1, self.window):
                return 1
            try:
                count = cache.incr(key)
            except ValueError:  # the window ended between add() and incr(): start the next one
                continue
            if count == 1:
                # Nothing was counted before this one: a counter given back to 0, or one that Redis's
                # INCR re-created without an expiry after the window ended. Start a fresh window, so
                # no counter outlives it.
                cache.touch(key, self.window)
            return count
        return self.limit + 1  # the cache keeps losing the key: refuse rather than count nothing

    def refund(self, identity: str) -> None:
        """Give back one counted attempt that turned out not to be a failure."""
        key = self._key(identity)
        redis = _redis_backend()
        if redis is not None:
            full_key, _hit, refund = _redis_scripts(redis, key)
            refund(keys=[full_key])
            return
        try:
            count = cache.decr(key)
        except ValueError:  # the window ended: nothing left to give back
            return
        if count < 0:
            # The window ended during decr() and Redis re-created the key: never hold a credit.
            cache.delete(key)

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


class LoginThrottles(NamedTuple):
    per_id_and_ip: Throttle
    per_ip: Throttle
    per_id: Throttle


def login_throttles() -> LoginThrottles:
    """Failed logins: per login ID (see `login_identity`) from one client address, per client address,
    and a larger, slower ceiling per login ID from every address.

    Counting per login ID alone would let anyone who knows a login ID lock its owner out (five wrong
    passwords from anywhere). Per (login ID, address), an attacker's failures block only their own
    address; the ceiling still stops a guessing attack spread over many addresses (django-axes calls
    these combination lockouts).
    """
    window = settings.LOGIN_THROTTLE_WINDOW
    return LoginThrottles(
        per_id_and_ip=Throttle("login-id-ip", settings.LOGIN_THROTTLE_PER_ID, window),
        per_ip=Throttle("login-ip", settings.LOGIN_THROTTLE_PER_IP, window),
        per_id=Throttle("login-id", settings.LOGIN_THROTTLE_ID_CEILING, settings.LOGIN_THROTTLE_ID_CEILING_WINDOW),
    )


@dataclass(frozen=True)
class LoginAttempt:
    """One login attempt, already counted. `blocked_for` is the window, in seconds, of the limit it
    is over (0 when it may go on to the password check)."""

    identity: str
    ip: str
    blocked_for: int = 0

    @property
    def blocked(self) -> bool:
        return self.blocked_for > 0

    @property
    def minutes(self) -> int:
        return max(1, self.blocked_for // 60)

    def succeeded(self) -> None:
        """The login went through: it was no failure. This address has shown it knows the password,
        so its counter for this login ID starts again; the other two get their one attempt back."""
        throttles = login_throttles()
        throttles.per_id_and_ip.reset(_pair(self.identity, self.ip))
        throttles.per_ip.refund(self.ip)
        throttles.per_id.refund(self.identity)


def _pair(identity: str, ip: str) -> str:
    return f"{identity}\n{ip}"


def login_attempt(request, username: str) -> LoginAttempt:
    """Count a login attempt before any password is hashed, and decide on the counts (see
    `login_throttles`). A blocked attempt must not reach the password check."""
    identity = login_identity(getattr(request, "organization", None), username)
    ip = client_throttle_address(request)
    throttles = login_throttles()
    # Both counted (a list, not a short-circuit): a flood on one login ID also uses up its address.
    near = [throttles.per_id_and_ip.attempt(_pair(identity, ip)), throttles.per_ip.attempt(ip)]
    if not all(near):
        return LoginAttempt(identity, ip, blocked_for=settings.LOGIN_THROTTLE_WINDOW)
    # Only attempts let through by the address's limits count towards the ceiling: otherwise one
    # blocked address could go on pushing a login ID to its ceiling, and lock its owner out everywhere.
    if not throttles.per_id.attempt(identity):
        return LoginAttempt(identity, ip, blocked_for=throttles.per_id.window)
    return LoginAttempt(identity, ip)


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
