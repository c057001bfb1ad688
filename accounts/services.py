"""Every write on organisations and people. Views, commands, tasks and the admin call these.

Each service checks its actor's right itself (experquiz.authorization: the convention, and the hook
the rights floor above answers); `actor=None` means the system (tasks and commands).

Services lock rows in one order: the organisation, then users, then their invitations. Organisations
and users are locked FOR NO KEY UPDATE (`no_key=True`): it still serialises the services, but does
not stop another transaction from writing a row that merely points at them (a history row, an
invitation, a membership). With FOR UPDATE that write would wait for us, and deadlock as soon as
we wait for something that transaction holds.
"""

import dataclasses
from collections import defaultdict

from django.contrib.auth import password_validation
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, override

from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many
from experquiz import authorization, phones
from experquiz.authorization import INVITE, MANAGE_USERS, NotAllowed
from experquiz.errors import DomainError, InvalidFields
from experquiz.naming import named_save

from .errors import LastAdministrator, LoginIdTaken, NoWayIn, TransitionNotAllowed
from .history import history_entry, history_record, history_record_many
from .identity import Channel, identity_clean
from .models import (
    Contact,
    Language,
    Organization,
    Transition,
    User,
    UserType,
    default_user_type_label,
    default_user_type_names,
)
from .selectors import people_changed
from .signals import account_links_outdated, temporary_password_pending, user_status_changed

Status = User.Status
# What the audit trail records of a person's identity and of a contact (never a password).
AUDITED_USER_FIELDS = ("first_name", "last_name", "email", "mobile", "employee_number", "preferred_channel", "language")
AUDITED_CONTACT_FIELDS = ("first_name", "last_name", "email", "mobile", "language", "notes")


def _audited(user: User, type_names=None) -> dict:
    """A person's identity as the audit trail records it (`type_names`: {id: name}, to spare a query)."""
    values = {name: getattr(user, name) for name in AUDITED_USER_FIELDS}
    if type_names is not None:
        values["user_type"] = type_names.get(user.user_type_id, "")
    else:
        values["user_type"] = user.user_type.name if user.user_type_id else ""
    return values


def organization_create(
    *, name: str, slug: str, admin_email: str, admin_password: str, phone_region: str = "FR", language: str = "en"
) -> Organization:
    """Create a tenant with its default user types and a first, active administrator."""
    organization = Organization(name=name, slug=slug, phone_region=phone_region, language=language)
    organization.full_clean()
    admin = User(organization=organization, email=admin_email.strip().lower(), is_administrator=True)
    password_validation.validate_password(admin_password, admin)
    with transaction.atomic():
        organization.save()
        with override(language):
            UserType.objects.bulk_create(
                UserType(organization=organization, name=str(type_name)) for type_name in default_user_type_names()
            )
        audit_record(
            organization=organization,
            actor=None,
            action=Action.ORGANIZATION_CREATED,
            target=organization,
            after={"name": name, "slug": slug},
        )
        admin = user_create(
            organization=organization,
            actor=None,
            email=admin_email,
            is_administrator=True,
            language=language,
            status=Status.ACTIVE,
            password=admin_password,
        )
    return organization


def account_links_outdated_for(*, user_ids, reason: str, actor: User | None) -> None:
    """Say that the account links already sent to these users must no longer work, and why.

    Every service that changes a login ID, a channel address, rights or a password calls this
    in its transaction. It sends the hook `signals.account_links_outdated`: the invitations floor
    revokes the links (invitations.receivers), which accounts cannot import.
    """
    user_ids = sorted(set(user_ids))
    if user_ids:
        account_links_outdated.send(sender=User, user_ids=user_ids, reason=reason, actor=actor)


# The fields a link was sent for: the login IDs and the channel that says which address gets it.
LINK_FIELDS = ("email", "mobile", "preferred_channel")


def _link_fields(user: User) -> dict:
    return {name: getattr(user, name) for name in LINK_FIELDS}


