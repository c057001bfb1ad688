"""How services authorise their actor: the one convention, and the hook through which they check it.

The convention (README, "Architecture")
---------------------------------------
- Every business service takes `actor` (keyword-only) and checks, before it writes anything, that
  the actor holds the right the action needs over every person, group or contact it touches. It
  raises `NotAllowed` (a DomainError: views show its message, commands print it) otherwise. A view
  that forgot a check, a task or a command therefore cannot do more than its actor may. The pages
  still have their own gate (`rights.mixins`: 403 without the right, 404 out of scope), which
  decides what a page shows; the service's check is what protects the data.
- Checks fail closed: with no policy registered, for an anonymous user, a user of another
  organisation, or someone without the right, every `require_*` below refuses.
- `actor=None` means the system, and skips the checks. Only Celery tasks and management commands
  pass it, and a service for a step no person asked for (the first administrator of a new
  organisation, a reminder, a temporary password being delivered);
  `experquiz/tests/test_authorization.py` reads the code and keeps it so. A command that acts for
  a person where a right applies takes `--actor LOGIN_ID` (`importusers --actor`); without it, the
  operator who runs the command is the system.
- A person acting on their own account is the actor, authorised by what proves who they are: their
  session (changing their password) or a link sent to them (accepting an invitation, resetting a
  password). Those services say so in their docstring.
- `audit/tests/test_every_service_records.py` lists every public service; `experquiz/tests/
  test_authorization.py` walks the same list and proves each refuses a plain user and a group-scoped
  manager acting outside their groups, with no write, or says why it takes no actor to check.

The hook
--------
Rights are scoped by groups, so the rights floor sits above accounts and groups, whose services
cannot import it. The rights app registers its selectors here when it loads
(`rights.apps.RightsConfig.ready` calls `register`); every floor's services check through the
functions below, the upper floors as well as the lower ones, so there is one vocabulary of checks.
"""

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from .errors import DomainError

# The rights the services check, by name: rights.names.Right owns the names and their labels (a
# rights test checks that these agree).
ADMINISTRATOR = "administrator"
MANAGE_USERS = "manage_users"
INVITE = "invite"


class NotAllowed(DomainError):
    """The actor does not hold the right (or the scope) this action needs."""


_policy = {}


def register(*, actor_scope, users_in_scope, groups_in_scope) -> None:
    """Called once by the rights app: the questions below are answered by these callables.

    `actor_scope(actor, right)` returns the scope over which `actor` holds `right` (true when held
    over anyone; `.all_users` when over everyone; `ADMINISTRATOR` is held over everyone by
    administrators only); `users_in_scope` and `groups_in_scope` return QuerySets.
    """
    _policy.update(actor_scope=actor_scope, users_in_scope=users_in_scope, groups_in_scope=groups_in_scope)


def _answer(question, *args):
    try:
        return _policy[question](*args)
    except KeyError:
        raise ImproperlyConfigured("No authorisation policy registered: is the rights app installed?") from None


def _is_tenant_user(actor) -> bool:
    return getattr(actor, "is_authenticated", False) and getattr(actor, "organization_id", None) is not None


# Questions ---------------------------------------------------------------------------------------


def actor_scope(actor, right: str):
    """The scope over which `actor` holds `right`: false when not at all, `.all_users` for everyone."""
    return _answer("actor_scope", actor, right)


def users_in_scope(actor, right: str):
    """The users `actor` may act on with `right` (a QuerySet)."""
    return _answer("users_in_scope", actor, right)


def groups_in_scope(actor, right: str):
    """The groups `actor` may act on with `right` (a QuerySet)."""
    return _answer("groups_in_scope", actor, right)


def is_administrator(actor) -> bool:
    """Whether `actor` is an administrator of their organisation."""
    return bool(_is_tenant_user(actor) and actor_scope(actor, ADMINISTRATOR))


def must_place_new_users_in_a_group(actor, right: str) -> bool:
    """Whether a user `actor` creates must land in one of `actor`'s groups (a group-scoped holder)."""
    scope = actor_scope(actor, right)
    return bool(scope) and not scope.all_users


# Checks: each returns when allowed and raises NotAllowed otherwise; actor=None is the system -------


_LACKING = {
    MANAGE_USERS: lambda: _("You do not hold the right to manage users."),
    INVITE: lambda: _("You do not hold the right to invite."),
    ADMINISTRATOR: lambda: _("Only an administrator of the organisation may do this."),
}


def _lacking(right: str) -> NotAllowed:
    message = _LACKING.get(right)
    return NotAllowed(message() if message else _("You do not hold the right to do this."))


def _require_member(actor, organization_id, right: str) -> None:
    if not _is_tenant_user(actor) or (organization_id is not None and actor.organization_id != organization_id):
        raise _lacking(right)


def require_right(actor, right: str, *, organization_id) -> None:
    """`actor` holds `right` over at least some people of the organisation `organization_id`."""
    if actor is None:
        return
    _require_member(actor, organization_id, right)
    if not actor_scope(actor, right):
        raise _lacking(right)


def require_everyone(actor, right: str, *, organization_id) -> None:
    """`actor` holds `right` over every person of the organisation (contacts belong to no group, so
    only organisation-wide holders reach them)."""
    if actor is None:
        return
    require_right(actor, right, organization_id=organization_id)
    if not actor_scope(actor, right).all_users:
        raise NotAllowed(_("Only someone who holds this right over everyone in the organisation may do this."))


def require_administrator(actor, *, organization_id) -> None:
    """`actor` is an administrator of the organisation `organization_id`."""
    require_right(actor, ADMINISTRATOR, organization_id=organization_id)


def require_users(actor, right: str, users) -> None:
    """Every one of `users` (objects or ids) is in `actor`'s scope for `right`."""
    if actor is None:
        return
    ids = {getattr(user, "pk", user) for user in users}
    _require_member(actor, None, right)
    if not actor_scope(actor, right):
        raise _lacking(right)
    allowed = set(users_in_scope(actor, right).filter(pk__in=ids).values_list("pk", flat=True))
    if ids - allowed:
        raise NotAllowed(_("You may only act on the users in your scope."))


def require_groups(actor, right: str, groups) -> None:
    """Every one of `groups` (objects or ids) is in `actor`'s scope for `right`."""
    if actor is None:
        return
    ids = {getattr(group, "pk", group) for group in groups}
    _require_member(actor, None, right)
    if not actor_scope(actor, right):
        raise _lacking(right)
    allowed = set(groups_in_scope(actor, right).filter(pk__in=ids).values_list("pk", flat=True))
    if ids - allowed:
        raise NotAllowed(_("You may only act on the groups in your scope."))


def require_new_users_placed(actor, right: str, groups, *, organization_id) -> None:
    """`actor` may create people who will be put in `groups`: every group is in their scope, and a
    group-scoped holder names at least one (a new user outside their groups would be out of their
    reach the moment it is created)."""
    if actor is None:
        return
    groups = list(groups)
    require_right(actor, right, organization_id=organization_id)
    require_groups(actor, right, groups)
    if must_place_new_users_in_a_group(actor, right) and not groups:
        raise NotAllowed(_("Put the new user in at least one of your groups: otherwise you could not manage them."))
