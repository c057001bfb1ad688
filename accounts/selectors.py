"""Reads that depend on who asks or on how people type things."""

import hashlib
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Prefetch, Q

from . import phones
from .models import Contact, User
from .rights import ADMINISTRATOR, Right


def user_by_login_id(organization, login_id: str) -> User | None:
    """The user of `organization` whose email or mobile is `login_id`, typed any usual way.

    `organization` None means platform staff (the bare domain). Emails are stored lower-cased, so
    the lookup is exact and uses the unique index.
    """
    login_id = (login_id or "").strip()
    if not login_id:
        return None
    users = User.objects.filter(organization=organization)
    if "@" in login_id:
        return users.filter(email=login_id.lower()).first()
    if organization is None or not phones.looks_like_phone(login_id):
        return None
    try:
        mobile = phones.to_e164(login_id, organization.phone_region)
    except phones.InvalidPhoneNumber:
        return None
    return users.filter(mobile=mobile).first()


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
    from groups.models import Grant, GrantGroup

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


def rights_holders(organization_id) -> Q:
    """Matches the users holding a right: administrators, personal grants and rights profiles."""
    from groups.models import Grant, ProfileAssignment

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
    from groups.models import Membership

    members = Membership.objects.filter(organization_id=organization_id, group_id__in=scope.group_ids)
    return users.filter(pk__in=members.values("user_id"))


# Counting 100,000 users takes a few milliseconds per status on PostgreSQL, too much on every page
# view: the tab counts are cached per organisation and invalidated by any write on its people
# (writes bump a version number that is part of the cache key).
COUNTS_TTL = 120


def _version_key(organization_id) -> str:
    return f"people-version:{organization_id}"


def people_version(organization_id) -> int:
    return cache.get_or_set(_version_key(organization_id), 1, None)


def people_changed(organization_id) -> None:
    """Forget cached counts of an organisation's people once the current write commits.

    Call it from any write on people, memberships or rights (they decide who is in whose scope).
    Forgotten before the commit, a page loaded in between would count the old rows and cache them
    under the new version; outside a transaction it happens at once.
    """
    transaction.on_commit(lambda: _bump_version(organization_id))


def _bump_version(organization_id) -> None:
    try:
        cache.incr(_version_key(organization_id))
    except ValueError:
        cache.set(_version_key(organization_id), 2, None)


def status_counts(queryset, *, organization_id, cache_key: str) -> dict[str, int]:
    """{status: count} over `queryset`, cached until the organisation's people change."""
    # The filters can be long and any text: hash them so the key stays short and safe for any cache.
    digest = hashlib.sha256(cache_key.encode()).hexdigest()[:32]
    key = f"people-counts:{organization_id}:{people_version(organization_id)}:{digest}"
    counts = cache.get(key)
    if counts is None:
        counts = dict(queryset.order_by().values_list("status").annotate(n=Count("pk")))
        cache.set(key, counts, COUNTS_TTL)
    return counts


def people_for_list(queryset, *, groups):
    """What a page of the people list (or an export) shows, in a fixed number of queries whatever the
    page size. Each user's `user_groups` holds only `groups`: the groups the viewer may see
    (`groups_in_scope`), so a group-scoped manager never learns the names of the others."""
    return queryset.select_related("user_type").prefetch_related(
        Prefetch("user_groups", queryset=groups.only("id", "name").order_by("name"))
    )


def contacts_in_scope(actor: User, right: str = "manage_users"):
    """The contacts `actor` may manage: contacts belong to no group, so only organisation-wide holders."""
    if not actor_scope(actor, right).all_users:
        return Contact.objects.none()
    return Contact.objects.filter(organization_id=actor.organization_id)
