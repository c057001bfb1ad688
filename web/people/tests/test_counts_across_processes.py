"""Lists and tab counts after writes made by another process (issue 10).

The users list takes its total from the cached tab counts. A write made by another process (a
management command, a Celery worker, another web worker) must show on the next page this process
serves, at once: the counts' version is read from the database, never from a per-process cache.

Here the other process is a real `manage.py importusers` on the same (committed) PostgreSQL test
database, and this process keeps its own local-memory cache, as each web worker of a deployment
without a shared cache does.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import User

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def postgres(transactional_db):
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("Another process shares the test database: CI must run this on PostgreSQL.")
        pytest.skip("Another process shares the test database: PostgreSQL needed (DATABASE_URL=postgres://…).")


def database_url() -> str:
    db = connection.settings_dict
    auth = (db["USER"] or "") + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def manage(*args) -> subprocess.CompletedProcess:
    """Run a management command in a process of its own, on this test's database."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "experquiz.settings.test", "DATABASE_URL": database_url()}
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def tab_count(html: str, status: str) -> int:
    match = re.search(rf'data-tab="{status}">[^<]*<span[^>]*data-count>(\d+)<', html)
    assert match, f"no {status} tab in the page"
    return int(match.group(1))


def listed(client, status: str) -> str:
    response = client.get(f"/users/?status={status}&per_page=200")
    assert response.status_code == 200
    return response.content.decode()


def test_users_imported_by_the_command_line_are_listed_at_once(postgres, alice_client, acme, tmp_path):
    before = listed(alice_client, "created")  # counts now cached by this process
    assert tab_count(before, "created") == 0
    people = tmp_path / "people.csv"
    people.write_text(
        "first_name,last_name,email\n" + "".join(f"New{i},Person{i},new{i}@acme.example\n" for i in range(3))
    )
    manage("importusers", "acme", str(people))
    after = listed(alice_client, "created")
    assert tab_count(after, "created") == 3
    for i in range(3):
        assert f"new{i}@acme.example" in after


def test_users_invited_from_the_command_line_are_listed_as_invited_at_once(postgres, alice_client, acme, tmp_path):
    assert tab_count(listed(alice_client, "invited"), "invited") == 0
    people = tmp_path / "people.csv"
    people.write_text("first_name,last_name,email\nIvy,Invited,ivy@acme.example\n")
    manage("importusers", "acme", str(people), "--invite")
    assert User.objects.get(email="ivy@acme.example").status == User.Status.INVITED
    page = listed(alice_client, "invited")
    assert tab_count(page, "invited") == 1
    assert "ivy@acme.example" in page
