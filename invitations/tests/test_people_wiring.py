"""The people pages, imports and contacts wired to invitations: what an administrator does from /users/."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts import bulk
from accounts.rights import Right
from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from groups.tests.factories import grant
from invitations.models import Invitation, InvitationBatch

from .helpers import last_token

pytestmark = pytest.mark.django_db
BULK = reverse("accounts:user_bulk")


def make(org, first, last, status="created", **extra):
    return UserFactory(organization=org, first_name=first, last_name=last, status=status, **extra)


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


# --- Bulk "Send invitations" ------------------------------------------------------------------------


def test_bulk_send_invitations_invites_created_and_invited_and_reports_the_others(alice_client, alice, bob, deliver):
    org = alice.organization
    new = make(org, "Nina", "New", email="nina@acme.example")
    again = make(org, "Ivan", "Again", "invited", email="ivan@acme.example")
    response = deliver(
        lambda: alice_client.post(BULK, {"action": "invite", "ids": [new.pk, again.pk, bob.pk]}, follow=True)
    )
    (message,) = messages_of(response)
    batch = InvitationBatch.objects.get()
    assert message.startswith("2 invited; 1 skipped: already active — Bob P.")
    assert reverse("invitations:batch", args=[batch.pk]) in message
    assert sorted(m.to[0] for m in mail.outbox) == ["ivan@acme.example", "nina@acme.example"]
    new.refresh_from_db()
    assert new.status == "invited"
    assert set(Invitation.objects.values_list("user_id", flat=True)) == {new.pk, again.pk}


def test_bulk_send_invitations_needs_the_invite_right(make_client, acme):
    group = UserGroupFactory(organization=acme)
    manager = make(acme, "Mona", "Manager", "active")
    grant(manager, Right.MANAGE_USERS, group)
    target = MembershipFactory(group=group, user=make(acme, "Tia", "Target")).user
    client = make_client(acme, manager)
    assert "invite" not in [a.name for a in client.get("/users/").context["actions"]]
    client.post(BULK, {"action": "invite", "ids": [target.pk]})
    target.refresh_from_db()
    assert target.status == "created" and not Invitation.objects.exists()


def test_bulk_send_invitations_stays_within_the_invite_scope(make_client, acme):
    lyon, paris = UserGroupFactory(organization=acme), UserGroupFactory(organization=acme)
    manager = make(acme, "Mona", "Manager", "active")
    grant(manager, Right.MANAGE_USERS, lyon, paris)
    grant(manager, Right.INVITE, lyon)
    inside = MembershipFactory(group=lyon, user=make(acme, "In", "Side")).user
    outside = MembershipFactory(group=paris, user=make(acme, "Out", "Side")).user
    make_client(acme, manager).post(BULK, {"action": "invite", "ids": [inside.pk, outside.pk]})
    assert list(Invitation.objects.values_list("user_id", flat=True)) == [inside.pk]


def test_bulk_send_invitations_in_the_background_makes_one_batch(alice_client, alice, monkeypatch, deliver):
    from accounts.models import BulkJob

    monkeypatch.setattr(bulk, "SYNC_MAX", 3)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    org = alice.organization
    group = UserGroupFactory(organization=org, name="Lyon")
    for n in range(5):
        MembershipFactory(group=group, user=make(org, f"M{n}", "Lyon", email=f"m{n}@acme.example"))
    MembershipFactory(group=group, user=make(org, "Ann", "Bee", "active"))
    response = deliver(
        lambda: alice_client.post(BULK, {"action": "invite", "all_matching": "1", "filters": f"group={group.pk}"})
    )
    job = BulkJob.objects.get()
    assert response["Location"] == reverse("accounts:user_bulk_job", args=[job.pk])
    assert (job.state, job.summary) == ("done", "5 invited; 1 skipped: already active — Ann B.")
    batch = InvitationBatch.objects.get()
    assert batch.invitations.count() == 5
    assert len(mail.outbox) == 5


def test_more_ticked_users_than_a_request_handles_are_refused_not_widened(alice_client, alice, bob, monkeypatch):
    monkeypatch.setattr(bulk, "SYNC_MAX", 1)
    one = make(alice.organization, "One", "Ticked")
    two = make(alice.organization, "Two", "Ticked")
    response = alice_client.post(BULK, {"action": "invite", "ids": [one.pk, two.pk]}, follow=True)
    assert "Tick at most 1 users" in messages_of(response)[0]
    assert not Invitation.objects.exists()


def test_the_invitation_sent_from_the_list_opens_the_account_page(alice_client, alice, anon, deliver):
    new = make(alice.organization, "Nina", "New", email="nina@acme.example")
    deliver(lambda: alice_client.post(BULK, {"action": "invite", "ids": [new.pk]}))
    assert anon.get(reverse("invitations:accept", args=[last_token(new.email)])).status_code == 200
