import pytest

from experquiz import sms


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Run the on-commit hooks of `action()` (the task runs in-process, as with no broker)."""

    def run(action):
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run


from .realworld import (  # noqa: E402,F401
    make_worker,
    private_postgres,
    private_redis,
    real_db,
    shared_redis_url,
    sms_gateway,
    smtp_server,
)
