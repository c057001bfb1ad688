"""The embedded default (`make run`: a SQLite file, a threaded server) under simultaneous writes.

SQLite has one writer at a time. A transaction opened with a plain BEGIN reads first and asks for
the write lock later; when another transaction already holds it, SQLite answers "database is
locked" at once instead of waiting (waiting could deadlock). The settings open write transactions
with BEGIN IMMEDIATE, so the second request waits for the first, then sees its result.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "sqlite_accept_race.py"
# What the test run itself sets, and which `make run` would not have.
NOT_INHERITED = {"DEBUG", "HTTPS", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"}


@pytest.mark.slow
def test_two_simultaneous_accepts_of_one_invitation_give_one_account_and_the_already_used_page(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "db.sqlite3"), "6"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pairs = json.loads(result.stdout.strip().splitlines()[-1])
    outcomes = [sorted((answer["status"], answer["problem"] or "") for answer in pair) for pair in pairs]
    locked = "database is locked" in result.stderr
    assert outcomes == [[(302, ""), (410, "used")]] * 6, f"{outcomes} (database is locked: {locked})"


def test_the_sqlite_settings_wait_for_the_write_lock_instead_of_failing():
    from django.conf import settings

    from experquiz.settings.base import sqlite_options

    options = sqlite_options({})
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 20
    assert "journal_mode=WAL" in options["init_command"]
    assert settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3" or (
        settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    )
