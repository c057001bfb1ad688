"""Writes on people take the people version's lock last, in their commit (issue 10).

The cached people counts are keyed by a version bumped with each write on people. A version bumped
inside each write's transaction would be a row every writer of the organisation locks until its
commit: all of them would queue behind each other (the soak saw lock waits of seconds), and one
that locked it before a person, against one that locked the person first, would deadlock. So a
write only notes the change and a deferred trigger bumps the version at its COMMIT, after every
other lock. Each service below runs while this test holds the version's row: it must get all the
way to its COMMIT before it waits, and the version must have moved once it is through.

Row locks and the trigger need PostgreSQL: skipped without it locally, failed in CI.
"""

import os
import threading
import time

import pytest
from django.db import connection, transaction

from accounts.models import Organization, PeopleVersion, User
from accounts.selectors import people_version
from accounts.services import (
    user_change_status,
    user_create,
    user_update,
    users_fields_restore,
    users_mark_invited,
    users_set_language,
)
from accounts.tests.factories import MembershipFactory, UserFactory
from flows.importing import check_rows, read_table
from flows.imports import users_import
from groups.services import (
    group_add_members,
    group_delete,
    group_remove_members,
    group_restore_members,
    memberships_set,
)
from groups.tests.factories import RightsProfileFactory, grant, scope
from invitations.services.account import invitations_send
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


def _import_check(org):
    header, rows = read_table(b"first_name,last_name,email\nNew,Person,new@acme.example\nBob,Plain,bob@acme.example\n")
    return check_rows(organization=org, actor=None, header=header, rows=rows)


def cases(acme, alice, bob, lyon):
    """{name: a call of the service that writes people, memberships or rights}."""
    profile = RightsProfileFactory(organization=acme)
    grant(profile, Right.INVITE, lyon)
    MembershipFactory(group=lyon, user=bob)
    created = UserFactory(organization=acme, status=User.Status.CREATED)
    everyone_in_lyon = {Right.MANAGE_USERS: scope(lyon)}
    return {
        "user_create": lambda: user_create(organization=acme, actor=alice, email="n@acme.example"),
        "user_update": lambda: user_update(
            user=bob, actor=alice, first_name="B", last_name="P", email=bob.email, mobile="",
            preferred_channel="email", language="en", user_type=None,
        ),
        "user_change_status": lambda: user_change_status(user=bob, to="inactive", actor=alice),
        "users_mark_invited": lambda: users_mark_invited(organization=acme, user_ids=[created.pk], actor=alice),
        "invitations_send": lambda: invitations_send(organization=acme, users=[created], actor=alice),
        "group_add_members": lambda: group_add_members(group=lyon, users=[alice], actor=alice),
        "group_remove_members": lambda: group_remove_members(group=lyon, users=[bob], actor=alice),
        "memberships_set": lambda: memberships_set(actor=alice, users=[bob], groups=[lyon], pairs=[]),
        "group_delete": lambda: group_delete(group=lyon, actor=alice),
        "user_rights_set": lambda: user_rights_set(
            user=bob, actor=alice, is_administrator=False, profiles=[profile], grants=everyone_in_lyon
        ),
        "user_set_administrator": lambda: user_set_administrator(user=bob, is_administrator=True, actor=alice),
        "profile_update": lambda: profile_update(profile=profile, actor=alice, name="P", grants=everyone_in_lyon),
        "profile_delete": lambda: profile_delete(profile=profile, actor=alice),
        "users_import": lambda: users_import(organization=acme, actor=None, check=_import_check(acme)),
        "users_set_language": lambda: users_set_language(
            organization=acme, user_ids=[bob.pk], language="fr", actor=alice
        ),
        "users_fields_restore": lambda: users_fields_restore(
            organization=acme, field="language", previous={bob.pk: "fr"}, current="en", actor=alice
        ),
        "group_restore_members": lambda: group_restore_members(
            group=lyon, memberships=[(alice.pk, None, None)], actor=alice
        ),
    }  # fmt: skip


CASES = [
    "user_create", "user_update", "user_change_status", "users_mark_invited", "invitations_send",
    "group_add_members", "group_remove_members", "memberships_set", "group_delete", "user_rights_set",
    "user_set_administrator", "profile_update", "profile_delete", "users_import", "users_set_language",
    "users_fields_restore", "group_restore_members",
]  # fmt: skip


