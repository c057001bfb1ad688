# The invitations tests' fixtures (an emptied SMS outbox around each test, `deliver` to run the
# on-commit sending) serve the people pages' tests that send messages.
from invitations.tests.conftest import _empty_sms_outbox, deliver  # noqa: F401
