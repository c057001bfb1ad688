"""An event written during a request records the client address and the request id, though the
service that writes it never sees the request."""

import re

import pytest
from django.urls import reverse

from audit.models import Action, AuditEvent
from experquiz import request_context

pytestmark = pytest.mark.django_db


def _edit_bob(client, bob, **headers):
    return client.post(
        reverse("accounts:user_edit", args=[bob.pk]),
        {
            "first_name": "Robert",
            "last_name": "Plain",
            "email": bob.email,
            "preferred_channel": "email",
            "language": "en",
        },
        **headers,
    )


def test_the_client_address_and_the_request_id_of_the_request_are_recorded(alice_client, bob, settings):
    settings.TRUSTED_PROXY_COUNT = 1  # the request id comes from the proxy in front
    response = _edit_bob(
        alice_client, bob, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7", HTTP_X_REQUEST_ID="edge-42.abc"
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=Action.USER_UPDATED)
    assert event.client_ip == "203.0.113.7"
    assert event.request_id == "edge-42.abc"
    assert response["X-Request-ID"] == "edge-42.abc"
    # Outside the request, nothing is left behind for the next one.
    assert request_context.current() == request_context.NO_REQUEST


def test_without_a_trusted_proxy_a_request_id_sent_by_the_client_is_ignored(alice_client, bob, settings):
    """Anyone could otherwise write any id (another request's, to muddle the trail) into the audit."""
    settings.TRUSTED_PROXY_COUNT = 0
    response = _edit_bob(alice_client, bob, HTTP_X_REQUEST_ID="edge-42.abc")
    event = AuditEvent.objects.get(action=Action.USER_UPDATED)
    assert re.fullmatch(r"[0-9a-f]{32}", event.request_id)
    assert response["X-Request-ID"] == event.request_id


@pytest.mark.parametrize("given", ["", "<script>alert(1)</script>", "x" * 65, "a b"])
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(alice_client, bob, given, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = _edit_bob(alice_client, bob, HTTP_X_REQUEST_ID=given)
    event = AuditEvent.objects.get(action=Action.USER_UPDATED)
    assert re.fullmatch(r"[0-9a-f]{32}", event.request_id)
    assert response["X-Request-ID"] == event.request_id


def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(alice_client, bob, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    _edit_bob(alice_client, bob, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert AuditEvent.objects.get(action=Action.USER_UPDATED).client_ip == "198.51.100.9"


def test_an_anonymous_request_is_recorded_with_its_address_and_no_actor(anon, bob, django_capture_on_commit_callbacks):
    # The look-up runs in a task after the request (see invitations.services.resets.password_reset_ask),
    # which records the asking request's address.
    with django_capture_on_commit_callbacks(execute=True):
        response = anon.post(reverse("invitations:password_forgot"), {"username": bob.email}, REMOTE_ADDR="192.0.2.55")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=Action.PASSWORD_RESET_REQUESTED)
    assert event.actor is None and event.target_user == bob and event.client_ip == "192.0.2.55"


def test_an_ipv6_client_is_recorded_with_its_own_address_not_the_slash_64_the_limits_count(
    anon, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        anon.post(reverse("invitations:password_forgot"), {"username": bob.email}, REMOTE_ADDR="2001:db8:1:2::abcd")
    assert AuditEvent.objects.get(action=Action.PASSWORD_RESET_REQUESTED).client_ip == "2001:db8:1:2::abcd"
