"""The users list's tabs and page count come from the counts the database keeps at every write
(accounts.StatusCount), exact after each way of writing users, with no cache involved.

The tests commit for real (`transactional_db`): on PostgreSQL the counts are added up by a trigger
at the commit, as in production. After each write path — a person created, an import (COPY on
PostgreSQL), bulk status changes (one UPDATE of many rows when inviting), a contact converted, a
deletion, a row removed, raw SQL — the kept counts equal a count of the table, and the page shows
them, with a cache that lies about every count it is asked for.
"""

import re

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from accounts.models import StatusCount, User
from accounts.services import contact_create, user_change_status, user_create
from accounts.tests.factories import ContactFactory, UserFactory, UserGroupFactory
from flows import bulk
from flows.contacts import contacts_convert
from flows.importing import check_rows, read_table
from flows.imports import users_import
from groups.tests.factories import grant
from rights.names import Right

URL = "/users/"
STATUSES = [status.value for status in User.Status]


@pytest.fixture
def committed(transactional_db):
    """Every write below commits, as in production."""


@pytest.fixture
def lying_cache(monkeypatch):
    """A cache that answers every read with made-up counts: a page that used it would show them."""
    monkeypatch.setattr(cache, "get", lambda key, default=None, **kwargs: {"active": 424242, "created": 7})


def counted(organization) -> dict:
    """The truth: the organisation's users counted now, by status."""
    rows = User.objects.filter(organization=organization).values_list("status").annotate(n=Count("pk"))
    return dict(rows)


def kept(organization) -> dict:
    """What the database keeps (zero rows left out)."""
    rows = StatusCount.objects.filter(organization=organization).values_list("status", "count")
    return {status: n for status, n in rows if n}


def shown(client) -> dict:
    """The tab counts of the unfiltered list, as the page prints them."""
    page = client.get(URL).content.decode()
    tabs = dict(re.findall(r'data-tab="(\w+)">[^<]*<span[^>]*data-count>(\d+)<', page))
    return {status: int(n) for status, n in tabs.items()}


def assert_exact(client, *organizations):
    for organization in organizations:
        assert kept(organization) == counted(organization), organization
    truth = counted(organizations[0])
    tabs = shown(client)
    assert {status: tabs[status] for status in STATUSES if tabs[status]} == truth
    assert tabs["all"] == sum(n for status, n in truth.items() if status != "deleted")


def csv_check(organization, actor, text):
    header, rows = read_table(text.encode())
    return check_rows(organization=organization, actor=actor, header=header, rows=rows)


