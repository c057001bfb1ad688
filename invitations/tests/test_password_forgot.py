"""The forgotten-password page must not tell, by what it does or how long it takes, whether an account
exists: the request only queues the look-up, which a worker (or, with no broker, a thread after the
response) does."""

import threading
import time

import pytest
from celery.signals import task_prerun
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import OrganizationFactory, UserFactory
from invitations.models import Invitation
from invitations.services import resets

TASK = "invitations.tasks.password_reset_send"


def forgot(client, login_id):
    return client.post("/password/forgot/", {"username": login_id})


@pytest.fixture
def request_work(django_capture_on_commit_callbacks):
    """What one request does: its SQL, and the tasks it queues (run afterwards, as a worker would)."""

    def run(client, login_id):
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
            response = forgot(client, login_id)
        queued = []

        def record(sender=None, args=None, **kwargs):
            queued.append((sender.name, tuple(args)))

        task_prerun.connect(record, weak=False)
        try:
            for callback in callbacks:
                callback()
        finally:
            task_prerun.disconnect(record)
        return response, [query["sql"] for query in queries.captured_queries], queued[:1]

    return run


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["bob@acme.example", "06 12 34 56 78"])
def test_the_request_does_the_same_work_whether_or_not_the_account_exists(anon, acme, bob, request_work, typed):
    UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms")
    unknown = "nobody@acme.example" if "@" in typed else "06 99 99 99 99"
    known_response, known_sql, known_tasks = request_work(anon, typed)
    unknown_response, unknown_sql, unknown_tasks = request_work(anon, unknown)
    assert known_response.status_code == unknown_response.status_code == 200
    assert known_sql == unknown_sql
    assert known_tasks == [(TASK, (acme.pk, typed, "127.0.0.1", known_tasks[0][1][3]))]
    assert unknown_tasks == [(TASK, (acme.pk, unknown, "127.0.0.1", unknown_tasks[0][1][3]))]
    # The look-up happened in the task: the known account got its link, the unknown one nothing.
    assert Invitation.objects.filter(kind=Invitation.Kind.PASSWORD_RESET, user__mobile="+33612345678").count() == (
        0 if "@" in typed else 1
    )
    assert Invitation.objects.filter(kind=Invitation.Kind.PASSWORD_RESET, user=bob).count() == (
        1 if "@" in typed else 0
    )


@pytest.mark.django_db
def test_over_the_limit_the_request_queues_nothing_for_anyone(anon, bob, request_work, settings):
    settings.PASSWORD_RESET_THROTTLE_PER_IP = 2
    request_work(anon, "a@acme.example")
    request_work(anon, "b@acme.example")
    known = request_work(anon, bob.email)
    unknown = request_work(anon, "nobody@acme.example")
    assert known[0].status_code == unknown[0].status_code == 200
    assert known[1] == unknown[1]
    assert known[2] == unknown[2] == []


def test_on_the_embedded_default_the_look_up_runs_after_the_response(transactional_db, settings, monkeypatch):
    """No broker: the look-up and the sending run in a thread of their own, after the answer."""
    settings.EMBEDDED_TASKS_IN_BACKGROUND = True
    acme = OrganizationFactory(slug="acme")
    UserFactory(organization=acme, email="bob@acme.example")
    answered = threading.Event()
    ran = []
    real = resets.password_reset_request

    def spy(**kwargs):
        # If this ran inside the request, the request could not have answered yet.
        ran.append((threading.get_ident(), answered.wait(10)))
        return real(**kwargs)

    monkeypatch.setattr(resets, "password_reset_request", spy)
    response = forgot(Client(HTTP_HOST="acme.localhost"), "bob@acme.example")
    answered.set()
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.02)
    # The task's thread goes on after sending (its transaction, its connection): let it end before
    # the test database is flushed, or the flush can find the (SQLite) tables locked.
    for thread in threading.enumerate():
        if thread.name.startswith("task "):
            thread.join(10)
    assert [message.to for message in mail.outbox] == [["bob@acme.example"]]
    assert ran == [(ran[0][0], True)] and ran[0][0] != threading.get_ident()
