"""Account invitations: sending, resending, revoking, reminding, retrying a batch; temporary passwords."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.services import user_change_status, users_mark_invited
from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many
from experquiz import authorization
from experquiz.authorization import NotAllowed
from experquiz.bulk_insert import insert_many
from experquiz.errors import DomainError
from rights.names import Right
from rights.selectors import users_in_scope

from ..models import Invitation, InvitationBatch, InvitationSettings
from .outbox import invitation_row, invitations_enqueue
from .revocation import revoke_outstanding

Kind = Invitation.Kind
Delivery = Invitation.Delivery
Status = User.Status

MAX_PASTED_ADDRESSES = 1000
# What sending reads of each person: their status (to skip them or not), name (to say whom it
# skipped) and address; the address is read again under the lock (ADDRESS_FIELDS).
ADDRESS_FIELDS = ("organization_id", "email", "mobile", "preferred_channel")
RECIPIENT_FIELDS = ("pk", "status", "first_name", "last_name", *ADDRESS_FIELDS)


@dataclass
class SendResult:
    batch: InvitationBatch | None = None
    invited: list = field(default_factory=list)  # user ids
    recipients: list = field(default_factory=list)  # the users invited, as read before their lock
    skipped: list = field(default_factory=list)  # (user, reason)


@transaction.atomic
def invitations_send(
    *, organization: Organization, users, actor: User | None, label: str = "", batch: InvitationBatch | None = None
) -> SendResult:
    """Send (or send again) account invitations to `users` (a queryset or a list).

    Users in `created` or `invited` become `invited`, each gets a new invitation, and their older
    links are revoked; anyone else is skipped with the reason. One bulk insert, one task per packet.
    A sending done in several parts (a bulk action in chunks) passes the `batch` of its first part.

    Every account invitation an actor sends goes through here, so the `invite` right is checked here
    over each recipient, whatever the caller scoped already: a path that forgot it sends nothing it
    may not (the invitations tests list every sending path). Recipients out of the actor's scope are
    skipped with the reason; when every one of them is, or the actor may invite nobody, the sending
    is refused (NotAllowed). No actor means the system (reminders) or the platform operator (the
    import command).
    """
    now = timezone.now()
    if not hasattr(users, "filter"):
        users = User.objects.filter(pk__in=[user.pk for user in users])
    if actor is not None:
        authorization.require_right(actor, Right.INVITE, organization_id=organization.pk)
    # Each person read once, in the list's order (by name), to decide: skipped (and why) or invited.
    people = list(users.filter(organization=organization).only(*RECIPIENT_FIELDS))
    result = SendResult()
    if actor is not None:
        in_scope = set(
            users_in_scope(actor, Right.INVITE).filter(pk__in=[user.pk for user in people]).values_list("pk", flat=True)
        )
        if people and not in_scope:
            raise NotAllowed(_("You may only act on the users in your scope."))
        for user in people:
            if user.pk not in in_scope:
                result.skipped.append((user, _("outside your right to invite")))
        people = [user for user in people if user.pk in in_scope]
    invitable = [user for user in people if user.is_awaiting_invitation]
    for user in people:
        if not user.is_awaiting_invitation:
            result.skipped.append((user, _("already %(status)s") % {"status": user.get_status_display().lower()}))
    if not invitable:
        return result
    # Addresses as they are once the users are locked (read by the locking statement): one changed
    # meanwhile gets the invitation, not the old one (the change revoked what it found, and the new
    # link did not exist yet).
    to_invite = users_mark_invited(
        organization=organization,
        user_ids=[user.pk for user in invitable],
        actor=actor,
        reason=_("Invitation sent"),
        fields=ADDRESS_FIELDS,
    )
    invited_ids = {row.pk for row in to_invite}
    was_invited = {user.pk for user in invitable if user.status == Status.INVITED}
    for user in invitable:
        if user.pk not in invited_ids:  # changed status since it was read
            result.skipped.append((user, _("no longer waiting for an invitation")))
    revoke_outstanding(user_ids=invited_ids, kinds=[Kind.ACCOUNT], now=now)
    if batch is not None and batch.organization_id != organization.pk:
        raise ValueError("The batch belongs to another organisation.")
    if batch is None:
        batch = InvitationBatch.objects.create(
            organization=organization,
            created_by=actor,
            label=label or _("Account invitations to %(count)d people") % {"count": len(to_invite)},
        )
    rows = insert_many(
        Invitation, [invitation_row(user, kind=Kind.ACCOUNT, actor=actor, batch=batch, now=now) for user in to_invite]
    )
    # Someone already invited is sent the invitation again (their earlier link was revoked above).
    sending = str(batch)
    audit_record_many(
        audit_event(
            organization=organization,
            actor=actor,
            action=Action.INVITATION_RESENT if user.pk in was_invited else Action.INVITATION_SENT,
            target=row,
            user=user.pk,
            after={"batch": sending},
        )
        for user, row in zip(to_invite, rows, strict=True)
    )
    invitations_enqueue(invitation_ids=[row.pk for row in rows])
    result.batch = batch
    result.invited = [user.pk for user in to_invite]
    result.recipients = [user for user in invitable if user.pk in invited_ids]
    return result


def invitation_resend(*, invitation: Invitation, actor: User | None) -> SendResult:
    """A new link with a fresh validity for the same person; the old one stops working."""
    if invitation.kind == Kind.TEMPORARY_PASSWORD and invitation.user_id is not None:
        return _temporary_password_resend(invitation=invitation, actor=actor)
    if invitation.kind != Kind.ACCOUNT or invitation.user_id is None:
        raise DomainError(_("Only account invitations and temporary passwords can be sent again from here."))
    return invitations_send(
        organization=invitation.organization, users=User.objects.filter(pk=invitation.user_id), actor=actor
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User | None) -> Invitation:
    """The link stops working now; a message not yet sent is not sent. Takes the invite right over its
    recipient (a contact's: an administrator)."""
    from ..selectors import invitations_visible_to

    if actor is not None:
        authorization.require_right(actor, Right.INVITE, organization_id=invitation.organization_id)
        if not invitations_visible_to(actor).filter(pk=invitation.pk).exists():
            raise NotAllowed(_("You may only act on the users in your scope."))
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.used_at is not None:
        raise DomainError(_("This invitation was already used; there is nothing to revoke."))
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            organization=locked.organization_id,
            actor=actor,
            action=Action.INVITATION_REVOKED,
            target=locked,
            user=locked.user_id,
        )
    return locked