def link_fields_changes(before: dict, user: User) -> str:
    """Which login IDs or channel changed, as a phrase for the history ("" when none did)."""
    labels = {
        "email": _("email address changed"),
        "mobile": _("mobile number changed"),
        "preferred_channel": _("preferred channel changed"),
    }
    return ", ".join(labels[name] for name in LINK_FIELDS if before[name] != getattr(user, name))


def users_history_note(*, user_ids, actor: User | None, note: str) -> None:
    """Write an event that leaves the status as it is (such as revoked links) in these users' history."""
    history_record_many(
        history_entry(
            organization=organization_id, user=pk, from_status=status, to_status=status, actor=actor, reason=note
        )
        for pk, organization_id, status in User.objects.filter(pk__in=list(user_ids))
        .order_by("pk")
        .values_list("pk", "organization_id", "status")
    )


def _check_login_ids_free(*, organization, email, mobile, employee_number="", exclude_pk=None):
    """Raise LoginIdTaken if another user of the organisation has one of these IDs.

    The message says only that the ID is taken, never whose it is: the actor may not be allowed to
    see the holder (a group-scoped manager, or anyone but an administrator for a rights holder). A
    view that may show the holder names them itself (`existing`).
    """
    if employee_number:
        taken = User.objects.for_org(organization).filter(employee_number=employee_number).exclude(pk=exclude_pk)
        existing = taken.first()
        if existing is not None:
            raise LoginIdTaken(
                _("The employee number %(number)s is already taken.") % {"number": employee_number},
                field="employee_number",
                existing=existing,
            )
    clashes = User.objects.for_org(organization).with_login_id(email=email, mobile=mobile)
    if exclude_pk:
        clashes = clashes.exclude(pk=exclude_pk)
    for existing in clashes[:2]:
        if email and existing.email == email:
            raise LoginIdTaken(
                _("The email address %(email)s is already taken.") % {"email": email},
                field="email",
                existing=existing,
            )
        raise LoginIdTaken(
            _("The mobile number %(mobile)s is already taken.") % {"mobile": phones.display(mobile)},
            field="mobile",
            existing=existing,
        )


def _save_unique(instance, *, recheck) -> None:
    """Save `instance` in a savepoint; when a unique constraint refuses it, run `recheck` again.

    The checks before a save read committed rows only: two requests saving the same address at the
    same moment both pass them, and the database refuses the second. By then the first has committed,
    so `recheck` sees it and raises the same domain error as when the requests come one after the
    other. The savepoint keeps the caller's transaction usable for that.
    """
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        recheck()
        raise


