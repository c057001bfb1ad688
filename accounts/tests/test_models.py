import pytest
from django.db import IntegrityError, transaction

from accounts.models import Contact, User
from accounts.tests.factories import ContactFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_same_email_is_refused_twice_in_one_organisation(acme):
    UserFactory(organization=acme, email="ann@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(organization=acme, email="ann@example.com")


def test_the_same_email_is_two_accounts_in_two_organisations(acme, globex):
    UserFactory(organization=acme, email="ann@example.com")
    UserFactory(organization=globex, email="ann@example.com")
    assert User.objects.filter(email="ann@example.com").count() == 2


def test_the_same_mobile_is_refused_twice_in_one_organisation(acme):
    UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms")


def test_users_without_email_do_not_clash_on_the_empty_value(acme):
    UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms")
    UserFactory(organization=acme, email="", mobile="+33612345679", preferred_channel="sms")


def test_a_user_needs_an_email_or_a_mobile(acme):
    # PostgreSQL reports whichever check it evaluates first; both say a login ID is missing.
    with pytest.raises(IntegrityError, match="accounts_user_(has_login_id|channel_has_address)"), transaction.atomic():
        UserFactory(organization=acme, email="", mobile="")


def test_an_upper_case_email_cannot_be_stored(acme):
    # Emails are stored lower-cased so that look-ups are exact and use the unique index.
    with pytest.raises(IntegrityError, match="accounts_user_email_lower"), transaction.atomic():
        UserFactory(organization=acme, email="Ann@Example.com")


def test_the_preferred_channel_needs_its_address(acme):
    with pytest.raises(IntegrityError, match="accounts_user_channel_has_address"), transaction.atomic():
        UserFactory(organization=acme, email="ann@example.com", mobile="", preferred_channel="sms")


def test_contacts_are_unique_per_organisation_on_email_and_mobile(acme, globex):
    ContactFactory(organization=acme, email="c@example.org", mobile="+33612345678")
    ContactFactory(organization=globex, email="c@example.org", mobile="+33612345678")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(organization=acme, email="c@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(organization=acme, email="other@example.org", mobile="+33612345678")


def test_contacts_never_have_credentials():
    field_names = {field.name for field in Contact._meta.get_fields()}
    assert not field_names & {"password", "last_login", "status"}


def test_for_org_only_returns_that_organisations_rows(acme, globex):
    mine = UserFactory(organization=acme)
    UserFactory(organization=globex)
    assert list(User.objects.for_org(acme)) == [mine]


def test_for_org_refuses_to_run_without_an_organisation():
    with pytest.raises(ValueError):
        User.objects.for_org(None)


def test_factories_keep_related_objects_in_one_organisation():
    from accounts.tests.factories import MembershipFactory

    membership = MembershipFactory(group__organization=OrganizationFactory(slug="initech"))
    assert membership.user.organization == membership.group.organization == membership.organization


def test_full_clean_stores_a_typed_mobile_in_e164_with_the_organisations_region(acme):
    from django.core.exceptions import ValidationError

    user = User(organization=acme, mobile="06 12 34 56 78", preferred_channel="sms")
    user.full_clean(exclude=["password"])
    assert user.mobile == "+33612345678"
    with pytest.raises(ValidationError) as invalid:
        User(organization=acme, mobile="12", preferred_channel="sms").full_clean(exclude=["password"])
    assert "mobile" in invalid.value.message_dict
