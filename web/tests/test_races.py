"""The same form submitted twice at the same moment (a double click, two administrators): one
succeeds, the other gets the form's normal "already taken" message, never a 500.

Each service checks uniqueness before writing, and the database's unique constraint is what
decides a race that both checks pass. The requests run in two threads, each with its own
PostgreSQL connection. To make the race happen on every run rather than by luck, a third
connection holds a lock on the table while both requests are sent: reads go on, so both pass
their check, and both wait at their INSERT or UPDATE until the lock is released. SQLite runs
one writer at a time, so these tests need PostgreSQL: skipped without it locally, failed in CI.
"""

import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test import Client
from django.urls import resolve

from accounts.models import Contact, User, UserType
from accounts.tests.factories import ContactFactory, UserFactory, UserTypeFactory
from groups.models import UserGroup
from rights.models import RightsProfile

from .access import ACCESS, IN_SCOPE, PUBLIC, World
from .forms import page_forms
from .test_access_matrix import URLS, client_for, content, places_of, urls_for
from .test_form_input import LAYOUT_FORMS

HOST = "acme.localhost"


@pytest.fixture
def postgres(transactional_db):
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("Races are tested against PostgreSQL: CI must run them (DATABASE_URL=postgres://…).")
        pytest.skip("Races are tested against PostgreSQL (DATABASE_URL=postgres://…).")


def project_tables() -> list[str]:
    tables = []
    for label in ("accounts", "usergroups", "invitations", "assessments"):
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            tables.append(model._meta.db_table)
    return tables


def waiting_requests() -> int:
    """Connections to this test database, other than this one, waiting for a lock."""
    with connection.cursor() as cursor:
        # Statistics views are read once per transaction unless the snapshot is dropped.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def race(clients, tables, posts):
    """POST each (url, data) of `posts` at the same moment, each from a thread and a client of its own,
    while this connection holds `tables` in SHARE mode: reads (the services' checks) go on, writes wait.
    The lock is released once every request is waiting for it or done.

    Returns the responses in the order of `posts` and how many requests waited.
    """
    responses, done = [None] * len(posts), []

    def send(index):
        try:
            url, data = posts[index]
            responses[index] = clients[index].post(url, data, follow=True)
        finally:
            done.append(index)
            connection.close()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(posts))]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE {} IN SHARE MODE".format(", ".join(f'"{table}"' for table in tables)))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while waiting_requests() + len(done) < len(posts) and time.monotonic() < deadline:
            time.sleep(0.05)
        waited = waiting_requests()
    for thread in threads:
        thread.join(60)
    assert all(not thread.is_alive() for thread in threads), "a request never finished (a deadlock?)"
    return responses, waited


def logged_in_clients(user, count, host=HOST):
    clients = []
    for _n in range(count):
        client = Client(HTTP_HOST=host)
        if user is not None:
            client.force_login(user)
        client.raise_request_exception = False
        clients.append(client)
    return clients


def text(response) -> str:
    import html

    return html.unescape(response.content.decode())


@dataclass
class Race:
    table: str
    # (alice) → [(url, data), (url, data)]
    posts: object
    # A phrase of the message the losing request must show.
    message: str
    # (alice) → how many rows the race must leave (exactly one of them won).
    count: object


def _users_new(alice, **identity):
    data = {"first_name": "Nina", "last_name": "Newcomer", "preferred_channel": "email", "language": "en"}
    return [("/users/new/", data | identity)] * 2


def _users_edit(alice):
    one = UserFactory(organization=alice.organization, email="one@acme.example")
    two = UserFactory(organization=alice.organization, email="two@acme.example")
    data = {"first_name": "Same", "last_name": "Address", "email": "same@acme.example"}
    data |= {"preferred_channel": "email", "language": "en"}
    return [(f"/users/{one.pk}/edit/", data), (f"/users/{two.pk}/edit/", data)]


def _user_types_rename(alice):
    one = UserTypeFactory(organization=alice.organization, name="Intern")
    two = UserTypeFactory(organization=alice.organization, name="Temp")
    return [(f"/settings/user-types/{one.pk}/edit/", {"name": "Seasonal"})] + [
        (f"/settings/user-types/{two.pk}/edit/", {"name": "seasonal"})
    ]


def _contacts_edit(alice):
    one = ContactFactory(organization=alice.organization, email="c1@acme.example")
    two = ContactFactory(organization=alice.organization, email="c2@acme.example")
    data = {"first_name": "Cleo", "last_name": "Contact", "email": "same.contact@acme.example"}
    data |= {"mobile": "", "language": "en", "notes": ""}
    return [(f"/contacts/{one.pk}/edit/", data), (f"/contacts/{two.pk}/edit/", data)]


def _profile(alice):
    data = {"name": "Auditors", "description": ""}
    return [("/rights/profiles/new/", data), ("/rights/profiles/new/", data | {"name": "AUDITORS"})]


