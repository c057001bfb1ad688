"""The hook through which every service checks its actor (experquiz.authorization) stays wired to
the rights floor, and refuses when it is not."""

import pytest

from experquiz import authorization
from rights.names import ADMINISTRATOR, Right


def test_the_rights_the_services_name_are_real_rights():
    assert authorization.MANAGE_USERS == Right.MANAGE_USERS
    assert authorization.INVITE == Right.INVITE
    assert authorization.ADMINISTRATOR == ADMINISTRATOR


def test_the_rights_app_answers_the_services_questions():
    assert set(authorization._policy) == {"actor_scope", "users_in_scope", "groups_in_scope"}


def test_without_a_registered_policy_every_check_refuses(monkeypatch, alice):
    monkeypatch.setattr(authorization, "_policy", {})
    with pytest.raises(Exception, match="No authorisation policy registered"):
        authorization.groups_in_scope(None, Right.MANAGE_USERS)
    with pytest.raises(Exception, match="No authorisation policy registered"):
        authorization.require_administrator(alice, organization_id=alice.organization_id)


@pytest.mark.parametrize("check", ["require_right", "require_everyone"])
def test_an_anonymous_or_foreign_actor_is_refused(check, alice, mallory):
    from django.contrib.auth.models import AnonymousUser

    for actor in (AnonymousUser(), mallory):
        with pytest.raises(authorization.NotAllowed):
            getattr(authorization, check)(actor, Right.MANAGE_USERS, organization_id=alice.organization_id)
    getattr(authorization, check)(alice, Right.MANAGE_USERS, organization_id=alice.organization_id)
