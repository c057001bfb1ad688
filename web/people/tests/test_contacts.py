import pytest
from django.urls import reverse
from django.utils.html import strip_tags

from accounts.models import Contact, StatusChange, User
from accounts.tests.factories import ContactFactory, UserFactory
from flows.contacts import contacts_convert

pytestmark = pytest.mark.django_db
LIST = reverse("accounts:contact_list")
CONVERT = reverse("accounts:contact_convert")


@pytest.fixture
def contacts(acme):
    return {
        "emma": ContactFactory(organization=acme, first_name="Emma", last_name="Éclair", email="emma@example.org"),
        "sam": ContactFactory(organization=acme, first_name="Sam", last_name="Sms", email="", mobile="+33756123434"),
        "both": ContactFactory(organization=acme, first_name="Bo", last_name="Th", mobile="+33756123435"),
    }


def listed(response):
    return sorted(contact.first_name for contact in response.context["contacts"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Bo", "Emma", "Sam"]),
        ({"q": "eclair"}, ["Emma"]),
        ({"q": "07 56 12 34 34"}, ["Sam"]),
        ({"has_email": "true"}, ["Bo", "Emma"]),
        ({"has_email": "false"}, ["Sam"]),
        ({"has_mobile": "true"}, ["Bo", "Sam"]),
        ({"has_mobile": "true", "has_email": "true"}, ["Bo"]),
        ({"converted": "true"}, []),
        ({"converted": "false"}, ["Bo", "Emma", "Sam"]),
    ],
)
def test_contact_filters(alice_client, contacts, params, expected):
    assert listed(alice_client.get(LIST, params)) == expected


def test_converting_creates_users_in_the_chosen_status_and_keeps_the_contacts(alice_client, alice, contacts):
    ids = [contacts["emma"].pk, contacts["sam"].pk]
    response = alice_client.post(CONVERT, {"confirmed": "1", "ids": ids, "to": "active"}, follow=True)
    assert "2 contacts converted to active users; temporary passwords are on their way." in response.content.decode()
    for key in ("emma", "sam"):
        contact = Contact.objects.get(pk=contacts[key].pk)
        assert contact.converted_to is not None and contact.converted_at is not None
        user = contact.converted_to
        assert user.status == "active"
        assert (user.email, user.mobile, user.first_name) == (contact.email, contact.mobile, contact.first_name)
        assert list(user.status_changes.values_list("to_status", flat=True)) == ["active", "created"]
    assert User.objects.get(email="emma@example.org").preferred_channel == "email"
    assert User.objects.get(mobile="+33756123434").preferred_channel == "sms"


def test_a_clash_is_reported_per_contact_and_the_others_convert(alice_client, alice, contacts):
    UserFactory(organization=alice.organization, email="emma@example.org", first_name="Emma", last_name="Existing")
    response = alice_client.post(
        CONVERT, {"confirmed": "1", "ids": [contacts["emma"].pk, contacts["both"].pk], "to": "invited"}, follow=True
    )
    content = response.content.decode()
    assert "1 contact converted to a user; the invitation is on its way." in content
    assert (
        "Emma Éclair was not converted: The email address emma@example.org is already taken. "
        "It belongs to Emma Existing." in strip_tags(content)
    )
    emma = Contact.objects.get(pk=contacts["emma"].pk)
    assert emma.converted_to is None
    assert User.objects.filter(email="emma@example.org").count() == 1
    both = Contact.objects.get(pk=contacts["both"].pk)
    assert both.converted_to.status == "invited"


