import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# What the test run itself sets, and which a deployment would not have.
NOT_INHERITED = {"DEBUG", "HTTPS", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def run_manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="experquiz.settings.production",
        SECRET_KEY="a-production-secret-of-fifty-characters-or-more-0123456789abcdef",
        ALLOWED_HOSTS=".experquiz.example.com",
        BASE_DOMAIN="experquiz.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_production_settings_refuse_to_start_without_a_secret_key():
    result = run_manage("check", DJANGO_SETTINGS_MODULE="experquiz.settings.production", ALLOWED_HOSTS="x")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_the_celery_app_defaults_to_the_settings_manage_py_uses():
    """`make worker` and `manage.py` run with the same settings unless DJANGO_SETTINGS_MODULE says
    otherwise (on a server it must: README, docker-compose.yml)."""
    import re

    default = re.compile(r'os\.environ\.setdefault\("DJANGO_SETTINGS_MODULE", "([^"]+)"\)')
    found = {name: default.findall((ROOT / name).read_text()) for name in ("manage.py", "experquiz/celery.py")}
    assert found["manage.py"] == found["experquiz/celery.py"] == ["experquiz.settings.dev"], found
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "DJANGO_SETTINGS_MODULE: experquiz.settings.production" in compose
