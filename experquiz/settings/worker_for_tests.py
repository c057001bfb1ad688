"""A Celery worker started by the tests: the test settings, but a real broker, SMTP and SMS gateway.

The test passes everything through the environment: DATABASE_URL (the test database itself),
CELERY_BROKER_URL, CELERY_TASK_DEFAULT_QUEUE, EMAIL_URL and SMS_URL; the delivery settings are the defaults.
"""

from .test import *  # noqa: F403
from .test import env

CELERY_BROKER_URL = env("TEST_WORKER_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = False
EMAIL_CONFIG = env.email("EMAIL_URL")
vars().update(EMAIL_CONFIG)
SMS_BACKEND = env("SMS_BACKEND", default="")
SMS_URL = env("SMS_URL", default="")
SMS_TIMEOUT = env.float("SMS_TIMEOUT", default=3)
