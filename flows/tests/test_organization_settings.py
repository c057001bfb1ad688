"""The organisation settings: one service saves the options of three floors together, checked and
recorded; the page shows each refusal next to its field."""

import html

import pytest

from accounts.models import Organization
from assessments.models import AssessmentSettings
from audit.models import Action, AuditEvent
from experquiz.authorization import NotAllowed
from experquiz.errors import InvalidFields
from flows.organization import organization_settings_of, organization_settings_update
from invitations.models import InvitationSettings

pytestmark = pytest.mark.django_db

VALUES = {
    "language": "fr",
    "phone_region": "be",
    "invitation_lifetime_days": 10,
    "invitation_reminder_days": 2,
    "send_minutes_before_opening": 30,
    "default_window_hours": 48,
    "assessment_reminder_hours": 6,
}


def test_defaults_are_read_before_anything_is_saved(acme):
    current = organization_settings_of(acme)
    assert (current.language, current.phone_region, current.invitation_lifetime_days) == ("en", "FR", 14)
    assert (current.invitation_reminder_days, current.send_minutes_before_opening) == (0, 0)
    assert (current.default_window_hours, current.assessment_reminder_hours) == (24, 0)


def test_an_administrator_saves_every_setting_in_one_recorded_change(acme, alice):
    organization_settings_update(organization=acme, actor=alice, **VALUES)
    acme.refresh_from_db()
    assert (acme.language, acme.phone_region, acme.invitation_lifetime_days) == ("fr", "BE", 10)
    assert InvitationSettings.objects.get(organization=acme).reminder_days_before_expiry == 2
    options = AssessmentSettings.objects.get(organization=acme)
    assert (options.send_minutes_before_opening, options.default_window_hours) == (30, 48)
    assert options.reminder_hours_before_closing == 6
    event = AuditEvent.objects.get(action=Action.ORGANIZATION_SETTINGS_CHANGED)
    assert event.actor == alice and event.target_type == "organization"
    assert event.before["language"] == "en" and event.after["language"] == "fr"
    assert "default_window_hours" in event.after
    # Saving the same values again records nothing new (nothing changed).
    organization_settings_update(organization=acme, actor=alice, **VALUES)
    assert AuditEvent.objects.filter(action=Action.ORGANIZATION_SETTINGS_CHANGED).count() == 1


def test_only_an_administrator_of_the_organisation_may(acme, bob, maggie, mallory):
    for actor in (bob, maggie, mallory):
        with pytest.raises(NotAllowed):
            organization_settings_update(organization=acme, actor=actor, **VALUES)
    assert Organization.objects.get(pk=acme.pk).language == "en"
    assert not AssessmentSettings.objects.exists()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"phone_region": "ZZ"}, "phone_region"),
        ({"language": "de"}, "language"),
        ({"invitation_lifetime_days": 0}, "invitation_lifetime_days"),
        ({"invitation_reminder_days": 10}, "invitation_reminder_days"),  # not before expiry
        ({"send_minutes_before_opening": -1}, "send_minutes_before_opening"),
        ({"default_window_hours": 0}, "default_window_hours"),
        ({"assessment_reminder_hours": 48}, "assessment_reminder_hours"),  # not after opening
    ],
)
def test_bad_values_are_named_and_nothing_changes(acme, alice, changes, field):
    with pytest.raises(InvalidFields) as refused:
        organization_settings_update(organization=acme, actor=alice, **{**VALUES, **changes})
    assert list(refused.value.errors) == [field]
    assert Organization.objects.get(pk=acme.pk).phone_region == "FR"
    assert not AssessmentSettings.objects.exists() and not InvitationSettings.objects.exists()


def form(**changes):
    data = {**VALUES, "sending": "before_opening", **changes}
    return {key: "" if value is None else value for key, value in data.items()}


def test_the_page_saves_and_shows_specific_errors(alice_client, acme):
    page = alice_client.get("/settings/organisation/")
    assert page.status_code == 200 and "/settings/organisation/" in page.content.decode()
    response = alice_client.post("/settings/organisation/", form(sending="at_once", send_minutes_before_opening=""))
    assert response.status_code == 302
    assert AssessmentSettings.objects.get(organization=acme).send_minutes_before_opening == 0
    response = alice_client.post("/settings/organisation/", form(send_minutes_before_opening=""))
    assert "Say how many minutes before the opening" in html.unescape(response.content.decode())
    response = alice_client.post("/settings/organisation/", form(assessment_reminder_hours=72))
    body = html.unescape(response.content.decode())
    assert response.status_code == 200 and "The reminder must come after the window opens" in body
    assert AssessmentSettings.objects.get(organization=acme).reminder_hours_before_closing == 6


def test_the_page_is_for_administrators(bob_client, maggie_client):
    assert bob_client.get("/settings/organisation/").status_code == 403
    assert maggie_client.post("/settings/organisation/", form()).status_code == 403
