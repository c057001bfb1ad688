"""The signed-in person is read fresh at every request (accounts.backends.LoginIdBackend.get_user):
the same row, and the same refusals, as Django's `User.objects.get(pk=…)`."""

import pytest

from accounts.backends import LoginIdBackend
from accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_user_read_is_the_orms(alice):
    ours = LoginIdBackend().get_user(alice.pk)
    theirs = User.objects.get(pk=alice.pk)
    assert type(ours) is User and ours.pk == alice.pk
    assert not ours._state.adding and ours._state.db == "default"
    for field in User._meta.concrete_fields:
        assert getattr(ours, field.attname) == getattr(theirs, field.attname), field.name


def test_an_unknown_user_is_none(alice):
    assert LoginIdBackend().get_user(alice.pk + 1000) is None


@pytest.mark.parametrize("status", [User.Status.INACTIVE, User.Status.DELETED, User.Status.INVITED])
def test_a_user_who_may_not_sign_in_is_refused(bob, status):
    User.objects.filter(pk=bob.pk).update(status=status)
    assert LoginIdBackend().get_user(bob.pk) is None
