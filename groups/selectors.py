"""Reads on groups that need no rights (the scoped ones are in rights.selectors)."""

from django.db.models import Count, Prefetch, Q

from accounts.models import User

from .models import UserGroup


def groups_with_counts(groups):
    """`groups` annotated with `active_count` and `member_count`; deleted users are not counted."""
    not_deleted = ~Q(memberships__user__status=User.Status.DELETED)
    return groups.annotate(
        member_count=Count("memberships", filter=not_deleted, distinct=True),
        active_count=Count("memberships", filter=Q(memberships__user__status=User.Status.ACTIVE), distinct=True),
    ).order_by("name", "pk")


def people_for_list(queryset):
    """What a page of the people list shows, in a fixed number of queries whatever the page size."""
    return queryset.select_related("user_type").prefetch_related(
        Prefetch("user_groups", queryset=UserGroup.objects.only("id", "name").order_by("name"))
    )
