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
    longest_message = max(settings.EMAIL_TIMEOUT or 30, settings.SMS_TIMEOUT)
    if longest_message >= settings.INVITATIONS_LEASE:
        errors.append(
            Error(
                f"INVITATIONS_LEASE ({settings.INVITATIONS_LEASE}s) must be longer than one message may take "
                f"(EMAIL_TIMEOUT, SMS_TIMEOUT: {longest_message}s), or a worker sending a slow message would lose "
                "its claim on the rest of its packet.",
                id="invitations.E002",
            )
        )
    return errors
