"""Writing a checked import (flows.importing.check_rows), and inviting the imported people if asked."""

import secrets

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.history import history_entry, history_record_many
from accounts.models import Organization, User, UserType
from accounts.selectors import people_changed
from accounts.services import _audited, _link_fields, account_links_outdated_for, link_fields_changes
from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many
from experquiz import authorization
from experquiz.authorization import NotAllowed
from experquiz.bulk_insert import insert_many
from experquiz.errors import DomainError
from groups.models import Membership, UserGroup
from invitations.services.account import invitations_send
from rights.names import Right
from rights.selectors import users_in_scope

Status = User.Status
# People written (and invited) per step of an import: a file of 100,000 is never held whole.
WRITE_CHUNK = 2000


def _unusable_password() -> str:
    """What `set_unusable_password` stores ("!" and 40 random characters), from one read of the system's
    randomness instead of 40 draws (2.4 s per 10,000 imported people)."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def _after_import(
    *, organization: Organization, user_ids: list[int], invite: bool, actor: User | None
) -> dict[str, int | None]:
    """Send account invitations to the imported users still waiting for one, if asked.

    Runs inside the import's transaction: the invitations exist only if the import does, and their
    messages leave once it commits. WRITE_CHUNK people at a time, in one batch, so that a file of
    100,000 is never held whole. Returns counts for the import's report.
    """
    report = {"invited": 0, "not_invited": 0, "batch": None}
    if not invite:
        return report
    batch = None
    for start in range(0, len(user_ids), WRITE_CHUNK):
        ids = user_ids[start : start + WRITE_CHUNK]
        waiting = User.objects.for_org(organization).filter(pk__in=ids).awaiting_invitation()
        # An import run by a person invites within their invitation scope (the right may have gone
        # since the upload: then nobody, and the report says so); the command (no actor) everyone.
        allowed = waiting if actor is None else waiting.filter(pk__in=users_in_scope(actor, Right.INVITE).values("pk"))
        if not allowed.exists():
            report["not_invited"] += waiting.count()
            continue
        sent = invitations_send(
            organization=organization, users=allowed, actor=actor, label=_("Invitations after an import"), batch=batch
        )
        batch = batch or sent.batch
        report["invited"] += len(sent.invited)
        report["not_invited"] += waiting.count() - len(sent.invited)
    report["batch"] = batch.pk if batch else None
    return report


def _create(*, organization, actor, rows, groups, type_names) -> list[int]:
    """Write the people of `rows` (to create), with their first history row, groups and audit events."""
    new_users = []
    for row in rows:
        values = row.values
        user = User(
            organization=organization,
            first_name=values["first_name"],
            last_name=values["last_name"],
            email=values["email"],
            mobile=values["mobile"],
            employee_number=values["employee_number"],
            user_type_id=values["user_type_id"],
            language=values["language"] or organization.language,
            preferred_channel=values["preferred_channel"],  # with its default (accounts.identity)
            created_by=actor,  # in the status every new person starts in: created
            password=_unusable_password(),
        )
        user.refresh_search_text()
        new_users.append(user)
    insert_many(User, new_users)
    history_record_many(
        history_entry(organization=organization, user=user, from_status="", to_status=Status.CREATED, actor=actor)
        for user in new_users
    )
    joining = [
        Membership(organization=organization, group_id=group_id, user_id=user.pk, added_by=actor)
        for row, user in zip(rows, new_users, strict=True)
        for group_id in row.values["group_ids"]
    ]
    insert_many(Membership, joining)  # new people: none of theirs exists yet
    audit_record_many(
        [
            *(
                audit_event(
                    organization=organization,
                    actor=actor,
                    action=Action.USER_CREATED,
                    target=user,
                    after={**_audited(user, type_names), "status": Status.CREATED.value},
                )
                for user in new_users
            ),
            *(
                audit_event(
                    organization=organization,
                    actor=actor,
                    action=Action.GROUP_MEMBER_ADDED,
                    target=groups[m.group_id],
                    user=m.user_id,
                )
                for m in joining
            ),
        ]
    )
    return [user.pk for user in new_users]


def _require_rows_in_scope(actor, check) -> None:
    if actor is None:
        return
    authorization.require_users(actor, Right.MANAGE_USERS, [row.user_id for row in check.rows if row.user_id])
    authorization.require_groups(
        actor, Right.MANAGE_USERS, {pk for row in check.rows for pk in row.values["group_ids"]}
    )
    if authorization.must_place_new_users_in_a_group(actor, Right.MANAGE_USERS) and any(
        not row.user_id and not row.values["group_ids"] for row in check.rows
    ):
        raise NotAllowed(_("Put the new user in at least one of your groups: otherwise you could not manage them."))


@transaction.atomic
def users_import(
    *, organization: Organization, actor: User | None, check, invite: bool = False, source: str = ""
) -> dict:
    """Write a checked import (flows.importing.check_rows) all or nothing: create and update users,
    record their first history row, add their groups. Refuses a check that has rows in error.

    `source` names the file in the audit trail. `actor` must manage every person it updates and every
    group it fills, and a group-scoped manager must put each new person in one of their groups: the
    check says so row by row, and is read again here against this actor, whoever made the check."""
    authorization.require_right(actor, Right.MANAGE_USERS, organization_id=organization.pk)
    if check.has_errors:
        raise DomainError(_("The file has rows in error; nothing was imported."))
    _require_rows_in_scope(actor, check)
    Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
    creates = [row for row in check.rows if row.action == "create"]
    updates = {row.user_id: row for row in check.rows if row.action == "update"}
    type_names = dict(UserType.objects.for_org(organization).values_list("pk", "name"))
    groups = UserGroup.objects.filter(organization=organization).in_bulk(
        {pk for row in check.rows for pk in row.values["group_ids"]}
    )
    created = []
    # WRITE_CHUNK people at a time: a file of 100,000 never has all its users and events in memory.
    for start in range(0, len(creates), WRITE_CHUNK):
        created += _create(
            organization=organization,
            actor=actor,
            rows=creates[start : start + WRITE_CHUNK],
            groups=groups,
            type_names=type_names,
        )
    changed, before = [], {}
    outdated = {}  # what changed among the login IDs and channel → the users it changed for
    fields = ["first_name", "last_name", "email", "mobile", "employee_number", "user_type_id", "language"]
    # Users are locked in id order, as every other service that locks several does (no deadlock).
    locked = User.objects.for_org(organization).filter(pk__in=list(updates)).select_for_update(no_key=True)
    for user in locked.order_by("pk"):
        before[user.pk] = _audited(user, type_names)
        values = updates[user.pk].values
        link_before = _link_fields(user)
        # An empty cell keeps what the user already has.
        for name in fields:
            if values.get(name):
                setattr(user, name, values[name])
        if values["preferred_channel"]:
            user.preferred_channel = values["preferred_channel"]
        try:
            user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            raise DomainError(
                _("Row %(row)s: %(reason)s") % {"row": updates[user.pk].number, "reason": " ".join(error.messages)}
            ) from None
        user.updated_at = timezone.now()
        user.refresh_search_text()
        changed.append(user)
        changes = link_fields_changes(link_before, user)
        if changes:
            outdated.setdefault(changes, []).append(user.pk)
    User.objects.bulk_update(
        changed, [*[f.removesuffix("_id") for f in fields], "preferred_channel", "search_text", "updated_at"], 1000
    )
    for changes, user_ids in outdated.items():
        account_links_outdated_for(user_ids=user_ids, reason=changes, actor=actor)
    staying = [
        Membership(organization=organization, group_id=group_id, user_id=user.pk, added_by=actor)
        for user in changed
        for group_id in updates[user.pk].values["group_ids"]
    ]
    # Memberships the updated users already had are left alone, and not audited as added.
    had = set(
        Membership.objects.filter(organization=organization, user_id__in=[u.pk for u in changed]).values_list(
            "user_id", "group_id"
        )
    )
    Membership.objects.bulk_create(staying, batch_size=1000, ignore_conflicts=True)
    audit_record_many(
        [
            *(
                audit_event(
                    organization=organization,
                    actor=actor,
                    action=Action.USER_UPDATED,
                    target=user,
                    before=before[user.pk],
                    after=_audited(user, type_names),
                )
                for user in changed
            ),
            *(
                audit_event(
                    organization=organization,
                    actor=actor,
                    action=Action.GROUP_MEMBER_ADDED,
                    target=groups[m.group_id],
                    user=m.user_id,
                )
                for m in staying
                if (m.user_id, m.group_id) not in had
            ),
        ]
    )
    sent = _after_import(
        organization=organization,
        user_ids=[*created, *(user.pk for user in changed)],
        invite=invite,
        actor=actor,
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.IMPORT_APPLIED,
        label=source,
        after={"created": len(created), "updated": len(changed), "invited": sent["invited"] if invite else None},
    )
    people_changed(organization.pk)
    return {"created": len(created), "updated": len(changed), "invite": invite, **sent}
