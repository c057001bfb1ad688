"""A person's history: the StatusChange rows (who, when, from, to, why) that every status change
and every event about someone's account writes, one at a time or thousands at once.

`history_entry` builds a row the same way for every path (the reason cut to what the column holds,
ids or objects alike); `history_record` and `history_record_many` write them. Nothing else makes
StatusChange rows.
"""

from django.db import models

from experquiz.bulk_insert import insert_many

from .models import StatusChange

REASON_MAX = StatusChange._meta.get_field("reason").max_length
BATCH_SIZE = 2000


def _pk(value):
    return value.pk if isinstance(value, models.Model) else value


def history_entry(
    *, organization, user, from_status: str, to_status: str, actor=None, reason: str = ""
) -> StatusChange:
    """One unsaved history row. `organization` and `user` are objects or ids; `from_status` is ""
    for a person's first row (their creation); the same status twice records an event, such as
    links revoked, that leaves the status as it is."""
    return StatusChange(
        organization_id=_pk(organization),
        user_id=_pk(user),
        from_status=from_status or "",
        to_status=to_status,
        actor=actor,
        reason=(reason or "")[:REASON_MAX],
    )


def history_record(**entry) -> StatusChange:
    """Write one history row (the arguments of `history_entry`)."""
    row = history_entry(**entry)
    row.save()
    return row


def history_record_many(entries) -> list[StatusChange]:
    """Write many history rows (from `history_entry`) in a few statements."""
    return insert_many(StatusChange, entries, batch_size=BATCH_SIZE)
