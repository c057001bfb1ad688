"""Sessions end when the account does: deactivation and deletion log the person out for good.

The check is made against the user's row on every request (Django's session auth hash), so it holds
whatever the session engine and however many web processes serve the requests.
"""

import pytest
from django.test import Client

from accounts.models import User
from accounts.services import user_change_status

pytestmark = pytest.mark.django_db

Status = User.Status
ENGINES = [
    "experquiz.sessions",  # the one the settings name
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
    "django.contrib.sessions.backends.signed_cookies",
]


def logged_in(user, password) -> Client:
    client = Client(HTTP_HOST=f"{user.organization.slug}.localhost")
    assert client.post("/login/", {"username": user.email, "password": password}).status_code == 302
    assert client.get("/me/").status_code == 200
    return client


def is_logged_out(client) -> bool:
    response = client.get("/me/")
    return response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("engine", ENGINES, ids=lambda engine: engine.rsplit(".", 1)[1])
@pytest.mark.parametrize(
    "path",
    [[Status.INACTIVE, Status.ACTIVE], [Status.DELETED, Status.INACTIVE, Status.ACTIVE]],
    ids=["deactivate-reactivate", "delete-restore-reactivate"],
)
def test_a_session_taken_before_deactivation_or_deletion_is_not_revived(settings, engine, path, alice, bob, password):
    settings.SESSION_ENGINE = engine
    client = logged_in(bob, password)
    for to in path:
        user_change_status(user=bob, to=to, actor=alice)
    assert is_logged_out(client)
    # The account itself works again: a new login opens a new session.
    assert logged_in(bob, password).get("/me/").status_code == 200


def test_deactivation_logs_out_at_once_and_other_users_stay_logged_in(alice, bob, password):
    bobs, alices = logged_in(bob, password), logged_in(alice, password)
    user_change_status(user=bob, to=Status.INACTIVE, actor=alice)
    assert is_logged_out(bobs)
    assert alices.get("/me/").status_code == 200


def test_sessions_made_before_the_session_generation_existed_stay_valid(bob, password):
    # Generation 0 keeps Django's own hash: deploying the change logs nobody out.
    client = logged_in(bob, password)
    assert User.objects.get(pk=bob.pk).session_generation == 0
    from django.contrib.auth.base_user import AbstractBaseUser

    assert bob.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(bob)
    assert client.get("/me/").status_code == 200