def test_every_write_path_keeps_the_counts_exact_and_the_page_shows_them(
    committed, lying_cache, alice, alice_client, mallory, django_capture_on_commit_callbacks
):
    acme, globex = alice.organization, mallory.organization
    assert_exact(alice_client, acme, globex)

    # Created, one by one, by the service every page and command uses.
    ann = user_create(organization=acme, actor=alice, email="ann@acme.example", first_name="Ann")
    user_create(organization=acme, actor=alice, email="carl@acme.example", status="active", password="x-long-pass-1")
    assert_exact(alice_client, acme, globex)

    # An import: COPY on PostgreSQL, with invitations marked sent in one UPDATE.
    check = csv_check(acme, alice, "email\n" + "".join(f"imp{n}@acme.example\n" for n in range(30)))
    with django_capture_on_commit_callbacks(execute=True):
        users_import(organization=acme, actor=alice, check=check, invite=True)
    assert counted(acme)["invited"] == 30
    assert_exact(alice_client, acme, globex)

    # Bulk status changes: each user in its own save, and invitations (one UPDATE of many rows).
    imported = list(User.objects.filter(organization=acme, email__startswith="imp").values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = bulk.run(
            bulk.REGISTRY["activate"], users=User.objects.filter(pk__in=imported[:10]), actor=alice, params={}
        )
    assert len(outcome.done) == 10
    assert_exact(alice_client, acme, globex)
    fresh = [user_create(organization=acme, actor=alice, email=f"new{n}@acme.example").pk for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        bulk.run(bulk.REGISTRY["invite"], users=User.objects.filter(pk__in=fresh), actor=alice, params={})
    assert User.objects.filter(pk__in=fresh, status="invited").count() == 5
    assert_exact(alice_client, acme, globex)

    # Contacts converted to users, one created and one activated.
    contacts = [
        contact_create(organization=acme, actor=alice, email=f"contact{n}@acme.example", first_name="C")
        for n in range(2)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        contacts_convert(contacts=contacts[:1], to="created", actor=alice)
        contacts_convert(contacts=contacts[1:], to="active", actor=alice)
    assert_exact(alice_client, acme, globex)

    # Deleted (the status), restored, and rows removed from the table.
    user_change_status(user=ann, to="deleted", actor=alice)
    bulk.run(bulk.REGISTRY["delete"], users=User.objects.filter(pk__in=imported[10:15]), actor=alice, params={})
    assert_exact(alice_client, acme, globex)
    user_change_status(user=ann, to="inactive", actor=alice)
    User.objects.filter(pk__in=fresh[:2]).delete()
    assert_exact(alice_client, acme, globex)

    # Raw SQL, as a data fix or a future flow might write: a status, and a move to another organisation.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET status = 'inactive' WHERE email LIKE 'imp2%%'")
        cursor.execute("UPDATE accounts_user SET organization_id = %s WHERE email = 'new4@acme.example'", [globex.pk])
    assert counted(globex).get("invited") == 1
    assert_exact(alice_client, acme, globex)

    # A write that is rolled back changes nothing.
    with pytest.raises(RuntimeError), transaction.atomic():
        user_create(organization=acme, actor=alice, email="gone@acme.example")
        raise RuntimeError
    assert_exact(alice_client, acme, globex)


def test_the_unfiltered_list_reads_the_kept_counts_and_no_count_of_the_users(committed, alice, alice_client):
    for n in range(3):
        UserFactory(organization=alice.organization, status="inactive", email=f"p{n}@acme.example")
    with CaptureQueriesContext(connection) as queries:
        assert shown(alice_client)["inactive"] == 3
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert not counts, counts
    assert any("accounts_statuscount" in q["sql"] for q in queries)


def test_an_organisation_wide_manager_sees_the_counts_without_the_people_who_hold_rights(committed, alice, make_client):
    acme = alice.organization
    manager = UserFactory(organization=acme, email="hr@acme.example")
    grant(manager, Right.MANAGE_USERS, everyone=True)
    for n in range(4):
        UserFactory(organization=acme, status="created", email=f"c{n}@acme.example")
    client = make_client(acme, manager)
    tabs = shown(client)
    from rights.selectors import users_in_scope

    scope = users_in_scope(manager, Right.MANAGE_USERS)
    truth = dict(scope.values_list("status").annotate(n=Count("pk")).order_by())
    assert {status: tabs[status] for status in STATUSES if tabs[status]} == truth
    # Alice (an administrator) and the manager hold rights: only administrators see them counted.
    assert tabs["active"] == counted(acme)["active"] - 2


def test_a_group_scoped_manager_still_counts_their_groups(committed, acme, maggie_client, lyon, ines, otto):
    tabs = shown(maggie_client)
    assert tabs["all"] == 1  # Ines, in Lyon; not Otto (Paris), nor Maggie herself


@pytest.mark.django_db(transaction=True)
def test_writers_of_one_organisation_do_not_wait_for_each_others_commit(alice):
    """On PostgreSQL the kept counts are locked at the commit only: a transaction that created a user
    and is still open does not make another one that creates a user wait (a lock timeout would
    fail it), and both are counted once both commit."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one transaction at a time.")
    import psycopg

    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
    )
    acme = alice.organization
    try:
        other.execute(
            "INSERT INTO accounts_user (password, is_superuser, organization_id, first_name, last_name, email,"
            " mobile, employee_number, preferred_channel, language, status, is_administrator,"
            " must_change_password, session_generation, is_staff, created_at, updated_at, search_text)"
            " VALUES ('!', false, %s, '', '', 'open@acme.example', '', '', 'email', 'en', 'created', false,"
            " false, 0, false, now(), now(), '')",
            [acme.pk],
        )
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            user_create(organization=acme, actor=alice, email="meanwhile@acme.example")
        assert kept(acme)["created"] == 1
        other.commit()
    finally:
        other.close()
    assert kept(acme) == counted(acme)
    assert counted(acme)["created"] == 2


def test_an_organisations_counts_go_with_it(committed, mallory):
    globex = mallory.organization
    UserGroupFactory(organization=globex)
    ContactFactory(organization=globex)
    UserFactory(organization=globex, status="inactive")
    assert kept(globex) == counted(globex) == {"active": 1, "inactive": 1}
    globex.delete()
    assert not StatusCount.objects.filter(organization_id=globex.pk).exists()
