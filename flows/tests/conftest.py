# The invitations tests' fixtures (an emptied SMS outbox around each test, `deliver` to run the
# on-commit sending) serve every test that sends messages.
from invitations.tests.conftest import _empty_sms_outbox, deliver  # noqa: F401
