from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowsConfig(AppConfig):
    """The flows that span several floors (people, groups, rights, invitations): an app for its
    management commands and Celery tasks. It has no models."""

    name = "flows"
    verbose_name = _("Flows")
