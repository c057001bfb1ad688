"""Every write on organisations and people. Views, commands, tasks and the admin call these.

Services lock rows in one order: the organisation, then users, then their invitations. Organisations
and users are locked FOR NO KEY UPDATE (`no_key=True`): it still serialises the services, but does
not stop another transaction from writing a row that merely points at them (a history row, an
invitation, a membership). With FOR UPDATE that write would wait for us, and deadlock as soon as
we wait for something that transaction holds.
"""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override

from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many

from . import phones
from .errors import DomainError, LastAdministrator, LoginIdTaken, TransitionNotAllowed
from .models import (
    Channel,
    Contact,
    Organization,
    StatusChange,
    User,
    UserType,
    default_user_type_names,
    normalized_mobile,
)
from .rights import Right
from .selectors import people_changed, users_in_scope
from .signals import account_links_outdated

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


def normalize_mobile(organization: Organization, raw: str) -> str:
    """E.164 form of a typed mobile number; raises ValidationError naming the problem."""
    try:
        return normalized_mobile(raw, organization)
    except phones.InvalidPhoneNumber:
        raise ValidationError(
            {"mobile": _("“%(value)s” is not a valid mobile number.") % {"value": raw.strip()}}, code="invalid_phone"
        ) from None


def account_links_outdated_for(*, user_ids, reason: str, actor: User | None) -> None:
    """Say that the account links already sent to these users must no longer work, and why.

    Every service that changes a login ID, a channel address, rights or a password calls this
    in its transaction (see signals.account_links_outdated).
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
    StatusChange.objects.bulk_create(
        StatusChange(
            organization_id=organization_id,
            user_id=pk,
            from_status=status,
            to_status=status,
            actor=actor,
            reason=note[:300],
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
) -> User:
    """Create a user in `status` (created by default) and record its first history row."""
    email = (email or "").strip().lower()
    mobile = normalize_mobile(organization, mobile)
    employee_number = (employee_number or "").strip()
    _check_login_ids_free(organization=organization, email=email, mobile=mobile, employee_number=employee_number)
    user = User(
        organization=organization,
        email=email,
        mobile=mobile,
        employee_number=employee_number,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        preferred_channel=preferred_channel or ("email" if email or not mobile else "sms"),
        language=language or organization.language,
        user_type=user_type,
        status=status,
        is_administrator=is_administrator,
        created_by=actor,
    )
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
    StatusChange.objects.create(organization=organization, user=user, from_status="", to_status=status, actor=actor)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.USER_CREATED,
        target=user,
        after={**_audited(user), "status": status, "administrator": is_administrator or None},
    )
    if groups:
        # The new user is in no one's scope yet: only the groups are checked against the actor's.
        from groups.services import group_add_created_users

        for group in groups:
            group_add_created_users(group=group, users=[user], actor=actor)
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
    groups=None,
    manageable_groups=None,
) -> User:
    """Change a user's identity and settings (never the status); set their groups among `manageable_groups`.

    Memberships of groups the actor may not manage are left as they are.
    """
    organization = user.organization
    locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    before = _audited(locked)
    email = (email or "").strip().lower()
    mobile = normalize_mobile(organization, mobile)
    employee_number = (employee_number or "").strip()
    _check_login_ids_free(
        organization=organization, email=email, mobile=mobile, employee_number=employee_number, exclude_pk=locked.pk
    )
    locked.first_name = first_name.strip()
    locked.last_name = last_name.strip()
    locked.email = email
    locked.mobile = mobile
    locked.employee_number = employee_number
    locked.preferred_channel = preferred_channel
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
    if groups is not None and manageable_groups is not None:
        from groups.services import group_add_members, group_remove_members

        wanted = {group.pk for group in groups}
        current = set(locked.memberships.values_list("group_id", flat=True))
        for group in manageable_groups:
            if group.pk in wanted and group.pk not in current:
                group_add_members(group=group, users=[locked], actor=actor)
            elif group.pk not in wanted and group.pk in current:
                group_remove_members(group=group, users=[locked], actor=actor)
    people_changed(organization.pk)
    return locked


def _other_active_administrators(user: User):
    return User.objects.for_org(user.organization).active().administrators().exclude(pk=user.pk)


@transaction.atomic
def user_change_status(*, user: User, to: str, actor: User | None, reason: str = "") -> User:
    """The one place a user's status changes: checks the lifecycle, records who/when/why.

    `invited` is refused: someone is invited only by sending them an invitation
    (`invitations.services.invitations_send`, which marks them through `users_mark_invited`), so
    "invited" always means a message with a link is on its way.
    """
    to = Status(to)
    if to == Status.INVITED:
        raise TransitionNotAllowed(
            _("%(user)s cannot be marked invited without an invitation: send them one instead.") % {"user": user}
        )
    # Lock the organisation first: two administrators deactivating each other at the same moment
    # must not both pass the "last administrator" check.
    Organization.objects.select_for_update(no_key=True).get(pk=user.organization_id)
    locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    if not locked.can_become(to):
        raise TransitionNotAllowed(
            _("%(user)s cannot become “%(to)s”: the account is %(status)s.")
            % {"user": locked, "to": to.label, "status": locked.get_status_display().lower()}
        )
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
    StatusChange.objects.create(
        organization_id=locked.organization_id,
        user=locked,
        from_status=from_status,
        to_status=to,
        actor=actor,
        reason=reason[:300],
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
    # Links sent for an earlier state must not outlive it (DESIGN §5).
    from invitations.services import invitations_revoke_on_status_change

    invitations_revoke_on_status_change(user=locked, to=to)
    return locked


@transaction.atomic
def users_mark_invited(*, organization: Organization, user_ids, actor: User | None, reason: str = "") -> list[int]:
    """Mark users invited, for a sending to thousands of people at once.

    Only the service that writes their invitations in the same transaction calls this (a test keeps
    the list of callers), so nobody is invited without a message.

    Locks the users, moves those in `created` or `invited` to `invited` with one history row each, and
    returns their ids; others are left alone. Invited never comes from active, so neither the
    last-administrator rule nor any revocation applies.
    """
    allowed = [status for status, targets in User.TRANSITIONS.items() if Status.INVITED in targets]
    locked = list(
        User.objects.for_org(organization)
        .select_for_update(no_key=True)
        .filter(pk__in=list(user_ids), status__in=allowed)
        .order_by("pk")
        .values_list("pk", "status")
    )
    ids = [pk for pk, _status in locked]
    User.objects.filter(pk__in=ids).exclude(status=Status.INVITED).update(
        status=Status.INVITED, updated_at=timezone.now()
    )
    StatusChange.objects.bulk_create(
        [
            StatusChange(
                organization=organization,
                user_id=pk,
                from_status=status,
                to_status=Status.INVITED,
                actor=actor,
                reason=reason[:300],
            )
            for pk, status in locked
        ],
        batch_size=2000,
    )
    audit_record_many(
        audit_event(
            organization=organization,
            actor=actor,
            action=Action.USER_STATUS_CHANGED,
            user=pk,
            before={"status": status},
            after={"status": Status.INVITED.value, "reason": reason},
        )
        for pk, status in locked
        if status != Status.INVITED
    )
    people_changed(organization.pk)
    return ids


@transaction.atomic
def user_set_administrator(*, user: User, is_administrator: bool, actor: User | None) -> User:
    """Grant or withdraw the administrator right; the last active administrator cannot be demoted."""
    Organization.objects.select_for_update(no_key=True).get(pk=user.organization_id)
    locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    if (
        locked.is_administrator
        and not is_administrator
        and locked.status == Status.ACTIVE
        and not _other_active_administrators(locked).exists()
    ):
        raise LastAdministrator(
            _("%(user)s is the last active administrator of %(organization)s and must stay one.")
            % {"user": locked, "organization": locked.organization}
        )
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.RIGHTS_CHANGED,
        target=locked,
        before={"administrator": locked.is_administrator},
        after={"administrator": is_administrator},
    )
    if locked.is_administrator != is_administrator:
        locked.is_administrator = is_administrator
        locked.save(update_fields=["is_administrator", "updated_at"])
        account_links_outdated_for(user_ids=[locked.pk], reason=_("rights changed"), actor=actor)
    return locked


@transaction.atomic
def user_set_password(*, user: User, password: str) -> User:
    """Set a password the user chose; lifts the "change your password" requirement.

    Every link still pending ends with it: a reset link asked for earlier, or a temporary password
    not sent yet, must not replace the password the user just chose.
    """
    user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password", "updated_at"])
    audit_record(organization=user.organization_id, actor=user, action=Action.USER_PASSWORD_CHANGED, target=user)
    account_links_outdated_for(user_ids=[user.pk], reason=_("password changed"), actor=user)
    return user


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
    """Create a contact (no account)."""
    contact = Contact(
        organization=organization,
        email=(email or "").strip().lower(),
        mobile=normalize_mobile(organization, mobile),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
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
            raise ValidationError(
                {field: _("Another contact, %(contact)s, already has this address.") % {"contact": other}}
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
    actor: User | None = None,
) -> Contact:
    """Change a contact's name, addresses, language and notes."""
    before = {name: getattr(contact, name) for name in AUDITED_CONTACT_FIELDS}
    contact.first_name = first_name.strip()
    contact.last_name = last_name.strip()
    contact.email = (email or "").strip().lower()
    contact.mobile = normalize_mobile(contact.organization, mobile)
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
    """Delete a contact. A converted contact is kept: it is the history of the user it became."""
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


