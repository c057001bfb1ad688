import pytest
from django.db import connection

from .test_deploy import run_manage

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's session settings")


@pytest.mark.django_db
def test_postgresql_plans_our_statements_without_parallel_workers():
    # A worker's start cost more than the plans it made cheaper (experquiz.settings.base.POSTGRESQL_SESSION).
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"


def test_options_in_the_database_url_win_over_ours():
    url = connection.settings_dict
    base = f"postgres://{url['USER']}@{url['HOST'] or '127.0.0.1'}:{url['PORT'] or 5432}/{url['NAME']}"
    show = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"
    ours = run_manage("shell", "--no-imports", "-c", show, DATABASE_URL=base)
    assert "max_parallel_workers_per_gather=0" in ours.stdout, ours.stderr
    theirs = run_manage(
        "shell", "--no-imports", "-c", show, DATABASE_URL=f"{base}?options=-c%20max_parallel_workers_per_gather%3D2"
    )
    assert "max_parallel_workers_per_gather=2" in theirs.stdout, theirs.stderr
    assert "=0" not in theirs.stdout
