"""Links ended by a change of the account: its status, login IDs, channel, rights or password."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import users_history_note
from audit.models import Action
from audit.services import audit_event, audit_record_many

from ..models import Invitation

Kind = Invitation.Kind
Status = User.Status


def revoke_outstanding(*, user_ids, kinds, now) -> int:
    """End the links of these kinds not used yet (the caller records why)."""
    return Invitation.objects.filter(user_id__in=user_ids, kind__in=kinds).outstanding().update(revoked_at=now)


@transaction.atomic
def account_links_revoke_for_users(*, user_ids, reason: str, actor: User | None) -> int:
    """Revoke the outstanding account links of these users (account invitation, password reset,
    temporary password not sent yet) and note why in the history of each one who had any.

    The one answer to a change of login ID, channel address, rights or password (the accounts
    signal `account_links_outdated`): a link made for the account as it was must not open the
    account as it is now. Users are locked before their invitations, as on the token pages, so a
    link being used at this moment is either used first or found revoked.
    """
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return 0
    users = User.objects.select_for_update(no_key=True).filter(pk__in=user_ids).order_by("pk")
    list(users.values_list("pk", flat=True))  # locked before their links: the order of accounts.services
    pending = list(
        Invitation.objects.pending_account_links()
        .filter(user_id__in=user_ids)
        .select_for_update()
        .values_list("pk", "organization_id", "user_id", "kind", "address")
    )
    if not pending:
        return 0
    Invitation.objects.filter(pk__in=[row[0] for row in pending]).update(revoked_at=timezone.now())
    audit_record_many(
        audit_event(
            organization=organization_id,
            actor=actor,
            action=Action.INVITATION_REVOKED,
            target=Invitation(pk=pk, organization_id=organization_id, kind=kind, address=address),
            user=user_id,
            after={"reason": reason},
        )
        for pk, organization_id, user_id, kind, address in pending
    )
    users_history_note(
        user_ids={row[2] for row in pending},
        actor=actor,
        note=_("Pending links revoked: %(reason)s") % {"reason": reason},
    )
    return len(pending)


def account_links_revoke(*, user: User, reason: str, actor: User | None) -> int:
    """account_links_revoke_for_users for one user."""
    return account_links_revoke_for_users(user_ids=[user.pk], reason=reason, actor=actor)


def invitations_revoke_on_status_change(*, user: User, to: str) -> int:
    """On a status change (accounts.signals): activation ends invitations; deactivation and deletion end every link."""
    if to == Status.ACTIVE:
        kinds = [Kind.ACCOUNT]
    elif to in (Status.INACTIVE, Status.DELETED):
        kinds = [Kind.ACCOUNT, Kind.ASSESSMENT, Kind.PASSWORD_RESET, Kind.TEMPORARY_PASSWORD]
    else:
        return 0
    return revoke_outstanding(user_ids=[user.pk], kinds=kinds, now=timezone.now())
