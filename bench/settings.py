"""Benchmark settings: the test settings (plain HTTP, tenant hosts on localhost, static files from
the finders) with DEBUG off, against the database in DATABASE_URL, and the two production settings
that change what a request costs (experquiz.settings.production):

- persistent connections, so that the hot reads are planned once per connection (experquiz.sql_rows);
- the cache in Redis (BENCH_REDIS_URL), read over the network as in production, not in the process.
  Its keys carry the database's name: the 100,000- and 1,000,000-people sides share the Redis
  database and have the same organisation ids, and must never read each other's counts.
"""

import os

from experquiz.settings.test import *  # noqa: F403

DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
DATABASES["default"]["CONN_MAX_AGE"] = 300  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "KEY_PREFIX": f"bench-{DATABASES['default']['NAME']}",  # noqa: F405
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
# The site's URLs and the floor page the benchmark times beside /users/ (bench/urls.py).
ROOT_URLCONF = "bench.urls"