def test_a_failing_conversion_leaves_nothing_half_done(alice, contacts, monkeypatch):
    from accounts import services

    def explode(**kwargs):
        raise services.TransitionNotAllowed("no")

    monkeypatch.setattr(services, "user_change_status", explode)
    # Activation goes through the invitations service (temporary password), which calls its own import.
    monkeypatch.setattr("invitations.services.account.user_change_status", explode)
    converted, refused = contacts_convert(contacts=[contacts["emma"]], to="active", actor=alice)
    assert converted == [] and refused[0][1] == "no"
    assert not User.objects.filter(email="emma@example.org").exists()
    assert not StatusChange.objects.filter(user__email="emma@example.org").exists()
    assert Contact.objects.get(pk=contacts["emma"].pk).converted_to is None


def test_a_converted_contact_cannot_be_converted_again_or_deleted(alice_client, alice, contacts):
    contacts_convert(contacts=[contacts["emma"]], to="created", actor=alice)
    converted, refused = contacts_convert(
        contacts=[Contact.objects.get(pk=contacts["emma"].pk)], to="created", actor=alice
    )
    assert "already converted" in refused[0][1]
    response = alice_client.post(reverse("accounts:contact_delete", args=[contacts["emma"].pk]), follow=True)
    assert "is kept for history" in response.content.decode()
    assert Contact.objects.filter(pk=contacts["emma"].pk).exists()


def test_edit_and_delete_a_contact(alice_client, contacts):
    url = reverse("accounts:contact_edit", args=[contacts["sam"].pk])
    response = alice_client.post(
        url, {"first_name": "Samuel", "last_name": "S", "email": "", "mobile": "07 56 12 34 99", "language": "fr"}
    )
    assert response.status_code == 302
    sam = Contact.objects.get(pk=contacts["sam"].pk)
    assert (sam.first_name, sam.mobile) == ("Samuel", "+33756123499")
    response = alice_client.post(url, {"first_name": "S", "email": "", "mobile": "", "language": "fr"})
    assert "Give an email address or a mobile number." in response.content.decode()
    response = alice_client.post(url, {"first_name": "S", "email": "emma@example.org", "mobile": "", "language": "fr"})
    assert response.status_code == 200 and "already has this address" in response.content.decode()
    alice_client.post(reverse("accounts:contact_delete", args=[contacts["sam"].pk]))
    assert not Contact.objects.filter(pk=contacts["sam"].pk).exists()


def test_another_tenants_contacts_are_404_and_never_converted(alice_client, mallory):
    foreign = ContactFactory(organization=mallory.organization)
    assert alice_client.get(reverse("accounts:contact_edit", args=[foreign.pk])).status_code == 404
    assert alice_client.post(reverse("accounts:contact_delete", args=[foreign.pk])).status_code == 404
    alice_client.post(CONVERT, {"confirmed": "1", "ids": [foreign.pk], "to": "active"})
    assert Contact.objects.get(pk=foreign.pk).converted_to is None


def test_contact_names_with_html_are_escaped(alice_client, acme):
    ContactFactory(organization=acme, first_name="<b>bold</b>")
    content = alice_client.get(LIST).content.decode()
    assert "<b>bold</b>" not in content and "&lt;b&gt;bold&lt;/b&gt;" in content


def test_plain_users_cannot_see_contacts(bob_client):
    assert bob_client.get(LIST).status_code == 403


def test_conversion_hands_the_contact_history_over_inside_the_same_transaction(alice, contacts, monkeypatch):
    from flows import contacts as flow

    moved = []
    monkeypatch.setattr(flow, "_move_contact_history", lambda *, contact, user: moved.append((contact, user)))
    converted, refused = contacts_convert(contacts=[contacts["emma"]], to="created", actor=alice)
    ((contact, user),) = converted
    assert moved == [(Contact.objects.get(pk=contact.pk), user)]

    def fail(*, contact, user):
        raise flow.DomainError("history could not move")

    monkeypatch.setattr(flow, "_move_contact_history", fail)
    converted, refused = contacts_convert(contacts=[contacts["sam"]], to="created", actor=alice)
    assert converted == [] and refused[0][1] == "history could not move"
    assert not User.objects.filter(mobile=contacts["sam"].mobile).exists()
