"""Production: every secret comes from the environment, with no default."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# One JSON object per log line, for the log collector (LOG_FORMAT=text for people reading a terminal).
LOGGING["handlers"]["console"]["formatter"] = env("LOG_FORMAT", default="json")  # noqa: F405
# Platform staff see every tenant: their admin needs a second factor (README, "Platform staff").
PLATFORM_ADMIN_OTP = env.bool("PLATFORM_ADMIN_OTP", default=True)

# Persistent database connections: a new PostgreSQL connection per request halved the link pages'
# throughput. Each is checked before its first use in a request (CONN_HEALTH_CHECKS), so a database
# restart costs no failed request; the check looks at the socket and sends no query (experquiz/postgresql).
# CONN_MAX_AGE=0 closes each connection at the end of its request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=300)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)  # noqa: F405

# One cache for every process (rate limits count in it: experquiz.throttle). CACHE_URL wins; without
# it, the broker's Redis serves as the cache too (its keys carry a prefix of their own, apart from the
# broker's). Without either, `manage.py check --deploy` refuses the per-process default (experquiz.checks).
if not env("CACHE_URL", default="") and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):  # noqa: F405
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CELERY_BROKER_URL,  # noqa: F405
            "KEY_PREFIX": "experquiz-cache",
            # A Redis that does not answer must fail a request (and /healthz) quickly, not hang it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
