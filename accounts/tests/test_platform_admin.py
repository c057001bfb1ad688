"""The platform's Django admin (bare domain, superusers with no organisation): it sees every tenant, so
its login is rate-limited like a tenant's and, with PLATFORM_ADMIN_OTP, needs a TOTP code as well."""

import io
import re

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import StatusChange, User
from accounts.tests.factories import UserFactory
from groups.models import Membership
from groups.tests.factories import RightsProfileFactory, grant
from invitations.models import Invitation
from invitations.services.account import invitations_send
from rights.models import ProfileAssignment
from rights.names import Right

pytestmark = pytest.mark.django_db

STAFF_EMAIL = "root@platform.example"
STAFF_PASSWORD = "platform-pass-2026"


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(STAFF_EMAIL, STAFF_PASSWORD)


@pytest.fixture
def platform():
    return Client(HTTP_HOST="localhost")


def admin_login(client, password, username=STAFF_EMAIL, **data):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password, **data})


def current_token(device: TOTPDevice) -> str:
    """The code the staff member's authenticator app shows now."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


# --- Rate limits -----------------------------------------------------------------------------------


def test_forty_wrong_passwords_then_the_right_one_is_refused(staff, platform, password_checks):
    """The reported attack, with the default limits."""
    for _ in range(40):
        admin_login(platform, "wrong-password")
    response = admin_login(platform, STAFF_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts. Please wait 15 minutes and try again." in response.content.decode()
    assert "_auth_user_id" not in platform.session
    assert len(password_checks) == 5  # LOGIN_THROTTLE_PER_ID: the rest cost no password hash


@override_settings(LOGIN_THROTTLE_PER_ID=3, LOGIN_THROTTLE_PER_IP=100)
def test_platform_admin_login_is_limited_per_account(staff, platform):
    for _ in range(3):
        assert admin_login(platform, "wrong-password").status_code == 200
    response = admin_login(platform, STAFF_PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in platform.session


@override_settings(LOGIN_THROTTLE_PER_ID=100, LOGIN_THROTTLE_PER_IP=3)
def test_platform_admin_login_is_limited_per_client_address(staff, platform):
    for n in range(3):
        admin_login(platform, "wrong-password", username=f"nobody{n}@platform.example")
    assert admin_login(platform, STAFF_PASSWORD).status_code == 429
    # Another address is not blocked by this one's counter.
    response = platform.post(
        "/admin/login/?next=/admin/", {"username": STAFF_EMAIL, "password": STAFF_PASSWORD}, REMOTE_ADDR="10.9.8.7"
    )
    assert response.status_code == 302


@override_settings(LOGIN_THROTTLE_PER_ID=3)
def test_a_successful_platform_login_resets_its_counter(staff, platform):
    admin_login(platform, "wrong-password")
    admin_login(platform, "wrong-password")
    assert admin_login(platform, STAFF_PASSWORD).status_code == 302
    assert platform.post("/admin/logout/").status_code == 302
    admin_login(platform, "wrong-password")
    admin_login(platform, "wrong-password")
    assert admin_login(platform, STAFF_PASSWORD).status_code == 302


def test_platform_staff_log_out_of_the_admin(staff, platform):
    platform.force_login(staff)
    response = platform.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert "_auth_user_id" not in platform.session


def test_a_wrong_platform_password_gets_the_generic_message(staff, platform):
    known = admin_login(platform, "wrong-password").content.decode()
    unknown = admin_login(platform, "wrong-password", username="nobody@platform.example").content.decode()
    generic = "Please enter the correct email address and password for a staff account."
    assert generic in known and generic in unknown


# --- Second factor ---------------------------------------------------------------------------------


@pytest.fixture
def device(staff):
    return TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)


@override_settings(PLATFORM_ADMIN_OTP=True)
def test_with_otp_the_right_password_alone_does_not_open_the_admin(staff, device, platform):
    response = admin_login(platform, STAFF_PASSWORD)
    assert response.status_code == 200
    assert "otp_token" in response.content.decode()
    assert platform.get("/admin/").status_code == 302


@override_settings(PLATFORM_ADMIN_OTP=True)
def test_with_otp_a_wrong_code_does_not_open_the_admin(staff, device, platform):
    wrong = f"{(int(current_token(device)) + 1) % 10**6:06d}"
    response = admin_login(platform, STAFF_PASSWORD, otp_token=wrong)
    assert response.status_code == 200
    assert platform.get("/admin/").status_code == 302


@override_settings(PLATFORM_ADMIN_OTP=True)
def test_with_otp_the_password_and_a_valid_code_open_the_admin(staff, device, platform):
    response = admin_login(platform, STAFF_PASSWORD, otp_token=current_token(device))
    assert response.status_code == 302, response.content.decode()
    assert platform.get("/admin/").status_code == 200
    assert platform.session["_auth_user_id"] == str(staff.pk)


@override_settings(PLATFORM_ADMIN_OTP=True)
def test_with_otp_a_code_is_needed_even_for_a_session_opened_otherwise(staff, device, platform):
    """A session logged in by password only (e.g. before the setting was turned on) is not enough."""
    platform.force_login(staff)
    assert platform.get("/admin/").status_code == 302


@override_settings(PLATFORM_ADMIN_OTP=True)
def test_with_otp_staff_without_a_device_cannot_get_in(staff, platform):
    response = admin_login(platform, STAFF_PASSWORD, otp_token="123456")
    assert response.status_code == 200
    assert platform.get("/admin/").status_code == 302


@override_settings(PLATFORM_ADMIN_OTP=True)
def test_with_otp_another_staff_members_device_is_refused(staff, device, platform):
    User.objects.create_superuser("other@platform.example", "other-pass-2026")
    response = admin_login(
        platform,
        "other-pass-2026",
        username="other@platform.example",
        otp_device=device.persistent_id,
        otp_token=current_token(device),
    )
    assert response.status_code == 200
    assert platform.get("/admin/").status_code == 302


@override_settings(PLATFORM_ADMIN_OTP=True)
def test_with_otp_a_wrong_code_looks_exactly_like_a_wrong_password(staff, device, platform):
    """Saying "now the code" would tell a guesser that the password was right."""

    def page(response):
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())

    assert page(admin_login(platform, STAFF_PASSWORD, otp_token="000000")) == page(
        admin_login(platform, "wrong-password", otp_token="000000")
    )
    wrong_code = page(admin_login(platform, STAFF_PASSWORD))
    assert wrong_code == page(admin_login(platform, "wrong-password"))
    assert "authenticator code" in wrong_code
    assert STAFF_PASSWORD not in wrong_code


@override_settings(PLATFORM_ADMIN_OTP=True, LOGIN_THROTTLE_PER_ID=3, LOGIN_THROTTLE_PER_IP=100)
def test_with_otp_wrong_codes_count_as_failed_logins(staff, device, platform):
    for _ in range(3):
        admin_login(platform, STAFF_PASSWORD, otp_token="000000")
    assert admin_login(platform, STAFF_PASSWORD, otp_token=current_token(device)).status_code == 429


def test_without_the_setting_the_password_is_enough(staff, platform):
    assert admin_login(platform, STAFF_PASSWORD).status_code == 302
    assert platform.get("/admin/").status_code == 200


# --- Enrolment -------------------------------------------------------------------------------------


def test_the_enrolment_command_prints_a_url_whose_codes_open_the_admin(staff, platform, settings):
    out = io.StringIO()
    call_command("addtotpdevice", STAFF_EMAIL, "--name", "work phone", stdout=out)
    url = next(line for line in out.getvalue().splitlines() if line.startswith("otpauth://totp/"))
    device = TOTPDevice.objects.get(user=staff)
    assert device.name == "work phone" and device.confirmed
    assert "secret=" in url and "ExperQuiz" in url
    settings.PLATFORM_ADMIN_OTP = True
    assert admin_login(platform, STAFF_PASSWORD, otp_token=current_token(device)).status_code == 302
    assert platform.get("/admin/").status_code == 200


def test_the_enrolment_command_is_for_platform_staff_only(alice):
    with pytest.raises(CommandError, match="No platform staff"):
        call_command("addtotpdevice", alice.email, stdout=io.StringIO())
    assert not TOTPDevice.objects.exists()


def test_the_admin_never_shows_a_devices_secret(staff, device, platform):
    platform.force_login(staff)
    page = platform.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert "phone" in page
    assert device.key not in page
    assert platform.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403


# --- Tenant data changes only through the services ----------------------------------------------------
# The admin writes rows directly: no scope or last-administrator check, no link revocation, no
# people_changed, no audit event. What the services own is therefore read-only here, deletion included.


def tenant_rows(alice, lyon, ines):
    """One row of each model whose writes belong to a service, with its admin URL prefix."""
    organization = alice.organization
    profile = RightsProfileFactory(organization=organization)
    newcomer = UserFactory(organization=organization, status="created", email="new@acme.example")
    invitations_send(organization=organization, users=[newcomer], actor=alice)
    return [
        ("usergroups/usergroup", lyon),
        ("usergroups/membership", Membership.objects.get(user=ines)),
        ("rights/grant", grant(ines, Right.INVITE, lyon)),
        ("rights/rightsprofile", profile),
        (
            "rights/profileassignment",
            ProfileAssignment.objects.create(organization=organization, profile=profile, user=ines),
        ),
        (
            "accounts/statuschange",
            StatusChange.objects.create(organization=organization, user=ines, from_status="", to_status="active"),
        ),
        ("invitations/invitation", Invitation.objects.get(user=newcomer)),
        ("accounts/user", alice),
    ]


def test_platform_staff_cannot_delete_what_the_services_own(staff, platform, alice, lyon, ines):
    platform.force_login(staff)
    for prefix, row in tenant_rows(alice, lyon, ines):
        assert row is not None, prefix
        url = f"/admin/{prefix}/{row.pk}/delete/"
        assert platform.get(url).status_code == 403, prefix
        assert platform.post(url, {"post": "yes"}).status_code == 403, prefix
        platform.post(f"/admin/{prefix}/", {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
        assert type(row).objects.filter(pk=row.pk).exists(), prefix


def test_an_admin_that_refuses_changes_refuses_deletions_too(staff, rf):
    request = rf.get("/admin/")
    request.user = staff
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_change_permission(request):
            assert not model_admin.has_delete_permission(request), model


def test_platform_staff_cannot_make_or_unmake_an_administrator(staff, platform, alice, bob):
    """The last-administrator rule, the audit trail and the rights checks live in rights.services."""
    platform.force_login(staff)
    for person, wanted in ((bob, True), (alice, False)):
        url = f"/admin/accounts/user/{person.pk}/change/"
        form = platform.get(url).context["adminform"].form
        assert "is_administrator" not in form.fields
        data = {name: value for name, value in form.initial.items() if name in form.fields and value is not None}
        data = {name: ("on" if value is True else value) for name, value in data.items() if value is not False}
        if wanted:
            data["is_administrator"] = "on"
        else:
            data.pop("is_administrator", None)
        assert platform.post(url, data).status_code == 302
        person.refresh_from_db()
        assert person.is_administrator is not wanted


def test_platform_admin_edits_outdate_the_people_counts(staff, platform, alice, bob, acme):
    """The admin writes users without the services (deleting them, or making administrators, it may
    not): the organisation's lists must not keep counting what was there before
    (accounts.selectors.people_changed)."""
    from accounts.selectors import people_version

    platform.force_login(staff)
    url = f"/admin/accounts/user/{bob.pk}/change/"
    form = platform.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if name in form.fields and value is not None}
    data = {name: ("on" if value is True else value) for name, value in data.items() if value is not False}
    version = people_version(acme.pk)
    assert platform.post(url, {**data, "last_name": "Renamed"}).status_code == 302
    bob.refresh_from_db()
    assert bob.last_name == "Renamed"
    assert people_version(acme.pk) > version
