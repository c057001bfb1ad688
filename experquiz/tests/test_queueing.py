"""Detached tasks (experquiz.queueing): on the embedded default they run in a thread of their own,
started only once the response has gone out, so they show neither in the response nor in its timing."""

import threading
import time

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from experquiz.celery import app
from experquiz.queueing import enqueue_detached

ran = []


@app.task(name="experquiz.tests.test_queueing.record")
def record(value):
    ran.append((value, threading.get_ident()))


@pytest.fixture
def committed(db, django_capture_on_commit_callbacks):
    """Run `action` in a transaction that commits (its on-commit callbacks run)."""

    def run(action):
        with django_capture_on_commit_callbacks(execute=True):
            action()

    return run


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def request_signal(signal):
    # As Django's test client does: the connection clean-up is not part of what is tested here.
    signal.disconnect(close_old_connections)
    try:
        signal.send(sender=None)
    finally:
        signal.connect(close_old_connections)


def test_in_a_request_the_task_starts_in_its_own_thread_after_the_response(settings, committed):
    settings.EMBEDDED_TASKS_IN_BACKGROUND = True
    ran.clear()
    request_signal(request_started)
    committed(lambda: enqueue_detached(record, "reset"))
    time.sleep(0.2)
    assert ran == []  # the response is not out yet
    request_signal(request_finished)
    assert wait_for(lambda: ran)
    assert ran[0][0] == "reset" and ran[0][1] != threading.get_ident()


def test_outside_a_request_the_task_starts_at_once_in_its_own_thread(settings, committed):
    settings.EMBEDDED_TASKS_IN_BACKGROUND = True
    ran.clear()
    committed(lambda: enqueue_detached(record, "command"))
    assert wait_for(lambda: ran)
    assert ran[0][0] == "command" and ran[0][1] != threading.get_ident()


def test_without_the_thread_the_task_runs_here_on_commit(settings, committed):
    settings.EMBEDDED_TASKS_IN_BACKGROUND = False
    ran.clear()
    committed(lambda: enqueue_detached(record, "inline"))
    assert ran == [("inline", threading.get_ident())]