@transaction.atomic
def user_create(
    *,
    organization: Organization,
    actor: User | None,
    email: str = "",
    mobile: str = "",
    first_name: str = "",
    last_name: str = "",
    preferred_channel: str = "",
    language: str = "",
    user_type: UserType | None = None,
    status: str = Status.CREATED,
    is_administrator: bool = False,
    password: str | None = None,
    employee_number: str = "",
    groups=(),
    right: str = MANAGE_USERS,
) -> User:
    """Create a user in `status` (created by default) and record its first history row.

    A person starts created, or active with a password (the first administrator of an organisation):
    invited only by sending an invitation, and never active without a way in.

    `actor` must hold `right` (managing users, or inviting for pasted addresses), and `groups` are
    where the caller puts the new person in the same transaction (flows.people): they must be in the
    actor's scope, and a group-scoped actor must name one, or the new person would be out of their
    reach the moment it exists.
    """
    authorization.require_new_users_placed(actor, right, groups, organization_id=organization.pk)
    if is_administrator:
        authorization.require_administrator(actor, organization_id=organization.pk)
    identity = identity_clean(
        organization,
        email=email,
        mobile=mobile,
        preferred_channel=preferred_channel,
        employee_number=employee_number,
        first_name=first_name,
        last_name=last_name,
    )
    email, mobile, employee_number = identity.email, identity.mobile, identity.employee_number
    _check_login_ids_free(organization=organization, email=email, mobile=mobile, employee_number=employee_number)
    user = User(
        organization=organization,
        **identity.as_dict(),
        language=language or organization.language,
        user_type=user_type,
        status=status,
        is_administrator=is_administrator,
        created_by=actor,
    )
    if status not in (Status.CREATED, Status.ACTIVE):
        raise TransitionNotAllowed(
            _("%(user)s cannot start “%(status)s”: a new person is created, then invited or activated.")
            % {"user": user, "status": Status(status).label}
        )
    if status == Status.ACTIVE and not password:
        raise _no_way_in(user)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    _save_unique(
        user,
        recheck=lambda: _check_login_ids_free(
            organization=organization, email=email, mobile=mobile, employee_number=employee_number
        ),
    )
    history_record(organization=organization, user=user, from_status="", to_status=status, actor=actor)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.USER_CREATED,
        target=user,
        after={**_audited(user), "status": status, "administrator": is_administrator or None},
    )
    people_changed(organization.pk)
    return user


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: User | None,
    first_name: str,
    last_name: str,
    email: str,
    mobile: str,
    employee_number: str = "",
    preferred_channel: str,
    language: str,
    user_type: UserType | None,
) -> User:
    """Change a user's identity and settings (never the status)."""
    authorization.require_users(actor, MANAGE_USERS, [user])
    organization = user.organization
    locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    before = _audited(locked)
    identity = identity_clean(
        organization,
        email=email,
        mobile=mobile,
        preferred_channel=preferred_channel,
        employee_number=employee_number,
        first_name=first_name,
        last_name=last_name,
    )
    email, mobile, employee_number = identity.email, identity.mobile, identity.employee_number
    _check_login_ids_free(
        organization=organization, email=email, mobile=mobile, employee_number=employee_number, exclude_pk=locked.pk
    )
    for name, value in identity.as_dict().items():
        setattr(locked, name, value)
    locked.language = language
    locked.user_type = user_type
    locked.full_clean(exclude=["password"])
    _save_unique(
        locked,
        recheck=lambda: _check_login_ids_free(
            organization=organization,
            email=email,
            mobile=mobile,
            employee_number=employee_number,
            exclude_pk=locked.pk,
        ),
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.USER_UPDATED,
        target=locked,
        before=before,
        after=_audited(locked),
    )
    changes = link_fields_changes(before, locked)
    if changes:
        account_links_outdated_for(user_ids=[locked.pk], reason=changes, actor=actor)
    people_changed(organization.pk)
    return locked


def _require_status_move(actor, user: User, to) -> None:
    """Someone who manages `user` makes any move; the person themselves only their own moves of the
    lifecycle (accepting their invitation, which the link sent to them authorises)."""
    own = [t for t in User.transitions_from(user.status, by=Transition.PERSON) if t.to == to]
    if actor is not None and actor.pk == user.pk and own:
        return
    authorization.require_users(actor, MANAGE_USERS, [user])


def _has_way_in(user: User) -> bool:
    """A usable password, or a temporary password on its way (answered by the invitations floor)."""
    if user.has_usable_password():
        return True
    return any(answer for _receiver, answer in temporary_password_pending.send(sender=User, user=user))


def _no_way_in(user) -> NoWayIn:
    return NoWayIn(
        _(
            "%(user)s cannot be active without a way to log in: they have no password and no temporary "
            "password on its way. Activate them with a temporary password."
        )
        % {"user": user}
    )


def _other_active_administrators(user: User):
    return User.objects.for_org(user.organization).active().administrators().exclude(pk=user.pk)


