"""How invitations react to the people floor's hooks (accounts.signals; connected in
InvitationsConfig.ready): pending links are revoked by the invitations services, not by accounts."""

from . import selectors
from .services import revocation


def revoke_on_status_change(sender, user, to, **kwargs):
    """accounts.signals.user_status_changed: links sent for an earlier state must not outlive it."""
    revocation.invitations_revoke_on_status_change(user=user, to=to)


def revoke_outdated_account_links(sender, *, user_ids, reason, actor, **kwargs):
    """accounts.signals.account_links_outdated: a link made for the account as it was (login IDs,
    channel, rights, password) must not open the account as it is now."""
    revocation.account_links_revoke_for_users(user_ids=user_ids, reason=reason, actor=actor)


def answer_temporary_password_pending(sender, *, user, **kwargs) -> bool:
    """accounts.signals.temporary_password_pending: a temporary password on its way is a way in."""
    return selectors.temporary_password_pending(user)
