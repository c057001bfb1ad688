import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import StatusChange, User
from accounts.services import user_change_status, user_set_password
from accounts.tests.factories import ContactFactory, UserFactory, UserGroupFactory, UserTypeFactory
from experquiz import sms
from experquiz.errors import DomainError
from experquiz.sms.gsm import septets
from flows.invitations import invitations_invite_addresses
from invitations.models import Invitation, InvitationSettings
from invitations.selectors import invitation_by_token
from invitations.services import acceptance, account, delivery, outbox, resets
from invitations.tokens import hash_token

from .helpers import last_token

pytestmark = pytest.mark.django_db

Kind = Invitation.Kind


def about(delta, expected):
    return abs(delta - expected) < timedelta(seconds=5)


def invite(deliver, users, actor, organization=None):
    organization = organization or actor.organization
    queryset = User.objects.filter(pk__in=[user.pk for user in users])
    return deliver(lambda: account.invitations_send(organization=organization, users=queryset, actor=actor))


@pytest.fixture
def carol(acme):
    return UserFactory(organization=acme, email="carol@acme.example", status="created", first_name="", last_name="")


def test_sending_invites_a_created_user_and_stores_only_the_tokens_hash(deliver, alice, carol):
    result = invite(deliver, [carol], alice)
    carol.refresh_from_db()
    assert carol.status == "invited"
    assert StatusChange.objects.filter(user=carol, from_status="created", to_status="invited", actor=alice).exists()
    invitation = Invitation.objects.get(user=carol)
    assert result.invited == [carol.pk] and invitation.batch == result.batch
    assert invitation.delivery == "sent" and invitation.attempts == 1 and invitation.sent_at
    token = last_token(carol.email)
    assert len(token) == 43  # 256 bits, url-safe
    assert invitation.token_hash == hash_token(token)
    # The raw token is stored nowhere in the row.
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    lifetime = timedelta(days=carol.organization.invitation_lifetime_days)
    assert about(invitation.expires_at - invitation.sent_at, lifetime)


def test_the_email_has_text_and_html_parts_in_the_recipients_language(deliver, alice, acme):
    french = UserFactory(organization=acme, email="zoe@acme.example", status="created", language="fr")
    invite(deliver, [french], alice)
    (message,) = mail.outbox
    assert "Acme" in message.subject
    assert message.alternatives[0].mimetype == "text/html"
    assert last_token(french.email) in message.alternatives[0].content
    # Rendered under the recipient's language (the French catalogue is filled in at merge).
    assert '<html lang="fr">' in message.alternatives[0].content
    assert message.extra_headers["X-ExperQuiz-Invitation"] == str(Invitation.objects.get(user=french).pk)


def test_an_sms_invitation_fits_one_gsm_message_with_its_link(deliver, alice, acme):
    acme.name = "Établissement régional de formation professionnelle continue — Île-de-France Nord"
    acme.save()
    user = UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms", status="created")
    invite(deliver, [user], alice)
    (message,) = sms.outbox
    assert message.to == "+33612345678"
    assert septets(message.body) <= 160
    assert f"/i/{last_token('+33612345678')}/" in message.body


@pytest.mark.parametrize("status", ["active", "inactive", "deleted"])
def test_users_past_the_invitation_stage_are_skipped_with_a_reason(deliver, alice, acme, status):
    other = UserFactory(organization=acme, status=status)
    result = invite(deliver, [other], alice)
    assert result.invited == [] and len(result.skipped) == 1
    assert not Invitation.objects.filter(user=other).exists()


def test_resending_makes_a_new_token_with_fresh_validity_and_revokes_the_old(deliver, alice, carol):
    invite(deliver, [carol], alice)
    first = Invitation.objects.get(user=carol)
    old_token = last_token(carol.email)
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() + timedelta(days=1))
    deliver(lambda: account.invitation_resend(invitation=first, actor=alice))
    first.refresh_from_db()
    second = Invitation.objects.exclude(pk=first.pk).get(user=carol)
    new_token = last_token(carol.email)
    assert new_token != old_token
    assert first.revoked_at is not None and second.revoked_at is None
    assert second.expires_at - timezone.now() > timedelta(days=13)
    assert acceptance.invitation_problem(first) == "revoked"


