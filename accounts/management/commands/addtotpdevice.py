from base64 import b32encode

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User


class Command(BaseCommand):
    help = (
        "Give a platform staff member a TOTP device (an authenticator app) for the platform admin's second "
        "factor (PLATFORM_ADMIN_OTP), and print the otpauth:// URL and secret to add to the app."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="Email of the platform staff member (a superuser with no organisation)")
        parser.add_argument("--name", default="authenticator", help="A name for the device, e.g. 'work phone'")
        parser.add_argument(
            "--replace", action="store_true", help="Remove the member's other TOTP devices (a lost or new phone)"
        )

    def handle(self, *args, email, name, replace, **options):
        # django-otp ships only `addstatictoken`, which looks users up by a globally unique username:
        # ours are unique per organisation, and only staff (no organisation) use the admin.
        staff = User.objects.filter(organization=None, is_staff=True, email=email.strip().lower()).first()
        if staff is None:
            raise CommandError(f"No platform staff member has the email {email} (see createsuperuser).")
        with transaction.atomic():
            if replace:
                TOTPDevice.objects.filter(user=staff).delete()
            device = TOTPDevice.objects.create(user=staff, name=name, confirmed=True)
        self.stdout.write(f"TOTP device “{name}” added for {staff.email}. Add it to an authenticator app:")
        self.stdout.write(device.config_url)
        self.stdout.write(f"or type this secret by hand: {b32encode(device.bin_key).decode()}")
        self.stdout.write("Then log in at /admin/ on the bare domain with the 6-digit code the app shows.")
