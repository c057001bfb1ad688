"""Tests: the database from DATABASE_URL (PostgreSQL in CI), a fast hasher, tenant hosts on localhost."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-key")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("HTTPS", "0")
os.environ["BASE_DOMAIN"] = "localhost"
os.environ["ALLOWED_HOSTS"] = "localhost,.localhost,testserver,127.0.0.1"
os.environ.pop("CELERY_BROKER_URL", None)
# Tests that start a real worker talk to a shared Redis: a queue of this run's own keeps other runs'
# tasks (and workers) out of it.
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"experquiz-test-{os.getpid()}")

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

# Hashing dominates login cost; tests do not measure it.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
TEST_REDIS_URL = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/11")
# Serve static files from the finders, as in development: tests never run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
SMS_BACKEND = "experquiz.sms.backends.locmem.SmsBackend"
# Tests run in a transaction that another thread cannot see: detached tasks run in the test's own
# thread, on commit (a test turns the thread on to check it).
EMBEDDED_TASKS_IN_BACKGROUND = False
