"""Every write on organisations and people. Views, commands, tasks and the admin call these."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override

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

Status = User.Status


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


def _check_login_ids_free(*, organization, email, mobile, employee_number="", exclude_pk=None):
    if employee_number:
        taken = User.objects.for_org(organization).filter(employee_number=employee_number).exclude(pk=exclude_pk)
        existing = taken.first()
        if existing is not None:
            raise LoginIdTaken(
                _("The employee number %(number)s already belongs to %(user)s.")
                % {"number": employee_number, "user": existing},
                field="employee_number",
                existing=existing,
            )
    clashes = User.objects.for_org(organization).with_login_id(email=email, mobile=mobile)
    if exclude_pk:
        clashes = clashes.exclude(pk=exclude_pk)
    for existing in clashes[:2]:
        if email and existing.email == email:
            raise LoginIdTaken(
                _("The email address %(email)s already belongs to %(user)s.") % {"email": email, "user": existing},
                field="email",
                existing=existing,
            )
        raise LoginIdTaken(
            _("The mobile number %(mobile)s already belongs to %(user)s.")
            % {"mobile": phones.display(mobile), "user": existing},
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
    locked = User.objects.select_for_update().get(pk=user.pk)
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
    """The one place a user's status changes: checks the lifecycle, records who/when/why."""
    to = Status(to)
    # Lock the organisation first: two administrators deactivating each other at the same moment
    # must not both pass the "last administrator" check.
    Organization.objects.select_for_update().get(pk=user.organization_id)
    locked = User.objects.select_for_update().get(pk=user.pk)
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
    locked.save(update_fields=["status", "updated_at"])
    # Inactive and deleted users lose their sessions by themselves: the auth backend refuses to load
    # a user who is not active, so their next request is anonymous.
    StatusChange.objects.create(
        organization_id=locked.organization_id,
        user=locked,
        from_status=from_status,
        to_status=to,
        actor=actor,
        reason=reason[:300],
    )
    user.status = locked.status
    people_changed(locked.organization_id)
    # Links sent for an earlier state must not outlive it (DESIGN §5).
    from invitations.services import invitations_revoke_on_status_change

    invitations_revoke_on_status_change(user=locked, to=to)
    return locked


@transaction.atomic
def users_mark_invited(*, organization: Organization, user_ids, actor: User | None, reason: str = "") -> list[int]:
    """The bulk form of `user_change_status(to=invited)`, for sendings to thousands of people at once.

    Locks the users, moves those in `created` or `invited` to `invited` with one history row each, and
    returns their ids; others are left alone. Invited never comes from active, so neither the
    last-administrator rule nor any revocation applies.
    """
    allowed = [status for status, targets in User.TRANSITIONS.items() if Status.INVITED in targets]
    locked = list(
        User.objects.for_org(organization)
        .select_for_update()
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
    people_changed(organization.pk)
    return ids


@transaction.atomic
def user_set_administrator(*, user: User, is_administrator: bool, actor: User | None) -> User:
    """Grant or withdraw the administrator right; the last active administrator cannot be demoted."""
    Organization.objects.select_for_update().get(pk=user.organization_id)
    locked = User.objects.select_for_update().get(pk=user.pk)
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
    locked.is_administrator = is_administrator
    locked.save(update_fields=["is_administrator", "updated_at"])
    return locked


@transaction.atomic
def user_set_password(*, user: User, password: str) -> User:
    """Set a password the user chose; lifts the "change your password" requirement."""
    user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password", "updated_at"])
    # A temporary password not sent yet must not replace the one the user just chose.
    from invitations.services import invitations_revoke_on_password_set

    invitations_revoke_on_password_set(user=user)
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
    *, contact: Contact, first_name: str, last_name: str, email: str, mobile: str, language: str, notes: str = ""
) -> Contact:
    """Change a contact's name, addresses, language and notes."""
    contact.first_name = first_name.strip()
    contact.last_name = last_name.strip()
    contact.email = (email or "").strip().lower()
    contact.mobile = normalize_mobile(contact.organization, mobile)
    contact.language = language
    contact.notes = notes
    _check_contact_addresses_free(contact)
    contact.full_clean()
    _save_unique(contact, recheck=lambda: _check_contact_addresses_free(contact))
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, actor: User | None) -> None:
    """Delete a contact. A converted contact is kept: it is the history of the user it became."""
    if contact.is_converted:
        raise DomainError(
            _("%(contact)s became the user %(user)s and is kept for history.")
            % {"contact": contact, "user": contact.converted_to}
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
            batch = sent.batch or batch
            user.status = Status.INVITED
        elif to == Status.ACTIVE:
            user_activate_with_temporary_password(user=user, actor=actor)
        locked.converted_to = user
        locked.converted_at = timezone.now()
        locked.save(update_fields=["converted_to", "converted_at"])
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

    Returns (converted: list of (contact, user), refused: list of (contact, message)).
    """
    converted, refused = [], []
    batch = None
    for contact in contacts:
        try:
            user, batch = _contact_convert(contact=contact, to=to, actor=actor, batch=batch)
        except (DomainError, ValidationError) as error:
            message = error.message if isinstance(error, DomainError) else "; ".join(error.messages)
            refused.append((contact, message))
        else:
            converted.append((contact, user))
    return converted, refused


def _check_type_name_free(*, organization, name, exclude_pk=None):
    from .search import fold

    for other in UserType.objects.for_org(organization).exclude(pk=exclude_pk):
        if fold(other.name) == fold(name):
            raise ValidationError({"name": _("The type “%(name)s” already exists.") % {"name": other.name}})


@transaction.atomic
def user_type_create(*, organization: Organization, name: str) -> UserType:
    """Add a user type to the organisation's list (names are unique, ignoring case and accents)."""
    name = name.strip()
    _check_type_name_free(organization=organization, name=name)
    user_type = UserType(organization=organization, name=name)
    user_type.full_clean()
    _save_unique(user_type, recheck=lambda: _check_type_name_free(organization=organization, name=name))
    return user_type


@transaction.atomic
def user_type_rename(*, user_type: UserType, name: str) -> UserType:
    """Rename a user type; the users of that type keep it."""
    name = name.strip()
    _check_type_name_free(organization=user_type.organization, name=name, exclude_pk=user_type.pk)
    user_type.name = name
    user_type.full_clean()
    _save_unique(
        user_type,
        recheck=lambda: _check_type_name_free(organization=user_type.organization, name=name, exclude_pk=user_type.pk),
    )
    return user_type


@transaction.atomic
def user_type_delete(*, user_type: UserType) -> None:
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
def users_import(*, organization: Organization, actor: User | None, check, invite: bool = False) -> dict:
    """Write a checked import (accounts.importing.check_rows) all or nothing: create and update users,
    record their first history row, add their groups. Refuses a check that has rows in error."""
    from groups.models import Membership

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
