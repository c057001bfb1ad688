"""Benchmark settings: the test settings (plain HTTP, tenant hosts on localhost, static files from
the finders) with DEBUG off, against the database in DATABASE_URL."""

from experquiz.settings.test import *  # noqa: F403

DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
