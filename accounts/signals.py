"""Hooks the people floor offers the floors above it: it never imports them (STYLE, layers)."""

from django.dispatch import Signal

# Sent inside the transaction of a change that makes the links already sent to these people unsafe:
# a new login ID or channel address, rights granted or withdrawn, a password set. A link made for
# the account as it was must not open the account as it is now. Arguments: `user_ids`, `reason` (a
# short phrase for their history, e.g. "email address changed") and `actor`. The invitations app
# answers by revoking their outstanding account links. Send it through services.account_links_outdated.
account_links_outdated = Signal()