RACES = {
    "users_new_same_email": Race(
        User._meta.db_table,
        lambda alice: _users_new(alice, email="nina@acme.example", mobile=""),
        "This email address already belongs to",
        lambda alice: User.objects.filter(email="nina@acme.example").count(),
    ),
    "users_new_same_mobile": Race(
        User._meta.db_table,
        lambda alice: _users_new(alice, email="", mobile="06 99 88 77 66", preferred_channel="sms"),
        "This mobile number already belongs to",
        lambda alice: User.objects.filter(mobile="+33699887766").count(),
    ),
    "users_edit_to_the_same_email": Race(
        User._meta.db_table,
        _users_edit,
        "This email address already belongs to",
        lambda alice: User.objects.filter(email="same@acme.example").count(),
    ),
    "paste_the_same_address": Race(
        User._meta.db_table,
        lambda alice: [("/invitations/paste/", {"addresses": "newcomer@acme.example", "confirmed": "1"})] * 2,
        "1 address already known, not invited again",
        lambda alice: User.objects.filter(email="newcomer@acme.example", status="invited").count(),
    ),
    "user_types_create_the_same_name": Race(
        UserType._meta.db_table,
        lambda alice: [("/settings/user-types/", {"name": name}) for name in ("Seasonal", "SEASONAL")],
        "is already used",
        lambda alice: UserType.objects.filter(name__iexact="seasonal").count(),
    ),
    "user_types_rename_to_the_same_name": Race(
        UserType._meta.db_table,
        _user_types_rename,
        "is already used",
        lambda alice: UserType.objects.filter(name__iexact="seasonal").count(),
    ),
    "contacts_edit_to_the_same_email": Race(
        Contact._meta.db_table,
        _contacts_edit,
        "already has this address",
        lambda alice: Contact.objects.filter(email="same.contact@acme.example").count(),
    ),
    "groups_create_the_same_name": Race(
        UserGroup._meta.db_table,
        lambda alice: [("/groups/new/", {"name": "Lille"}), ("/groups/new/", {"name": "LILLE"})],
        "is already used",
        lambda alice: UserGroup.objects.filter(name__iexact="lille").count(),
    ),
    "profiles_create_the_same_name": Race(
        RightsProfile._meta.db_table,
        _profile,
        "is already used",
        lambda alice: RightsProfile.objects.filter(name__iexact="auditors").count(),
    ),
}


@pytest.mark.parametrize("case", list(RACES))
def test_two_simultaneous_submissions_give_one_success_and_the_normal_message(postgres, alice, case):
    race_ = RACES[case]
    posts = race_.posts(alice)
    (first, second), waited = race(logged_in_clients(alice, 2), [race_.table], posts)
    assert waited == 2, f"{case}: only {waited} of the 2 requests reached their write: no race happened"
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 200], f"{case}: {statuses} (a 500 is the unique constraint escaping)"
    losers = [response for response in (first, second) if race_.message in text(response)]
    assert len(losers) == 1, f"{case}: expected one '{race_.message}' message, got {len(losers)}"
    assert race_.count(alice) == 1


def test_an_assessment_invitation_confirmed_twice_at_once_is_made_once(postgres, alice):
    """A double click on "Invite": both requests carry the reviewed summary's one-time key; the first
    makes the invitation (held at its INSERT here), the second is told it is being made."""
    from assessments.models import Assignment
    from assessments.tests.factories import make_questionnaire

    from .access import invite_form

    quiz = make_questionnaire(alice.organization, title="Fire safety", visibility="all")
    nobody = UserGroup.objects.create(organization=alice.organization, name="Lille")
    data = invite_form(nobody) | {"addresses": "newcomer@acme.example", "once": "one-reviewed-summary"}
    url = f"/questionnaires/{quiz.pk}/invite/confirm/"
    (first, second), waited = race(logged_in_clients(alice, 2), [Assignment._meta.db_table], [(url, data)] * 2)
    assert waited == 1, "the second request must not reach the write"
    assert sorted([first.status_code, second.status_code]) == [200, 200]
    said = [text(response) for response in (first, second)]
    assert sum("1 person invited to “Fire safety”." in page for page in said) == 1
    assert sum("These invitations are being made" in page for page in said) == 1
    assert Assignment.objects.count() == 1 and Contact.objects.filter(email="newcomer@acme.example").count() == 1


# Every form of the product, submitted twice at once -----------------------------------------------


def racing_posts(world, name, route, kwargs, actor):
    """(url, data) of every POST form on the page `name` as `actor` sees it, filled as rendered (edit
    forms come filled in), and the page's registered data (ACCESS) for the pages that create."""
    access = ACCESS[name]
    place = None if places_of(access, kwargs) == (None,) else IN_SCOPE
    posts = []
    for url in urls_for(world, name, access, kwargs, place):
        if access.data:
            posts.append((url, access.data(world)))
        if access.post_only:
            continue
        response = client_for(world, actor).get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        for form in page_forms(content(response)):
            target = urlsplit(urljoin(url, form.action) if form.action else url).path
            # The layout's forms (language, log out) are on every page: raced once, on the personal page.
            if form.method == "post" and (resolve(target).view_name not in LAYOUT_FORMS or name == "accounts:me"):
                posts.append((target, form.data()))
    unique = []
    for post in posts:
        if post not in unique:
            unique.append(post)
    return unique


@pytest.mark.slow
@pytest.mark.parametrize("name, route, kwargs", [u[:3] for u in URLS if u[0] in ACCESS], ids=lambda v: v)
def test_every_form_submitted_twice_at_once_is_never_a_server_error(postgres, name, route, kwargs):
    """Two identical submissions race through each form: whatever the outcome, never a 500 (an
    IntegrityError, a deadlock) and never a request left hanging."""
    world = World()
    actor = "anonymous" if ACCESS[name].gate == PUBLIC else "admin_a"
    user = None if actor == "anonymous" else world.actors[actor]
    tables = project_tables()
    failures = []
    for url, data in racing_posts(world, name, route, kwargs, actor):
        responses, _waited = race(logged_in_clients(user, 2), tables, [(url, data), (url, data)])
        statuses = [response.status_code if response is not None else "no answer" for response in responses]
        if any(status == "no answer" or status >= 500 for status in statuses):
            failures.append(f"{actor} POST {url} twice at once: {statuses}")
    assert not failures, "\n".join(failures)
