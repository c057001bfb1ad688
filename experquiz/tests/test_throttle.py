"""Rate limits hold under concurrency: an attempt is counted (atomically) before it is let through.

Checking a counter, doing the work, then counting lets a burst of simultaneous requests all pass the
check before any of them is counted. Every public page that spends something per attempt (a password
hash, a token look-up, a reset message) is listed in GATES, and each is hit by simultaneous requests
(threads, through the real view and the cache backend). The requests that reach the spent work wait
there until every request of the burst has reached it or been answered, as they would behind a real
password hash: so every request is counted before any finishes, and at most the limit may get through.
"""

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import User
from accounts.tests.factories import OrganizationFactory, UserFactory
from experquiz.throttle import Throttle

LIMIT = 3


# --- The throttle itself --------------------------------------------------------------------------


def redis_url() -> str:
    url = settings.TEST_REDIS_URL
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is needed at {url} (CI must run the shared-cache throttle test)")
        pytest.skip(f"no Redis at {url}")
    return url


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings):
    """The tests' cache (local memory, one process) and the shared one production uses (Redis)."""
    if request.param == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url(),
                "KEY_PREFIX": f"throttle-test-{os.getpid()}",
            }
        }
    return request.param


class Burst:
    """Requests released together, one thread each, and a meeting point in the work they spend."""

    def __init__(self, actions):
        self.actions = actions
        self.changed = threading.Condition()
        self.arrived = 0  # requests that reached the spent work
        self.answered = 0  # requests answered (refused ones never arrive)

    def meet(self):
        """Wait until every request has reached the spent work or been answered."""
        with self.changed:
            self.arrived += 1
            self.changed.notify_all()
            self.changed.wait_for(lambda: self.arrived + self.answered >= len(self.actions), timeout=15)

    def run(self):
        """Run every action in its own thread, released together; return their results in order."""
        barrier = threading.Barrier(len(self.actions))
        results = [None] * len(self.actions)
        errors = []

        def run(index, action):
            try:
                barrier.wait(timeout=30)
                results[index] = action()
            except Exception as exc:  # reported in the test's own thread
                errors.append(exc)
            finally:
                connection.close()
                with self.changed:
                    self.answered += 1
                    self.changed.notify_all()

        threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(self.actions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        if errors:
            raise errors[0]
        return results


def run_at_once(actions):
    return Burst(actions).run()


def test_simultaneous_attempts_are_let_through_up_to_the_limit_only(cache_backend):
    throttle = Throttle("race-test", limit=5, window=60)
    try:
        allowed = run_at_once([lambda: throttle.attempt("someone")] * 40)
        assert allowed.count(True) == 5
    finally:
        throttle.reset("someone")


def test_a_refund_gives_back_one_attempt_and_never_goes_below_zero(cache_backend):
    throttle = Throttle("refund-test", limit=2, window=60)
    try:
        assert throttle.attempt("x") and throttle.attempt("x")
        assert not throttle.attempt("x")
        throttle.refund("x")
        throttle.refund("x")
        assert throttle.attempt("x")
        assert not throttle.attempt("x")
        throttle.reset("x")
        throttle.refund("y")  # nothing counted: nothing to give back, and no credit either
        assert throttle.attempt("y") and throttle.attempt("y") and not throttle.attempt("y")
    finally:
        throttle.reset("x")
        throttle.reset("y")


def test_a_window_ends(cache_backend):
    throttle = Throttle("window-test", limit=1, window=1)
    try:
        assert throttle.attempt("x")
        assert not throttle.attempt("x")
        time.sleep(1.2)
        assert throttle.attempt("x")
    finally:
        throttle.reset("x")


# --- Every public page that spends something per attempt ------------------------------------------


@dataclass(frozen=True)
class Gate:
    """A public page, the work each attempt spends (module, attribute path), the limit that bounds it."""

    url_name: str
    spend: tuple[str, str]
    limits: dict
    post: object  # (client, n, world) -> response of the n-th attempt
    platform: bool = False  # on the bare domain (platform URLconf)
    refused: tuple = (429,)
    extra: dict = field(default_factory=dict)


def _login(client, n, world):
    return client.post("/login/", {"username": world["user"].email, "password": f"guess-{n}"})


def _admin_login(client, n, world):
    return client.post("/admin/login/", {"username": world["staff"].email, "password": f"guess-{n}"})


def _forgot(client, n, world):
    return client.post("/password/forgot/", {"username": world["user"].email})


def _unknown_link(prefix):
    def post(client, n, world):
        return client.get(f"/{prefix}/{'z' * 40}{n:03d}/")

    return post


def _unknown_assessment_link(suffix="", method="get"):
    def post(client, n, world):
        return getattr(client, method)(f"/a/{'z' * 40}{n:03d}/{suffix}")

    return post


# The assessment link's pages each look the token up (web.assessments.views_link) under `token_page`.
ASSESSMENT_LINK_PAGES = {
    "assessment_link": _unknown_assessment_link(),
    "assessment_link_opened": _unknown_assessment_link("opened/", "post"),
    "assessment_link_question": _unknown_assessment_link("q/1/"),
    "assessment_link_review": _unknown_assessment_link("review/"),
    "assessment_link_submit": _unknown_assessment_link("submit/", "post"),
}


GATES = {
    "accounts:login": Gate(
        "accounts:login",
        ("accounts.backends", "LoginIdBackend.authenticate"),
        {"LOGIN_THROTTLE_PER_ID": LIMIT},
        _login,
    ),
    "admin:login": Gate(
        "admin:login",
        ("accounts.backends", "LoginIdBackend.authenticate"),
        {"LOGIN_THROTTLE_PER_ID": LIMIT},
        _admin_login,
        platform=True,
    ),
    # Over its limit the page still says "sent" (it must not tell anything), but sends nothing more.
    "invitations:password_forgot": Gate(
        "invitations:password_forgot",
        ("invitations.services.resets", "password_reset_request"),
        {"PASSWORD_RESET_THROTTLE_PER_ID": LIMIT},
        _forgot,
        refused=(200,),
    ),
    "invitations:accept": Gate(
        "invitations:accept",
        ("invitations.selectors", "invitation_by_token"),
        {"TOKEN_THROTTLE_PER_IP": LIMIT},
        _unknown_link("i"),
    ),
    "invitations:reset": Gate(
        "invitations:reset",
        ("invitations.selectors", "invitation_by_token"),
        {"TOKEN_THROTTLE_PER_IP": LIMIT},
        _unknown_link("r"),
    ),
    **{
        name: Gate(
            name, ("web.assessments.views_link", "assessment_link_by_token"), {"TOKEN_THROTTLE_PER_IP": LIMIT}, attempt
        )
        for name, attempt in ASSESSMENT_LINK_PAGES.items()
    },
}

# Public pages that spend nothing an attacker could use, and why.
NOT_GATED = {
    "set_language": "sets a cookie; reads nothing",
    "platform-index": "a static page",
}


def walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(
                pattern.url_patterns, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            )
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}", pattern.callback


