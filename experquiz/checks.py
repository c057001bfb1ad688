"""System checks of the deployment's shape (run by `manage.py check --deploy`)."""

import os

from django.conf import settings
from django.core.checks import Error, Tags, register

# Each process has its own: a web worker's counters are invisible to the others.
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
# Shared, but incr() is a read then a write: simultaneous attempts can be counted once.
NON_ATOMIC_CACHES = {
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.db.DatabaseCache",
}


def _single_web_process() -> bool:
    # gunicorn reads WEB_CONCURRENCY as its number of workers: 1 says this is a one-process site.
    return os.environ.get("WEB_CONCURRENCY", "").strip() == "1"


@register(Tags.caches, deploy=True)
def shared_cache(app_configs, **kwargs):
    """Rate limits (experquiz.throttle) count in the cache: with several web processes it must be one
    cache they all share, with an atomic increment, or each process lets through its own quota."""
    backend = settings.CACHES["default"]["BACKEND"]
    hint = (
        "Set CACHE_URL=redis://… (or CELERY_BROKER_URL to a Redis, whose server the production settings "
        "then use as the cache)."
    )
    if backend in PER_PROCESS_CACHES and not _single_web_process():
        return [
            Error(
                f"The cache ({backend.rsplit('.', 1)[-1]}) belongs to each process: with several web workers "
                "the login and link rate limits are counted per worker, not per site.",
                hint=hint + " A site run by one web process only may say so with WEB_CONCURRENCY=1.",
                id="experquiz.E001",
            )
        ]
    if backend in NON_ATOMIC_CACHES:
        return [
            Error(
                f"The cache ({backend.rsplit('.', 1)[-1]}) cannot count atomically: simultaneous attempts "
                "would slip past the login and link rate limits.",
                hint=hint,
                id="experquiz.E002",
            )
        ]
    return []
