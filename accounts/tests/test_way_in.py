"""Nobody becomes active without a way in: a usable password, or a temporary password on its way.

The status service refuses the move otherwise, naming the person; activating with a temporary
password satisfies it (the password is issued before the move), and the user page and the bulk
actions send one to someone they reactivate who never had a password."""

import pytest
from django.urls import reverse

from accounts.errors import NoWayIn, TransitionNotAllowed
from accounts.models import StatusChange, User
from accounts.services import organization_create, user_change_status, user_create
from audit.models import AuditEvent
from flows import bulk
from invitations.models import Invitation
from invitations.services.acceptance import invitation_accept
from invitations.services.account import invitation_revoke, user_activate_with_temporary_password

pytestmark = pytest.mark.django_db
Status = User.Status


def _without_password(acme, alice, status=Status.CREATED, **names):
    """A person who never had a password (as created, imported or converted), moved to `status`."""
    user = user_create(organization=acme, actor=alice, email="nina@acme.example", **names)
    if status == Status.DELETED:
        user_change_status(user=user, to=Status.DELETED, actor=alice)
    elif status == Status.INACTIVE:
        user_change_status(user=user, to=Status.DELETED, actor=alice)
        user_change_status(user=user, to=Status.INACTIVE, actor=alice)
    user.refresh_from_db()
    assert not user.has_usable_password()
    return user


def _snapshot(user):
    return (
        User.objects.filter(pk=user.pk).values("status", "password", "must_change_password").get(),
        StatusChange.objects.count(),
        Invitation.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("status", [Status.CREATED, Status.INACTIVE])
def test_the_status_service_refuses_an_active_user_without_a_way_in(acme, alice, status):
    user = _without_password(acme, alice, status, first_name="Nina", last_name="New")
    before = _snapshot(user)
    with pytest.raises(NoWayIn) as refused:
        user_change_status(user=user, to=Status.ACTIVE, actor=alice)
    assert isinstance(refused.value, TransitionNotAllowed)
    assert "Nina New" in refused.value.message and "temporary password" in refused.value.message
    assert _snapshot(user) == before


def test_a_user_with_a_password_is_reactivated_as_before(alice, bob):
    user_change_status(user=bob, to=Status.INACTIVE, actor=alice)
    user_change_status(user=bob, to=Status.ACTIVE, actor=alice)
    bob.refresh_from_db()
    assert bob.status == Status.ACTIVE


def test_a_revoked_temporary_password_is_no_way_in(acme, alice, django_capture_on_commit_callbacks):
    user = _without_password(acme, alice)
    invitation = user_activate_with_temporary_password(user=user, actor=alice)  # not delivered
    user_change_status(user=user, to=Status.INACTIVE, actor=alice)  # revokes it
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    with pytest.raises(NoWayIn):
        user_change_status(user=user, to=Status.ACTIVE, actor=alice)


def test_creating_an_active_user_takes_a_password(acme, alice):
    with pytest.raises(NoWayIn):
        user_create(organization=acme, actor=alice, email="nina@acme.example", status=Status.ACTIVE)
    assert not User.objects.filter(email="nina@acme.example").exists()
    user = user_create(organization=acme, actor=alice, email="nina@acme.example", status=Status.ACTIVE, password="x")
    assert user.is_active and user.has_usable_password()


@pytest.mark.parametrize("status", [Status.INVITED, Status.INACTIVE, Status.DELETED])
def test_a_user_is_created_in_no_other_status(acme, alice, status):
    with pytest.raises(TransitionNotAllowed):
        user_create(organization=acme, actor=alice, email="nina@acme.example", status=status, password="x")
    assert not User.objects.filter(email="nina@acme.example").exists()


def test_a_new_organisation_has_an_administrator_who_can_log_in():
    organization = organization_create(
        name="Initech", slug="initech", admin_email="boss@initech.example", admin_password="a long password 42"
    )
    boss = User.objects.get(organization=organization)
    assert boss.is_active and boss.check_password("a long password 42")


def test_activating_with_a_temporary_password_satisfies_the_rule(acme, alice):
    user = _without_password(acme, alice)
    invitation = user_activate_with_temporary_password(user=user, actor=alice)
    user.refresh_from_db()
    assert user.status == Status.ACTIVE and user.must_change_password
    assert invitation.kind == Invitation.Kind.TEMPORARY_PASSWORD and invitation.revoked_at is None


def test_accepting_an_invitation_satisfies_the_rule(acme, alice):
    from datetime import timedelta

    from django.utils import timezone

    from invitations.tokens import hash_token

    user = _without_password(acme, alice)
    invitation = Invitation.objects.create(
        organization=acme,
        user=user,
        channel="email",
        address=user.email,
        token_hash=hash_token("t"),
        expires_at=timezone.now() + timedelta(days=1),
        delivery=Invitation.Delivery.SENT,
    )
    invitation_accept(invitation=invitation, first_name="Nina", last_name="New", password="a long password 42")
    user.refresh_from_db()
    assert user.status == Status.ACTIVE and user.check_password("a long password 42")


def test_the_user_page_reactivates_someone_without_a_password_with_a_temporary_one(alice_client, acme, alice):
    user = _without_password(acme, alice, Status.INACTIVE, first_name="Nina", last_name="New")
    response = alice_client.post(reverse("accounts:user_status", args=[user.pk, "active"]), follow=True)
    assert "a temporary password is on its way" in response.content.decode()
    user.refresh_from_db()
    assert user.status == Status.ACTIVE and user.must_change_password
    assert Invitation.objects.filter(user=user, kind=Invitation.Kind.TEMPORARY_PASSWORD, revoked_at=None).exists()


def test_bulk_reactivation_sends_a_temporary_password_to_someone_without_one(acme, alice, bob):
    user = _without_password(acme, alice, Status.INACTIVE)
    user_change_status(user=bob, to=Status.INACTIVE, actor=alice)
    users = User.objects.filter(pk__in=[user.pk, bob.pk]).order_by("pk")
    outcome = bulk.run(bulk.REGISTRY["reactivate"], users=users, actor=alice, params={})
    assert len(outcome.done) == 2 and not outcome.skipped
    assert set(User.objects.filter(pk__in=[user.pk, bob.pk]).values_list("status", flat=True)) == {Status.ACTIVE}
    assert Invitation.objects.filter(user=user, kind=Invitation.Kind.TEMPORARY_PASSWORD).count() == 1
    assert not Invitation.objects.filter(user=bob).exists()


def test_a_revoked_temporary_password_leaves_the_status_service_refusing_again(acme, alice):
    """The pending temporary password is what counts, not a flag left behind."""
    user = _without_password(acme, alice)
    invitation = user_activate_with_temporary_password(user=user, actor=alice)
    invitation_revoke(invitation=invitation, actor=alice)
    user_change_status(user=user, to=Status.INACTIVE, actor=alice)
    with pytest.raises(NoWayIn):
        user_change_status(user=user, to=Status.ACTIVE, actor=alice)
