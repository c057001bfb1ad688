"""Every write on people takes the organisation's row before any person's or group's (issue 10).

The people version lives on the organisation's row (accounts.selectors.people_changed) and the
status service locks that row first (the last-administrator rule). A service that locked a person
first and bumped the version last would deadlock with a status change of the same person: each
holding what the other waits for. So each service below runs while this test holds the organisation's
row; once it waits for it, the people and groups it is about must still be free to lock.

Row locks need PostgreSQL: skipped without it locally, failed in CI.
"""

import os
import threading
import time

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import Organization, User
from accounts.services import user_change_status, user_create, user_update, users_mark_invited
from accounts.tests.factories import MembershipFactory, UserFactory
from flows.importing import check_rows, read_table
from flows.imports import users_import
from groups.services import group_add_members, group_delete, group_remove_members, memberships_set
from groups.tests.factories import RightsProfileFactory, grant, scope
from invitations.services import invitations_send
from rights.names import Right
from rights.services import profile_delete, profile_update, user_rights_set, user_set_administrator


@pytest.fixture
def postgres(transactional_db):
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("Lock order is tested against PostgreSQL: CI must run it (DATABASE_URL=postgres://…).")
        pytest.skip("Lock order is tested against PostgreSQL (DATABASE_URL=postgres://…).")


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _locked_by_someone(table: str, pks) -> bool:
    """Whether another transaction holds one of these rows (FOR NO KEY UPDATE, NOWAIT)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'SELECT 1 FROM "{table}" WHERE id = ANY(%s) FOR NO KEY UPDATE NOWAIT', [list(pks)])
    except DatabaseError:
        return True
    return False


def _import_check(org):
    header, rows = read_table(b"first_name,last_name,email\nNew,Person,new@acme.example\nBob,Plain,bob@acme.example\n")
    return check_rows(organization=org, actor=None, header=header, rows=rows)


def cases(acme, alice, bob, lyon):
    """(name, service call, people it concerns, groups it concerns)."""
    profile = RightsProfileFactory(organization=acme)
    grant(profile, Right.INVITE, lyon)
    MembershipFactory(group=lyon, user=bob)
    created = UserFactory(organization=acme, status=User.Status.CREATED)
    return [
        ("user_create", lambda: user_create(organization=acme, actor=alice, email="n@acme.example"), [], []),
        (
            "user_update",
            lambda: user_update(
                user=bob,
                actor=alice,
                first_name="B",
                last_name="P",
                email=bob.email,
                mobile="",
                preferred_channel="email",
                language="en",
                user_type=None,
            ),
            [bob],
            [],
        ),  # fmt: skip
        ("user_change_status", lambda: user_change_status(user=bob, to="inactive", actor=alice), [bob], []),
        (
            "users_mark_invited",
            lambda: users_mark_invited(organization=acme, user_ids=[created.pk], actor=alice),
            [created],
            [],
        ),  # fmt: skip
        ("invitations_send", lambda: invitations_send(organization=acme, users=[created], actor=alice), [created], []),
        ("group_add_members", lambda: group_add_members(group=lyon, users=[alice], actor=alice), [alice], [lyon]),
        ("group_remove_members", lambda: group_remove_members(group=lyon, users=[bob], actor=alice), [bob], [lyon]),
        (
            "memberships_set",
            lambda: memberships_set(actor=alice, users=[bob], groups=[lyon], pairs=[]),
            [bob],
            [lyon],
        ),  # fmt: skip
        ("group_delete", lambda: group_delete(group=lyon, actor=alice), [bob], [lyon]),
        (
            "user_rights_set",
            lambda: user_rights_set(
                user=bob,
                actor=alice,
                is_administrator=False,
                profiles=[profile],
                grants={Right.MANAGE_USERS: scope(lyon)},
            ),
            [bob],
            [lyon],
        ),  # fmt: skip
        (
            "user_set_administrator",
            lambda: user_set_administrator(user=bob, is_administrator=True, actor=alice),
            [bob],
            [],
        ),  # fmt: skip
        (
            "profile_update",
            lambda: profile_update(profile=profile, actor=alice, name="P", grants={Right.MANAGE_USERS: scope(lyon)}),
            [bob],
            [lyon],
        ),  # fmt: skip
        ("profile_delete", lambda: profile_delete(profile=profile, actor=alice), [bob], [lyon]),
        ("users_import", lambda: users_import(organization=acme, actor=None, check=_import_check(acme)), [bob], []),
    ]


CASES = [
    "user_create", "user_update", "user_change_status", "users_mark_invited", "invitations_send",
    "group_add_members", "group_remove_members", "memberships_set", "group_delete", "user_rights_set",
    "user_set_administrator", "profile_update", "profile_delete", "users_import",
]  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_a_people_write_locks_the_organisation_before_anyone(postgres, acme, alice, bob, lyon, name):
    (call, people, groups) = next((c, p, g) for n, c, p, g in cases(acme, alice, bob, lyon) if n == name)
    version = acme.people_version
    outcome = {}

    def run():
        try:
            call()
            outcome["ok"] = True
        except Exception as error:  # reported below, with the lock findings
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    with transaction.atomic():
        Organization.objects.select_for_update(no_key=True).get(pk=acme.pk)
        thread.start()
        deadline = time.monotonic() + 10
        while not _waiting_for_a_lock() and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert thread.is_alive(), f"{name} finished without the organisation's lock: {outcome}"
        held_people = _locked_by_someone(User._meta.db_table, [p.pk for p in people]) if people else False
        held_groups = _locked_by_someone("usergroups_usergroup", [g.pk for g in groups]) if groups else False
    thread.join(20)
    assert not thread.is_alive()
    assert not held_people, f"{name} locked a person before the organisation"
    assert not held_groups, f"{name} locked a group before the organisation"
    assert outcome.get("ok"), outcome.get("error")
    acme.refresh_from_db()
    assert acme.people_version > version


def test_every_case_is_listed(postgres, acme, alice, bob, lyon):
    assert [name for name, *_ in cases(acme, alice, bob, lyon)] == CASES
