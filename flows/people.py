"""Creating and editing a user together with their groups (the user form), and the status moves an
administrator makes (the user page and the bulk actions)."""

from django.db import transaction

from accounts.models import Transition, User
from accounts.services import user_change_status, user_create, user_update
from groups.services import group_add_created_users, group_add_members, group_remove_members
from invitations.models import Invitation
from invitations.services.account import user_activate_with_temporary_password


@transaction.atomic
def user_create_with_groups(*, organization, actor: User | None, groups=(), **fields) -> User:
    """Create a user (accounts.services.user_create) and put them in `groups`, all or nothing."""
    groups = list(groups)
    user = user_create(organization=organization, actor=actor, groups=groups, **fields)
    # The new user is in no one's scope yet: only the groups are checked against the actor's.
    for group in groups:
        group_add_created_users(group=group, users=[user], actor=actor)
    return user


@transaction.atomic
def user_update_with_groups(*, user: User, actor: User | None, groups=None, manageable_groups=None, **fields) -> User:
    """Change a user (accounts.services.user_update) and set their groups among `manageable_groups`.

    Memberships of groups the actor may not manage are left as they are.
    """
    locked = user_update(user=user, actor=actor, **fields)
    if groups is not None and manageable_groups is not None:
        wanted = {group.pk for group in groups}
        current = set(locked.memberships.values_list("group_id", flat=True))
        for group in manageable_groups:
            if group.pk in wanted and group.pk not in current:
                group_add_members(group=group, users=[locked], actor=actor)
            elif group.pk not in wanted and group.pk in current:
                group_remove_members(group=group, users=[locked], actor=actor)
    return locked


@transaction.atomic
def user_status_action(*, user: User, to: str, actor: User | None, reason: str = "") -> Invitation | None:
    """Make an administrator's move of the lifecycle (User.LIFECYCLE), from the user page or a bulk action.

    A move that sends a temporary password (activating someone waiting for an invitation), or that
    makes active someone who never had a password (reactivating a person restored after being
    deleted before they had one), goes through `user_activate_with_temporary_password`: an active
    user must have a way in. Every other move is the status service's. Returns the temporary
    password's invitation when one was issued.
    """
    moves = [t for t in User.transitions_from(user.status, by=Transition.ADMINISTRATOR) if t.to == to]
    if moves and to == User.Status.ACTIVE and (moves[0].temporary_password or not user.has_usable_password()):
        return user_activate_with_temporary_password(user=user, actor=actor)
    user_change_status(user=user, to=to, actor=actor, reason=reason)
    return None
