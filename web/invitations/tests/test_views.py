import re
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory, UserGroupFactory
from experquiz import sms
from experquiz.errors import DomainError
from flows.invitations import invitations_invite_addresses
from invitations.models import Invitation, InvitationBatch
from invitations.services import account
from invitations.tests.helpers import LINK, last_token

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "violet-umbrella-42"


@pytest.fixture
def carol(acme):
    return UserFactory(organization=acme, email="carol@acme.example", status="created", first_name="", last_name="")


@pytest.fixture
def token(deliver, alice, carol):
    deliver(
        lambda: account.invitations_send(
            organization=carol.organization, users=User.objects.filter(pk=carol.pk), actor=alice
        )
    )
    return last_token(carol.email)


def without_csrf(response):
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def accept_data(**overrides):
    data = {"first_name": "Carol", "last_name": "Chen", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    data.update(overrides)
    return data


def test_the_link_in_the_message_points_at_the_organisations_host(token, carol):
    assert LINK.search(mail.outbox[0].body).group(0) == f"http://acme.localhost/i/{token}/"


def test_get_shows_the_organisation_and_the_form_and_changes_nothing(anon, carol, token):
    for _ in range(3):  # mail scanners open links, sometimes several times
        response = anon.get(f"/i/{token}/")
        assert response.status_code == 200
    page = response.content.decode()
    assert "Acme" in page and 'name="new_password1"' in page and 'name="first_name"' in page
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    invitation = Invitation.objects.get(user=carol)
    carol.refresh_from_db()
    assert invitation.used_at is None and carol.status == "invited"
    assert "_auth_user_id" not in anon.session


def test_post_activates_consumes_and_logs_in(anon, carol, token, password):
    response = anon.post(f"/i/{token}/", accept_data())
    assert response.status_code == 302 and response["Location"] == "/"
    carol.refresh_from_db()
    assert carol.status == "active" and carol.first_name == "Carol" and carol.check_password(NEW_PASSWORD)
    assert anon.session["_auth_user_id"] == str(carol.pk)
    assert Invitation.objects.get(user=carol).used_at is not None
    # The account logs in with its new password.
    fresh = type(anon)(HTTP_HOST="acme.localhost")
    assert fresh.post("/login/", {"username": carol.email, "password": NEW_PASSWORD}).status_code == 302


def test_django_password_validators_apply(anon, carol, token):
    response = anon.post(f"/i/{token}/", accept_data(new_password1="12345678", new_password2="12345678"))
    assert response.status_code == 200
    assert "too common" in response.content.decode() or "entirely numeric" in response.content.decode()
    carol.refresh_from_db()
    assert carol.status == "invited"


def test_a_used_link_gets_its_own_page_with_410(anon, token):
    anon.post(f"/i/{token}/", accept_data())
    anon.logout()
    response = anon.get(f"/i/{token}/")
    assert response.status_code == 410
    assert 'data-problem="used"' in response.content.decode()
    assert anon.post(f"/i/{token}/", accept_data(first_name="Mallory")).status_code == 410
    assert User.objects.get(email="carol@acme.example").first_name == "Carol"


def test_an_expired_link_gets_its_own_page_with_410(anon, carol, token):
    Invitation.objects.filter(user=carol).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = anon.post(f"/i/{token}/", accept_data())
    assert response.status_code == 410 and 'data-problem="expired"' in response.content.decode()
    carol.refresh_from_db()
    assert carol.status == "invited"


def test_a_revoked_link_gets_its_own_page_with_410(anon, alice, carol, token):
    account.invitation_revoke(invitation=Invitation.objects.get(user=carol), actor=alice)
    response = anon.get(f"/i/{token}/")
    assert response.status_code == 410 and 'data-problem="revoked"' in response.content.decode()


def test_an_unknown_link_is_a_404_and_another_tenants_token_is_unknown(anon, make_client, globex, token):
    response = anon.get("/i/" + "x" * 43 + "/")
    assert response.status_code == 404 and 'data-problem="unknown"' in response.content.decode()
    response = make_client(globex).get(f"/i/{token}/")
    assert response.status_code == 404
    assert "Acme" not in response.content.decode()


def test_token_pages_are_rate_limited_per_client(anon, settings, token):
    settings.TOKEN_THROTTLE_PER_IP = 3
    for _ in range(3):
        anon.get("/i/" + "y" * 43 + "/")
    assert anon.get(f"/i/{token}/").status_code == 429


def test_token_pages_count_only_failed_look_ups(anon, settings, token):
    # An office behind one address opening valid links is never blocked.
    settings.TOKEN_THROTTLE_PER_IP = 3
    for _ in range(5):
        assert anon.get(f"/i/{token}/").status_code == 200
    assert anon.post(f"/i/{token}/", accept_data(new_password2="mismatch")).status_code == 200
    assert anon.get("/password/forgot/").status_code == 200
    for _ in range(3):
        assert anon.get("/i/" + "y" * 43 + "/").status_code == 404
    assert anon.get(f"/i/{token}/").status_code == 429


def test_forgotten_password_does_not_reveal_who_has_an_account(anon, bob, deliver):
    known = deliver(lambda: anon.post("/password/forgot/", {"username": bob.email}))
    unknown = deliver(lambda: anon.post("/password/forgot/", {"username": "nobody@acme.example"}))
    assert known.status_code == unknown.status_code == 200
    assert without_csrf(known) == without_csrf(unknown)
    assert [message.to for message in mail.outbox] == [[bob.email]]


def test_forgotten_password_over_sms_then_a_new_password(anon, acme, deliver):
    user = UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms")
    deliver(lambda: anon.post("/password/forgot/", {"username": "06 12 34 56 78"}))
    (message,) = sms.outbox
    token = LINK.search(message.body).group(1)
    assert anon.get(f"/r/{token}/").status_code == 200
    response = anon.post(f"/r/{token}/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert anon.get(f"/r/{token}/").status_code == 410


def test_forgotten_password_requests_are_limited_per_login_id(anon, bob, deliver, settings):
    settings.PASSWORD_RESET_THROTTLE_PER_ID = 2
    for _ in range(4):
        deliver(lambda: anon.post("/password/forgot/", {"username": bob.email}))
    assert len(mail.outbox) == 2


def test_forgotten_password_limit_counts_a_mobile_however_it_is_typed(anon, acme, deliver):
    UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms")
    typed = ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "+33612345678", "0033612345678", "06.12.34.56.78"]
    for login_id in typed:
        deliver(lambda login_id=login_id: anon.post("/password/forgot/", {"username": login_id}))
    assert len(sms.outbox) == 3  # PASSWORD_RESET_THROTTLE_PER_ID


def test_the_login_page_links_to_forgotten_password(anon):
    assert reverse("invitations:password_forgot") in anon.get("/login/").content.decode()


def test_a_temporary_password_forces_a_change_at_first_login(alice_client, anon, carol, deliver):
    response = deliver(lambda: alice_client.post(f"/invitations/users/{carol.pk}/activate/", {"confirmed": "1"}))
    assert response.status_code == 302
    password = mail.outbox[0].body.split("Temporary password:")[1].split()[0]
    assert anon.post("/login/", {"username": carol.email, "password": password}).status_code == 302
    assert anon.get("/").url == reverse("accounts:password_change")


# --- Admin pages ---


def test_the_invitations_page_lists_delivery_state_and_last_error(alice_client, carol, token):
    Invitation.objects.filter(user=carol).update(delivery="failed", last_error="SMTP 550: no such user")
    response = alice_client.get("/invitations/?state=failed")
    assert response.status_code == 200
    page = response.content.decode()
    assert "carol@acme.example" in page and "SMTP 550: no such user" in page
    assert "carol@acme.example" not in alice_client.get("/invitations/?state=sent").content.decode()
    assert "carol@acme.example" not in alice_client.get("/invitations/?channel=sms").content.decode()


def test_plain_users_cannot_reach_the_admin_pages(bob_client):
    assert bob_client.get("/invitations/").status_code == 403


def test_another_tenants_objects_are_404(make_client, mallory, alice, carol, token):
    client = make_client(mallory.organization, mallory)
    invitation = Invitation.objects.get(user=carol)
    assert client.post(f"/invitations/{invitation.pk}/revoke/").status_code == 404
    assert client.post(f"/invitations/{invitation.pk}/resend/").status_code == 404
    assert client.get(f"/invitations/batches/{invitation.batch_id}/").status_code == 404
    assert client.get(f"/invitations/batches/{invitation.batch_id}/progress/").status_code == 404
    assert client.post(f"/invitations/users/{carol.pk}/send/").status_code == 404
    assert client.post(f"/invitations/users/{carol.pk}/revoke/").status_code == 404
    assert client.post(f"/invitations/users/{carol.pk}/activate/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_send_resend_and_revoke_from_a_user(alice_client, carol, deliver):
    response = deliver(lambda: alice_client.post(f"/invitations/users/{carol.pk}/send/", {"next": "/users/"}))
    assert response.status_code == 302 and response["Location"] == "/users/"
    deliver(lambda: alice_client.post(f"/invitations/users/{carol.pk}/send/"))
    assert Invitation.objects.filter(user=carol).outstanding().count() == 1
    assert len(mail.outbox) == 2
    alice_client.post(f"/invitations/users/{carol.pk}/revoke/")
    assert Invitation.objects.filter(user=carol).outstanding().count() == 0


def test_bulk_send_invites_created_users_and_reports_the_others(alice_client, acme, bob, carol, deliver):
    response = deliver(
        lambda: alice_client.post("/invitations/users/send/", {"users": [carol.pk, bob.pk], "confirmed": "1"})
    )
    batch = Invitation.objects.get(user=carol).batch
    assert response.status_code == 302 and response["Location"] == reverse("invitations:batch", args=[batch.pk])
    page = alice_client.get(response["Location"]).content.decode()
    assert "1 invitation is on its way" in page and "already active" in page


def test_batch_progress_json_and_retry_failed(alice_client, carol, token, deliver):
    batch = Invitation.objects.get(user=carol).batch
    progress = alice_client.get(f"/invitations/batches/{batch.pk}/progress/").json()
    assert progress == {"total": 1, "pending": 0, "sent": 1, "failed": 0, "percent": 100, "done": True}
    Invitation.objects.filter(user=carol).update(delivery="failed", token_hash="")
    assert alice_client.get(f"/invitations/batches/{batch.pk}/progress/").json()["failed"] == 1
    deliver(lambda: alice_client.post(f"/invitations/batches/{batch.pk}/retry/"))
    assert Invitation.objects.get(user=carol).delivery == "sent"


def test_resend_to_a_group_from_the_invitations_page(alice_client, acme, alice, carol, deliver):
    from groups.services import group_add_members

    group = UserGroupFactory(organization=acme)
    group_add_members(group=group, users=[carol], actor=alice)
    response = deliver(lambda: alice_client.post("/invitations/resend-group/", {"group": group.pk, "confirmed": "1"}))
    assert response.status_code == 302
    assert Invitation.objects.filter(user=carol, delivery="sent").count() == 1


def test_the_paste_page_reports_known_addresses(alice_client, bob, deliver):
    response = deliver(
        lambda: alice_client.post(
            "/invitations/paste/", {"addresses": f"{bob.email}\nnew@acme.example", "confirmed": "1"}
        )
    )
    page = response.content.decode()
    assert response.status_code == 200 and "already known" in page and bob.email in page
    assert User.objects.get(email="new@acme.example").status == "invited"


def test_the_user_actions_include_posts_to_the_endpoints_and_shows_the_last_invitation(rf, alice, carol, token):
    from django.template.loader import render_to_string

    from invitations.selectors import latest_account_invitation

    request = rf.get("/users/1/")
    request.user = alice
    carol.refresh_from_db()
    html = render_to_string(
        "invitations/includes/user_actions.html",
        {"person": carol, "invitation": latest_account_invitation(carol)},
        request=request,
    )
    assert reverse("invitations:user_send", args=[carol.pk]) in html and "Resend invitation" in html
    assert reverse("invitations:user_revoke", args=[carol.pk]) in html
    assert "Invitation sent to carol@acme.example" in html


def test_every_invitations_url_with_another_tenants_ids_is_a_404(make_client, mallory, carol, token):
    """Walk the URL patterns: any id from Acme, used by Globex's administrator, is not found."""
    from django.urls import URLPattern

    from web.invitations import urls

    invitation = Invitation.objects.get(user=carol)
    ids = {"pk": invitation.pk, "user_id": carol.pk}
    batch_paths = {"invitations:batch", "invitations:batch_progress", "invitations:batch_retry"}
    client = make_client(mallory.organization, mallory)
    walked = 0
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        params = set(pattern.pattern.converters)
        if not params & {"pk", "user_id"}:
            continue
        name = f"invitations:{pattern.name}"
        kwargs = {key: (invitation.batch_id if name in batch_paths else ids[key]) for key in params}
        path = reverse(name, kwargs=kwargs)
        assert client.post(path).status_code == 404, path
        assert client.get(path).status_code in (404, 405), path
        walked += 1
    assert walked == 8
    invitation.refresh_from_db()
    carol.refresh_from_db()
    assert invitation.revoked_at is None and carol.status == "invited"


def test_a_group_scoped_inviter_pastes_into_one_of_their_groups_and_sees_only_their_peoples_names(
    acme, bob, bob_client, deliver
):
    from accounts.tests.factories import MembershipFactory
    from groups.models import Membership
    from groups.tests.factories import grant
    from rights.names import Right

    lyon, paris = UserGroupFactory(organization=acme, name="Lyon"), UserGroupFactory(organization=acme, name="Paris")
    grant(bob, Right.INVITE, lyon)
    grant(bob, Right.MANAGE_USERS, lyon)
    # Otto is in Paris, out of Bob's scope.
    MembershipFactory(
        group=paris,
        user=UserFactory(organization=acme, email="otto@acme.example", first_name="Otto", last_name="Outscope"),
    )

    # Without a group the new users would be out of their own scope: refused, nobody created.
    response = bob_client.post("/invitations/paste/", {"addresses": "new@acme.example"})
    assert response.status_code == 200 and not User.objects.filter(email="new@acme.example").exists()
    with pytest.raises(DomainError):
        invitations_invite_addresses(organization=acme, actor=bob, text="new@acme.example")

    response = deliver(
        lambda: bob_client.post(
            "/invitations/paste/",
            {"addresses": "OTTO@acme.example\nnew@acme.example", "group": lyon.pk, "confirmed": "1"},
        )
    )
    page = response.content.decode()
    assert "already known" in page
    assert response.status_code == 200 and "OTTO@acme.example" in page
    assert "Otto Outscope" not in page
    assert Membership.objects.filter(group=lyon, user__email="new@acme.example").exists()


def test_a_batch_shows_and_retries_only_the_people_still_in_the_managers_scope(acme, bob, bob_client):
    from accounts.tests.factories import MembershipFactory
    from groups.tests.factories import grant
    from invitations.models import InvitationBatch
    from rights.names import Right

    lyon = UserGroupFactory(organization=acme, name="Lyon")
    grant(bob, Right.INVITE, lyon)
    ines = UserFactory(organization=acme, email="ines@acme.example", first_name="Ines", last_name="Inscope")
    otto = UserFactory(organization=acme, email="otto@acme.example", first_name="Otto", last_name="Leftlyon")
    MembershipFactory(group=lyon, user=ines)
    # Otto was invited by Bob while in Lyon, and has left it since.
    batch = InvitationBatch.objects.create(organization=acme, created_by=bob)
    for user in (ines, otto):
        Invitation.objects.create(
            organization=acme, user=user, channel="email", address=user.email, delivery="failed", batch=batch
        )
    page = bob_client.get(f"/invitations/batches/{batch.pk}/").content.decode()
    assert "Ines Inscope" in page and "Otto" not in page
    assert bob_client.post(f"/invitations/batches/{batch.pk}/retry/").status_code == 302
    assert Invitation.objects.get(user=otto).delivery == "failed"
    assert Invitation.objects.get(user=ines).delivery != "failed"


def test_accepting_reads_the_names_by_the_rule_of_every_other_path(anon, carol, token):
    """accounts.identity: the same name typed here or on the people pages gives the same message."""
    response = anon.post(f"/i/{token}/", accept_data(first_name="N" * 151))
    assert response.status_code == 200
    # Under the field it is about (the page is Jinja2: the test client keeps no template context).
    error = re.search(r'<div id="id_first_name_error" class="invalid-feedback">(.*?)</div>', response.content.decode())
    assert error and "The first name is longer than 150 characters." in error.group(1)
    carol.refresh_from_db()
    assert carol.status == "invited"
    anon.post(f"/i/{token}/", accept_data(first_name="  Carol ", last_name=" Chen  "))
    carol.refresh_from_db()
    assert (carol.first_name, carol.last_name, carol.status) == ("Carol", "Chen", "active")


def test_the_link_form_is_written_out_as_the_other_forms_are(anon, carol, token):
    """The form is printed by a plain template (no crispy-forms, which cost 40 % of the page) with
    the same markup: labels, required marks, autocomplete, help text tied to its field, and errors
    tied to theirs."""
    page = anon.get(f"/i/{token}/").content.decode()
    assert (
        '<label for="id_first_name" class="form-label requiredField">First name<span class="asteriskField">*</span>'
        in page
    )
    assert 'name="first_name" autocomplete="given-name" maxlength="150" class="textinput form-control" required' in page
    assert (
        '<input type="password" name="new_password1" autocomplete="new-password" class="passwordinput form-control"'
        ' required aria-describedby="id_new_password1_helptext" id="id_new_password1">'
    ) in page
    assert '<div id="id_new_password1_helptext" class="form-text"><ul><li>' in page
    page = anon.post(f"/i/{token}/", accept_data(first_name="", last_name="<b>Chen</b>", new_password2="x")).content
    page = page.decode()
    assert (
        'class="textinput form-control is-invalid" required aria-invalid="true" aria-describedby="id_first_name_error"'
        in page
    )
    assert '<div id="id_first_name_error" class="invalid-feedback"><p id="error_1_id_first_name"><strong>' in page
    assert 'aria-describedby="id_new_password2_helptext id_new_password2_error"' in page
    assert 'value="&lt;b&gt;Chen&lt;/b&gt;"' in page
    assert NEW_PASSWORD not in page  # a password is never written back into the page


def test_resending_to_a_big_group_records_the_batch_and_a_worker_invites_them(
    alice_client, acme, alice, monkeypatch, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """Issue 12: the administrator's request returns at once, whatever the group's size; the batch page
    follows the worker, which invites every member not yet accepted, each once, with their history."""
    from accounts.models import BulkJob, StatusChange
    from audit.models import Action, AuditEvent
    from flows import bulk
    from groups.models import Membership

    monkeypatch.setattr(bulk, "SYNC_MAX", 3)
    monkeypatch.setitem(bulk.REGISTRY, "invite_group", replace(bulk.REGISTRY["invite_group"], chunk=2))
    group = UserGroupFactory(organization=acme, name="Lyon")
    people = [UserFactory(organization=acme, status="created") for _ in range(5)]
    accepted = UserFactory(organization=acme, status="active")
    Membership.objects.bulk_create(
        [Membership(organization=acme, group=group, user=user) for user in [*people, accepted]]
    )
    with django_capture_on_commit_callbacks(execute=False) as queued, django_assert_max_num_queries(12):
        response = alice_client.post("/invitations/resend-group/", {"group": group.pk, "confirmed": "1"})
    batch = InvitationBatch.objects.get()
    assert response["Location"] == f"/invitations/batches/{batch.pk}/"
    assert not Invitation.objects.exists(), "nothing is sent within the request"
    assert len(queued) == 1
    progress = alice_client.get(f"/invitations/batches/{batch.pk}/progress/").json()
    assert progress["done"] is False

    with django_capture_on_commit_callbacks(execute=True):
        queued[0]()  # the worker
    job = BulkJob.objects.get()
    assert (job.state, job.total, job.progress) == ("done", 5, 5)
    assert set(Invitation.objects.values_list("user_id", "batch_id", "delivery")) == {
        (person.pk, batch.pk, "sent") for person in people
    }
    for person in people:
        assert StatusChange.objects.filter(user=person, to_status="invited").count() == 1
    assert AuditEvent.objects.filter(action=Action.INVITATION_SENT).count() == 5
    assert alice_client.get(f"/invitations/batches/{batch.pk}/progress/").json() == {
        "total": 5,
        "pending": 0,
        "sent": 5,
        "failed": 0,
        "percent": 100,
        "done": True,
    }
