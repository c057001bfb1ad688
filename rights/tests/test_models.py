import pytest
from django.db import IntegrityError, transaction

from accounts.tests.factories import UserGroupFactory
from groups.tests.factories import RightsProfileFactory, grant
from rights.models import Grant, ProfileAssignment
from rights.names import Right

pytestmark = pytest.mark.django_db


def test_a_grant_belongs_to_a_user_or_a_profile_never_both_nor_neither(acme, bob):
    profile = RightsProfileFactory(organization=acme)
    for owner in [{"user": bob, "profile": profile}, {}]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Grant.objects.create(organization=acme, right=Right.INVITE, **owner)


def test_one_grant_per_right_per_holder(acme, bob):
    grant(bob, Right.INVITE, everyone=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        grant(bob, Right.INVITE, everyone=True)


def test_an_unknown_right_is_refused_by_the_database(acme, bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        Grant.objects.create(organization=acme, user=bob, right="superpowers")


def test_profile_and_group_names_are_unique_per_organisation_whatever_the_case(acme, globex):
    RightsProfileFactory(organization=acme, name="Regional")
    RightsProfileFactory(organization=globex, name="Regional")
    with pytest.raises(IntegrityError), transaction.atomic():
        RightsProfileFactory(organization=acme, name="REGIONAL")
    UserGroupFactory(organization=acme, name="Lyon")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserGroupFactory(organization=acme, name="lyon")


def test_a_profile_is_assigned_once_per_user(acme, bob):
    profile = RightsProfileFactory(organization=acme)
    ProfileAssignment.objects.create(organization=acme, profile=profile, user=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProfileAssignment.objects.create(organization=acme, profile=profile, user=bob)
