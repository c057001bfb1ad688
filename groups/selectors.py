"""Reads on groups that depend on who asks."""

from .models import UserGroup


def groups_in_scope(actor, right: str = "manage_users"):
    """The groups `actor` may pick or act on for `right` (forms and filters offer only these)."""
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return UserGroup.objects.none()
    if actor.is_administrator:
        return UserGroup.objects.filter(organization_id=actor.organization_id)
    return UserGroup.objects.none()