def public_pages():
    """Names of the pages anyone may open without logging in, on tenant hosts and the bare domain."""
    names = {name for name, view in walk(get_resolver(settings.ROOT_URLCONF).url_patterns) if _public(view)}
    for name, view in walk(get_resolver(settings.PLATFORM_URLCONF).url_patterns):
        # The admin's own pages answer anonymous visitors with a redirect to admin:login.
        if _public(view) and (not name.startswith("admin:") or name == "admin:login"):
            names.add(name)
    return names


def _public(view):
    return getattr(view, "login_required", True) is False


def test_every_public_page_is_rate_limited_or_says_why_not():
    missing = public_pages() - set(GATES) - set(NOT_GATED)
    assert not missing, (
        f"Public pages with no rate limit: {sorted(missing)}. Limit them (experquiz/throttle.py) and add "
        "them to GATES in this file, or to NOT_GATED with the reason they need none."
    )
    assert set(GATES) | set(NOT_GATED) <= public_pages() | {"admin:login"}


@pytest.fixture
def world(transactional_db):
    acme = OrganizationFactory(slug="acme")
    return {
        "acme": acme,
        "user": UserFactory(organization=acme, email="bob@acme.example"),
        "staff": User.objects.create_superuser("root@platform.example", "platform-pass-2026"),
    }


def spend_spy(monkeypatch, burst, module_name, attribute):
    """Count the calls of a module's function or class method; each waits at the burst's meeting point."""
    import importlib

    owner = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    calls = []
    lock = threading.Lock()
    # SQLite's shared in-memory test database refuses concurrent writers ("table is locked") where
    # PostgreSQL would wait: there the work itself takes turns. The counting and the meeting above
    # it stay concurrent, which is what the limits must survive.
    database = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()

    def spy(*args, **kwargs):
        with lock:
            calls.append(1)
        burst.meet()
        with database:
            return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


