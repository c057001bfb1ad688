from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts.models import Organization
from accounts.selectors import user_by_login_id
from assessments.models import Questionnaire
from experquiz.errors import DomainError
from experquiz.naming import name_key
from flows.assessments import Selection, assessment_invite
from groups.models import UserGroup


def _names(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def summary_lines(summary) -> list[str]:
    """The lines the command prints: the same counts as the web summary."""
    lines = []
    if summary.group_sizes:
        groups = ", ".join(f"{group.name} ({size})" for group, size in summary.group_sizes)
        lines.append(
            _("Groups: %(groups)s, %(total)s people in all") % {"groups": groups, "total": summary.group_total}
        )
    lines.append(_("Picked one by one: %(count)s") % {"count": summary.picked})
    lines.append(_("Counted twice and invited once: %(count)s") % {"count": summary.duplicates})
    lines.append(
        _("People invited: %(total)s (%(users)s users, %(contacts)s contacts, %(new)s new contacts)")
        % {
            "total": summary.total,
            "users": len(summary.invited_users),
            "contacts": len(summary.invited_contacts),
            "new": len(summary.new_contact_addresses),
        }
    )
    for label, reason in summary.skipped:
        lines.append(_("Skipped: %(who)s: %(reason)s") % {"who": label, "reason": reason})
    if summary.new_contact_addresses:
        lines.append(_("New contacts: %(addresses)s") % {"addresses": ", ".join(summary.new_contact_addresses)})
    lines.append(_("Packets: %(packets)s") % {"packets": ", ".join(summary.packets)})
    return lines


class DryRun(Exception):
    pass


class Command(BaseCommand):
    help = (
        "Invite people to a questionnaire of an organisation, as the questionnaire page does: groups, users "
        "(login IDs) and emails or mobiles, comma-separated, each person once. Prints the summary (people "
        "invited, skipped with the reason, new contacts, packets). Writes nothing with --dry-run or on any "
        "error (exit status non-zero). The window opens now and lasts the organisation's default unless given."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the organisation's address")
        parser.add_argument("--questionnaire", required=True, help="its title or id")
        parser.add_argument("--groups", default="", help="group names, comma-separated")
        parser.add_argument("--users", default="", help="login IDs (email or mobile), comma-separated")
        parser.add_argument("--addresses", default="", help="emails or mobiles, comma-separated")
        parser.add_argument("--opens-at", default="", help="ISO 8601, e.g. 2026-12-03T09:00 (default: now)")
        parser.add_argument("--closes-at", default="", help="ISO 8601 (default: the organisation's window)")
        parser.add_argument("--dry-run", action="store_true", help="print the summary, write nothing")

    def handle(self, *args, slug, questionnaire, groups, users, addresses, opens_at, closes_at, dry_run, **options):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(_("No organisation “%(slug)s”.") % {"slug": slug})
        selection = Selection(
            group_ids=tuple(self._group(organization, name).pk for name in _names(groups)),
            user_ids=tuple(self._user(organization, login_id).pk for login_id in _names(users)),
            addresses="\n".join(_names(addresses)),
        )
        window = {"opens_at": self._time("--opens-at", opens_at), "closes_at": self._time("--closes-at", closes_at)}
        try:
            with transaction.atomic():
                assignment, summary = assessment_invite(
                    actor=None,
                    questionnaire=self._questionnaire(organization, questionnaire),
                    selection=selection,
                    **window,
                )
                if dry_run:
                    raise DryRun  # the same checks and summary as the real thing, then everything undone
        except DryRun:
            assignment = None
        except DomainError as error:
            raise CommandError(error.message) from None
        for line in summary_lines(summary):
            self.stdout.write(line)
        if assignment is None:
            self.stdout.write(_("Dry run: nothing was written."))
            return
        self.stdout.write(
            self.style.SUCCESS(
                _("Assessment invitation %(id)s: opens %(opens)s, closes %(closes)s, messages go at %(send)s.")
                % {
                    "id": assignment.pk,
                    "opens": timezone.localtime(assignment.opens_at).isoformat(timespec="minutes"),
                    "closes": timezone.localtime(assignment.closes_at).isoformat(timespec="minutes"),
                    "send": timezone.localtime(assignment.send_at).isoformat(timespec="minutes"),
                }
            )
        )

    def _questionnaire(self, organization, text: str) -> Questionnaire:
        questionnaires = Questionnaire.objects.filter(organization=organization)
        if text.strip().isdigit():
            found = questionnaires.filter(pk=int(text)).first()
            if found is not None:
                return found
        matches = list(questionnaires.filter(title__iexact=text.strip()))
        if not matches:
            raise CommandError(_("No questionnaire “%(q)s” in this organisation.") % {"q": text})
        if len(matches) > 1:
            ids = ", ".join(str(q.pk) for q in matches)
            raise CommandError(
                _("Several questionnaires are called “%(q)s”: give its id (%(ids)s).") % {"q": text, "ids": ids}
            )
        return matches[0]

    def _group(self, organization, name: str) -> UserGroup:
        group = UserGroup.objects.filter(organization=organization, name_key=name_key(name)).first()
        if group is None:
            raise CommandError(_("No group “%(name)s”.") % {"name": name})
        return group

    def _user(self, organization, login_id: str):
        user = user_by_login_id(organization, login_id)
        if user is None:
            raise CommandError(_("No user with the login ID “%(id)s”.") % {"id": login_id})
        return user

    def _time(self, option: str, text: str):
        if not text:
            return None
        try:
            value = parse_datetime(text.strip())
        except ValueError:
            value = None
        if value is None:
            raise CommandError(
                _("%(option)s: “%(value)s” is not a date and time (ISO 8601, e.g. 2026-12-03T09:00).")
                % {"option": option, "value": text}
            )
        return value
