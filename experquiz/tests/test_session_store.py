"""The session store (experquiz/sessions.py) reads what Django's database store reads, and nothing
it would refuse: an expired, deleted or malformed session is no session."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from conftest import tenant_client
from experquiz.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_it_is_the_session_engine(settings):
    assert settings.SESSION_ENGINE == "experquiz.sessions"


def test_it_reads_the_data_django_wrote():
    theirs = DjangoStore()
    theirs.update({"a": 1, "b": ["x", "é"]})
    theirs.save()
    ours = SessionStore(theirs.session_key)
    assert dict(ours.items()) == {"a": 1, "b": ["x", "é"]}
    assert ours.session_key == theirs.session_key


@pytest.mark.parametrize("key", [None, "short", "k" * 32, "a" * 40])
def test_no_session_for_an_unknown_or_malformed_key(key):
    store = SessionStore(key)
    assert dict(store.items()) == {}
    assert store.session_key is None  # saving it makes a new session, never one under that key


def test_an_expired_session_is_not_read():
    theirs = DjangoStore()
    theirs["a"] = 1
    theirs.save()
    Session.objects.filter(session_key=theirs.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    store = SessionStore(theirs.session_key)
    assert dict(store.items()) == {}
    assert store.session_key is None


@pytest.mark.parametrize("change", ["expire", "delete"])
def test_a_session_expired_or_deleted_between_two_requests_signs_out(alice, change):
    client = tenant_client(alice.organization, alice)
    assert client.get("/me/").status_code == 200
    sessions = Session.objects.filter(session_key=client.session.session_key)
    if change == "expire":
        sessions.update(expire_date=timezone.now() - timedelta(seconds=1))
    else:
        sessions.delete()
    response = client.get("/me/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
