"""The hook through which groups.services asks who may act on which groups and users.

Rights are scoped *by* groups, so the rights floor sits above this one and groups cannot import
its selectors. Instead the rights app registers them here when it loads
(`rights.apps.RightsConfig.ready` calls `register`). Until something is registered every check
raises ImproperlyConfigured (fail closed), so a forgotten registration can never let an actor do
more than allowed.
`actor=None` (the system: commands, migrations) is never checked, by the services themselves.
"""

from django.core.exceptions import ImproperlyConfigured

# rights.names.Right.MANAGE_USERS, the default right of the group services (a rights test checks
# that the two agree).
MANAGE_USERS = "manage_users"

_policy = {}


def register(*, actor_is_administrator, groups_in_scope, users_in_scope, must_place_new_users_in_a_group) -> None:
    """Called once by the rights app: the four questions below are answered by these callables."""
    _policy.update(
        actor_is_administrator=actor_is_administrator,
        groups_in_scope=groups_in_scope,
        users_in_scope=users_in_scope,
        must_place_new_users_in_a_group=must_place_new_users_in_a_group,
    )


def _answer(question, *args):
    try:
        return _policy[question](*args)
    except KeyError:
        raise ImproperlyConfigured("No scope policy registered: is the rights app installed?") from None


def actor_is_administrator(actor) -> bool:
    """Whether `actor` is an administrator (of their own organisation)."""
    return _answer("actor_is_administrator", actor)


def groups_in_scope(actor, right: str):
    """The groups `actor` may act on for `right` (a QuerySet)."""
    return _answer("groups_in_scope", actor, right)


def users_in_scope(actor, right: str):
    """The users `actor` may act on for `right` (a QuerySet)."""
    return _answer("users_in_scope", actor, right)


def must_place_new_users_in_a_group(actor, right: str) -> bool:
    """Whether a user `actor` creates must land in one of `actor`'s groups (group-scoped holders)."""
    return _answer("must_place_new_users_in_a_group", actor, right)
