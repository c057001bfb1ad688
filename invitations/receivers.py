"""How invitations react to the people floor's hooks (accounts.signals; connected in
InvitationsConfig.ready): pending links are revoked by the invitations services, not by accounts."""

from . import services


def revoke_on_status_change(sender, user, to, **kwargs):
    """accounts.signals.user_status_changed: links sent for an earlier state must not outlive it."""
    services.invitations_revoke_on_status_change(user=user, to=to)


def revoke_on_password_set(sender, user, **kwargs):
    """accounts.signals.user_password_set: a temporary password still to come must not replace it."""
    services.invitations_revoke_on_password_set(user=user)
