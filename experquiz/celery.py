"""The Celery application. Settings come from Django's, under the CELERY_ prefix."""

import os

from celery import Celery, signals

# The same default as manage.py (the worker is started from a checkout, like the commands); a server
# sets DJANGO_SETTINGS_MODULE for every process (README, docker-compose.yml).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "experquiz.settings.dev")

app = Celery("experquiz")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect(weak=False)
def _use_django_logging(**kwargs):
    """Workers and beat log through Django's LOGGING (JSON in production, with request ids), not
    through a configuration of Celery's own: a receiver here tells Celery to leave logging alone."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
