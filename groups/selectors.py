"""Reads on groups that need no rights (the scoped ones are in rights.selectors)."""

from django.db import connection
from django.db.models import Count, Prefetch, Q

from accounts.models import User
from experquiz.sql_rows import Statement

from .models import Membership


def groups_with_counts(groups):
    """`groups` annotated with `active_count` and `member_count`; deleted users are not counted."""
    not_deleted = ~Q(memberships__user__status=User.Status.DELETED)
    return groups.annotate(
        member_count=Count("memberships", filter=not_deleted, distinct=True),
        active_count=Count("memberships", filter=Q(memberships__user__status=User.Status.ACTIVE), distinct=True),
    ).order_by("name", "pk")


def people_for_list(queryset, *, groups):
    """What a page of the people list (or an export) shows, in a fixed number of queries whatever the
    page size. Each user's `user_groups` holds only `groups`: the groups the viewer may see
    (`groups_in_scope`), so a group-scoped manager never learns the names of the others."""
    return queryset.select_related("user_type").prefetch_related(
        Prefetch("user_groups", queryset=groups.only("id", "name").order_by("name"))
    )


def group_ids_column_sql(users_table: str) -> str:
    """An SQL expression of each user's group ids (an array, read from the membership index), for a
    query on the users table under the name `users_table`: the same memberships `group_ids_by_user`
    reads, within the query that reads the users."""
    return f'ARRAY(SELECT "group_id" FROM "{Membership._meta.db_table}" WHERE "user_id" = "{users_table}"."id")'  # noqa: S608


# The table's name is the model's, the ids a parameter.
_GROUP_IDS_BY_USER = Statement(
    "experquiz_group_ids_by_user",
    f"SELECT user_id, group_id FROM {Membership._meta.db_table} WHERE user_id = ANY(%s)",  # noqa: S608
)


def group_ids_by_user(user_ids) -> dict[int, list[int]]:
    """{user id: ids of the groups they belong to} for `user_ids` (a page of a list), in one query.

    Ids only, read from the membership index: the caller names the groups from the list of groups
    the viewer may see, which it holds already (the filter menu), and drops the others."""
    by_user: dict[int, list[int]] = {}
    if connection.vendor == "postgresql":
        # One array parameter, the SQL written once per process: the queryset's `IN` of up to 200
        # ids cost more to build than the database takes to answer it.
        memberships = _GROUP_IDS_BY_USER.fetchall([list(user_ids)])
    else:
        memberships = Membership.objects.filter(user_id__in=user_ids).values_list("user_id", "group_id")
    for user_id, group_id in memberships:
        by_user.setdefault(user_id, []).append(group_id)
    return by_user
