"""The scope selectors: which people, groups and contacts an actor may reach with each right.

Every list, count, detail, bulk action, export, import and invitation starts from
`users_in_scope(actor, right)` or one of its siblings here.
"""

import functools
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Value

from accounts.models import Contact, User
from accounts.selectors import KEPT_STATUS_COUNTS, USER_TYPE_CHOICES, kept_status_counts, user_type_choices
from experquiz.sql_rows import Statement, fetchall_together
from groups.models import Membership, UserGroup

from .models import Grant, GrantGroup, ProfileAssignment, RightsProfile
from .names import ADMINISTRATOR, Right


@dataclass(frozen=True)
class Scope:
    """Over whom one right is held: every user of the organisation, or the members of some groups."""

    all_users: bool = False
    group_ids: frozenset = frozenset()

    def __bool__(self):
        return self.all_users or bool(self.group_ids)

    def covers(self, other: "Scope") -> bool:
        """Whether holding this scope is enough to hand out `other` (nobody grants more than they hold)."""
        if self.all_users:
            return True
        return not other.all_users and other.group_ids <= self.group_ids


NO_SCOPE = Scope()
EVERYONE = Scope(all_users=True)


def _is_tenant_user(actor) -> bool:
    return actor is not None and actor.is_authenticated and actor.organization_id is not None


def actor_rights(actor: User) -> dict[str, Scope]:
    """Every scoped right `actor` holds, with its scope: the union of personal grants and profiles.

    Administrators hold every right over everyone. Two queries, unless `remember_rights` pinned
    the answer on this user instance (the gate does it for the request's user, which lives for one
    request); otherwise nothing is cached, so a change of grants takes effect on the next call.
    """
    if not _is_tenant_user(actor):
        return {}
    remembered = getattr(actor, "_remembered_rights", None)
    if remembered is not None:
        return remembered
    if actor.is_administrator:
        return {right.value: EVERYONE for right in Right}
    grants = Grant.objects.filter(organization_id=actor.organization_id).filter(
        Q(user_id=actor.pk) | Q(profile__assignments__user_id=actor.pk, profile__organization_id=actor.organization_id)
    )
    everyone = set()
    group_ids: dict[str, set] = {}
    grant_rights = {}
    for grant_id, right, all_users in grants.values_list("pk", "right", "all_users"):
        grant_rights[grant_id] = right
        if all_users:
            everyone.add(right)
    if grant_rights:
        links = GrantGroup.objects.filter(organization_id=actor.organization_id, grant_id__in=grant_rights)
        for grant_id, group_id in links.values_list("grant_id", "group_id"):
            group_ids.setdefault(grant_rights[grant_id], set()).add(group_id)
    rights = {}
    for right in set(grant_rights.values()):
        scope = EVERYONE if right in everyone else Scope(group_ids=frozenset(group_ids.get(right, ())))
        if scope:
            rights[right] = scope
    return rights


def remember_rights(actor: User) -> dict[str, Scope]:
    """Compute `actor`'s rights once for the rest of a request (call only on `request.user`)."""
    rights = actor_rights(actor)
    if _is_tenant_user(actor):
        actor._remembered_rights = rights
    return rights


def actor_scope(actor: User, right: str) -> Scope:
    """The scope over which `actor` holds `right` (NO_SCOPE when not at all)."""
    if right == ADMINISTRATOR:
        return EVERYONE if _is_tenant_user(actor) and actor.is_administrator else NO_SCOPE
    return actor_rights(actor).get(right, NO_SCOPE)


def actor_has_right(actor: User, right: str) -> bool:
    """Whether `actor` holds `right` over at least some users (drives navigation and 403s)."""
    return bool(actor_scope(actor, right))


def users_in_scope(actor: User, right: str = Right.MANAGE_USERS):
    """The users `actor` may exercise `right` on. Every list, count, detail, bulk action, export,
    import, invitation and result page starts here.

    Every status is included (deleted users stay viewable): lists narrow it down themselves. A
    group-scoped right reaches the current members of its groups, so removing someone from a group
    takes them out of the scope at once. Only administrators reach people who hold rights.
    """
    if not _is_tenant_user(actor):
        return User.objects.none()
    users = users_in(actor.organization_id, actor_scope(actor, right))
    if actor.is_administrator or right == Right.VIEW_RESULTS:
        return users
    # People who hold rights are managed by administrators only: otherwise a manager could change
    # an administrator's email (or another manager's) and take the account over with a password
    # reset, or lock them out. Reading results is harmless, so it keeps its whole scope.
    return users.exclude(rights_holders(actor.organization_id))