@transaction.atomic
def user_change_status(*, user: User, to: str, actor: User | None, reason: str = "") -> User:
    """The one place a user's status changes: checks the lifecycle (User.LIFECYCLE), records who,
    when, from, to and why, and sets off what the change entails: sessions ended on deactivation and
    deletion, the links sent for an earlier state revoked (the `user_status_changed` hook), the
    history row, the audit event, the people counts forgotten.

    `invited` is refused: someone is invited only by sending them an invitation
    (`invitations.services.account.invitations_send`, which marks them through `users_mark_invited`), so
    "invited" always means a message with a link is on its way. `active` is refused to someone with
    no way in: no usable password and no temporary password on its way
    (`invitations.services.account.user_activate_with_temporary_password` issues one first).
    """
    to = Status(to)
    if to == Status.INVITED:
        raise TransitionNotAllowed(
            _("%(user)s cannot be marked invited without an invitation: send them one instead.") % {"user": user}
        )
    # Lock the organisation first: two administrators deactivating each other at the same moment
    # must not both pass the "last administrator" check. Only leaving `active` can lose the last
    # administrator: becoming active (an activation, an accepted invitation) does not queue there.
    if to != Status.ACTIVE:
        Organization.objects.select_for_update(no_key=True).get(pk=user.organization_id)
    locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    _require_status_move(actor, locked, to)
    if not locked.can_become(to):
        raise TransitionNotAllowed(
            _("%(user)s cannot become “%(to)s”: the account is %(status)s.")
            % {"user": locked, "to": to.label, "status": locked.get_status_display().lower()}
        )
    if to == Status.ACTIVE and not _has_way_in(locked):
        raise _no_way_in(locked)
    if locked.is_administrator and locked.status == Status.ACTIVE and not _other_active_administrators(locked).exists():
        raise LastAdministrator(
            _("%(user)s is the last active administrator of %(organization)s and must stay active.")
            % {"user": locked, "organization": locked.organization}
        )
    from_status = locked.status
    locked.status = to
    fields = ["status", "updated_at"]
    if to in (Status.INACTIVE, Status.DELETED):
        # End every session now (see User.get_session_auth_hash). Refusing to load a user who is not
        # active is not enough: a session kept since then would work again after a reactivation.
        locked.session_generation += 1
        fields.append("session_generation")
    locked.save(update_fields=fields)
    history_record(
        organization=locked.organization_id,
        user=locked,
        from_status=from_status,
        to_status=to,
        actor=actor,
        reason=reason,
    )
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.USER_STATUS_CHANGED,
        target=locked,
        before={"status": from_status},
        after={"status": to.value, "reason": reason},
    )
    user.status, user.session_generation = locked.status, locked.session_generation
    people_changed(locked.organization_id)
    # Links sent for an earlier state must not outlive it (DESIGN §5): invitations revokes them.
    user_status_changed.send(sender=User, user=locked, from_status=from_status, to=to)
    return locked


@transaction.atomic
def users_mark_invited(
    *, organization: Organization, user_ids, actor: User | None, reason: str = "", fields: tuple[str, ...] = ()
) -> list:
    """Mark users invited, for a sending to thousands of people at once.

    Only the service that writes their invitations in the same transaction calls this (a test keeps
    the list of callers), so nobody is invited without a message.

    Locks the users, moves those in `created` or `invited` to `invited` with one history row each, and
    returns them by id as they were locked: rows with `pk`, `status` (the one they had) and `fields`
    (read in the locking statement, so as they are under the lock). Others are left alone. Invited
    never comes from active, so neither the last-administrator rule nor any revocation applies.
    `actor` must hold the invite right over each.
    """
    authorization.require_users(actor, INVITE, user_ids)
    locked = list(
        User.objects.for_org(organization)
        .select_for_update(no_key=True)
        .filter(pk__in=list(user_ids))
        .awaiting_invitation()
        .order_by("pk")
        .values_list("pk", "status", *fields, named=True)
    )
    ids = [row.pk for row in locked]
    User.objects.filter(pk__in=ids).exclude(status=Status.INVITED).update(
        status=Status.INVITED, updated_at=timezone.now()
    )
    history_record_many(
        history_entry(
            organization=organization,
            user=row.pk,
            from_status=row.status,
            to_status=Status.INVITED,
            actor=actor,
            reason=reason,
        )
        for row in locked
    )
    audit_record_many(
        audit_event(
            organization=organization,
            actor=actor,
            action=Action.USER_STATUS_CHANGED,
            user=row.pk,
            before={"status": row.status},
            after={"status": Status.INVITED.value, "reason": reason},
        )
        for row in locked
        if row.status != Status.INVITED
    )
    people_changed(organization.pk)
    return locked


