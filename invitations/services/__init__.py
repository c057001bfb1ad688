"""Every write on invitations, one module per concern (import from the module, not from here):

- outbox: the rows waiting to be sent, and the tasks queued to send them (the sweeper);
- delivery: sending a packet, in the Celery worker;
- account: account invitations (send, resend, revoke, remind, retry) and temporary passwords;
- resets: forgotten passwords;
- revocation: links ended by a change of the account;
- acceptance: using a link.
"""