@pytest.mark.parametrize("name", sorted(GATES))
def test_simultaneous_attempts_spend_no_more_than_the_limit(name, world, settings, monkeypatch):
    gate = GATES[name]
    for setting, value in gate.limits.items():
        setattr(settings, setting, value)
    host = "localhost" if gate.platform else "acme.localhost"
    attempts = 4 * LIMIT
    burst = Burst([lambda n=n: gate.post(Client(HTTP_HOST=host), n, world) for n in range(attempts)])
    spent = spend_spy(monkeypatch, burst, *gate.spend)
    responses = burst.run()
    assert len(spent) == LIMIT, f"{len(spent)} of {attempts} simultaneous attempts got through, limit {LIMIT}"
    assert sum(response.status_code in gate.refused for response in responses) >= attempts - LIMIT


def login_attempt(password, username="bob@acme.example"):
    return lambda: Client(HTTP_HOST="acme.localhost").post("/login/", {"username": username, "password": password})


def test_twelve_simultaneous_logins_for_one_mobile_check_five_passwords_at_most(world, password_checks, monkeypatch):
    """The reported race, with the default limits: 11 wrong passwords and the right one at once."""
    from accounts.tests.factories import PASSWORD

    UserFactory(organization=world["acme"], email="", mobile="+33612345678", preferred_channel="sms")
    burst = Burst([login_attempt(f"wrong-{n}", "06 12 34 56 78") for n in range(11)])
    burst.actions.append(login_attempt(PASSWORD, "06 12 34 56 78"))
    spend_spy(monkeypatch, burst, "accounts.backends", "LoginIdBackend.authenticate")
    burst.run()
    assert len(password_checks) == settings.LOGIN_THROTTLE_PER_ID


def test_a_burst_of_twenty_five_wrong_logins_is_answered_429(world, monkeypatch):
    burst = Burst([login_attempt(f"wrong-{n}") for n in range(25)])
    spend_spy(monkeypatch, burst, "accounts.backends", "LoginIdBackend.authenticate")
    statuses = [response.status_code for response in burst.run()]
    assert statuses.count(429) == 25 - settings.LOGIN_THROTTLE_PER_ID


# --- An IPv6 client counts as its /64 --------------------------------------------------------------
# A subscriber gets a whole /64 and may use any of its 2^64 addresses: counted per address, each
# new address would start a fresh count. IPv4 addresses are counted one by one.

# The per-address limit of each gate.
ADDRESS_LIMITS = {
    "accounts:login": "LOGIN_THROTTLE_PER_IP",
    "admin:login": "LOGIN_THROTTLE_PER_IP",
    "invitations:password_forgot": "PASSWORD_RESET_THROTTLE_PER_IP",
    "invitations:accept": "TOKEN_THROTTLE_PER_IP",
    "invitations:reset": "TOKEN_THROTTLE_PER_IP",
    **dict.fromkeys(ASSESSMENT_LINK_PAGES, "TOKEN_THROTTLE_PER_IP"),
}


def test_throttle_address_counts_an_ipv6_client_by_its_slash_64():
    from experquiz.throttle import throttle_address

    same = {throttle_address(a) for a in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:DB8:1:2:a::b")}
    assert same == {"2001:db8:1:2::/64"}
    assert throttle_address("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert throttle_address("203.0.113.7") == "203.0.113.7" != throttle_address("203.0.113.8")
    assert throttle_address("::ffff:203.0.113.7") == "203.0.113.7"  # an IPv4 client seen through IPv6
    assert throttle_address("") == ""


@pytest.mark.parametrize("name", sorted(GATES))
def test_new_addresses_in_one_ipv6_slash_64_do_not_escape_the_per_address_limit(name, world, settings, monkeypatch):
    assert set(ADDRESS_LIMITS) == set(GATES), "say which setting limits each gate per client address"
    gate = GATES[name]
    # Only the per-address limit is low: the per-login-ID ones must not be what refuses.
    settings.LOGIN_THROTTLE_PER_ID = settings.PASSWORD_RESET_THROTTLE_PER_ID = 100
    setattr(settings, ADDRESS_LIMITS[name], LIMIT)
    host = "localhost" if gate.platform else "acme.localhost"
    spent = spend_spy(monkeypatch, Burst([]), *gate.spend)

    def attempt(n, address):
        return gate.post(Client(HTTP_HOST=host, REMOTE_ADDR=address), n, world)

    for n in range(LIMIT):
        attempt(n, f"2001:db8:1:2::{n + 1:x}")
    assert len(spent) == LIMIT
    assert attempt(LIMIT, "2001:db8:1:2:abcd::1").status_code in gate.refused
    assert len(spent) == LIMIT, "a new address of the same /64 started a new count"
    attempt(LIMIT + 1, "2001:db8:1:3::1")
    assert len(spent) == LIMIT + 1, "another /64 is another client"
