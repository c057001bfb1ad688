# The invitations tests' fixtures (an emptied SMS outbox around each test, `deliver` to run the
# on-commit sending) serve every test that sends messages.
from invitations.tests.conftest import _empty_sms_outbox, deliver  # noqa: F401

# The real parts (a Celery worker, SMTP server, SMS gateway) for the assessment delivery test.
from invitations.tests.realworld import make_worker, real_db, shared_redis_url, sms_gateway, smtp_server  # noqa: E402,F401
