"""Hooks the people floor sends, so the floors above react without accounts importing them.

Each is sent by the one service that makes the change, inside its transaction (a receiver's writes
commit or roll back with it). Receivers connect in their app's `AppConfig.ready()`.

user_status_changed(sender=User, user, from_status, to)
    Sent by `accounts.services.user_change_status` after the status and its history row are saved.
    Receivers: invitations revokes the links sent for an earlier state, which must not outlive it
    (DESIGN §5: a deleted or deactivated user's pending invitations and resets stop working).

temporary_password_pending(sender=User, user) -> bool
    Sent by `accounts.services.user_change_status` before it makes active someone with no usable
    password: an active user must have a way in. A receiver answers True when a temporary password
    is on its way to them (invitations: one issued, not yet sent nor revoked). With no receiver, or
    no True answer, the status service refuses the move (fail closed).

account_links_outdated(sender=User, user_ids, reason, actor)
    Sent through `accounts.services.account_links_outdated_for` by every change that makes the links
    already sent to these people unsafe: a new login ID or channel address (`user_update`, the admin,
    `flows.imports.users_import`), rights granted or withdrawn (`rights.services`, and group deletion
    through `rights.receivers`), a password set (`user_set_password`, which also ends a temporary
    password not sent yet). A link made for the account as it was must not open the account as it is
    now. `reason` is a short phrase for their history (e.g. "email address changed"). Receivers:
    invitations revokes their outstanding account links (`invitations.receivers`).
"""

from django.dispatch import Signal

user_status_changed = Signal()
temporary_password_pending = Signal()
account_links_outdated = Signal()
