"""/healthz: what a load balancer asks every web process (database, broker, cache)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(host="acme.localhost", **extra):
    return Client(HTTP_HOST=host).get("/healthz", **extra)


@pytest.mark.parametrize("host", ["acme.localhost", "localhost", "unknown-tenant.localhost", "10.1.2.3:8000"])
def test_healthz_answers_on_every_host_without_login(acme, host):
    response = health(host)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "not used"}}
    assert "no-store" in response["Cache-Control"]
    assert response["X-Request-ID"]


def test_healthz_is_never_rate_limited(acme):
    assert {health().status_code for _ in range(100)} == {200}


def test_healthz_is_not_redirected_to_https_but_the_pages_are(acme, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert health().status_code == 200
    assert Client(HTTP_HOST="acme.localhost").get("/login/").status_code == 301


def test_healthz_names_a_cache_that_does_not_answer_and_says_503(acme):
    broken = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
    }
    with override_settings(CACHES={"default": broken}):
        response = health()
    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {"database": "ok", "cache": "error", "broker": "not used"}}


def test_healthz_names_a_broker_that_does_not_answer_without_showing_its_address(acme, settings):
    settings.CELERY_BROKER_URL = f"redis://:broker-secret@127.0.0.1:{closed_port()}/0"
    response = health()
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "error"}
    assert b"broker-secret" not in response.content and b"127.0.0.1" not in response.content


@pytest.mark.slow
def test_healthz_says_503_when_the_database_is_down():
    """A process whose database refuses connections (nothing listens on its port): a 503 naming it,
    not the 500 the tenant lookup would raise, and no address or password in the answer."""
    url = f"postgres://someone:db-secret@127.0.0.1:{closed_port()}/experquiz"
    script = (
        "from django.test import Client; r = Client(HTTP_HOST='acme.localhost').get('/healthz'); "
        "print(r.status_code); print(r.content.decode())"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "experquiz.settings.test", "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    status, body = result.stdout.strip().splitlines()[-2:]
    assert status == "503", result.stdout + result.stderr
    assert json.loads(body) == {"status": "error", "checks": {"database": "error", "cache": "ok", "broker": "not used"}}
    assert "db-secret" not in body and "someone" not in body
