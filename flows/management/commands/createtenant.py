from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Language, Organization
from accounts.services import organization_create
from experquiz.errors import InvalidFields


def validation_messages(error: ValidationError | InvalidFields) -> list[str]:
    if isinstance(error, InvalidFields):
        by_field = error.errors
    elif hasattr(error, "error_dict"):
        by_field = error.message_dict
    else:
        return list(error.messages)
    return [f"{field}: {message}" for field, messages in by_field.items() for message in messages]


class Command(BaseCommand):
    help = "Create an organisation (tenant) served on <slug>.<BASE_DOMAIN>, with its first administrator."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Sub-domain of the organisation, e.g. acme for acme.example.com")
        parser.add_argument("--name", required=True, help="Display name of the organisation")
        parser.add_argument("--admin-email", required=True, help="Login email of the first administrator")
        parser.add_argument("--admin-password", required=True, help="Password of the first administrator")
        parser.add_argument("--region", default=None, help="Country used to read national phone numbers (default FR)")
        parser.add_argument("--language", default="en", choices=Language.values, help="Default language")

    def handle(self, *args, slug, name, admin_email, admin_password, region, language, **options):
        from django.conf import settings

        slug = slug.strip().lower()
        try:
            for validate in Organization._meta.get_field("slug").validators:
                validate(slug)
        except ValidationError as error:
            raise CommandError(f"slug: {' '.join(error.messages)}") from None
        if Organization.objects.filter(slug=slug).exists():
            raise CommandError(f"The address “{slug}” is already taken by another organisation.")
        try:
            organization = organization_create(
                name=name,
                slug=slug,
                admin_email=admin_email,
                admin_password=admin_password,
                phone_region=(region or settings.DEFAULT_PHONE_REGION).upper(),
                language=language,
            )
        except (ValidationError, InvalidFields) as error:
            raise CommandError("\n".join(validation_messages(error))) from None
        from experquiz.tenancy import organization_url

        self.stdout.write(self.style.SUCCESS(f"Created {organization.name}: {organization_url(organization)}"))
