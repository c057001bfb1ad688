"""An organisation's settings, which live on three floors: the organisation itself (default language,
phone region, invitation lifetime), the account invitations' options (reminder before expiry) and
the assessment invitations' options (sending, default window, reminder before closing). The
settings page edits them together, so one service here saves them together: checked, validated as
a whole, one transaction, one audit event."""

from dataclasses import asdict, dataclass

import phonenumbers
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Language, Organization
from assessments.models import AssessmentSettings
from audit.models import Action
from audit.services import audit_record
from experquiz import authorization
from experquiz.errors import InvalidFields
from invitations.models import InvitationSettings

MAX_LIFETIME_DAYS = 365
MAX_SEND_MINUTES = 60 * 24 * 30
MAX_WINDOW_HOURS = 24 * 365


@dataclass(frozen=True)
class OrganizationSettings:
    """Every setting of the page, with the names of its fields."""

    language: str
    phone_region: str
    invitation_lifetime_days: int
    invitation_reminder_days: int
    send_minutes_before_opening: int
    default_window_hours: int
    assessment_reminder_hours: int


def organization_settings_of(organization) -> OrganizationSettings:
    """The settings of `organization` as they stand (defaults for the options never saved). A read."""
    invitations = InvitationSettings.objects.filter(organization_id=organization.pk).first() or InvitationSettings()
    assessments = AssessmentSettings.objects.filter(organization_id=organization.pk).first() or AssessmentSettings()
    return OrganizationSettings(
        language=organization.language,
        phone_region=organization.phone_region,
        invitation_lifetime_days=organization.invitation_lifetime_days,
        invitation_reminder_days=invitations.reminder_days_before_expiry,
        send_minutes_before_opening=assessments.send_minutes_before_opening,
        default_window_hours=assessments.default_window_hours,
        assessment_reminder_hours=assessments.reminder_hours_before_closing,
    )


def _errors(values: OrganizationSettings) -> dict[str, list[str]]:
    errors = {}

    def between(field, low, high, message):
        value = getattr(values, field)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors[field] = [message % {"low": low, "high": high}]

    if values.language not in Language.values:
        errors["language"] = [_("Choose one of the languages offered.")]
    if str(values.phone_region or "").upper() not in phonenumbers.SUPPORTED_REGIONS:
        errors["phone_region"] = [
            _("“%(region)s” is not a country code: use two letters such as FR, BE or CH.")
            % {"region": values.phone_region}
        ]
    between("invitation_lifetime_days", 1, MAX_LIFETIME_DAYS, _("A link lasts from %(low)s to %(high)s days."))
    between("invitation_reminder_days", 0, MAX_LIFETIME_DAYS, _("Between %(low)s (no reminder) and %(high)s days."))
    between("send_minutes_before_opening", 0, MAX_SEND_MINUTES, _("Between %(low)s (at once) and %(high)s minutes."))
    between("default_window_hours", 1, MAX_WINDOW_HOURS, _("A window lasts from %(low)s to %(high)s hours."))
    between("assessment_reminder_hours", 0, MAX_WINDOW_HOURS, _("Between %(low)s (no reminder) and %(high)s hours."))
    if errors:
        return errors
    if values.invitation_reminder_days and values.invitation_reminder_days >= values.invitation_lifetime_days:
        errors["invitation_reminder_days"] = [
            _("The reminder must come before the link expires: fewer than %(days)s days before.")
            % {"days": values.invitation_lifetime_days}
        ]
    if values.assessment_reminder_hours and values.assessment_reminder_hours >= values.default_window_hours:
        errors["assessment_reminder_hours"] = [
            _(
                "The reminder must come after the window opens: fewer hours before closing than the "
                "default window (%(hours)s hours)."
            )
            % {"hours": values.default_window_hours}
        ]
    return errors


def organization_settings_update(*, organization, actor, **values) -> OrganizationSettings:
    """Save the organisation's settings (the fields of OrganizationSettings, all of them). Only its
    administrators may; every invalid field is named (InvalidFields) and then nothing changes."""
    authorization.require_administrator(actor, organization_id=organization.pk)
    wanted = OrganizationSettings(**values)
    errors = _errors(wanted)
    if errors:
        raise InvalidFields(errors)
    wanted = OrganizationSettings(**{**asdict(wanted), "phone_region": wanted.phone_region.upper()})
    with transaction.atomic():
        locked = Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
        before = organization_settings_of(locked)
        locked.language = wanted.language
        locked.phone_region = wanted.phone_region
        locked.invitation_lifetime_days = wanted.invitation_lifetime_days
        locked.save(update_fields=["language", "phone_region", "invitation_lifetime_days"])
        InvitationSettings.objects.update_or_create(
            organization_id=locked.pk, defaults={"reminder_days_before_expiry": wanted.invitation_reminder_days}
        )
        AssessmentSettings.objects.update_or_create(
            organization_id=locked.pk,
            defaults={
                "send_minutes_before_opening": wanted.send_minutes_before_opening,
                "default_window_hours": wanted.default_window_hours,
                "reminder_hours_before_closing": wanted.assessment_reminder_hours,
            },
        )
        audit_record(
            organization=locked.pk,
            actor=actor,
            action=Action.ORGANIZATION_SETTINGS_CHANGED,
            target=locked,
            before=asdict(before),
            after=asdict(wanted),
        )
    for field in ("language", "phone_region", "invitation_lifetime_days"):
        setattr(organization, field, getattr(locked, field))
    return wanted
