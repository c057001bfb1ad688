"""Structured logs: JSON lines (the production format) carrying the request id, here and in tasks."""

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

from experquiz import request_context
from experquiz.logs import TASK_HEADER, _add_request_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines():
    """Records of every logger, formatted by the production formatter and filter of settings.LOGGING."""
    stream = io.StringIO()
    configurator = logging.config.DictConfigurator(settings.LOGGING)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configurator.configure_formatter(dict(settings.LOGGING["formatters"]["json"])))
    handler.addFilter(configurator.configure_filter(dict(settings.LOGGING["filters"]["request_id"])))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.mark.django_db
def test_a_request_logs_json_lines_with_its_request_id(acme, json_lines):
    broken = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    with override_settings(CACHES={"default": broken}):
        response = Client(HTTP_HOST="acme.localhost").get("/healthz", headers={"X-Request-ID": "lb-probe-42"})
    assert response.status_code == 503
    (line,) = [line for line in json_lines() if line["logger"] == "experquiz.health"]
    assert line["request_id"] == "lb-probe-42" == response["X-Request-ID"]
    assert line["level"] == "ERROR" and line["message"] == "Health check: the cache is not available"
    assert line["pid"] == os.getpid() and line["time"]
    assert "exc_info" in line  # the traceback, inside the one JSON line


def test_outside_a_request_the_request_id_is_empty(json_lines):
    logging.getLogger("experquiz.tests").warning("no request here")
    (line,) = [line for line in json_lines() if line["logger"] == "experquiz.tests"]
    assert line["request_id"] == ""


def test_a_task_published_during_a_request_carries_its_request_id_in_a_header():
    headers = {}
    with request_context.bound(request_id="req-7"):
        _add_request_id(headers=headers)
    assert headers == {TASK_HEADER: "req-7"}
    headers = {}
    _add_request_id(headers=headers)  # beat, a command: nothing to carry
    assert headers == {}


def test_production_logs_json_by_default_and_text_when_asked():
    show = "import logging; logging.getLogger('experquiz.x').warning('hello')"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "LOG_FORMAT", "DEBUG"}},
        "DJANGO_SETTINGS_MODULE": "experquiz.settings.production",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "x",
    }

    def run(**extra):
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", show],
            cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return result.stderr.strip().splitlines()[-1]

    line = json.loads(run())
    assert (line["level"], line["logger"], line["message"], line["request_id"]) == (
        "WARNING",
        "experquiz.x",
        "hello",
        "",
    )
    assert run(LOG_FORMAT="text").endswith("WARNING experquiz.x [] hello")