@transaction.atomic
def user_set_password(*, user: User, password: str, actor: User | None, encoded: str = "") -> User:
    """Set a password the user chose; lifts the "change your password" requirement.

    Only the person sets their own password (`actor` is `user`: signed in, or through a link sent to
    them); administrators send a temporary one instead. Every link still pending ends with it: a
    reset link asked for earlier, or a temporary password not sent yet, must not replace the password
    the user just chose. `encoded` is the password already hashed by a caller that hashes before
    taking its locks (see invitation_accept).
    """
    if actor is not None and actor.pk != user.pk:
        raise NotAllowed(_("Only %(user)s may choose their own password.") % {"user": user})
    if encoded:
        user.password, user._password = encoded, password
    else:
        user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password", "updated_at"])
    audit_record(organization=user.organization_id, actor=user, action=Action.USER_PASSWORD_CHANGED, target=user)
    account_links_outdated_for(user_ids=[user.pk], reason=_("password changed"), actor=user)
    return user


@transaction.atomic
def user_language_choose(*, user: User, language: str, actor: User | None) -> User:
    """A person's own choice in the language menu: kept for their next login and their messages."""
    if actor is None or actor.pk != user.pk:
        raise NotAllowed(_("Only %(user)s may choose their own language.") % {"user": user})
    if language not in Language.values:
        raise InvalidFields({"language": [_("Choose one of the languages offered.")]})
    if user.language == language:
        return user
    before = user.language
    user.language = language
    user.save(update_fields=["language", "updated_at"])
    audit_record(
        organization=user.organization_id,
        actor=user,
        action=Action.USER_UPDATED,
        target=user,
        before={"language": before},
        after={"language": language},
    )
    return user


# Setting one field for many people at once (the bulk actions of flows.bulk) -------------------------


@dataclasses.dataclass
class FieldChanges:
    """What a write of one field on many people did: each changed person's previous value, by id,
    and the people left as they were, with why."""

    previous: dict = dataclasses.field(default_factory=dict)  # user id → the value before
    skipped: list = dataclasses.field(default_factory=list)  # (user id, reason)


# The fields the bulk actions set, as the audit trail names them (accounts.services._audited).
BULK_FIELDS = ("user_type", "language", "preferred_channel")


def _no_address(channel: str) -> str:
    return _("no mobile number") if channel == Channel.SMS else _("no email address")


def _shown(name: str, value, type_names: dict) -> str:
    """A value as a person reads it in a reason: the type's name, the language, the channel."""
    if name == "user_type":
        return default_user_type_label(type_names[value]) if value in type_names else _("no type")
    return str((Language if name == "language" else Channel)(value).label)


