"""Group locks against memberships written at the same time, on PostgreSQL (SQLite has no row locks).

A membership insert takes FOR KEY SHARE on its group through the foreign key (when the transaction
commits: Django's foreign keys are deferred). A service that locks groups FOR UPDATE conflicts with
that, and deadlocks with a transaction whose check holds its second group and waits for its first.
The steps are ordered by hand (a thread per transaction, pg_stat_activity to see who waits), so the
deadlock would happen on every run, not by luck.
"""

import os
import threading
import time

import pytest
from django.db import connection, transaction

from accounts.tests.factories import AdministratorFactory, OrganizationFactory, UserFactory, UserGroupFactory
from flows.people import user_create_with_groups
from groups.models import Membership, UserGroup
from groups.services import memberships_set


@pytest.fixture
def postgres(transactional_db):
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("Row locks are tested against PostgreSQL: CI must run them (DATABASE_URL=postgres://…).")
        pytest.skip("Row locks are tested against PostgreSQL (DATABASE_URL=postgres://…).")


def wait_until_done_or_waiting(done: threading.Event, pids: list) -> None:
    """Until the thread has finished or its connection waits for a lock."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not done.is_set():
        if pids:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pids[0]])
                row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
        time.sleep(0.05)


def in_thread(action, results, name, may_commit=None):
    """Run `action` in a transaction of its own connection; (thread, done event, [backend pid])."""
    done, pids = threading.Event(), []

    def run():
        try:
            with transaction.atomic():
                pids.append(connection.cursor().connection.info.backend_pid)
                results[name] = action()
                if may_commit is not None:
                    may_commit.wait(20)
        except Exception as exc:
            results[name] = exc
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done, pids


def test_creating_a_user_in_two_groups_does_not_deadlock_with_a_grid_save(postgres):
    acme = OrganizationFactory(slug="acme")
    alice = AdministratorFactory(organization=acme)
    g1, g2 = UserGroupFactory(organization=acme), UserGroupFactory(organization=acme)
    ann, bea = UserFactory(organization=acme), UserFactory(organization=acme)
    results, grid_may_commit = {}, threading.Event()

    # The grid inserts (ann, g2) and (bea, g1): at its commit it takes g2, then g1, FOR KEY SHARE.
    grid, grid_done, grid_pid = in_thread(
        lambda: memberships_set(
            actor=alice, users=[ann, bea], groups=[g1, g2], pairs=[(ann.pk, g2.pk), (bea.pk, g1.pk)]
        ),
        results,
        "grid",
        may_commit=grid_may_commit,
    )
    while not grid_pid or (grid.is_alive() and "grid" not in results):
        time.sleep(0.05)
    with transaction.atomic():
        # Hold g2 the way a service does, so that the creation locks g1 and stops before g2.
        UserGroup.objects.select_for_update(no_key=True).get(pk=g2.pk)
        creation, creation_done, creation_pid = in_thread(
            lambda: user_create_with_groups(organization=acme, actor=alice, email="new@acme.example", groups=[g1, g2]),
            results,
            "create",
        )
        wait_until_done_or_waiting(creation_done, creation_pid)
        # The grid commits: its check gets g2 (shared with our lock) and asks for g1.
        grid_may_commit.set()
        wait_until_done_or_waiting(grid_done, grid_pid)
    # g2 is free: the creation goes on to it.
    for thread in (grid, creation):
        thread.join(30)
    assert not grid.is_alive() and not creation.is_alive()

    assert not isinstance(results["grid"], Exception), results["grid"]
    assert not isinstance(results["create"], Exception), results["create"]
    new = results["create"]
    assert set(Membership.objects.filter(group__in=[g1, g2]).values_list("user_id", "group_id")) == {
        (ann.pk, g2.pk),
        (bea.pk, g1.pk),
        (new.pk, g1.pk),
        (new.pk, g2.pk),
    }
