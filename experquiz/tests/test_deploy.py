import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# What the test run itself sets, and which a deployment would not have.
NOT_INHERITED = {
    "DEBUG", "HTTPS", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE",
    "CACHE_URL", "CELERY_BROKER_URL", "WEB_CONCURRENCY", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "BASE_DOMAIN", "PORT",
}  # fmt: skip
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "experquiz.settings.production",
    "SECRET_KEY": "a-production-secret-of-fifty-characters-or-more-0123456789abcdef",
    "ALLOWED_HOSTS": ".experquiz.example.com",
    "BASE_DOMAIN": "experquiz.example.com",
}


def run_manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings():
    # A deployment has a broker (CELERY_BROKER_URL); no tuning variable is needed beyond it.
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, CELERY_BROKER_URL="redis://127.0.0.1:6379/0"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_refuses_a_cache_of_each_process_with_several_web_workers():
    """Rate limits count in the cache: a per-process one lets each web worker through its own quota."""
    result = run_manage("check", "--deploy", **PRODUCTION)
    assert result.returncode != 0
    assert "experquiz.E001" in result.stdout + result.stderr
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, WEB_CONCURRENCY="1")
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_manage("check", "--deploy", **PRODUCTION, CACHE_URL="dbcache://cache_table")
    assert "experquiz.E002" in result.stdout + result.stderr


@pytest.mark.slow
def test_production_uses_the_brokers_redis_as_its_cache_unless_told_otherwise():
    show = "from django.conf import settings; c = settings.CACHES['default']; print(c['BACKEND'], c['LOCATION'])"
    result = run_manage(
        "shell", "--no-imports", "-c", show, **PRODUCTION, CELERY_BROKER_URL="redis://broker.example:6379/0"
    )
    assert result.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "redis://broker.example:6379/0"]
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        show,
        **PRODUCTION,
        CELERY_BROKER_URL="redis://broker.example:6379/0",
        CACHE_URL="redis://cache:6379/2",
    )
    assert result.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "redis://cache:6379/2"]


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


@pytest.mark.slow
def test_production_keeps_database_connections_and_checks_them_before_reuse():
    show = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    assert run_manage("shell", "--no-imports", "-c", show, **PRODUCTION).stdout.split() == ["300", "True"]
    off = run_manage("shell", "--no-imports", "-c", show, **PRODUCTION, CONN_MAX_AGE="0")
    assert off.stdout.split() == ["0", "True"]


def test_links_follow_the_port_the_server_runs_on():
    """`PORT=8101 make run`: e-mail and SMS links, seed_demo's address and the server all say 8101."""
    show = (
        "from django.conf import settings; from accounts.models import Organization; "
        "from experquiz.tenancy import organization_url; "
        "print(settings.BASE_DOMAIN, organization_url(Organization(slug='demo')))"
    )
    dev = {"DJANGO_SETTINGS_MODULE": "experquiz.settings.dev"}
    result = run_manage("shell", "--no-imports", "-c", show, **dev, PORT="8101")
    assert result.stdout.split() == ["localhost:8101", "http://demo.localhost:8101/"], result.stderr
    # An explicit BASE_DOMAIN (a proxy in front, another host name) still wins.
    result = run_manage("shell", "--no-imports", "-c", show, **dev, PORT="8101", BASE_DOMAIN="example.test")
    assert result.stdout.split()[0] == "example.test", result.stderr


@pytest.mark.slow
def test_make_run_hands_its_port_to_the_seed_and_the_server():
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "PORT=8101", "STAMP=Makefile"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lines = dry_run.stdout.splitlines()
    assert any(line.startswith("PORT=8101 ") and "manage.py seed_demo" in line for line in lines), dry_run.stdout
    assert any(line.startswith("PORT=8101 ") and "runserver 127.0.0.1:8101" in line for line in lines), dry_run.stdout
    assert "http://demo.localhost:8101/" in dry_run.stdout