class ConvertMode:
    CREATED = Status.CREATED
    INVITE = Status.INVITED
    ACTIVATE = Status.ACTIVE


def _move_contact_history(*, contact: Contact, user: User) -> None:
    """Hand the contact's invitations over to the user it became, inside the caller's transaction
    (a conversion moves everything or nothing). Assessment attempts join here when they exist."""
    from invitations.models import Invitation

    Invitation.objects.filter(organization_id=contact.organization_id, contact=contact).update(contact=None, user=user)


def _contact_convert(*, contact: Contact, to: str, actor: User | None, batch=None):
    """contact_convert, also returning the invitation batch used (so several conversions share one)."""
    from invitations.services import invitations_send, user_activate_with_temporary_password

    if to not in (Status.CREATED, Status.INVITED, Status.ACTIVE):
        raise ValueError(to)
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if locked.is_converted:
            raise DomainError(_("%(contact)s was already converted.") % {"contact": locked})
        user = user_create(
            organization=locked.organization,
            actor=actor,
            email=locked.email,
            mobile=locked.mobile,
            first_name=locked.first_name,
            last_name=locked.last_name,
            language=locked.language,
        )
        _move_contact_history(contact=locked, user=user)
        # The status and the message's row are written with the user; the message itself leaves once
        # this transaction commits (the invitations services queue delivery on commit).
        if to == Status.INVITED:
            sent = invitations_send(
                organization=locked.organization,
                users=User.objects.filter(pk=user.pk),
                actor=actor,
                label=_("Invitations to converted contacts"),
                batch=batch,
            )
            if user.pk not in sent.invited:
                # No invitation was allowed (the invite right is checked by the sending service):
                # the conversion is undone rather than leaving a user "invited" with no message.
                raise DomainError(_("You do not hold the right to invite this person; nothing was sent."))
            batch = sent.batch or batch
            user.status = Status.INVITED
        elif to == Status.ACTIVE:
            user_activate_with_temporary_password(user=user, actor=actor)
        locked.converted_to = user
        locked.converted_at = timezone.now()
        locked.save(update_fields=["converted_to", "converted_at"])
        audit_record(
            organization=locked.organization_id,
            actor=actor,
            action=Action.CONTACT_CONVERTED,
            target=locked,
            user=user,
            after={"user": str(user), "status": str(to)},
        )
    contact.converted_to, contact.converted_at = user, locked.converted_at
    return user, batch


