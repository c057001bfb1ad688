"""One confirmation pattern: what sends messages, acts on several people or cannot be undone says
exactly what will happen first, and changes nothing until confirmed."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Contact, User
from accounts.tests.factories import ContactFactory, MembershipFactory, UserFactory
from invitations.models import Invitation

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(acme):
    return [
        UserFactory(organization=acme, email="e1@acme.example", status="created", preferred_channel="email"),
        UserFactory(organization=acme, email="", mobile="+33612345601", status="created", preferred_channel="sms"),
        UserFactory(organization=acme, email="act@acme.example", status="active"),
    ]


def test_bulk_invite_from_the_invitations_area_says_what_it_will_send_first(alice_client, three, deliver):
    data = {"users": [user.pk for user in three]}
    response = alice_client.post(reverse("invitations:users_send"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Send 2 invitations: 1 by e-mail, 1 by SMS; 1 skipped: already active." in page
    assert not Invitation.objects.exists()
    deliver(lambda: alice_client.post(reverse("invitations:users_send"), {**data, "confirmed": "1"}))
    assert Invitation.objects.count() == 2


def test_bulk_invite_from_the_users_list_says_what_it_will_send_first(alice_client, three):
    data = {"action": "invite", "ids": [user.pk for user in three]}
    page = alice_client.post(reverse("accounts:user_bulk"), data).content.decode()
    assert "Send 2 invitations: 1 by e-mail, 1 by SMS; 1 skipped: already active." in page
    assert not Invitation.objects.exists()


def test_adding_all_matching_users_to_a_group_asks_first(alice_client, acme, three, lyon):
    MembershipFactory(user=three[0], group=lyon)
    data = {"action": "add_to_group", "all_matching": "1", "filters": "", "group": lyon.pk}
    response = alice_client.post(reverse("accounts:user_bulk"), data)
    page = response.content.decode()
    assert response.status_code == 200 and 'name="confirmed"' in page
    assert "already in Lyon" in page
    assert lyon.memberships.count() == 1
    alice_client.post(reverse("accounts:user_bulk"), {**data, "confirmed": "1"})
    assert lyon.memberships.count() == User.objects.filter(organization=acme).count()


def test_e_mailing_a_temporary_password_asks_first(alice_client, three, deliver):
    carol = three[0]
    url = reverse("invitations:user_activate", args=[carol.pk])
    page = alice_client.post(url).content.decode()
    assert "e1@acme.example" in page and 'name="confirmed"' in page
    carol.refresh_from_db()
    assert carol.status == "created" and not mail.outbox
    deliver(lambda: alice_client.post(url, {"confirmed": "1"}))
    carol.refresh_from_db()
    assert carol.status == "active" and len(mail.outbox) == 1


def test_converting_contacts_asks_first(alice_client, acme):
    contacts = [ContactFactory(organization=acme, email=f"c{n}@example.com") for n in range(2)]
    data = {"ids": [contact.pk for contact in contacts], "to": "created"}
    page = alice_client.post(reverse("accounts:contact_convert"), data).content.decode()
    assert 'name="confirmed"' in page and "c0@example.com" in page
    assert Contact.objects.filter(converted_to__isnull=True).count() == 2
    alice_client.post(reverse("accounts:contact_convert"), {**data, "confirmed": "1"})
    assert Contact.objects.filter(converted_to__isnull=True).count() == 0


def test_pasted_invitations_are_shown_before_they_are_sent(alice_client, bob, deliver):
    data = {"addresses": "new@example.com, 06 12 34 56 99, bob@acme.example, not-an-address@", "group": ""}
    response = alice_client.post(reverse("invitations:paste"), data)
    page = response.content.decode()
    assert response.status_code == 200 and 'name="confirmed"' in page
    assert "Send 2 invitations: 1 by e-mail, 1 by SMS" in page
    assert "bob@acme.example" in page and "not-an-address@" in page
    assert not User.objects.filter(email="new@example.com").exists()
    deliver(lambda: alice_client.post(reverse("invitations:paste"), {**data, "confirmed": "1"}))
    assert User.objects.get(email="new@example.com").status == "invited"


def test_resending_to_a_group_asks_first(alice_client, acme, lyon, deliver):
    MembershipFactory(user=UserFactory(organization=acme, status="created", email="g@acme.example"), group=lyon)
    response = alice_client.post(reverse("invitations:group_resend"), {"group": lyon.pk})
    assert "Send 1 invitation: 1 by e-mail, 0 by SMS." in response.content.decode()
    assert not Invitation.objects.exists()