def _users_field_write(*, organization, name: str, wanted: dict, actor, refusal) -> FieldChanges:
    """Set the field `name` of each user in `wanted` ({user id: new value}) who `refusal` lets through.

    `refusal(current, new, email, mobile, type_names)` says why a person is left as they are, or "".
    The users are locked and read in one statement, written in one UPDATE, and recorded in one insert
    of audit events, whatever their number: a bulk action calls this once per chunk of people.
    """
    authorization.require_users(actor, MANAGE_USERS, wanted)
    attname = User._meta.get_field(name).attname
    type_names = dict(UserType.objects.for_org(organization).values_list("pk", "name")) if name == "user_type" else {}
    rows = (
        User.objects.for_org(organization)
        .select_for_update(no_key=True)
        .filter(pk__in=list(wanted))
        .order_by("pk")
        .values_list("pk", attname, "email", "mobile")
    )
    result = FieldChanges()
    for pk, current, email, mobile in rows:
        reason = refusal(current, wanted[pk], email, mobile, type_names)
        if reason:
            result.skipped.append((pk, reason))
        else:
            result.previous[pk] = current
    if not result.previous:
        return result
    by_value = defaultdict(list)
    for pk in result.previous:
        by_value[wanted[pk]].append(pk)
    if len(by_value) == 1:
        (value,) = by_value
    else:  # an undo puts back values that differ from one person to the next: still one statement
        output = models.BigIntegerField() if name == "user_type" else models.CharField()
        value = models.Case(
            *(models.When(pk__in=ids, then=models.Value(each, output_field=output)) for each, ids in by_value.items()),
            output_field=output,
        )
    User.objects.filter(pk__in=list(result.previous)).update(**{attname: value, "updated_at": timezone.now()})

    def audited(value):
        return type_names.get(value, "") if name == "user_type" else value

    audit_record_many(
        audit_event(
            organization=organization,
            actor=actor,
            action=Action.USER_UPDATED,
            user=pk,
            before={name: audited(before)},
            after={name: audited(wanted[pk])},
        )
        for pk, before in result.previous.items()
    )
    if name == "preferred_channel":
        # As when one person's channel is edited (user_update): links sent for the other channel end.
        account_links_outdated_for(user_ids=list(result.previous), reason=_("preferred channel changed"), actor=actor)
    people_changed(organization.pk)
    return result


def _already(name):
    def refusal(current, new, email, mobile, type_names):
        if current == new:
            return _("already ‘%(value)s’") % {"value": _shown(name, new, type_names)}
        if name == "preferred_channel" and not (mobile if new == Channel.SMS else email):
            return _no_address(new)
        return ""

    return refusal


@transaction.atomic
def users_set_type(
    *, organization: Organization, user_ids, user_type: UserType | None, actor: User | None
) -> FieldChanges:
    """Give these users the type `user_type` (None: no type); those who have it already are skipped."""
    if user_type is not None and user_type.organization_id != organization.pk:
        raise InvalidFields({"user_type": [_("Unknown user type.")]})
    value = user_type.pk if user_type is not None else None
    wanted = dict.fromkeys(user_ids, value)
    return _users_field_write(
        organization=organization, name="user_type", wanted=wanted, actor=actor, refusal=_already("user_type")
    )


@transaction.atomic
def users_set_language(*, organization: Organization, user_ids, language: str, actor: User | None) -> FieldChanges:
    """Set these users' language (their messages and pages); those who have it already are skipped."""
    if language not in Language.values:
        raise InvalidFields({"language": [_("Choose one of the languages offered.")]})
    wanted = dict.fromkeys(user_ids, language)
    return _users_field_write(
        organization=organization, name="language", wanted=wanted, actor=actor, refusal=_already("language")
    )


@transaction.atomic
def users_set_channel(*, organization: Organization, user_ids, channel: str, actor: User | None) -> FieldChanges:
    """Set these users' preferred channel; skipped: those who have it already and those without an
    address for it (no mobile number for SMS). Their pending account links are revoked, as when one
    person's channel is edited."""
    if channel not in Channel.values:
        raise InvalidFields({"preferred_channel": [_("Choose email or SMS.")]})
    wanted = dict.fromkeys(user_ids, channel)
    return _users_field_write(
        organization=organization,
        name="preferred_channel",
        wanted=wanted,
        actor=actor,
        refusal=_already("preferred_channel"),
    )


CHANGED_SINCE = {
    "user_type": gettext_lazy("type changed since"),
    "language": gettext_lazy("language changed since"),
    "preferred_channel": gettext_lazy("preferred channel changed since"),
}


