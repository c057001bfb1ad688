from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.models import Organization
from assessments.errors import InterchangeError
from assessments.interchange import MAX_FILE_BYTES, read_questionnaire
from assessments.services import questionnaire_import
from experquiz.errors import DomainError


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [f"“{key}”: {message}" for key, errors in error.message_dict.items() for message in errors]
    return list(error.messages)


class Command(BaseCommand):
    help = (
        "Import a questionnaire from a JSON file (the format is in the README). Checks everything first and "
        "writes nothing when anything is wrong: every problem is printed, naming the question and the key, "
        "and the exit status is non-zero. Prints the new questionnaire's id and title."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the organisation's address")
        parser.add_argument("file", help="path to a .json file")
        parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
        parser.add_argument("--publish", action="store_true", help="publish the questionnaire once imported")

    def handle(self, *args, slug, file, dry_run, publish, **options):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(_("No organisation “%(slug)s”.") % {"slug": slug})
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("No file %(file)s.") % {"file": file})
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CommandError(
                _("The file is larger than %(n)s MB: nothing was imported.") % {"n": MAX_FILE_BYTES // (1024 * 1024)}
            )
        try:
            read = read_questionnaire(path.read_bytes(), organization=organization, actor=None)
        except InterchangeError as error:
            self._fail(error.errors)
        questions = len(read.questions)
        if dry_run:
            self.stdout.write(
                _("Dry run: “%(title)s” (%(questions)s questions) can be imported; nothing was written.")
                % {"title": read.title, "questions": questions}
            )
            return
        try:
            questionnaire = questionnaire_import(
                organization=organization, actor=None, publish=publish, source=path.name, **read.as_kwargs()
            )
        except ValidationError as error:
            self._fail(_messages(error))
        except DomainError as error:
            self._fail([error.message])
        state = _("published") if questionnaire.is_published else _("not published")
        self.stdout.write(
            self.style.SUCCESS(
                _("Imported questionnaire %(id)s: “%(title)s” (%(questions)s questions, %(state)s).")
                % {"id": questionnaire.pk, "title": questionnaire.title, "questions": questions, "state": state}
            )
        )

    def _fail(self, errors):
        for message in errors:
            self.stderr.write(message)
        raise CommandError(_("The file has problems: nothing was imported."))
