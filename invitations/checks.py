from django.conf import settings
from django.core.checks import Error, register


@register()
def retry_timings(app_configs, **kwargs):
    """A retry waiting longer than the visibility timeout would be handed to a second worker by Redis."""
    errors = []
    visibility = (settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get("visibility_timeout", 3600)
    if visibility <= settings.INVITATIONS_RETRY_MAX:
        errors.append(
            Error(
                f"INVITATIONS_RETRY_MAX ({settings.INVITATIONS_RETRY_MAX}s) must stay below the broker's "
                f"visibility timeout ({visibility}s).",
                id="invitations.E001",
            )
        )
    if settings.INVITATIONS_SWEEP_AFTER <= settings.INVITATIONS_RETRY_MAX:
        errors.append(
            Error(
                "INVITATIONS_SWEEP_AFTER must be longer than INVITATIONS_RETRY_MAX, or the sweeper would queue "
                "a second copy of every scheduled retry.",
                id="invitations.E002",
            )
        )
    return errors
