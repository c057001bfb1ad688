"""Converting contacts to users: a new user takes over the contact's invitations, its places in
assessment invitations and its attempts, and is invited or activated with a temporary password as
the admin chooses."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Contact, User
from accounts.services import user_create
from assessments.models import Assignee, Attempt
from audit.models import Action
from audit.services import audit_record
from experquiz import authorization
from experquiz.authorization import MANAGE_USERS, NotAllowed
from experquiz.errors import DomainError
from invitations.models import Invitation
from invitations.services.account import invitations_send, user_activate_with_temporary_password

Status = User.Status


def _move_contact_history(*, contact: Contact, user: User) -> None:
    """Hand the contact's invitations, places in assessment invitations and attempts over to the user
    it became, inside the caller's transaction (a conversion moves everything or nothing), so the user
    finds them in their own space and the results show them under the user.

    The user is new, so it has no place and no attempt of its own to clash with: a contact's places
    are already one per invitation, and its attempts one per place or link. The one clash left is
    two attempts at a questionnaire made through no link (the database keeps one such attempt per
    user and questionnaire): then the conversion is refused, naming the questionnaire.
    """
    organization_id = contact.organization_id
    unlinked = (
        Attempt.objects.filter(organization_id=organization_id, contact=contact, invitation__isnull=True)
        .values("questionnaire__title")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by("questionnaire__title")
    )
    clashes = [row["questionnaire__title"] for row in unlinked]
    if clashes:
        raise DomainError(
            _(
                "%(contact)s cannot be converted: they have several attempts at “%(questionnaire)s” made "
                "through no link, and a user keeps one."
            )
            % {"contact": contact, "questionnaire": clashes[0]}
        )
    Invitation.objects.filter(organization_id=organization_id, contact=contact).update(contact=None, user=user)
    Assignee.objects.filter(organization_id=organization_id, contact=contact).update(contact=None, user=user)
    Attempt.objects.filter(organization_id=organization_id, contact=contact).update(contact=None, user=user)


def _contact_convert(*, contact: Contact, to: str, actor: User | None, batch=None):
    """contact_convert, also returning the invitation batch used (so several conversions share one)."""
    if to not in (Status.CREATED, Status.INVITED, Status.ACTIVE):
        raise ValueError(to)
    authorization.require_everyone(actor, MANAGE_USERS, organization_id=contact.organization_id)
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
            try:
                sent = invitations_send(
                    organization=locked.organization,
                    users=User.objects.filter(pk=user.pk),
                    actor=actor,
                    label=_("Invitations to converted contacts"),
                    batch=batch,
                )
            except NotAllowed:
                sent = None
            if sent is None or user.pk not in sent.invited:
                # No invitation was allowed (the invite right is checked by the sending service):
                # the conversion is undone rather than leaving a user "invited" with no message.
                raise DomainError(_("You do not hold the right to invite this person; nothing was sent."))
            batch = sent.batch or batch
            user.refresh_from_db(fields=["status"])
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
    is sent) or `active` (a temporary password is sent). The contact's invitations, places in
    assessment invitations and attempts move to the user.

    Raises LoginIdTaken when a user already has the contact's email or mobile; then nothing changes.
    """
    return _contact_convert(contact=contact, to=to, actor=actor)[0]


def contacts_convert(*, contacts, to: str, actor: User | None):
    """Convert each contact on its own: every contact is fully converted or untouched; the
    invitations of one conversion share one batch.

    Returns (converted: list of (contact, user), refused: list of (contact, message, holder)), where
    `holder` is the user who already has the contact's email or mobile (None for other refusals).
    The message never names the holder: the caller names them only if its actor may see them.
    Contacts belong to no group: only organisation-wide managers convert them (NotAllowed otherwise,
    before anything changes).
    """
    contacts = list(contacts)
    for organization_id in {contact.organization_id for contact in contacts}:
        authorization.require_everyone(actor, MANAGE_USERS, organization_id=organization_id)
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