@transaction.atomic
def invitations_revoke_for_user(*, user: User, actor: User | None) -> int:
    """Revoke every outstanding account invitation of `user` (from the user's page; the invite right)."""
    authorization.require_users(actor, Right.INVITE, [user])
    count = revoke_outstanding(user_ids=[user.pk], kinds=[Kind.ACCOUNT], now=timezone.now())
    if count:
        audit_record(
            organization=user.organization_id,
            actor=actor,
            action=Action.INVITATION_REVOKED,
            target=user,
            after={"count": count},
        )
    return count


def invitations_resend_to_group(*, organization, group, actor: User | None) -> SendResult:
    """Invite again everyone of `group` (within the actor's scope) who has not accepted yet."""
    authorization.require_groups(actor, Right.INVITE, [group])
    people = User.objects.all() if actor is None else users_in_scope(actor, Right.INVITE)
    members = people.filter(organization=organization, memberships__group=group).awaiting_invitation().distinct()
    return invitations_send(
        organization=organization,
        users=members,
        actor=actor,
        label=_("Invitations to group %(group)s") % {"group": group.name},
    )


@transaction.atomic
def batch_retry_failed(*, batch: InvitationBatch, actor: User | None) -> int:
    """Put the batch's failed messages (and pending ones that already failed once, or wait for an
    outage to end) back in the queue, now. Takes the invite right and a batch the actor may follow (an
    administrator's, or one of theirs)."""
    from ..selectors import batches_visible_to, invitations_visible_to

    if actor is not None:
        authorization.require_right(actor, Right.INVITE, organization_id=batch.organization_id)
        if not batches_visible_to(actor).filter(pk=batch.pk).exists():
            raise NotAllowed(_("You may only retry the sendings you can follow."))
    now = timezone.now()
    invitations = batch.invitations.all()
    if actor is not None:
        # Only to people still in the actor's scope (someone may have left their groups since).
        invitations = invitations.filter(pk__in=invitations_visible_to(actor).values("pk"))
    ids = list(
        invitations.filter(revoked_at__isnull=True)
        .filter(Q(delivery=Delivery.FAILED) | Q(delivery=Delivery.PENDING) & (Q(attempts__gt=0) | ~Q(last_error="")))
        .values_list("pk", flat=True)
    )
    # A failed message holds no claim any more (one left from its last attempt is stale).
    Invitation.objects.filter(pk__in=ids, delivery=Delivery.FAILED).update(
        claimed_until=None, claimed_by="", claim_task_id=""
    )
    Invitation.objects.filter(pk__in=ids).update(
        delivery=Delivery.PENDING, attempts=0, enqueued_at=now, next_attempt_at=None
    )
    if ids:
        audit_record(
            organization=batch.organization_id,
            actor=actor,
            action=Action.INVITATIONS_RETRIED,
            target=batch,
            after={"count": len(ids)},
        )
    invitations_enqueue(invitation_ids=ids)
    return len(ids)


# --- Activation by an administrator, temporary passwords ------------------------------------------