def _waiting_query() -> str | None:
    """The statement of the other connection waiting for a lock, if one is."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
        return row[0] if row else None


@pytest.mark.parametrize("name", CASES)
def test_a_people_write_waits_for_the_version_only_in_its_commit(postgres, acme, alice, bob, lyon, name):
    call = cases(acme, alice, bob, lyon)[name]
    PeopleVersion.objects.get_or_create(organization=acme)
    version = people_version(acme.pk)
    outcome = {}

    def run():
        try:
            call()
            outcome["ok"] = True
        except Exception as error:  # reported below
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    with transaction.atomic():
        PeopleVersion.objects.select_for_update().get(organization=acme)
        thread.start()
        deadline = time.monotonic() + 10
        while _waiting_query() is None and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        waiting = _waiting_query()
        assert thread.is_alive(), f"{name} committed without bumping the people version: {outcome}"
    thread.join(20)
    assert not thread.is_alive()
    assert (waiting or "").strip().upper() == "COMMIT", f"{name} waited for the version in: {waiting}"
    assert outcome.get("ok"), outcome.get("error")
    assert people_version(acme.pk) > version


def test_every_case_is_listed(postgres, acme, alice, bob, lyon):
    assert list(cases(acme, alice, bob, lyon)) == CASES


def test_accepting_an_invitation_hashes_the_password_before_it_locks_anything(postgres, acme, alice, monkeypatch):
    """A password hash costs a fifth of a second of CPU (Argon2), seconds on a busy machine: made while
    holding locks, it would queue every other write on them (the soak saw lock waits of seconds)."""
    from django.contrib.auth.hashers import MD5PasswordHasher

    from invitations.models import Invitation
    from invitations.services.acceptance import invitation_accept

    person = UserFactory(organization=acme, status=User.Status.CREATED, email="pat@acme.example")
    invitations_send(organization=acme, users=[person], actor=alice)
    invitation = Invitation.objects.get(user=person)
    hashed = []
    real_encode = MD5PasswordHasher.encode
    monkeypatch.setattr(
        MD5PasswordHasher, "encode", lambda self, *a, **k: hashed.append(1) or real_encode(self, *a, **k)
    )
    outcome = {}

    def accept():
        try:
            invitation_accept(invitation=invitation, first_name="Pat", last_name="P", password="a long new password 42")
            outcome["ok"] = True
        except Exception as error:
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=accept)
    with transaction.atomic():
        User.objects.select_for_update(no_key=True).get(pk=person.pk)
        thread.start()
        deadline = time.monotonic() + 10
        while not _waiting_for_a_lock() and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        hashed_before_the_lock = bool(hashed)
    thread.join(20)
    assert outcome.get("ok"), outcome.get("error")
    assert hashed_before_the_lock, "the password was hashed while holding locks"
    person.refresh_from_db()
    assert person.check_password("a long new password 42") and person.status == User.Status.ACTIVE


@pytest.mark.parametrize("how", ["activation", "accepted invitation"])
def test_becoming_active_does_not_wait_for_the_organisation(postgres, acme, alice, how):
    """Only leaving `active` can lose the last administrator: the organisation's row, which guards that
    rule, is locked for those transitions only. Two hundred people accepting their invitations at once
    must not queue behind each other on it (the soak saw them wait seconds)."""
    from invitations.models import Invitation
    from invitations.services.acceptance import invitation_accept

    person = UserFactory(organization=acme, status=User.Status.CREATED, email="pat@acme.example")
    invitations_send(organization=acme, users=[person], actor=alice)
    invitation = Invitation.objects.get(user=person)
    outcome = {}

    def run():
        try:
            if how == "activation":
                user_change_status(user=User.objects.get(pk=person.pk), to=User.Status.ACTIVE, actor=alice)
            else:
                invitation_accept(invitation=invitation, first_name="Pat", last_name="P", password="a long pass 4242")
            outcome["ok"] = True
        except Exception as error:
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    with transaction.atomic():
        Organization.objects.select_for_update(no_key=True).get(pk=acme.pk)
        thread.start()
        thread.join(10)
        finished_while_locked = not thread.is_alive()
    thread.join(20)
    assert outcome.get("ok"), outcome.get("error")
    assert finished_while_locked, f"the {how} waited for the organisation's row"
    person.refresh_from_db()
    assert person.status == User.Status.ACTIVE
