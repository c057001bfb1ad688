"""Reads on the audit trail. Like the models and services, they import no other project app."""

from dataclasses import dataclass, field

from .models import AuditEvent

ACTIVITY_SHOWN = 10


def events_for(organization):
    """Every event of an organisation, newest first, with the people they name (one query a page)."""
    return AuditEvent.objects.for_org(organization).select_related("actor", "target_user").order_by("-id")


def events_about(user, *, limit: int = ACTIVITY_SHOWN):
    """The latest events about one person (their page's "Activity")."""
    return events_for(user.organization_id).filter(target_user=user)[:limit]


@dataclass
class KeysetPage:
    """One page of events, found by id rather than by offset: as fast on the last page as on the first.

    `older` / `newer` are the cursors of the neighbouring pages (`?before=` / `?after=`), None at an end.
    """

    events: list = field(default_factory=list)
    older: int | None = None
    newer: int | None = None


def keyset_page(queryset, *, per_page: int, before: int | None = None, after: int | None = None) -> KeysetPage:
    """The page of `queryset` (newest first) just older than event `before`, or just newer than `after`.

    One query, whatever the page size and however deep the page.
    """
    if after is not None:
        rows = list(queryset.filter(id__gt=after).order_by("id")[: per_page + 1])
        if rows:
            more_newer = len(rows) > per_page
            rows = rows[:per_page][::-1]
            return KeysetPage(events=rows, older=rows[-1].pk, newer=rows[0].pk if more_newer else None)
        before = None  # nothing newer any more: show the newest page
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[: per_page + 1])
    more_older = len(rows) > per_page
    rows = rows[:per_page]
    return KeysetPage(
        events=rows,
        older=rows[-1].pk if more_older else None,
        newer=rows[0].pk if before is not None and rows else None,
    )
