import pytest
from django.core.exceptions import ValidationError

from accounts.errors import LastAdministrator, LoginIdTaken, TransitionNotAllowed
from accounts.identity import IdentityInvalid
from accounts.models import StatusChange, User
from accounts.services import organization_create, user_change_status, user_create, user_set_password
from accounts.tests.factories import AdministratorFactory, UserFactory
from rights.services import user_set_administrator

pytestmark = pytest.mark.django_db
Status = User.Status

LEGAL = [(source, target) for source, targets in User.TRANSITIONS.items() for target in targets]
ILLEGAL = [(source, target) for source in Status for target in Status if target not in User.TRANSITIONS[source]]


def test_the_transition_table_is_the_documented_lifecycle():
    assert set(LEGAL) == {
        ("created", "invited"), ("created", "active"), ("created", "deleted"),
        ("invited", "invited"), ("invited", "active"), ("invited", "deleted"),
        ("active", "inactive"), ("active", "deleted"),
        ("inactive", "active"), ("inactive", "deleted"),
        ("deleted", "inactive"),
    }  # fmt: skip


# Invited is reached only by sending an invitation (invitations.services.account.invitations_send): the
# status service refuses it (accounts/tests/test_invited_only_by_sending.py).
@pytest.mark.parametrize(("source", "target"), [(s, t) for s, t in LEGAL if t != Status.INVITED])
def test_a_legal_transition_changes_the_status_and_records_who_when_and_why(source, target, alice):
    user = UserFactory(organization=alice.organization, status=source)
    user_change_status(user=user, to=target, actor=alice, reason="because")
    user.refresh_from_db()
    assert user.status == target
    change = StatusChange.objects.get(user=user)
    assert (change.from_status, change.to_status, change.actor, change.reason) == (source, target, alice, "because")
    assert change.organization == alice.organization
    assert change.created_at is not None


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_an_illegal_transition_is_refused_with_a_message_naming_the_user(source, target, alice):
    user = UserFactory(organization=alice.organization, status=source, first_name="Ann", last_name="Bee")
    with pytest.raises(TransitionNotAllowed) as refused:
        user_change_status(user=user, to=target, actor=alice)
    assert "Ann Bee" in refused.value.message
    user.refresh_from_db()
    assert user.status == source
    assert not StatusChange.objects.filter(user=user).exists()


@pytest.mark.parametrize("target", ["inactive", "deleted"])
def test_the_last_active_administrator_cannot_be_deactivated_or_deleted(alice, target):
    with pytest.raises(LastAdministrator):
        user_change_status(user=alice, to=target, actor=alice)
    alice.refresh_from_db()
    assert alice.status == Status.ACTIVE


def test_an_administrator_can_be_deactivated_while_another_remains(alice):
    other = AdministratorFactory(organization=alice.organization)
    user_change_status(user=other, to="inactive", actor=alice)
    with pytest.raises(LastAdministrator):
        user_change_status(user=alice, to="inactive", actor=alice)


def test_an_inactive_administrator_does_not_count_as_the_remaining_one(alice):
    AdministratorFactory(organization=alice.organization, status=Status.INACTIVE)
    with pytest.raises(LastAdministrator):
        user_change_status(user=alice, to="deleted", actor=alice)


def test_the_last_active_administrator_cannot_be_demoted(alice):
    with pytest.raises(LastAdministrator):
        user_set_administrator(user=alice, is_administrator=False, actor=alice)
    alice.refresh_from_db()
    assert alice.is_administrator


def test_another_organisations_administrator_does_not_count(alice, mallory):
    with pytest.raises(LastAdministrator):
        user_set_administrator(user=alice, is_administrator=False, actor=alice)


def test_user_create_normalises_login_ids_and_records_the_creation(alice):
    user = user_create(organization=alice.organization, actor=alice, email=" Ann@Example.COM ", mobile="06 12 34 56 78")
    assert (user.email, user.mobile, user.status) == ("ann@example.com", "+33612345678", "created")
    assert user.status_changes.get().to_status == "created"
    assert not user.has_usable_password()


def test_user_create_says_the_email_is_taken_without_naming_whose_it_is(alice, bob):
    # The actor may not be allowed to see the holder: views name them from `existing` when allowed.
    with pytest.raises(LoginIdTaken) as clash:
        user_create(organization=alice.organization, actor=alice, email="BOB@acme.example")
    assert clash.value.existing == bob
    assert "bob@acme.example" in clash.value.message and "Bob Plain" not in clash.value.message


def test_user_create_names_the_user_who_already_has_the_mobile(alice):
    owner = UserFactory(organization=alice.organization, mobile="+33612345678", first_name="Zed", last_name="Zee")
    with pytest.raises(LoginIdTaken) as clash:
        user_create(organization=alice.organization, actor=alice, mobile="+33 6 12 34 56 78")
    assert clash.value.field == "mobile" and clash.value.existing == owner


def test_user_create_rejects_an_invalid_phone_number(alice):
    with pytest.raises(IdentityInvalid) as invalid:
        user_create(organization=alice.organization, actor=alice, mobile="12")
    assert "mobile" in invalid.value.errors


def test_user_create_rejects_an_invalid_email(alice):
    with pytest.raises(IdentityInvalid) as invalid:
        user_create(organization=alice.organization, actor=alice, email="not-an-email")
    assert "email" in invalid.value.errors


def test_user_create_requires_the_preferred_channels_address(alice):
    with pytest.raises(IdentityInvalid) as invalid:
        user_create(organization=alice.organization, actor=alice, email="a@example.com", preferred_channel="sms")
    assert "preferred_channel" in invalid.value.errors


def test_organization_create_seeds_user_types_and_an_active_administrator(db):
    organization = organization_create(
        name="Initech", slug="initech", admin_email="Boss@Initech.example", admin_password="long-enough-pass-2026"
    )
    admin = organization.users.get()
    assert admin.email == "boss@initech.example"
    assert admin.is_administrator and admin.status == "active" and admin.check_password("long-enough-pass-2026")
    assert organization.user_types.count() == 5


def test_organization_create_refuses_a_weak_password_and_writes_nothing(db):
    from accounts.models import Organization

    with pytest.raises(ValidationError):
        organization_create(name="Initech", slug="initech", admin_email="boss@initech.example", admin_password="123")
    assert not Organization.objects.exists()


def test_user_set_password_lifts_the_change_requirement(bob):
    bob.must_change_password = True
    bob.save()
    user_set_password(user=bob, password="a-new-long-password", actor=bob)
    bob.refresh_from_db()
    assert bob.check_password("a-new-long-password") and not bob.must_change_password
