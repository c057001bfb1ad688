"""Hooks the people floor sends, so the floors above react without accounts importing them.

Each is sent by the one service that makes the change, inside its transaction (a receiver's writes
commit or roll back with it). Receivers connect in their app's `AppConfig.ready()`.

user_status_changed(sender=User, user, from_status, to)
    Sent by `accounts.services.user_change_status` after the status and its history row are saved.
    Receivers: invitations revokes the links sent for an earlier state, which must not outlive it
    (DESIGN §5: a deleted or deactivated user's pending invitations and resets stop working).

user_password_set(sender=User, user)
    Sent by `accounts.services.user_set_password` once the user chose a password. Receivers:
    invitations revokes a temporary password not sent yet, which must not replace the chosen one.
"""

from django.dispatch import Signal

user_status_changed = Signal()
user_password_set = Signal()