def user_status_counts(actor: User, right: str = Right.MANAGE_USERS) -> dict[str, int] | None:
    """{status: how many} of `users_in_scope(actor, right)`, in one query, from the counts the
    database keeps at every write (accounts.StatusCount), when the scope is the whole organisation;
    None when it is not (the members of some groups) or the database keeps no counts: then count.

    No cache: the counts change in the transaction of each write, so they are exact as of the last
    commit, for every process. A non-administrator's scope leaves out the people who hold rights (a
    handful): their counts are taken away in the same query.
    """
    kept = kept_status_counts()
    if kept is None or not _is_tenant_user(actor) or not actor_scope(actor, right).all_users:
        return None
    counts = kept.filter(organization_id=actor.organization_id)
    if not (actor.is_administrator or right == Right.VIEW_RESULTS):
        holders = (
            User.objects.filter(organization_id=actor.organization_id)
            .filter(rights_holders(actor.organization_id))
            .order_by()
            .values("status")
            .annotate(n=Count("pk") * Value(-1))
            .values_list("status", "n")
        )
        counts = counts.union(holders, all=True)
    totals = {}
    for status, count in counts:
        totals[status] = totals.get(status, 0) + count
    return totals


def user_ids_in_scope(actor: User, right: str):
    """The ids of `users_in_scope(actor, right)`, as a subquery to filter other rows by (results,
    attempts). Where the scope is the members of some groups with nobody left out (reading results),
    it reads the memberships alone, without the users table: the same ids, a cheaper semi-join."""
    if not _is_tenant_user(actor):
        return User.objects.none().values("pk")
    scope = actor_scope(actor, right)
    if right == Right.VIEW_RESULTS and scope and not scope.all_users:
        members = Membership.objects.filter(organization_id=actor.organization_id, group_id__in=scope.group_ids)
        return members.values("user_id")
    return users_in_scope(actor, right).values("pk")


def rights_holders(organization_id) -> Q:
    """Matches the users holding a right: administrators, personal grants and rights profiles."""
    personal = Grant.objects.filter(organization_id=organization_id, user__isnull=False).values("user_id")
    by_profile = ProfileAssignment.objects.filter(organization_id=organization_id).values("user_id")
    return Q(is_administrator=True) | Q(pk__in=personal) | Q(pk__in=by_profile)


def users_in(organization_id, scope: Scope):
    """The users of an organisation that `scope` reaches."""
    users = User.objects.filter(organization_id=organization_id)
    if scope.all_users:
        return users
    if not scope.group_ids:
        return users.none()
    members = Membership.objects.filter(organization_id=organization_id, group_id__in=scope.group_ids)
    return users.filter(pk__in=members.values("user_id"))


def contacts_in_scope(actor: User, right: str = "manage_users"):
    """The contacts `actor` may manage: contacts belong to no group, so only organisation-wide holders."""
    if not actor_scope(actor, right).all_users:
        return Contact.objects.none()
    return Contact.objects.filter(organization_id=actor.organization_id)


def shared_in_scope(actor, right: str, *, shared_with, made_by: str) -> Q:
    """The rule of a right over things shared with groups rather than over people (questionnaires,
    for `manage_questionnaires`), as a filter for the upper floor's own model.

    Administrators and holders over all users reach everything; a group-scoped holder reaches what is
    shared with one of their groups or what they made themselves; anyone else, nothing.
    `shared_with(group_ids)` gives the Q of the things shared with those groups and `made_by` is the
    lookup of their author: this floor knows neither model.
    """
    scope = actor_scope(actor, right) if _is_tenant_user(actor) else NO_SCOPE
    if scope.all_users:
        return Q()
    if not scope:
        return Q(pk__in=[])
    return Q(**{made_by: actor.pk}) | shared_with(scope.group_ids)


def groups_in_scope(actor, right: str = Right.MANAGE_USERS):
    """The groups `actor` may pick or act on for `right` (forms and filters offer only these)."""
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return UserGroup.objects.none()
    scope = actor_scope(actor, right)
    groups = UserGroup.objects.filter(organization_id=actor.organization_id)
    if scope.all_users:
        return groups
    return groups.filter(pk__in=scope.group_ids)


_GROUP_CHOICES = Statement(
    "experquiz_group_choices",
    f"SELECT id, name FROM {UserGroup._meta.db_table} WHERE organization_id = %s ORDER BY name",  # noqa: S608
)


def group_choices(actor, right: str = Right.MANAGE_USERS) -> list[tuple[int, str]]:
    """(pk, name) of `groups_in_scope(actor, right)` by name: the lists' group menus, read on every
    page of the people list. An administrator's, on PostgreSQL, with SQL written once per process
    (the queryset cost more to build than the database takes to answer)."""
    if connection.vendor == "postgresql" and _is_tenant_user(actor) and actor_scope(actor, right).all_users:
        return _GROUP_CHOICES.fetchall([actor.organization_id])
    return list(groups_in_scope(actor, right).order_by("name").values_list("pk", "name"))


