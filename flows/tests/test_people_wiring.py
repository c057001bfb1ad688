"""The people pages, imports and contacts wired to invitations: what an administrator does from /users/."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from flows import bulk
from groups.tests.factories import grant
from invitations.models import Invitation, InvitationBatch
from invitations.tests.helpers import last_token
from rights.names import Right

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
        lambda: alice_client.post(
            BULK, {"confirmed": "1", "action": "invite", "ids": [new.pk, again.pk, bob.pk]}, follow=True
        )
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
    client.post(BULK, {"confirmed": "1", "action": "invite", "ids": [target.pk]})
    target.refresh_from_db()
    assert target.status == "created" and not Invitation.objects.exists()


def test_bulk_send_invitations_stays_within_the_invite_scope(make_client, acme):
    lyon, paris = UserGroupFactory(organization=acme), UserGroupFactory(organization=acme)
    manager = make(acme, "Mona", "Manager", "active")
    grant(manager, Right.MANAGE_USERS, lyon, paris)
    grant(manager, Right.INVITE, lyon)
    inside = MembershipFactory(group=lyon, user=make(acme, "In", "Side")).user
    outside = MembershipFactory(group=paris, user=make(acme, "Out", "Side")).user
    make_client(acme, manager).post(BULK, {"confirmed": "1", "action": "invite", "ids": [inside.pk, outside.pk]})
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
        lambda: alice_client.post(
            BULK, {"confirmed": "1", "action": "invite", "all_matching": "1", "filters": f"group={group.pk}"}
        )
    )
    job = BulkJob.objects.get()
    assert response["Location"] == reverse("accounts:user_bulk_job", args=[job.pk])
    assert (job.state, job.summary) == ("done", "5 invited; 1 skipped: already active — Ann B.")
    batch = InvitationBatch.objects.get()
    assert batch.invitations.count() == 5
    assert len(mail.outbox) == 5
    page = alice_client.get(response["Location"]).content.decode()
    assert reverse("invitations:batch", args=[batch.pk]) in page


def test_more_ticked_users_than_a_request_handles_are_refused_not_widened(alice_client, alice, bob, monkeypatch):
    monkeypatch.setattr(bulk, "SYNC_MAX", 1)
    one = make(alice.organization, "One", "Ticked")
    two = make(alice.organization, "Two", "Ticked")
    response = alice_client.post(BULK, {"confirmed": "1", "action": "invite", "ids": [one.pk, two.pk]}, follow=True)
    assert "Tick at most 1 users" in messages_of(response)[0]
    assert not Invitation.objects.exists()


def test_the_invitation_sent_from_the_list_opens_the_account_page(alice_client, alice, anon, deliver):
    new = make(alice.organization, "Nina", "New", email="nina@acme.example")
    deliver(lambda: alice_client.post(BULK, {"confirmed": "1", "action": "invite", "ids": [new.pk]}))
    assert anon.get(reverse("invitations:accept", args=[last_token(new.email)])).status_code == 200


# --- The user's page --------------------------------------------------------------------------------


def test_the_user_page_shows_the_invitation_buttons_and_the_rights_link_to_an_administrator(
    alice_client, alice, deliver
):
    new = make(alice.organization, "Nina", "New", email="nina@acme.example")
    page = alice_client.get(reverse("accounts:user_detail", args=[new.pk])).content.decode()
    assert reverse("invitations:user_send", args=[new.pk]) in page
    assert reverse("groups:user_rights", args=[new.pk]) in page
    # Activation is offered once, by the status actions (which send the temporary password).
    assert reverse("invitations:user_activate", args=[new.pk]) not in page
    assert page.count("Activate with a temporary password") == 1
    deliver(lambda: alice_client.post(reverse("invitations:user_send", args=[new.pk])))
    page = alice_client.get(reverse("accounts:user_detail", args=[new.pk])).content.decode()
    assert "Invitation sent to nina@acme.example" in page and "Resend invitation" in page


def test_the_user_page_hides_invitations_outside_the_invite_scope_and_rights_from_non_administrators(make_client, acme):
    lyon, paris = UserGroupFactory(organization=acme), UserGroupFactory(organization=acme)
    manager = make(acme, "Mona", "Manager", "active")
    grant(manager, Right.MANAGE_USERS, lyon, paris)
    grant(manager, Right.INVITE, lyon)
    inside = MembershipFactory(group=lyon, user=make(acme, "In", "Side")).user
    outside = MembershipFactory(group=paris, user=make(acme, "Out", "Side")).user
    client = make_client(acme, manager)
    page = client.get(reverse("accounts:user_detail", args=[inside.pk])).content.decode()
    assert reverse("invitations:user_send", args=[inside.pk]) in page
    assert reverse("groups:user_rights", args=[inside.pk]) not in page
    page = client.get(reverse("accounts:user_detail", args=[outside.pk])).content.decode()
    assert reverse("invitations:user_send", args=[outside.pk]) not in page


@pytest.mark.parametrize("status", ["created", "invited"])
def test_activating_a_new_user_from_their_page_sends_a_temporary_password(alice_client, alice, anon, deliver, status):
    new = make(alice.organization, "Nina", "New", status, email="nina@acme.example")
    response = deliver(lambda: alice_client.post(reverse("accounts:user_status", args=[new.pk, "active"]), follow=True))
    assert messages_of(response) == [f"{new} is active; a temporary password is on its way to nina@acme.example."]
    new.refresh_from_db()
    assert new.status == "active" and new.must_change_password
    password = mail.outbox[-1].body.split("Temporary password:")[1].split()[0]
    assert anon.post("/login/", {"username": new.email, "password": password}).status_code == 302
    assert anon.get("/").url == reverse("accounts:password_change")
    assert new.status_changes.filter(to_status="active").count() == 1


def test_reactivating_an_inactive_user_sends_no_password(alice_client, alice, deliver):
    old = make(alice.organization, "Old", "Timer", "inactive", email="old@acme.example")
    deliver(lambda: alice_client.post(reverse("accounts:user_status", args=[old.pk, "active"])))
    old.refresh_from_db()
    assert old.status == "active" and not old.must_change_password
    assert not mail.outbox and not Invitation.objects.exists()


# --- Converting contacts ----------------------------------------------------------------------------


@pytest.fixture
def emma(acme):
    from accounts.tests.factories import ContactFactory

    return ContactFactory(organization=acme, first_name="Emma", last_name="Éclair", email="emma@example.org")


@pytest.fixture
def sam(acme):
    from accounts.tests.factories import ContactFactory

    return ContactFactory(organization=acme, first_name="Sam", last_name="Sms", email="", mobile="+33756123434")


def test_converting_contacts_with_invite_sends_account_invitations_in_one_batch(alice, emma, sam, deliver):
    from experquiz import sms
    from flows.contacts import contacts_convert

    converted, refused = deliver(lambda: contacts_convert(contacts=[emma, sam], to="invited", actor=alice))
    assert refused == [] and len(converted) == 2
    users = [user for _contact, user in converted]
    assert {User.objects.get(pk=user.pk).status for user in users} == {"invited"}
    batch = InvitationBatch.objects.get()
    assert set(batch.invitations.values_list("user_id", "kind")) == {(user.pk, "account") for user in users}
    assert [m.to for m in mail.outbox] == [["emma@example.org"]]
    assert [m.to for m in sms.outbox] == ["+33756123434"]


def test_converting_a_contact_with_activate_sends_a_temporary_password(alice, anon, emma, deliver):
    from flows.contacts import contacts_convert

    ((_contact, user),) = deliver(lambda: contacts_convert(contacts=[emma], to="active", actor=alice))[0]
    user.refresh_from_db()
    assert user.status == "active" and user.must_change_password
    password = mail.outbox[0].body.split("Temporary password:")[1].split()[0]
    assert anon.post("/login/", {"username": "emma@example.org", "password": password}).status_code == 302


def test_nothing_leaves_before_the_conversion_commits(alice, emma, django_capture_on_commit_callbacks):
    from flows.contacts import contacts_convert

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contacts_convert(contacts=[emma], to="invited", actor=alice)
    assert callbacks and not mail.outbox


def test_conversion_moves_the_contacts_invitations_to_the_new_user(alice, emma, sam):
    from flows.contacts import contacts_convert

    def invitation_of(contact):
        return Invitation.objects.create(
            organization=contact.organization, kind="assessment", contact=contact, channel="email", address="x@y.z"
        )

    mine, other = invitation_of(emma), invitation_of(sam)
    ((_contact, user),), _refused = contacts_convert(contacts=[emma], to="created", actor=alice)
    mine.refresh_from_db(), other.refresh_from_db()
    assert (mine.user_id, mine.contact_id) == (user.pk, None)
    assert (other.user_id, other.contact_id) == (None, sam.pk)


def test_a_refused_conversion_moves_no_invitation(alice, emma):
    from flows.contacts import contacts_convert

    invitation = Invitation.objects.create(
        organization=emma.organization, kind="assessment", contact=emma, channel="email", address=emma.email
    )
    make(alice.organization, "Emma", "Taken", email="emma@example.org")
    converted, refused = contacts_convert(contacts=[emma], to="invited", actor=alice)
    assert converted == [] and len(refused) == 1
    invitation.refresh_from_db()
    assert (invitation.user_id, invitation.contact_id) == (None, emma.pk)
    assert not InvitationBatch.objects.exists()


# --- Import, then invitations ----------------------------------------------------------------------


def _import(org, text, *, actor, invite=True):
    from flows.importing import check_rows, read_table
    from flows.imports import users_import

    header, rows = read_table(text.encode())
    check = check_rows(organization=org, actor=actor, header=header, rows=rows)
    return users_import(organization=org, actor=actor, check=check, invite=invite)


def test_an_import_with_invite_invites_the_new_and_the_still_waiting_users(alice, bob, deliver):
    org = alice.organization
    waiting = make(org, "Wait", "Ing", "invited", email="wait@acme.example")
    text = f"first_name,last_name,email\nAnn,Bee,ann@acme.example\nWait,Again,{waiting.email}\nBob,Active,{bob.email}\n"
    result = deliver(lambda: _import(org, text, actor=alice))
    assert (result["created"], result["updated"], result["invited"], result["not_invited"]) == (1, 2, 2, 0)
    batch = InvitationBatch.objects.get(pk=result["batch"])
    assert sorted(batch.invitations.values_list("address", flat=True)) == ["ann@acme.example", "wait@acme.example"]
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@acme.example", "wait@acme.example"]
    bob.refresh_from_db()
    assert bob.status == "active"


def test_an_import_without_invite_sends_nothing(alice, deliver):
    result = deliver(lambda: _import(alice.organization, "email\nann@acme.example\n", actor=alice, invite=False))
    assert (result["created"], result["invited"]) == (1, 0)
    assert not Invitation.objects.exists() and not mail.outbox


def test_a_scoped_manager_import_invites_only_within_their_invite_scope(acme, deliver):
    lyon = UserGroupFactory(organization=acme, name="Lyon")
    paris = UserGroupFactory(organization=acme, name="Paris")
    manager = make(acme, "Mona", "Manager", "active")
    grant(manager, Right.MANAGE_USERS, lyon, paris)
    grant(manager, Right.INVITE, lyon)
    text = "email,groups\nin@acme.example,Lyon\nout@acme.example,Paris\n"
    result = deliver(lambda: _import(acme, text, actor=manager))
    assert (result["created"], result["invited"], result["not_invited"]) == (2, 1, 1)
    assert [m.to for m in mail.outbox] == [["in@acme.example"]]


def test_the_import_page_reports_the_invitations_sent(alice_client, alice, deliver):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import ImportJob

    data = b"first_name,last_name,email\nAnn,Bee,ann@acme.example\n"
    alice_client.post(reverse("accounts:user_import"), {"file": SimpleUploadedFile("p.csv", data), "invite": "on"})
    job = ImportJob.objects.get()
    deliver(lambda: alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk])))
    page = alice_client.get(reverse("accounts:user_import_job", args=[job.pk])).content.decode()
    assert "1 invitation sent." in page
    assert reverse("invitations:batch", args=[InvitationBatch.objects.get().pk]) in page
    assert [m.to for m in mail.outbox] == [["ann@acme.example"]]


def test_the_import_command_invites_and_says_so(alice, tmp_path, capsys, deliver):
    from django.core.management import call_command

    path = tmp_path / "people.csv"
    path.write_bytes(b"email\nann@acme.example\n")
    deliver(lambda: call_command("importusers", alice.organization.slug, str(path), "--invite"))
    assert "Invitations: 1 sent." in capsys.readouterr().out
    assert User.objects.get(email="ann@acme.example").status == "invited"
    assert [m.to for m in mail.outbox] == [["ann@acme.example"]]


# --- Bulk "Activate" --------------------------------------------------------------------------------


def test_bulk_activate_sends_each_new_user_a_temporary_password(alice_client, alice, bob, anon, deliver):
    from experquiz import sms

    org = alice.organization
    new = make(org, "Nina", "New", email="nina@acme.example")
    texted = make(org, "Tex", "Ted", "invited", email="", mobile="+33756123499", preferred_channel="sms")
    response = deliver(
        lambda: alice_client.post(
            BULK, {"confirmed": "1", "action": "activate", "ids": [new.pk, texted.pk, bob.pk]}, follow=True
        )
    )
    assert messages_of(response) == ["2 activated, each sent a temporary password; 1 skipped: already active — Bob P."]
    for user in (new, texted):
        user.refresh_from_db()
        assert user.status == "active" and user.must_change_password
    assert [m.to for m in mail.outbox] == [["nina@acme.example"]]
    assert [m.to for m in sms.outbox] == ["+33756123499"]
    password = mail.outbox[0].body.split("Temporary password:")[1].split()[0]
    assert anon.post("/login/", {"username": new.email, "password": password}).status_code == 302


def test_bulk_activate_does_not_touch_inactive_users(alice_client, alice, deliver):
    old = make(alice.organization, "Old", "Timer", "inactive")
    response = deliver(
        lambda: alice_client.post(BULK, {"confirmed": "1", "action": "activate", "ids": [old.pk]}, follow=True)
    )
    assert messages_of(response) == [
        "0 activated, each sent a temporary password; 1 skipped: currently inactive — Old T."
    ]
    assert not Invitation.objects.exists()


# --- Where people land ------------------------------------------------------------------------------


def test_home_sends_scoped_managers_to_their_users_and_inviters_to_the_invitations(make_client, acme, alice_client):
    group = UserGroupFactory(organization=acme)
    manager, inviter, plain = (make(acme, name, "X", "active") for name in ("Mona", "Ivy", "Pat"))
    grant(manager, Right.MANAGE_USERS, group)
    grant(inviter, Right.INVITE, group)
    assert make_client(acme, manager).get("/").url == reverse("accounts:user_list")
    assert make_client(acme, inviter).get("/").url == reverse("invitations:list")
    assert make_client(acme, plain).get("/").url == reverse("accounts:me")
    assert alice_client.get("/").status_code == 200  # the administrator's dashboard
