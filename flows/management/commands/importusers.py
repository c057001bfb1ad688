from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.models import Organization
from accounts.selectors import user_by_login_id
from experquiz import authorization
from experquiz.errors import DomainError
from flows.importing import ImportFileError, check_rows, iter_table
from flows.imports import users_import


def format_report(report: dict) -> list[str]:
    """The lines the command prints: the same counts and row errors as the web preview."""
    lines = [
        _("Columns: %(columns)s") % {"columns": ", ".join(report["columns"])},
    ]
    if report["ignored"]:
        lines.append(_("Ignored columns: %(columns)s") % {"columns": ", ".join(report["ignored"])})
    lines.append(
        _("%(create)s to create, %(update)s to update, %(error)s in error")
        % {key: report[key] for key in ("create", "update", "error")}
    )
    for row in report["rows"]:
        for column, reason in row["errors"]:
            lines.append(
                _("row %(row)s, %(column)s: %(reason)s") % {"row": row["row"], "column": column, "reason": reason}
            )
    return lines


class Command(BaseCommand):
    help = (
        "Import users into an organisation from a CSV (UTF-8, comma or semicolon) or XLSX file: the same checks "
        "as the web page, all or nothing. Exits non-zero when any row is in error. With --actor, the import is "
        "that person's, checked against their rights as on the import page; without it, the operator running "
        "the command imports as the system (no right to check; nobody is recorded as the actor)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the organisation's address")
        parser.add_argument("file", help="path to a .csv or .xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
        parser.add_argument("--invite", action="store_true", help="send invitations to the new users afterwards")
        parser.add_argument(
            "--actor",
            metavar="LOGIN_ID",
            help="the email or mobile of the active person of the organisation the import is done for: their "
            "rights are checked (people and groups in their scope, the invite right for --invite)",
        )

    def handle(self, *args, slug, file, dry_run, invite, actor=None, **options):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(_("No organisation “%(slug)s”.") % {"slug": slug})
        if actor is not None:
            login_id, actor = actor, user_by_login_id(organization, actor)
            if actor is None or not actor.is_active:
                raise CommandError(
                    _("No active user “%(login_id)s” in %(organization)s.")
                    % {"login_id": login_id, "organization": organization}
                )
            # Refused before reading the file, as the import page refuses before the upload.
            try:
                authorization.require_right(actor, authorization.MANAGE_USERS, organization_id=organization.pk)
                if invite:
                    authorization.require_right(actor, authorization.INVITE, organization_id=organization.pk)
            except DomainError as error:
                raise CommandError(error.message) from None
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("No file %(file)s.") % {"file": file})
        try:
            header, rows = iter_table(path.read_bytes())
            check = check_rows(organization=organization, actor=actor, header=header, rows=rows)
        except ImportFileError as error:
            raise CommandError(error.message) from None
        report = check.report()
        for line in format_report(report):
            self.stdout.write(line)
        if check.has_errors:
            raise CommandError(_("%(n)s rows in error: nothing was imported.") % {"n": report["error"]})
        if dry_run:
            self.stdout.write(_("Dry run: nothing was written."))
            return
        try:
            result = users_import(organization=organization, actor=actor, check=check, invite=invite, source=path.name)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                _("Imported: %(created)s created, %(updated)s updated.")
                % {"created": result["created"], "updated": result["updated"]}
            )
        )
        if invite:
            self.stdout.write(_("Invitations: %(n)s sent.") % {"n": result["invited"]})