class PeopleListReads:
    """What every page of the people list reads besides its rows, for `actor` and `right`: the group
    menu (`group_choices`), the type menu (`user_type_choices`) and, if `with_counts`, the status
    counts of the whole scope (`user_status_counts`), each read when first asked for.

    For an administrator on PostgreSQL they are read together, in one round trip
    (experquiz.sql_rows.fetchall_together), when the first is asked for: three waits for the database
    became one, and the counts' query is no longer compiled by the ORM at each page (the list without
    filters: 0.4 ms of its ~7). `with_counts`: whether the page will want them (a filtered list
    counts its own, cached); asked for anyway, they are read on their own. Anyone else's are read one
    by one, as before.
    """

    def __init__(self, actor: User, right: str = Right.MANAGE_USERS, *, with_counts: bool = True):
        self.actor = actor
        self.right = right
        self.with_counts = with_counts

    @functools.cached_property
    def _together(self) -> dict | None:
        """{"group": [(pk, name)], "type": [(pk, name)], "count": {status: n} or None (not read)},
        or None where they are read one by one."""
        actor = self.actor
        if connection.vendor != "postgresql" or not _is_tenant_user(actor) or not actor.is_administrator:
            return None
        organization = [actor.organization_id]
        reads = [(_GROUP_CHOICES, organization), (USER_TYPE_CHOICES, organization)]
        if self.with_counts:
            reads.append((KEPT_STATUS_COUNTS, organization))
        groups, types, *counts = fetchall_together(*reads)
        return {"group": groups, "type": types, "count": dict(counts[0]) if counts else None}

    def groups(self) -> list[tuple[int, str]]:
        together = self._together
        return together["group"] if together is not None else group_choices(self.actor, self.right)

    def types(self) -> list[tuple[int, str]]:
        together = self._together
        return together["type"] if together is not None else user_type_choices(self.actor.organization)

    def status_counts(self) -> dict[str, int] | None:
        together = self._together
        if together is None or together["count"] is None:
            return user_status_counts(self.actor, self.right)
        return together["count"]


def must_place_new_users_in_a_group(actor, right: str = Right.MANAGE_USERS) -> bool:
    """Whether a user `actor` creates (or imports) must land in one of `actor`'s groups.

    True for a group-scoped manager: a user outside their groups would be out of their reach the
    moment it is created.
    """
    scope = actor_scope(actor, right)
    return bool(scope) and not scope.all_users


def group_memberships(*, actor, group, right: str = Right.MANAGE_USERS):
    """The memberships of `group` whose user `actor` may see, with who added them and when.

    `added_by_visible` says whether the person who added the member is in `actor`'s scope too:
    when not, the page names nobody (an out-of-scope person's name never leaks).
    """
    in_scope = users_in_scope(actor, right)
    return (
        Membership.objects.filter(organization_id=group.organization_id, group=group, user__in=in_scope)
        .select_related("user", "user__user_type", "added_by")
        .annotate(added_by_visible=Exists(in_scope.filter(pk=OuterRef("added_by_id"))))
        .order_by("user__last_name", "user__first_name", "user__pk")
    )


def group_members(*, actor, group, right: str = Right.MANAGE_USERS):
    """The members of `group` that `actor` may act on (to remove them, say)."""
    members = Membership.objects.filter(organization_id=group.organization_id, group=group)
    return users_in_scope(actor, right).filter(pk__in=members.values("user_id"))


def group_candidates(*, actor, group, right: str = Right.MANAGE_USERS):
    """Users `actor` may add to `group`: in scope, not deleted, not already members."""
    members = Membership.objects.filter(organization_id=group.organization_id, group=group)
    return users_in_scope(actor, right).not_deleted().exclude(pk__in=members.values("user_id"))


def profiles_for(actor):
    """The rights profiles `actor` may see and assign (administrators only)."""
    if actor_scope(actor, ADMINISTRATOR) != EVERYONE:
        return RightsProfile.objects.none()
    return RightsProfile.objects.filter(organization_id=actor.organization_id)


def profile_holders(*, actor, profile):
    """The holders of a rights profile, as `actor` (an administrator) sees them."""
    assignments = ProfileAssignment.objects.filter(organization_id=profile.organization_id, profile=profile)
    return users_in_scope(actor, ADMINISTRATOR).filter(pk__in=assignments.values("user_id"))


def personal_grants(user):
    """`user`'s own grants, as {right: Scope} (profiles not included)."""
    return _scopes(Grant.objects.filter(organization_id=user.organization_id, user=user))


def profile_grants(profile):
    """The rights a profile bundles, as {right: Scope}."""
    return _scopes(Grant.objects.filter(organization_id=profile.organization_id, profile=profile))


def _scopes(grants) -> dict[str, Scope]:
    scopes = {}
    for grant in grants.prefetch_related("grant_groups"):
        group_ids = frozenset(link.group_id for link in grant.grant_groups.all())
        scopes[grant.right] = Scope(all_users=grant.all_users, group_ids=group_ids)
    return scopes
