"""Creating and editing a user together with their groups (the user form)."""

from django.db import transaction

from accounts.models import User
from accounts.services import user_create, user_update
from groups.services import group_add_created_users, group_add_members, group_remove_members


@transaction.atomic
def user_create_with_groups(*, organization, actor: User | None, groups=(), **fields) -> User:
    """Create a user (accounts.services.user_create) and put them in `groups`, all or nothing."""
    user = user_create(organization=organization, actor=actor, **fields)
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
