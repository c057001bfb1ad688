"""Recording audit events. Services call `audit_record` inside their own transaction, so an action
and its event are committed together or not at all; bulk paths build events with `audit_event` and
write them with one `audit_record_many`.

The client address and the request id come from the request context (experquiz.request_context),
so services never need the request. This module imports no other project app.
"""

import functools
import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from experquiz import request_context
from experquiz.authorization import require_administrator
from experquiz.bulk_insert import insert_many

from .models import Action, AuditEvent

MAX_TEXT = 100
MAX_ITEMS = 20
MAX_LABEL = 200
# Keys whose values never enter the trail, whoever passes them.
SECRET_MARKERS = ("password", "token", "secret", "hash")


class NotInTransaction(RuntimeError):
    """An event recorded outside a transaction could outlive an action that failed."""


def short(value):
    """A value fit for the trail: text cut to MAX_TEXT characters, lists joined, numbers kept."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, set | frozenset):
        value = sorted(str(item) for item in value)
    if isinstance(value, list | tuple):
        items = [str(short(item)) for item in value]
        more = f", … (+{len(items) - MAX_ITEMS})" if len(items) > MAX_ITEMS else ""
        return short(", ".join(items[:MAX_ITEMS]) + more)
    if isinstance(value, dict):
        return short("; ".join(f"{key}: {short(item)}" for key, item in value.items()))
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _is_secret(key) -> bool:
    key = str(key).lower()
    return any(marker in key for marker in SECRET_MARKERS)


def _summary(values) -> dict:
    return {str(key): short(value) for key, value in (values or {}).items() if not _is_secret(key)}


def _without_empty(values: dict) -> dict:
    return {key: value for key, value in values.items() if value not in ("", None)}


def _same(a, b) -> bool:
    return a == b or (a in ("", None) and b in ("", None))


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose value differs, on both sides (an empty text and no value are the same)."""
    keys = [key for key in {**before, **after} if not _same(before.get(key), after.get(key))]
    return {key: before[key] for key in keys if key in before}, {key: after[key] for key in keys if key in after}


@functools.lru_cache(maxsize=256)
def _client_ip(text: str) -> str | None:
    # Cached: a bulk action records thousands of events for the same client (or none: a worker's
    # empty address costs two parsing errors).
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _pk(value):
    return getattr(value, "pk", value)


def audit_event(
    *,
    organization,
    actor,
    action: str,
    target=None,
    user=None,
    before: dict | None = None,
    after: dict | None = None,
    label: str = "",
) -> AuditEvent | None:
    """An unsaved event (write it with `audit_record_many`), or None when an update changed nothing.

    `organization` and `user` may be objects or ids. `target` is the object acted on (a model
    instance); `user` the person the event is about, by default `target` when it is a person.
    `before`/`after`: the state on each side (an update gives both: only the keys that differ are
    kept, and an update that changed nothing gives None); a creation gives only `after`, a deletion
    only `before`, and other actions their details in `after`. Secrets and long values never get in.
    """
    action = Action(action)
    if organization is None:
        return None  # platform staff act outside any organisation: Django's admin keeps their log
    is_update = before is not None and after is not None
    before, after = _summary(before), _summary(after)
    if is_update:
        before, after = changed(before, after)
        if not before and not after:
            return None
    else:  # a creation, a deletion or details: the values that say something
        before, after = _without_empty(before), _without_empty(after)
    target_type, target_id = "", None
    if target is not None:
        target_type, target_id = target._meta.model_name, target.pk
        label = label or str(target)
        if user is None and target._meta.label_lower == _user_model_label():
            user = target
    elif user is not None:
        target_type, target_id = "user", _pk(user)
    if actor is not None and not getattr(actor, "is_authenticated", True):
        actor = None  # an anonymous visitor: the client address says more than a name could
    context = request_context.current()
    return AuditEvent(
        organization_id=_pk(organization),
        created_at=timezone.now(),
        actor_id=_pk(actor),
        action=action.value,
        target_user_id=_pk(user),
        target_type=target_type,
        target_id=target_id,
        target_label=str(label)[:MAX_LABEL],
        before=before,
        after=after,
        client_ip=_client_ip(context.client_ip),
        request_id=context.request_id[:64],
    )


def _user_model_label() -> str:
    return settings.AUTH_USER_MODEL.lower()


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise NotInTransaction("Record audit events inside the service's transaction (transaction.atomic).")


def audit_record_many(events: Iterable[AuditEvent | None]) -> list[AuditEvent]:
    """Write the events built by `audit_event` (Nones skipped) in one bulk insert."""
    _require_transaction()
    events = [event for event in events if event is not None]
    if not events:
        return []
    return insert_many(AuditEvent, events)


def audit_record(**kwargs) -> AuditEvent | None:
    """Record one event in the current transaction (see `audit_event` for the arguments)."""
    written = audit_record_many([audit_event(**kwargs)])
    return written[0] if written else None


@transaction.atomic
def audit_trail_export_record(*, organization, actor, filters: dict, rows: int) -> AuditEvent:
    """Record that `actor` downloaded the audit trail (which filters, how many events): taking the
    trail out of the product is itself in the trail. The file then holds the events before this one.

    Only an administrator of the organisation reads the trail: checked here too, so nothing but the
    system can record an export the page would not have given (experquiz.authorization)."""
    require_administrator(actor, organization_id=_pk(organization))
    return audit_record(
        organization=organization,
        actor=actor,
        action=Action.EXPORT_DOWNLOADED,
        label=_("Audit trail"),
        after={"list": "audit", "format": "csv", "filters": filters, "rows": rows},
    )