def test_the_hook_revokes_pending_tokens_when_a_user_is_deleted(deliver, alice, carol):
    invite(deliver, [carol], alice)
    invitation = Invitation.objects.get(user=carol)
    user_change_status(user=carol, to="deleted", actor=alice)
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_a_revoked_invitation_not_yet_sent_is_never_sent(alice, carol, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        account.invitations_send(organization=carol.organization, users=User.objects.filter(pk=carol.pk), actor=alice)
    invitation = Invitation.objects.get(user=carol)
    account.invitation_revoke(invitation=invitation, actor=alice)
    for callback in callbacks:
        callback()
    invitation.refresh_from_db()
    assert invitation.delivery == "pending" and invitation.token_hash == ""
    assert mail.outbox == []


def test_accepting_activates_consumes_the_token_and_cannot_happen_twice(deliver, alice, carol):
    invite(deliver, [carol], alice)
    invitation = invitation_by_token(carol.organization, last_token(carol.email), [Kind.ACCOUNT])
    user = acceptance.invitation_accept(
        invitation=invitation, first_name="Carol", last_name="C", password="a-long-pass-2026"
    )
    assert user.status == "active" and user.check_password("a-long-pass-2026") and user.first_name == "Carol"
    invitation.refresh_from_db()
    assert invitation.used_at is not None
    with pytest.raises(acceptance.InvitationUnusable) as exc:
        acceptance.invitation_accept(invitation=invitation, first_name="X", last_name="Y", password="another-pass-2026")
    assert exc.value.reason == "used"


def test_an_expired_invitation_cannot_be_accepted(deliver, alice, carol):
    invite(deliver, [carol], alice)
    invitation = Invitation.objects.get(user=carol)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(acceptance.InvitationUnusable) as exc:
        acceptance.invitation_accept(invitation=invitation, first_name="C", last_name="C", password="a-long-pass-2026")
    assert exc.value.reason == "expired"
    carol.refresh_from_db()
    assert carol.status == "invited"


def test_tokens_of_another_organisation_are_unknown(deliver, alice, carol, globex):
    invite(deliver, [carol], alice)
    token = last_token(carol.email)
    assert invitation_by_token(globex, token, [Kind.ACCOUNT]) is None
    assert invitation_by_token(carol.organization, token, [Kind.ACCOUNT]) is not None


def test_the_database_refuses_an_invitation_with_two_recipients(acme, carol):
    contact = ContactFactory(organization=acme)
    with pytest.raises(IntegrityError):
        Invitation.objects.create(
            organization=acme, kind=Kind.ASSESSMENT, user=carol, contact=contact, channel="email", address="x@y.z"
        )


def test_delivery_is_idempotent(deliver, alice, carol):
    invite(deliver, [carol], alice)
    invitation = Invitation.objects.get(user=carol)
    outcome = delivery.invitations_deliver(invitation_ids=[invitation.pk])
    assert outcome.sent == [] and len(mail.outbox) == 1


def test_a_refused_address_fails_at_once_and_the_rest_of_the_packet_is_sent(deliver, alice, acme, monkeypatch):
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    users = [UserFactory(organization=acme, status="created") for _ in range(3)]
    bad = users[1].email
    original = EmailBackend.send_messages

    def refuse(self, messages):
        if messages[0].to == [bad]:
            raise smtplib.SMTPRecipientsRefused({bad: (550, b"no such user")})
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    invite(deliver, users, alice)
    states = dict(Invitation.objects.values_list("address", "delivery"))
    assert states == {users[0].email: "sent", bad: "failed", users[2].email: "sent"}


def test_a_packet_holds_at_most_the_packet_size(alice, acme, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.INVITATIONS_PACKET_SIZE = 2
    published = []
    monkeypatch.setattr("invitations.tasks.deliver_packet.delay", lambda ids: published.append(ids))
    users = [UserFactory(organization=acme, status="created") for _ in range(5)]
    invite(lambda action: action_with_hooks(action, django_capture_on_commit_callbacks), users, alice)
    assert [len(packet) for packet in published] == [2, 2, 1]


def action_with_hooks(action, capture):
    with capture(execute=True):
        return action()


def test_the_sweeper_requeues_only_invitations_left_pending_too_long(
    alice, carol, acme, settings, django_capture_on_commit_callbacks
):
    fresh = UserFactory(organization=acme, status="created")
    with django_capture_on_commit_callbacks(execute=False):
        account.invitations_send(organization=acme, users=User.objects.filter(pk__in=[carol.pk, fresh.pk]), actor=alice)
    Invitation.objects.filter(user=carol).update(enqueued_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.invitations_sweep() == 1
    assert [message.to for message in mail.outbox] == [[carol.email]]


def test_pasted_addresses_become_invited_users_and_known_ones_are_reported(deliver, alice, acme, bob):
    group = UserGroupFactory(organization=acme)
    kind = UserTypeFactory(organization=acme)
    text = "new1@acme.example; BOB@acme.example,\n06 11 22 33 44\nnew1@acme.example, not-an-address, +33611223344"
    result = deliver(
        lambda: invitations_invite_addresses(organization=acme, actor=alice, text=text, user_type=kind, group=group)
    )
    assert [user.email or user.mobile for user in result.created] == ["new1@acme.example", "+33611223344"]
    assert [(address, user) for address, user in result.known] == [("BOB@acme.example", bob)]
    assert [text for text, _reason in result.invalid] == ["not-an-address"]
    assert result.duplicates == 2
    for user in result.created:
        user.refresh_from_db()
        assert user.status == "invited" and user.user_type == kind and group.members.filter(pk=user.pk).exists()
    assert User.objects.filter(email="bob@acme.example").count() == 1
    assert len(mail.outbox) == 1 and len(sms.outbox) == 1


def test_resend_to_a_group_reaches_only_those_who_have_not_accepted(deliver, alice, acme, bob, carol):
    from groups.services import group_add_members

    group = UserGroupFactory(organization=acme)
    group_add_members(group=group, users=[bob, carol], actor=alice)
    result = deliver(lambda: account.invitations_resend_to_group(organization=acme, group=group, actor=alice))
    assert result.invited == [carol.pk]


def test_activation_by_an_administrator_sends_a_temporary_password(deliver, alice, carol):
    deliver(lambda: account.user_activate_with_temporary_password(user=carol, actor=alice))
    carol.refresh_from_db()
    assert carol.status == "active" and carol.must_change_password
    (message,) = mail.outbox
    password = message.body.split("Temporary password:")[1].split()[0]
    assert carol.check_password(password)
    assert password not in str(Invitation.objects.filter(user=carol).values().get())


def test_activation_revokes_outstanding_invitations(deliver, alice, carol):
    invite(deliver, [carol], alice)
    deliver(lambda: account.user_activate_with_temporary_password(user=carol, actor=alice))
    assert Invitation.objects.get(user=carol, kind=Kind.ACCOUNT).revoked_at is not None


def test_an_active_user_cannot_be_activated_again(alice, bob):
    with pytest.raises(DomainError):
        account.user_activate_with_temporary_password(user=bob, actor=alice)


def test_a_password_reset_goes_to_active_users_only(deliver, acme, bob, carol):
    assert deliver(lambda: resets.password_reset_request(organization=acme, user=carol)) is None
    assert deliver(lambda: resets.password_reset_request(organization=acme, user=None)) is None
    invitation = deliver(lambda: resets.password_reset_request(organization=acme, user=bob))
    assert invitation is not None and len(mail.outbox) == 1
    assert "/r/" in mail.outbox[0].body
    invitation.refresh_from_db()
    assert about(invitation.expires_at - invitation.sent_at, timedelta(minutes=60))


def test_reminders_go_once_to_those_who_have_not_accepted_before_expiry(deliver, alice, acme, carol):
    InvitationSettings.objects.create(organization=acme, reminder_days_before_expiry=3)
    invite(deliver, [carol], alice)
    original = Invitation.objects.get(user=carol)
    Invitation.objects.filter(pk=original.pk).update(expires_at=timezone.now() + timedelta(days=2))
    assert deliver(account.invitations_send_reminders) == 1
    assert deliver(account.invitations_send_reminders) == 0
    reminder = Invitation.objects.get(user=carol, is_reminder=True)
    original.refresh_from_db()
    assert original.revoked_at is not None
    assert reminder.delivery == "sent" and reminder.expires_at == original.expires_at
    assert "Reminder" in mail.outbox[-1].subject


def test_retry_failed_puts_failed_messages_back_in_the_queue(deliver, alice, carol):
    result = invite(deliver, [carol], alice)
    Invitation.objects.filter(user=carol).update(delivery="failed", attempts=6, token_hash="")
    assert deliver(lambda: account.batch_retry_failed(batch=result.batch, actor=alice)) == 1
    assert Invitation.objects.get(user=carol).delivery == "sent"


def test_an_unexpected_error_fails_one_invitation_and_the_packet_goes_on(
    alice, acme, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from invitations import messages

    settings.INVITATIONS_MAX_ATTEMPTS = 1
    users = [UserFactory(organization=acme, status="created") for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=False):
        account.invitations_send(
            organization=acme, users=User.objects.filter(pk__in=[u.pk for u in users]), actor=alice
        )
    first, second = Invitation.objects.order_by("pk")
    original = messages.build_email

    def broken(invitation, **kwargs):
        if invitation.pk == first.pk:
            raise KeyError("boom")
        return original(invitation, **kwargs)

    monkeypatch.setattr(messages, "build_email", broken)
    outcome = delivery.invitations_deliver(invitation_ids=[first.pk, second.pk])
    assert outcome.failed == [first.pk] and outcome.sent == [second.pk]
    first.refresh_from_db()
    assert "KeyError" in first.last_error and [message.to for message in mail.outbox] == [[second.address]]


def test_an_assessment_message_of_no_assessment_invitation_fails_cleanly(acme):
    contact = ContactFactory(organization=acme)
    invitation = Invitation.objects.create(
        organization=acme, kind=Kind.ASSESSMENT, contact=contact, channel="email", address=contact.email
    )
    outcome = delivery.invitations_deliver(invitation_ids=[invitation.pk])
    invitation.refresh_from_db()
    assert outcome.failed == [invitation.pk] and invitation.delivery == "failed" and mail.outbox == []


@pytest.mark.parametrize("kind", [Kind.ACCOUNT, Kind.PASSWORD_RESET, Kind.TEMPORARY_PASSWORD])
@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_sms_fits_160_gsm_characters_even_with_a_long_host(acme, settings, kind, language):
    from invitations import messages
    from invitations.tokens import make_temporary_password, make_token

    settings.BASE_DOMAIN, settings.HTTPS = "people.experquiz-platform.example.com", True
    acme.slug, acme.name = "a" * 40, "Centre hospitalier universitaire de Pointe-à-Pitre"
    user = UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms", language=language)
    for reminder in (False, True):
        invitation = Invitation(
            organization=acme, kind=kind, user=user, channel="sms", address=user.mobile, is_reminder=reminder
        )
        link = messages.link_for(invitation, make_token())
        secret = make_temporary_password() if kind == Kind.TEMPORARY_PASSWORD else ""
        body = messages.build_sms(invitation, link=link, secret=secret)
        assert septets(body) <= 160, body
        assert (secret or link) in body


def test_the_subject_and_text_part_are_not_html_escaped(deliver, alice, acme, carol):
    acme.name = "Smith & Sons <Training>"
    acme.save()
    invite(deliver, [carol], alice)
    (message,) = mail.outbox
    assert message.subject == "Smith & Sons <Training> invites you to ExperQuiz"
    assert "Smith & Sons <Training> invites you" in message.body
    assert "Smith &amp; Sons &lt;Training&gt;" in message.alternatives[0].content


def test_an_undelivered_temporary_password_can_be_sent_again(alice, carol, deliver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = account.user_activate_with_temporary_password(user=carol, actor=alice)
    Invitation.objects.filter(pk=first.pk).update(delivery="failed", last_error="SMTP 451")
    first.refresh_from_db()
    result = deliver(lambda: account.invitation_resend(invitation=first, actor=alice))
    assert result.invited == [carol.pk]
    first.refresh_from_db()
    assert first.revoked_at is not None
    password = mail.outbox[0].body.split("Temporary password:")[1].split()[0]
    carol.refresh_from_db()
    assert carol.check_password(password) and carol.must_change_password
    # Once the user has chosen a password, there is nothing to resend.
    user_set_password(user=carol, password="chosen-by-carol-1", actor=carol)
    with pytest.raises(DomainError):
        account.invitation_resend(invitation=first, actor=alice)


def test_a_delivered_or_pending_temporary_password_is_never_sent_again(alice, carol, deliver):
    first = deliver(lambda: account.user_activate_with_temporary_password(user=carol, actor=alice))
    first.refresh_from_db()
    assert first.delivery == "sent"
    with pytest.raises(DomainError, match="could not be delivered"):
        account.invitation_resend(invitation=first, actor=alice)
    Invitation.objects.filter(pk=first.pk).update(delivery="pending")
    first.refresh_from_db()
    with pytest.raises(DomainError, match="could not be delivered"):
        account.invitation_resend(invitation=first, actor=alice)
    assert len(mail.outbox) == 1 and Invitation.objects.filter(user=carol).count() == 1


def test_a_temporary_password_is_sent_again_only_by_someone_who_manages_the_user(
    acme, alice, carol, django_capture_on_commit_callbacks
):
    from groups.tests.factories import grant
    from rights.names import Right

    inviter = UserFactory(organization=acme, email="ines@acme.example")
    grant(inviter, Right.INVITE, everyone=True)
    with django_capture_on_commit_callbacks(execute=False):
        first = account.user_activate_with_temporary_password(user=carol, actor=alice)
    Invitation.objects.filter(pk=first.pk).update(delivery="failed", last_error="SMTP 451")
    first.refresh_from_db()
    with pytest.raises(DomainError, match="manages"):
        account.invitation_resend(invitation=first, actor=inviter)
    assert Invitation.objects.filter(user=carol).count() == 1


def test_a_late_temporary_password_never_replaces_the_users_own(alice, carol, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        invitation = account.user_activate_with_temporary_password(user=carol, actor=alice)
    # The user chose a password by another way before the worker ran (no hook involved here).
    carol.set_password("chosen-by-carol-1")
    carol.must_change_password = False
    carol.save()
    outcome = delivery.invitations_deliver(invitation_ids=[invitation.pk])
    assert outcome.sent == [] and outcome.failed == [invitation.pk]
    assert mail.outbox == []
    carol.refresh_from_db()
    assert carol.check_password("chosen-by-carol-1") and not carol.must_change_password
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None and invitation.delivery == "failed"
    assert "no longer needs a temporary password" in invitation.last_error


def test_a_temporary_password_is_not_sent_to_a_user_no_longer_active(alice, carol, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        invitation = account.user_activate_with_temporary_password(user=carol, actor=alice)
    User.objects.filter(pk=carol.pk).update(status="inactive")
    delivery.invitations_deliver(invitation_ids=[invitation.pk])
    assert mail.outbox == []
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_setting_ones_own_password_revokes_a_temporary_password_not_sent_yet(
    alice, carol, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        invitation = account.user_activate_with_temporary_password(user=carol, actor=alice)
    user_set_password(user=carol, password="chosen-by-carol-1", actor=carol)
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    delivery.invitations_deliver(invitation_ids=[invitation.pk])
    assert mail.outbox == []
    carol.refresh_from_db()
    assert carol.check_password("chosen-by-carol-1")


def test_accepting_locks_the_user_first_and_never_the_organisation(deliver, alice, carol):
    # Every service locks organisation, then user, then links (user_change_status does when someone
    # leaves active). Becoming active cannot lose the last administrator, so accepting takes no lock
    # of the organisation (simultaneous accepts would queue on it) and starts with the user.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if not connection.features.has_select_for_update:
        pytest.skip("no row locks on this database")
    invite(deliver, [carol], alice)
    invitation = Invitation.objects.get(user=carol)
    with CaptureQueriesContext(connection) as queries:
        acceptance.invitation_accept(
            invitation=invitation, first_name="Carol", last_name="Chen", password="violet-umb-42"
        )
    locks = [query["sql"] for query in queries.captured_queries if re.search(r"FOR (NO KEY )?UPDATE", query["sql"])]
    tables = [
        next(t for t in ("accounts_organization", "accounts_user", "invitations_invitation") if t in sql)
        for sql in locks
    ]
    assert tables[0] == "accounts_user" and "accounts_organization" not in tables, tables
