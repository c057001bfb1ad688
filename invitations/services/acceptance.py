"""Using a link: finishing an invited account, choosing a new password through a reset link."""

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import user_change_status, user_set_password
from audit.models import Action
from audit.services import audit_record
from experquiz.errors import DomainError

from ..models import Invitation

Status = User.Status


class InvitationUnusable(DomainError):
    """The link cannot be used: `reason` is one of used, revoked, expired."""

    def __init__(self, message, *, reason):
        super().__init__(message)
        self.reason = reason


def invitation_problem(invitation: Invitation) -> str | None:
    """Why a link can no longer be used (used, revoked, expired), or None."""
    if invitation.used_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at is None or invitation.is_expired:
        return "expired"
    return None


def _lock_usable(invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    problem = invitation_problem(locked)
    if problem:
        raise InvitationUnusable(_("This link can no longer be used."), reason=problem)
    return locked


@transaction.atomic
def invitation_accept(*, invitation: Invitation, first_name: str, last_name: str, password: str) -> User:
    """The invited user finishes their account: names, own password; the token is consumed.

    Locks are taken in the order every service takes them: user, then the user's invitations
    (`user_change_status` below, `account_links_revoke_for_users`); becoming active needs no lock of
    the organisation (only leaving active can lose the last administrator), so simultaneous accepts
    do not queue behind each other. The password is hashed first (~0.2 s of CPU, seconds on a busy
    machine), not while holding the locks.
    """
    encoded = make_password(password)
    user = User.objects.select_for_update(no_key=True).get(pk=invitation.user_id)
    locked = _lock_usable(invitation)
    if not user.is_awaiting_invitation:
        # Normally revoked already by the status change; never let an old link reopen an account.
        raise InvitationUnusable(_("This link can no longer be used."), reason="revoked")
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    password_validation.validate_password(password, user)
    user.save(update_fields=["first_name", "last_name", "updated_at"])
    # Used before the password is set: setting it revokes the user's other pending links, not this one.
    locked.used_at = timezone.now()
    locked.save(update_fields=["used_at"])
    audit_record(
        organization=locked.organization_id,
        actor=user,
        action=Action.INVITATION_ACCEPTED,
        target=locked,
        user=user,
        after={"first_name": user.first_name, "last_name": user.last_name},
    )
    user_set_password(user=user, password=password, actor=user, encoded=encoded)
    return user_change_status(user=user, to=Status.ACTIVE, actor=user, reason=_("Accepted the invitation"))


@transaction.atomic
def password_reset_complete(*, invitation: Invitation, password: str) -> User:
    """The user chose a new password through a reset link; the token is consumed.

    The user is locked before the link, as every service does (see invitation_accept).
    """
    user = User.objects.select_for_update(no_key=True).get(pk=invitation.user_id)
    locked = _lock_usable(invitation)
    if user.status != Status.ACTIVE:
        raise InvitationUnusable(_("This link can no longer be used."), reason="revoked")
    password_validation.validate_password(password, user)
    locked.used_at = timezone.now()
    locked.save(update_fields=["used_at"])
    audit_record(
        organization=locked.organization_id, actor=user, action=Action.PASSWORD_RESET_USED, target=locked, user=user
    )
    user_set_password(user=user, password=password, actor=user)
    return user
