"""Every write on groups and memberships."""

from django.db import transaction

from .models import Membership, UserGroup


@transaction.atomic
def group_add_members(*, group: UserGroup, users, actor) -> int:
    """Add `users` (of the group's organisation) to `group`; returns how many were added."""
    existing = set(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    new = [
        Membership(organization_id=group.organization_id, group=group, user=user, added_by=actor)
        for user in users
        if user.pk not in existing and user.organization_id == group.organization_id
    ]
    Membership.objects.bulk_create(new)
    return len(new)


@transaction.atomic
def group_remove_members(*, group: UserGroup, users, actor) -> int:
    """Remove `users` from `group`; never touches the users themselves. Returns how many were removed."""
    deleted, _ = group.memberships.filter(user__in=users).delete()
    return deleted