@transaction.atomic
def user_activate_with_temporary_password(*, user: User, actor: User | None) -> Invitation:
    """Activate a created or invited user; a temporary password goes over their preferred channel.

    The password is made by the worker when it renders the message, like a token, so it is never
    stored in clear; until then the account has no usable password. A temporary password replaces
    the user's password, so it takes the `manage_users` right over them (as its resend does).
    """
    if actor is not None and not users_in_scope(actor, Right.MANAGE_USERS).filter(pk=user.pk).exists():
        raise NotAllowed(
            _("Only someone who manages %(user)s can activate them with a temporary password.") % {"user": user}
        )
    # Issued before the status changes: a temporary password on its way is the way in the status
    # service asks of an active user. Locked in the usual order (organisation, user), and sent to the
    # address as it is under the lock, not as the caller read it.
    Organization.objects.select_for_update(no_key=True).get(pk=user.organization_id)
    locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    invitation = invitation_row(locked, kind=Kind.TEMPORARY_PASSWORD, actor=actor, batch=None, now=timezone.now())
    invitation.save()
    User.objects.filter(pk=user.pk).update(must_change_password=True)
    locked = user_change_status(
        user=user, to=Status.ACTIVE, actor=actor, reason=_("Activated with a temporary password")
    )
    user.must_change_password = locked.must_change_password = True
    audit_record(
        organization=user.organization_id,
        actor=actor,
        action=Action.TEMPORARY_PASSWORD_ISSUED,
        target=invitation,
        user=user,
    )
    invitations_enqueue(invitation_ids=[invitation.pk])
    return invitation


@transaction.atomic
def _temporary_password_resend(*, invitation: Invitation, actor: User | None) -> SendResult:
    """Another temporary password, for one that could not be delivered (a sent one is never resent).

    A new temporary password replaces the user's password, so it takes what activation takes: the
    `manage_users` right over that user (the `invite` right is not enough).
    """
    if actor is not None and not users_in_scope(actor, Right.MANAGE_USERS).filter(pk=invitation.user_id).exists():
        raise NotAllowed(_("Only someone who manages this user can send them a new temporary password."))
    user = User.objects.select_for_update(no_key=True).get(pk=invitation.user_id)  # user, then links: the usual order
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)  # two clicks resend once
    if invitation.delivery != Delivery.FAILED or invitation.revoked_at is not None:
        raise DomainError(_("Only a temporary password that could not be delivered is sent again; this one was not."))
    if user.status != Status.ACTIVE or not user.must_change_password:
        raise DomainError(_("%(user)s has already chosen a password.") % {"user": user})
    now = timezone.now()
    revoke_outstanding(user_ids=[user.pk], kinds=[Kind.TEMPORARY_PASSWORD], now=now)
    again = invitation_row(user, kind=Kind.TEMPORARY_PASSWORD, actor=actor, batch=None, now=now)
    again.save()
    audit_record(
        organization=user.organization_id,
        actor=actor,
        action=Action.TEMPORARY_PASSWORD_ISSUED,
        target=again,
        user=user,
        after={"again": True},
    )
    invitations_enqueue(invitation_ids=[again.pk])
    return SendResult(invited=[user.pk])


# --- Reminders ------------------------------------------------------------------------------------


@transaction.atomic
def invitations_send_reminders() -> int:
    """Remind those who have not accepted, N days before their link expires (per organisation).

    A reminder is a new message with a new link and the same expiry; the earlier link is revoked,
    as with any resend. A reminder is never reminded again.
    """
    now = timezone.now()
    created = []
    for settings_row in InvitationSettings.objects.filter(reminder_days_before_expiry__gt=0).select_related(
        "organization"
    ):
        horizon = now + timedelta(days=settings_row.reminder_days_before_expiry)
        # The users are locked with their links, skipping those being changed right now: a change of
        # address locks the user, then revokes the links it finds, and a reminder written meanwhile
        # for the old address would escape it. The next run reminds them if their link still stands.
        due = list(
            Invitation.objects.for_org(settings_row.organization)
            .select_for_update(skip_locked=True, of=("self", "user"), no_key=True)
            .select_related("user")
            .outstanding()
            .filter(
                kind=Kind.ACCOUNT,
                is_reminder=False,
                delivery=Delivery.SENT,
                expires_at__gt=now,
                expires_at__lte=horizon,
                user__status=Status.INVITED,
            )[:5000]
        )
        if not due:
            continue
        Invitation.objects.filter(pk__in=[row.pk for row in due]).update(revoked_at=now)
        created += Invitation.objects.bulk_create(
            [
                invitation_row(
                    row.user,
                    kind=Kind.ACCOUNT,
                    actor=None,
                    batch=row.batch,
                    now=now,
                    is_reminder=True,
                    expires_at=row.expires_at,
                )
                for row in due
            ]
        )
    audit_record_many(
        audit_event(
            organization=row.organization_id,
            actor=None,
            action=Action.INVITATION_REMINDED,
            target=row,
            user=row.user_id,
        )
        for row in created
    )
    invitations_enqueue(invitation_ids=[row.pk for row in created])
    return len(created)
