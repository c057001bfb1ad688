"""The production settings, as run by the multi-process test (experquiz/tests/test_multiprocess.py).

Every process that test starts (gunicorn and its workers, a Celery worker, beat, management
commands) uses them, with the test's database, broker and ports given in the environment and no
tuning variable (no CACHE_URL: the cache is the broker's Redis, as in production). Three changes, for
the test only: each answer names the web worker that served it (X-Worker-PID), so the test can prove
that every worker answers right; static files come from the finders (the test runs no
collectstatic); the test's fast password hasher is accepted for the people it creates.
"""

from .production import *  # noqa: F403
from .production import MIDDLEWARE, PASSWORD_HASHERS

MIDDLEWARE = ["experquiz.tests.worker_pid.WorkerPidMiddleware", *MIDDLEWARE]
PASSWORD_HASHERS = [*PASSWORD_HASHERS, "django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