@transaction.atomic
def users_fields_restore(
    *, organization: Organization, field: str, previous: dict, current, actor: User | None
) -> FieldChanges:
    """Undo a bulk change of `field`: put back `previous` ({user id: value before}) for each user whose
    field still holds `current`, the value the bulk change set. Skipped: those changed since, and
    those whose previous value cannot be put back any more (a type deleted since, a channel whose
    address is gone)."""
    if field not in BULK_FIELDS:
        raise InvalidFields({"field": [_("This field cannot be changed in bulk.")]})

    def refusal(value, before, email, mobile, type_names):
        if value != current:
            return str(CHANGED_SINCE[field])
        if field == "user_type" and before is not None and before not in type_names:
            return _("their previous type was deleted")
        if field == "preferred_channel" and not (mobile if before == Channel.SMS else email):
            return _no_address(before)
        return ""

    return _users_field_write(
        organization=organization, name=field, wanted=dict(previous), actor=actor, refusal=refusal
    )


@transaction.atomic
def contact_create(
    *,
    organization: Organization,
    actor: User | None,
    email: str = "",
    mobile: str = "",
    first_name: str = "",
    last_name: str = "",
    language: str = "",
    notes: str = "",
) -> Contact:
    """Create a contact (no account). Contacts belong to no group: organisation-wide managers only."""
    authorization.require_everyone(actor, MANAGE_USERS, organization_id=organization.pk)
    identity = identity_clean(
        organization, email=email, mobile=mobile, first_name=first_name, last_name=last_name, contact=True
    )
    contact = Contact(
        organization=organization,
        email=identity.email,
        mobile=identity.mobile,
        first_name=identity.first_name,
        last_name=identity.last_name,
        language=language or organization.language,
        notes=notes,
        created_by=actor,
    )
    _check_contact_addresses_free(contact)
    contact.full_clean()
    _save_unique(contact, recheck=lambda: _check_contact_addresses_free(contact))
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.CONTACT_CREATED,
        target=contact,
        after={name: getattr(contact, name) for name in AUDITED_CONTACT_FIELDS},
    )
    return contact


def _check_contact_addresses_free(contact: Contact) -> None:
    others = Contact.objects.for_org(contact.organization).exclude(pk=contact.pk)
    for field in ("email", "mobile"):
        value = getattr(contact, field)
        other = others.filter(**{field: value}).first() if value else None
        if other is not None:
            raise InvalidFields(
                {field: [_("Another contact, %(contact)s, already has this address.") % {"contact": other}]}
            )


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    first_name: str,
    last_name: str,
    email: str,
    mobile: str,
    language: str,
    notes: str = "",
    actor: User | None,
) -> Contact:
    """Change a contact's name, addresses, language and notes (organisation-wide managers)."""
    authorization.require_everyone(actor, MANAGE_USERS, organization_id=contact.organization_id)
    before = {name: getattr(contact, name) for name in AUDITED_CONTACT_FIELDS}
    identity = identity_clean(
        contact.organization, email=email, mobile=mobile, first_name=first_name, last_name=last_name, contact=True
    )
    contact.first_name, contact.last_name = identity.first_name, identity.last_name
    contact.email, contact.mobile = identity.email, identity.mobile
    contact.language = language
    contact.notes = notes
    _check_contact_addresses_free(contact)
    contact.full_clean()
    _save_unique(contact, recheck=lambda: _check_contact_addresses_free(contact))
    audit_record(
        organization=contact.organization_id,
        actor=actor,
        action=Action.CONTACT_UPDATED,
        target=contact,
        before=before,
        after={name: getattr(contact, name) for name in AUDITED_CONTACT_FIELDS},
    )
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, actor: User | None) -> None:
    """Delete a contact (organisation-wide managers). A converted contact is kept: it is the history of
    the user it became."""
    authorization.require_everyone(actor, MANAGE_USERS, organization_id=contact.organization_id)
    if contact.is_converted:
        raise DomainError(
            _("%(contact)s became the user %(user)s and is kept for history.")
            % {"contact": contact, "user": contact.converted_to}
        )
    audit_record(
        organization=contact.organization_id,
        actor=actor,
        action=Action.CONTACT_DELETED,
        target=contact,
        before={name: getattr(contact, name) for name in AUDITED_CONTACT_FIELDS},
    )
    contact.delete()


