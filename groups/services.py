"""Every write on groups and memberships.

Each service checks its actor's rights itself (the convention of experquiz.authorization), asking
the rights floor above through that hook. `actor=None` means the system (tasks and commands).
"""

from django.db import transaction
from django.db.models import Case, DateTimeField, Value, When
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import people_changed
from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many
from experquiz import authorization
from experquiz.authorization import MANAGE_USERS
from experquiz.naming import named_save

from .errors import NotAllowed
from .models import Membership, UserGroup
from .signals import group_deleted, group_deleting


def _require_administrator(actor, organization_id) -> None:
    authorization.require_administrator(actor, organization_id=organization_id)


def _require_groups_in_scope(actor, groups, right) -> None:
    authorization.require_groups(actor, right, groups)


def _require_users_in_scope(actor, users, right) -> None:
    authorization.require_users(actor, right, users)


# Groups ------------------------------------------------------------------------------------------


@transaction.atomic
def group_create(*, organization, actor, name: str, description: str = "") -> UserGroup:
    """Create a group (administrators only)."""
    _require_administrator(actor, organization.pk)
    group = UserGroup(organization=organization, name=name, description=description)
    named_save(group)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.GROUP_CREATED,
        target=group,
        after={"name": group.name, "description": description},
    )
    return group


@transaction.atomic
def group_update(*, group: UserGroup, actor, name: str, description: str = "") -> UserGroup:
    """Rename a group or change its description (administrators only)."""
    _require_administrator(actor, group.organization_id)
    before = {"name": group.name, "description": group.description}
    group.name = name
    group.description = description
    named_save(group)
    audit_record(
        organization=group.organization_id,
        actor=actor,
        action=Action.GROUP_UPDATED,
        target=group,
        before=before,
        after={"name": group.name, "description": group.description},
    )
    return group


@transaction.atomic
def group_delete(*, group: UserGroup, actor) -> None:
    """Delete a group: its memberships and the grants scoped to it go, its users are never touched."""
    _require_administrator(actor, group.organization_id)
    audit_record(
        organization=group.organization_id,
        actor=actor,
        action=Action.GROUP_DELETED,
        target=group,
        before={"name": group.name, "description": group.description},
    )
    # The rights scoped to this group shrink (or go): the rights floor outdates their holders'
    # links while it can still tell who they are (groups.signals).
    group_deleting.send(sender=UserGroup, group=group, actor=actor)
    group.delete()
    people_changed(group.organization_id)
    # The rights floor drops the grants this group was the whole scope of (groups.signals).
    group_deleted.send(sender=UserGroup, group=group)


@transaction.atomic
def group_add_members(*, group: UserGroup, users, actor, right: str = MANAGE_USERS) -> int:
    """Add `users` to `group`; both must be in `actor`'s scope. Returns how many were added."""
    users = list(users)
    if any(user.organization_id != group.organization_id for user in users):
        raise NotAllowed(_("You may only act on the users in your scope."))
    _require_groups_in_scope(actor, [group], right)
    _require_users_in_scope(actor, users, right)
    return _add(group=group, users=users, actor=actor)


@transaction.atomic
def group_add_created_users(*, group: UserGroup, users, actor, right: str = MANAGE_USERS) -> int:
    """Put users `actor` has just created into `group`, which must be in their scope.

    A brand-new user is in no group yet, so in no group-scoped manager's scope: checking the users
    like group_add_members does would refuse every creation by such a manager (DESIGN §6 wants them
    to put new people in one of their groups). Only users created by `actor` are accepted.
    """
    users = list(users)
    if any(user.organization_id != group.organization_id for user in users):
        raise NotAllowed(_("You may only act on the users in your scope."))
    if actor is not None and any(user.created_by_id != actor.pk for user in users):
        raise NotAllowed(_("You may only act on the users in your scope."))
    _require_groups_in_scope(actor, [group], right)
    return _add(group=group, users=users, actor=actor)


