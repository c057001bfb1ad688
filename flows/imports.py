"""Writing a checked import (flows.importing.check_rows), and inviting the imported people if asked."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Channel, Organization, StatusChange, User
from accounts.selectors import people_changed
from experquiz.errors import DomainError
from groups.models import Membership
from invitations.services import invitations_send
from rights.names import Right
from rights.selectors import users_in_scope

Status = User.Status


def _after_import(
    *, organization: Organization, user_ids: list[int], invite: bool, actor: User | None
) -> dict[str, int | None]:
    """Send account invitations to the imported users still waiting for one, if asked.

    Runs inside the import's transaction: the invitations exist only if the import does, and their
    messages leave once it commits. Returns counts for the import's report.
    """
    report = {"invited": 0, "not_invited": 0, "batch": None}
    if not invite:
        return report
    waiting = User.objects.for_org(organization).filter(pk__in=user_ids, status__in=[Status.CREATED, Status.INVITED])
    # An import run by a person invites within their invitation scope; the command (no actor) everyone.
    allowed = waiting if actor is None else waiting.filter(pk__in=users_in_scope(actor, Right.INVITE).values("pk"))
    sent = invitations_send(
        organization=organization,
        users=allowed,
        actor=actor,
        label=_("Invitations after an import"),
    )
    report["invited"] = len(sent.invited)
    report["not_invited"] = waiting.count() - len(sent.invited)
    report["batch"] = sent.batch.pk if sent.batch else None
    return report


@transaction.atomic
def users_import(*, organization: Organization, actor: User | None, check, invite: bool = False) -> dict:
    """Write a checked import (flows.importing.check_rows) all or nothing: create and update users,
    record their first history row, add their groups. Refuses a check that has rows in error."""
    if check.has_errors:
        raise DomainError(_("The file has rows in error; nothing was imported."))
    Organization.objects.select_for_update().get(pk=organization.pk)
    creates = [row for row in check.rows if row.action == "create"]
    updates = {row.user_id: row for row in check.rows if row.action == "update"}
    new_users = []
    for row in creates:
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
            preferred_channel=values["preferred_channel"] or (Channel.EMAIL if values["email"] else Channel.SMS),
            status=Status.CREATED,
            created_by=actor,
        )
        user.set_unusable_password()
        user.refresh_search_text()
        new_users.append(user)
    User.objects.bulk_create(new_users, batch_size=1000)
    StatusChange.objects.bulk_create(
        [
            StatusChange(organization=organization, user=user, from_status="", to_status=Status.CREATED, actor=actor)
            for user in new_users
        ],
        batch_size=1000,
    )
    changed = []
    fields = ["first_name", "last_name", "email", "mobile", "employee_number", "user_type_id", "language"]
    for user in User.objects.for_org(organization).filter(pk__in=list(updates)).select_for_update():
        values = updates[user.pk].values
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
    User.objects.bulk_update(
        changed, [*[f.removesuffix("_id") for f in fields], "preferred_channel", "search_text", "updated_at"], 1000
    )
    memberships = [
        Membership(organization=organization, group_id=group_id, user_id=user.pk, added_by=actor)
        for row, user in [*zip(creates, new_users, strict=True), *((updates[u.pk], u) for u in changed)]
        for group_id in row.values["group_ids"]
    ]
    Membership.objects.bulk_create(memberships, batch_size=1000, ignore_conflicts=True)
    sent = _after_import(
        organization=organization,
        user_ids=[user.pk for user in [*new_users, *changed]],
        invite=invite,
        actor=actor,
    )
    people_changed(organization.pk)
    return {"created": len(new_users), "updated": len(changed), "invite": invite, **sent}