def contact_convert(*, contact: Contact, to: str, actor: User | None) -> User:
    """Turn one contact into a user, keeping the contact: `created`, `invited` (an account invitation
    is sent) or `active` (a temporary password is sent). The contact's invitations move to the user.

    Raises LoginIdTaken when a user already has the contact's email or mobile; then nothing changes.
    """
    return _contact_convert(contact=contact, to=to, actor=actor)[0]


def contacts_convert(*, contacts, to: str, actor: User | None):
    """Convert each contact on its own: every contact is fully converted or untouched; the
    invitations of one conversion share one batch.

    Returns (converted: list of (contact, user), refused: list of (contact, message, holder)), where
    `holder` is the user who already has the contact's email or mobile (None for other refusals).
    The message never names the holder: the caller names them only if its actor may see them.
    """
    converted, refused = [], []
    batch = None
    for contact in contacts:
        try:
            user, batch = _contact_convert(contact=contact, to=to, actor=actor, batch=batch)
        except (DomainError, ValidationError) as error:
            message = error.message if isinstance(error, DomainError) else "; ".join(error.messages)
            refused.append((contact, message, getattr(error, "existing", None)))
        else:
            converted.append((contact, user))
    return converted, refused


def _check_type_name_free(*, organization, name, exclude_pk=None):
    from .search import fold

    for other in UserType.objects.for_org(organization).exclude(pk=exclude_pk):
        if fold(other.name) == fold(name):
            raise ValidationError({"name": _("The type “%(name)s” already exists.") % {"name": other.name}})


@transaction.atomic
def user_type_create(*, organization: Organization, name: str, actor: User | None = None) -> UserType:
    """Add a user type to the organisation's list (names are unique, ignoring case and accents)."""
    name = name.strip()
    _check_type_name_free(organization=organization, name=name)
    user_type = UserType(organization=organization, name=name)
    user_type.full_clean()
    _save_unique(user_type, recheck=lambda: _check_type_name_free(organization=organization, name=name))
    audit_record(
        organization=organization, actor=actor, action=Action.USER_TYPE_CREATED, target=user_type, after={"name": name}
    )
    return user_type


