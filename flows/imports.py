"""Writing a checked import (flows.importing.check_rows), and inviting the imported people if asked."""

import secrets

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.history import history_entry, history_record_many
from accounts.identity import channel_for
from accounts.models import Organization, User, UserType
from accounts.search import search_text_for
from accounts.selectors import people_changed
from accounts.services import _audited, _link_fields, account_links_outdated_for, link_fields_changes
from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many
from experquiz import authorization
from experquiz.authorization import NotAllowed
from experquiz.bulk_insert import insert_many, update_many
from experquiz.errors import DomainError
from groups.models import Membership, UserGroup
from invitations.services.account import invitations_send
from rights.names import Right
from rights.selectors import users_in_scope

from .importing import FRAME_ROWS

Status = User.Status
# People written (and invited) per step of an import: a file of 100,000 is never held whole.
WRITE_CHUNK = FRAME_ROWS
# Users to update locked per statement (all before the first is changed).
LOCK_CHUNK = 10_000


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
    """Write the people of `rows` (Planned rows to create), with their first history row, groups and audit events."""
    new_users = []
    for row in rows:
        user = User(
            organization=organization,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            mobile=row.mobile,
            employee_number=row.employee_number,
            user_type_id=row.user_type_id,
            language=row.language or organization.language,
            preferred_channel=channel_for(row.channel, email=row.email, mobile=row.mobile),
            created_by=actor,  # in the status every new person starts in: created
            password=_unusable_password(),
            search_text=_search_text(row, row),
        )
        new_users.append(user)
    insert_many(User, new_users)
    history_record_many(
        history_entry(organization=organization, user=user, from_status="", to_status=Status.CREATED, actor=actor)
        for user in new_users
    )
    joining = [
        Membership(organization=organization, group_id=group_id, user_id=user.pk, added_by=actor)
        for row, user in zip(rows, new_users, strict=True)
        for group_id in row.group_ids
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


def _search_text(user, row) -> str:
    """The user's search text; the national digits of a mobile the file gave come with the row
    (read with it), so that no mobile of the file is parsed twice."""
    return search_text_for(
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        mobile=user.mobile,
        employee_number=user.employee_number,
        national=row.national if row.mobile and row.mobile == user.mobile else "",
    )


UPDATED_FIELDS = ["first_name", "last_name", "email", "mobile", "employee_number", "user_type_id", "language"]
# What an update does not validate field by field: the fields it leaves as they are (not checked
# again), and the type, checked against the organisation's types read once (Django's check of a
# foreign key reads its row: the organisation, the type and the creator of each person, three
# queries per row).
UNCHECKED_FIELDS = [
    field.name
    for field in User._meta.concrete_fields
    if field.attname not in {*UPDATED_FIELDS, "preferred_channel"} or field.name == "user_type"
]


def _update(*, organization, actor, rows, groups, types) -> list[int]:
    """Apply `rows` (Planned rows that update, one per user) to their users, locked beforehand: a
    blank value keeps what the user has; memberships are added, never removed; audited."""
    type_names = {pk: user_type.name for pk, user_type in types.items()}
    users = User.objects.for_org(organization).in_bulk([row.user_id for row in rows])
    changed, before = [], {}
    outdated = {}  # what changed among the login IDs and channel → the users it changed for
    for row in sorted(rows, key=lambda row: row.user_id):
        user = users[row.user_id]
        # Known already: the model's checks read them from here, not once per person from the database.
        user.organization = organization
        before[user.pk] = _audited(user, type_names)
        link_before = _link_fields(user)
        # An empty cell keeps what the user already has.
        for name in UPDATED_FIELDS:
            value = getattr(row, name)
            if value:
                setattr(user, name, value)
        if row.channel:
            user.preferred_channel = row.channel
        try:
            if user.user_type_id is not None:
                if user.user_type_id not in types:  # deleted since the check
                    raise ValidationError({"user_type": _("Unknown user type.")})
                user.user_type = types[user.user_type_id]
            # The fields the import writes, and the model's rules between them (User.clean).
            user.full_clean(exclude=UNCHECKED_FIELDS, validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            raise DomainError(
                _("Row %(row)s: %(reason)s") % {"row": row.number, "reason": " ".join(error.messages)}
            ) from None
        user.updated_at = timezone.now()
        user.search_text = _search_text(user, row)
        changed.append((user, row))
        changes = link_fields_changes(link_before, user)
        if changes:
            outdated.setdefault(changes, []).append(user.pk)
    update_many(
        User,
        [user for user, _row in changed],
        [*[f.removesuffix("_id") for f in UPDATED_FIELDS], "preferred_channel", "search_text", "updated_at"],
    )
    for changes, user_ids in outdated.items():
        account_links_outdated_for(user_ids=user_ids, reason=changes, actor=actor)
    staying = [
        Membership(organization=organization, group_id=group_id, user_id=user.pk, added_by=actor)
        for user, row in changed
        for group_id in row.group_ids
    ]
    # Memberships the updated users already had are left alone, and not audited as added.
    had = set(
        Membership.objects.filter(organization=organization, user_id__in=[u.pk for u, _row in changed]).values_list(
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
                for user, _row in changed
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
    return [user.pk for user, _row in changed]


def _plan_summary(plan) -> tuple[dict[int, int], set[int], bool]:
    """{user id: the number of the last row that updates them}, every group the rows fill, and
    whether a row creates someone without a group. Two rows may update the same user (one by email,
    one by employee number): the last one is applied, as the file reads."""
    updates, group_ids, bare = {}, set(), False
    for row in plan:
        group_ids.update(row.group_ids)
        if row.user_id:
            updates[row.user_id] = row.number
        elif not row.group_ids:
            bare = True
    return updates, group_ids, bare


def _require_rows_in_scope(actor, updates, group_ids, bare) -> None:
    if actor is None:
        return
    authorization.require_users(actor, Right.MANAGE_USERS, updates)
    authorization.require_groups(actor, Right.MANAGE_USERS, group_ids)
    if bare and authorization.must_place_new_users_in_a_group(actor, Right.MANAGE_USERS):
        raise NotAllowed(_("Put the new user in at least one of your groups: otherwise you could not manage them."))


@transaction.atomic
def users_import(
    *, organization: Organization, actor: User | None, check, invite: bool = False, source: str = "", progress=None
) -> dict:
    """Write a checked import (flows.importing.check_rows) all or nothing: create and update users,
    record their first history row, add their groups. Refuses a check that has rows in error.

    `source` names the file in the audit trail. `actor` must manage every person it updates and every
    group it fills, and a group-scoped manager must put each new person in one of their groups: the
    check says so row by row, and is read again here against this actor, whoever made the check.
    The rows are written WRITE_CHUNK at a time, in the file's order (creations, then updates);
    `progress(n)` is told the rows written so far after each step."""
    authorization.require_right(actor, Right.MANAGE_USERS, organization_id=organization.pk)
    if check.has_errors:
        raise DomainError(_("The file has rows in error; nothing was imported."))
    updates, group_ids, bare = _plan_summary(check.plan)
    _require_rows_in_scope(actor, updates, group_ids, bare)
    # Locked, and read again: the people are checked against the organisation as it is now (its phone
    # region, its language for the new people).
    organization = Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
    types = UserType.objects.for_org(organization).in_bulk()
    type_names = {pk: user_type.name for pk, user_type in types.items()}
    groups = UserGroup.objects.filter(organization=organization).in_bulk(group_ids)
    written = 0
    created = []
    for chunk in check.plan.chunks():
        rows = [row for row in chunk if row.user_id is None]
        created += _create(organization=organization, actor=actor, rows=rows, groups=groups, type_names=type_names)
        written += len(rows)
        if progress and rows:
            progress(written)
    # Users are locked in id order, as every other service that locks several does (no deadlock),
    # all of them before any is changed.
    ids = sorted(updates)
    for start in range(0, len(ids), LOCK_CHUNK):
        locked = User.objects.for_org(organization).filter(pk__in=ids[start : start + LOCK_CHUNK])
        list(locked.order_by("pk").select_for_update(no_key=True).only("pk"))
    changed = []
    for chunk in check.plan.chunks():
        rows = [row for row in chunk if row.user_id and updates[row.user_id] == row.number]
        if rows:
            changed += _update(organization=organization, actor=actor, rows=rows, groups=groups, types=types)
        written += sum(1 for row in chunk if row.user_id)
        if progress and rows:
            progress(written)
    sent = _after_import(organization=organization, user_ids=[*created, *changed], invite=invite, actor=actor)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.IMPORT_APPLIED,
        label=source,
        after={"created": len(created), "updated": len(changed), "invited": sent["invited"] if invite else None},
    )
    people_changed(organization.pk)
    return {"created": len(created), "updated": len(changed), "invite": invite, **sent}