@transaction.atomic
def _add(*, group, users, actor) -> int:
    # Two people adding the same user to the same group at once: the group's row lock makes the
    # second wait and then see the first's memberships, so each says truthfully how many it added.
    # ignore_conflicts covers writers that do not take the lock (the import). FOR NO KEY UPDATE, as
    # in accounts.services: FOR UPDATE would also block the inserts that merely point at the group.
    UserGroup.objects.select_for_update(no_key=True).filter(pk=group.pk).first()
    existing = set(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    new = [
        Membership(organization_id=group.organization_id, group=group, user=user, added_by=actor)
        for user in {user.pk: user for user in users}.values()
        if user.pk not in existing
    ]
    Membership.objects.bulk_create(new, ignore_conflicts=True)
    audit_record_many(
        audit_event(
            organization=group.organization_id,
            actor=actor,
            action=Action.GROUP_MEMBER_ADDED,
            target=group,
            user=membership.user,
        )
        for membership in new
    )
    people_changed(group.organization_id)
    return len(new)


@transaction.atomic
def group_remove_members(*, group: UserGroup, users, actor, right: str = MANAGE_USERS) -> int:
    """Remove `users` from `group`; never touches the users themselves. Returns how many were removed."""
    users = list(users)
    _require_groups_in_scope(actor, [group], right)
    _require_users_in_scope(actor, users, right)
    leaving = list(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    deleted, _counts = group.memberships.filter(user__in=users).delete()
    audit_record_many(
        audit_event(
            organization=group.organization_id,
            actor=actor,
            action=Action.GROUP_MEMBER_REMOVED,
            target=group,
            user=user_id,
        )
        for user_id in leaving
    )
    people_changed(group.organization_id)
    return deleted


@transaction.atomic
def group_restore_members(*, group: UserGroup, memberships, actor, right: str = MANAGE_USERS) -> list[int]:
    """Put back memberships of `group` that were taken away (the undo of a bulk removal), as they
    were: `memberships` is [(user id, added at, added by id)]. Those who are members again are left
    as they are. Returns the ids of the users put back. Group and users must be in `actor`'s scope."""
    memberships = {user_id: (added_at, added_by_id) for user_id, added_at, added_by_id in memberships}
    _require_groups_in_scope(actor, [group], right)
    _require_users_in_scope(actor, memberships, right)
    UserGroup.objects.select_for_update(no_key=True).filter(pk=group.pk).first()  # as _add: one writer at a time
    present = set(group.memberships.filter(user_id__in=list(memberships)).values_list("user_id", flat=True))
    users = set(
        User.objects.for_org(group.organization_id).filter(pk__in=list(memberships)).values_list("pk", flat=True)
    )
    back = sorted(users - present)
    Membership.objects.bulk_create(
        (
            Membership(organization_id=group.organization_id, group=group, user_id=pk, added_by_id=memberships[pk][1])
            for pk in back
        ),
        ignore_conflicts=True,
    )
    # The date each was first added, which a new row would not keep: one statement for them all.
    dated = [(pk, memberships[pk][0]) for pk in back if memberships[pk][0] is not None]
    if dated:
        group.memberships.filter(user_id__in=[pk for pk, _at in dated]).update(
            added_at=Case(*(When(user_id=pk, then=Value(at)) for pk, at in dated), output_field=DateTimeField())
        )
    audit_record_many(
        audit_event(
            organization=group.organization_id, actor=actor, action=Action.GROUP_MEMBER_ADDED, target=group, user=pk
        )
        for pk in back
    )
    people_changed(group.organization_id)
    return back


@transaction.atomic
def memberships_set(*, actor, users, groups, pairs, right: str = MANAGE_USERS) -> tuple[int, int]:
    """Make the memberships of `users` × `groups` exactly `pairs` ((user_id, group_id) tuples).

    The membership grid saves through this: every user and group must be in `actor`'s scope, and
    memberships outside `users` × `groups` are left alone. Returns (added, removed).
    """
    users, groups = list(users), list(groups)
    _require_groups_in_scope(actor, groups, right)
    _require_users_in_scope(actor, users, right)
    user_ids, group_ids = {u.pk for u in users}, {g.pk for g in groups}
    wanted = {(u, g) for u, g in pairs}
    if any(u not in user_ids or g not in group_ids for u, g in wanted):
        raise NotAllowed(_("You may only act on the users and groups in your scope."))
    organization_id = groups[0].organization_id if groups else None
    current = Membership.objects.filter(organization_id=organization_id, user_id__in=user_ids, group_id__in=group_ids)
    have = set(current.values_list("user_id", "group_id"))
    to_remove = have - wanted
    removed = 0
    for user_id, group_id in to_remove:
        removed += current.filter(user_id=user_id, group_id=group_id).delete()[0]
    # The same grid saved twice at once: the second save's additions are already there.
    Membership.objects.bulk_create(
        (
            Membership(organization_id=organization_id, user_id=u, group_id=g, added_by=actor)
            for u, g in sorted(wanted - have)
        ),
        ignore_conflicts=True,
    )
    by_id = {group.pk: group for group in groups}
    audit_record_many(
        audit_event(organization=organization_id, actor=actor, action=action, target=by_id[g], user=u)
        for action, pairs in ((Action.GROUP_MEMBER_REMOVED, to_remove), (Action.GROUP_MEMBER_ADDED, wanted - have))
        for u, g in sorted(pairs)
    )
    if organization_id:
        people_changed(organization_id)
    return len(wanted - have), removed


def new_user_groups_check(*, actor, groups, right: str = MANAGE_USERS) -> None:
    """Refuse to create (or import) a user that would land outside `actor`'s reach.

    Every group must be in `actor`'s scope, and a group-scoped manager must pick at least one.
    Call it before creating the user; `user_place_in_groups` calls it again.
    """
    groups = list(groups)
    organization_id = actor.organization_id if actor is not None else None
    authorization.require_new_users_placed(actor, right, groups, organization_id=organization_id)


@transaction.atomic
def user_place_in_groups(*, user: User, groups, actor, right: str = MANAGE_USERS) -> int:
    """Put a user `actor` has just created or imported into `groups` (checked against `actor`'s scope)."""
    groups = list(groups)
    new_user_groups_check(actor=actor, groups=groups, right=right)
    if any(group.organization_id != user.organization_id for group in groups):
        raise NotAllowed(_("You may only act on the groups in your scope."))
    return sum(_add(group=group, users=[user], actor=actor) for group in groups)