@transaction.atomic
def user_type_rename(*, user_type: UserType, name: str, actor: User | None = None) -> UserType:
    """Rename a user type; the users of that type keep it."""
    name = name.strip()
    _check_type_name_free(organization=user_type.organization, name=name, exclude_pk=user_type.pk)
    audit_record(
        organization=user_type.organization_id,
        actor=actor,
        action=Action.USER_TYPE_RENAMED,
        target=user_type,
        before={"name": user_type.name},
        after={"name": name},
    )
    user_type.name = name
    user_type.full_clean()
    _save_unique(
        user_type,
        recheck=lambda: _check_type_name_free(organization=user_type.organization, name=name, exclude_pk=user_type.pk),
    )
    return user_type


@transaction.atomic
def user_type_delete(*, user_type: UserType, actor: User | None = None) -> None:
    """Remove a user type nobody has; a type in use is refused, naming how many users have it."""
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


def _after_import(
    *, organization: Organization, user_ids: list[int], invite: bool, actor: User | None
) -> dict[str, int | None]:
    """Send account invitations to the imported users still waiting for one, if asked.

    Runs inside the import's transaction: the invitations exist only if the import does, and their
    messages leave once it commits. Returns counts for the import's report.
    """
    from invitations.services import invitations_send

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
def users_import(
    *, organization: Organization, actor: User | None, check, invite: bool = False, source: str = ""
) -> dict:
    """Write a checked import (accounts.importing.check_rows) all or nothing: create and update users,
    record their first history row, add their groups. Refuses a check that has rows in error.

    `source` names the file in the audit trail."""
    from groups.models import Membership, UserGroup

    if check.has_errors:
        raise DomainError(_("The file has rows in error; nothing was imported."))
    Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
    creates = [row for row in check.rows if row.action == "create"]
    updates = {row.user_id: row for row in check.rows if row.action == "update"}
    new_users = []
    type_names = dict(UserType.objects.for_org(organization).values_list("pk", "name"))
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
    changed, before = [], {}
    outdated = {}  # what changed among the login IDs and channel → the users it changed for
    fields = ["first_name", "last_name", "email", "mobile", "employee_number", "user_type_id", "language"]
    for user in User.objects.for_org(organization).filter(pk__in=list(updates)).select_for_update(no_key=True):
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
    memberships = [
        Membership(organization=organization, group_id=group_id, user_id=user.pk, added_by=actor)
        for row, user in [*zip(creates, new_users, strict=True), *((updates[u.pk], u) for u in changed)]
        for group_id in row.values["group_ids"]
    ]
    # Memberships the updated users already had are left alone, and not audited as added.
    had = set(
        Membership.objects.filter(organization=organization, user_id__in=[u.pk for u in changed]).values_list(
            "user_id", "group_id"
        )
    )
    Membership.objects.bulk_create(memberships, batch_size=1000, ignore_conflicts=True)
    groups = UserGroup.objects.filter(organization=organization).in_bulk({m.group_id for m in memberships})
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
                for m in memberships
                if (m.user_id, m.group_id) not in had
            ),
        ]
    )
    sent = _after_import(
        organization=organization,
        user_ids=[user.pk for user in [*new_users, *changed]],
        invite=invite,
        actor=actor,
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.IMPORT_APPLIED,
        label=source,
        after={"created": len(new_users), "updated": len(changed), "invited": sent["invited"] if invite else None},
    )
    people_changed(organization.pk)
    return {"created": len(new_users), "updated": len(changed), "invite": invite, **sent}


@transaction.atomic
def users_export_record(*, organization: Organization, actor: User | None, fmt: str, filters: dict, rows: int) -> None:
    """Record that `actor` downloaded the people list (which filters, how many rows): an export takes
    personal data out of the product, so the trail says who took what."""
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
            language = job.created_by.language if job.created_by else job.organization.language
            with override(language):
                fields["error"] = _(
                    "This file was deleted without being imported: uploaded files are kept %(hours)s hours. "
                    "Upload it again to import it."
                ) % {"hours": settings.IMPORT_FILE_LIFETIME_HOURS}
            fields |= {"state": State.FAILED, "finished_at": timezone.now()}
        # Only if it has not moved meanwhile (confirmed a moment ago, say): a file being applied is kept.
        purged += ImportJob.objects.filter(pk=job.pk, state=job.state).update(**fields)
    return purged
