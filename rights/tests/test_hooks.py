"""The hooks through which the floors below rights ask it questions (groups.scope) stay wired."""

import pytest

from groups import scope
from rights.names import Right


def test_the_default_right_of_the_group_services_is_a_real_right():
    assert scope.MANAGE_USERS == Right.MANAGE_USERS


def test_the_rights_app_answers_the_group_services_scope_questions():
    assert set(scope._policy) == {
        "actor_is_administrator",
        "groups_in_scope",
        "users_in_scope",
        "must_place_new_users_in_a_group",
    }


def test_without_a_registered_policy_every_check_refuses(monkeypatch):
    monkeypatch.setattr(scope, "_policy", {})
    with pytest.raises(Exception, match="No scope policy registered"):
        scope.groups_in_scope(None, Right.MANAGE_USERS)
