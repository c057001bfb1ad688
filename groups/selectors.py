"""Reads on groups and rights that depend on who asks."""

from django.db.models import Count, Exists, OuterRef, Q

from accounts.models import User
from accounts.rights import ADMINISTRATOR, Right
from accounts.selectors import EVERYONE, Scope, actor_scope, users_in_scope

from .models import Grant, Membership, RightsProfile, UserGroup


def groups_in_scope(actor, right: str = Right.MANAGE_USERS):
    """The groups `actor` may pick or act on for `right` (forms and filters offer only these)."""
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return UserGroup.objects.none()
    scope = actor_scope(actor, right)
    groups = UserGroup.objects.filter(organization_id=actor.organization_id)
    if scope.all_users:
        return groups
    return groups.filter(pk__in=scope.group_ids)


def must_place_new_users_in_a_group(actor, right: str = Right.MANAGE_USERS) -> bool:
    """Whether a user `actor` creates (or imports) must land in one of `actor`'s groups.

    True for a group-scoped manager: a user outside their groups would be out of their reach the
    moment it is created.
    """
    scope = actor_scope(actor, right)
    return bool(scope) and not scope.all_users


def default_groups_for_new_users(actor, right: str = Right.MANAGE_USERS):
    """Where users created or imported by `actor` land when no group is chosen: all of a scoped
    manager's groups (so they stay within reach), none for someone who holds `right` over everyone."""
    if not must_place_new_users_in_a_group(actor, right):
        return UserGroup.objects.none()
    return groups_in_scope(actor, right)


def groups_with_counts(groups):
    """`groups` annotated with `active_count` and `member_count`; deleted users are not counted."""
    not_deleted = ~Q(memberships__user__status=User.Status.DELETED)
    return groups.annotate(
        member_count=Count("memberships", filter=not_deleted, distinct=True),
        active_count=Count("memberships", filter=Q(memberships__user__status=User.Status.ACTIVE), distinct=True),
    ).order_by("name", "pk")


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


def group_candidates(*, actor, group, right: str = Right.MANAGE_USERS):
    """Users `actor` may add to `group`: in scope, not deleted, not already members."""
    members = Membership.objects.filter(organization_id=group.organization_id, group=group)
    return users_in_scope(actor, right).not_deleted().exclude(pk__in=members.values("user_id"))


def profiles_for(actor):
    """The rights profiles `actor` may see and assign (administrators only)."""
    if actor_scope(actor, ADMINISTRATOR) != EVERYONE:
        return RightsProfile.objects.none()
    return RightsProfile.objects.filter(organization_id=actor.organization_id)


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
