"""How events read on the pages and in the CSV export: field names and coded values in the reader's
language. The trail stores keys and raw values; they are translated when shown."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Channel, Language, User
from assessments.models import Questionnaire
from rights.names import Right

FIELD_LABELS = {
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email"),
    "mobile": gettext_lazy("Mobile"),
    "employee_number": gettext_lazy("Employee number"),
    "preferred_channel": gettext_lazy("Preferred channel"),
    "language": gettext_lazy("Language"),
    "user_type": gettext_lazy("Type"),
    "status": gettext_lazy("Status"),
    "reason": gettext_lazy("Reason"),
    "administrator": gettext_lazy("Administrator"),
    "profiles": gettext_lazy("Rights profiles"),
    "name": gettext_lazy("Name"),
    "slug": gettext_lazy("Address"),
    "description": gettext_lazy("Description"),
    "notes": gettext_lazy("Notes"),
    "user": gettext_lazy("User"),
    "group": gettext_lazy("Group"),
    "channel": gettext_lazy("Channel"),
    "address": gettext_lazy("Sent to"),
    "count": gettext_lazy("Count"),
    "created": gettext_lazy("People created"),
    "updated": gettext_lazy("People updated"),
    "invited": gettext_lazy("People invited"),
    "format": gettext_lazy("Format"),
    "filters": gettext_lazy("Filters"),
    "rows": gettext_lazy("Rows"),
    "list": gettext_lazy("List"),
    "batch": gettext_lazy("Sending"),
    "again": gettext_lazy("Sent again"),
    "title": gettext_lazy("Title"),
    "kind": gettext_lazy("Kind"),
    "instructions": gettext_lazy("Instructions"),
    "time_limit_minutes": gettext_lazy("Time limit (minutes)"),
    "visibility": gettext_lazy("Visible to"),
    "groups": gettext_lazy("Groups"),
    "questions": gettext_lazy("Questions"),
    "question": gettext_lazy("Question"),
    "text": gettext_lazy("Text"),
    "choices": gettext_lazy("Choices"),
    "published": gettext_lazy("Published"),
    "file": gettext_lazy("File"),
    "score": gettext_lazy("Score"),
    "right": gettext_lazy("Right answers"),
    "time_up": gettext_lazy("Time was up"),
    **{right.value: right.label for right in Right},
}
VALUE_LABELS = {
    "status": dict(User.Status.choices),
    "preferred_channel": dict(Channel.choices),
    "channel": dict(Channel.choices),
    "language": dict(Language.choices),
    "list": {"users": gettext_lazy("People list"), "audit": gettext_lazy("Audit trail")},
    "kind": dict(Questionnaire.Kind.choices),
    "visibility": dict(Questionnaire.Visibility.choices),
}
TARGET_LABELS = {
    "user": gettext_lazy("person"),
    "contact": gettext_lazy("contact"),
    "usergroup": gettext_lazy("group"),
    "rightsprofile": gettext_lazy("rights profile"),
    "invitation": gettext_lazy("invitation"),
    "invitationbatch": gettext_lazy("sending"),
    "usertype": gettext_lazy("user type"),
    "organization": gettext_lazy("organisation"),
    "questionnaire": gettext_lazy("questionnaire"),
    "attempt": gettext_lazy("attempt"),
}


RIGHTS = {right.value for right in Right}


def value_text(key: str, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key in RIGHTS and value == "*":
        return _("all users")
    labels = VALUE_LABELS.get(key)
    if labels and value in labels:
        return str(labels[value])
    return str(value)


def field_label(key: str) -> str:
    return str(FIELD_LABELS.get(key, key.replace("_", " ")))


def changes(event) -> list[tuple[str, str | None, str]]:
    """(field, before or None when there is no before, after) for each key the event records."""
    rows = []
    for key in [*event.before, *(key for key in event.after if key not in event.before)]:
        before = value_text(key, event.before[key]) if key in event.before else None
        after = value_text(key, event.after[key]) if key in event.after else "—"
        rows.append((field_label(key), before, after))
    return rows


def changes_text(event) -> str:
    """The changes on one line, for the CSV export: "Status: active → inactive; Reason: left"."""
    parts = [
        f"{label}: {before} → {after}" if before is not None else f"{label}: {after}"
        for label, before, after in changes(event)
    ]
    return "; ".join(parts)


def target_type_text(event) -> str:
    return str(TARGET_LABELS.get(event.target_type, event.target_type))