@transaction.atomic
def user_type_create(*, organization: Organization, name: str, actor: User | None) -> UserType:
    """Add a user type to the organisation's list (names are unique, ignoring case and accents).
    Administrators only, as every organisation setting."""
    authorization.require_administrator(actor, organization_id=organization.pk)
    user_type = UserType(organization=organization, name=name)
    named_save(user_type)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.USER_TYPE_CREATED,
        target=user_type,
        after={"name": user_type.name},
    )
    return user_type


@transaction.atomic
def user_type_rename(*, user_type: UserType, name: str, actor: User | None) -> UserType:
    """Rename a user type; the users of that type keep it (administrators only)."""
    authorization.require_administrator(actor, organization_id=user_type.organization_id)
    before = user_type.name
    user_type.name = name
    named_save(user_type)
    audit_record(
        organization=user_type.organization_id,
        actor=actor,
        action=Action.USER_TYPE_RENAMED,
        target=user_type,
        before={"name": before},
        after={"name": user_type.name},
    )
    return user_type


@transaction.atomic
def user_type_delete(*, user_type: UserType, actor: User | None) -> None:
    """Remove a user type nobody has; a type in use is refused, naming how many users have it
    (administrators only)."""
    authorization.require_administrator(actor, organization_id=user_type.organization_id)
    in_use = user_type.users.count()
    if in_use:
        raise DomainError(
            ngettext(
                "“%(name)s” cannot be deleted: %(n)s user has this type.",
                "“%(name)s” cannot be deleted: %(n)s users have this type.",
                in_use,
            )
            % {"name": user_type.name, "n": in_use}
        )
    audit_record(
        organization=user_type.organization_id,
        actor=actor,
        action=Action.USER_TYPE_DELETED,
        target=user_type,
        before={"name": user_type.name},
    )
    user_type.delete()


@transaction.atomic
def users_export_record(*, organization: Organization, actor: User | None, fmt: str, filters: dict, rows: int) -> None:
    """Record that `actor` downloaded the people list (which filters, how many rows): an export takes
    personal data out of the product, so the trail says who took what. The list is the actor's scope,
    so managing users over anyone is the right it takes."""
    authorization.require_right(actor, MANAGE_USERS, organization_id=organization.pk)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.EXPORT_DOWNLOADED,
        label=_("People list"),
        after={"list": "users", "format": fmt, "filters": filters, "rows": rows},
    )


def import_files_purge() -> int:
    """Delete the file and the preview of every import not applied IMPORT_FILE_LIFETIME_HOURS after
    its upload; the job stays, failed, so its page tells the uploader what happened. Returns how many.

    Both hold people's data, which must not linger in the database. A file being applied is left
    alone: its job ends done (the file is dropped then) or failed (deleted on a later run).
    """
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Q

    from .models import ImportJob

    State = ImportJob.State
    cutoff = timezone.now() - timedelta(hours=settings.IMPORT_FILE_LIFETIME_HOURS)
    stale = (
        ImportJob.objects.filter(created_at__lt=cutoff, state__in=[State.CHECKING, State.READY, State.FAILED])
        .filter(~Q(data=b"") | ~Q(report={}))
        .select_related("organization", "created_by")
    )
    purged = 0
    for job in stale:
        fields = {"data": b"", "report": {}}
        if job.state != State.FAILED:
            with override(job.language):
                fields["error"] = _(
                    "This file was deleted without being imported: uploaded files are kept %(hours)s hours. "
                    "Upload it again to import it."
                ) % {"hours": settings.IMPORT_FILE_LIFETIME_HOURS}
            fields |= {"state": State.FAILED, "finished_at": timezone.now()}
        # Only if it has not moved meanwhile (confirmed a moment ago, say): a file being applied is kept.
        purged += ImportJob.objects.filter(pk=job.pk, state=job.state).update(**fields)
    return purged
