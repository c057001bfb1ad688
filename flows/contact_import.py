"""Importing contacts from a CSV or XLSX file: read and checked like a people file
(`flows.importing.read_table` and its column names), shown row by row, then created once confirmed.

A contacts file is small (people invited to one assessment), so it is checked and written within the
request; the confirmation carries the rows back and they are checked again before anything is written.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.identity import IdentityInvalid, identity_clean
from accounts.models import Contact, Organization, User
from accounts.services import contact_create
from experquiz import authorization
from experquiz.authorization import MANAGE_USERS
from experquiz.errors import DomainError

from .importing import LANGUAGES, ImportFileError, _header_key, map_header, read_table

MAX_CONTACT_ROWS = 2000
FIELDS = ("first_name", "last_name", "email", "mobile", "language")


@dataclass
class ContactRow:
    number: int  # as a spreadsheet shows it: the header is row 1
    values: dict  # the cells as read (FIELDS)
    cleaned: dict = field(default_factory=dict)  # as they would be stored, when the row is usable
    problem: str = ""  # why it is not imported


def contacts_file_read(data: bytes) -> list[dict]:
    """The rows of a contacts file as {field: text}; ImportFileError when the file is unusable."""
    header, rows = read_table(data)
    mapping, _ignored = map_header(header)
    if len(rows) > MAX_CONTACT_ROWS:
        raise ImportFileError(
            _("A contacts file has at most %(max)s rows (%(count)s given).")
            % {"max": MAX_CONTACT_ROWS, "count": len(rows)}
        )
    return [
        {name: (row[mapping[name]] if name in mapping and mapping[name] < len(row) else "") for name in FIELDS}
        for row in rows
    ]


def contacts_import_check(*, organization: Organization, rows: list[dict]) -> list[ContactRow]:
    """Each row as it would be imported, or why not: an address that is not one, no address at all,
    an address another contact (or an earlier row) has, an unknown language. Writes nothing."""
    checked, seen = [], set()
    for number, raw in enumerate(rows, start=2):
        values = {name: str(raw.get(name) or "").strip() for name in FIELDS}
        row = ContactRow(number=number, values=values)
        checked.append(row)
        language = LANGUAGES.get(_header_key(values["language"])) if values["language"] else organization.language
        if language is None:
            row.problem = _("unknown language “%(language)s” (en or fr)") % {"language": values["language"]}
            continue
        try:
            identity = identity_clean(
                organization,
                email=values["email"],
                mobile=values["mobile"],
                first_name=values["first_name"],
                last_name=values["last_name"],
                contact=True,
            )
        except IdentityInvalid as error:
            row.problem = error.message
            continue
        addresses = {address for address in (identity.email, identity.mobile) if address}
        if addresses & seen:
            row.problem = _("the same address as an earlier row")
            continue
        seen |= addresses
        row.cleaned = {
            "first_name": identity.first_name,
            "last_name": identity.last_name,
            "email": identity.email,
            "mobile": identity.mobile,
            "language": language,
        }
    usable = [row for row in checked if row.cleaned]
    emails = [row.cleaned["email"] for row in usable if row.cleaned["email"]]
    mobiles = [row.cleaned["mobile"] for row in usable if row.cleaned["mobile"]]
    known = Contact.objects.for_org(organization).filter(Q(email__in=emails) | Q(mobile__in=mobiles))
    known_addresses = {address for contact in known for address in (contact.email, contact.mobile) if address}
    for row in usable:
        if {row.cleaned["email"], row.cleaned["mobile"]} & known_addresses:
            row.problem, row.cleaned = _("already a contact"), {}
    return checked


@transaction.atomic
def contacts_import(*, organization: Organization, actor: User | None, rows: list[dict]) -> list[Contact]:
    """Create the contacts of the usable rows (checked again: they came back from a page), all or none;
    each creation is recorded like one made by hand. Organisation-wide managers only, as contacts
    belong to no group."""
    authorization.require_everyone(actor, MANAGE_USERS, organization_id=organization.pk)
    checked = contacts_import_check(organization=organization, rows=rows)
    usable = [row for row in checked if row.cleaned]
    if not usable:
        raise DomainError(_("No row can be imported: nothing was created."))
    return [contact_create(organization=organization, actor=actor, **row.cleaned) for row in usable]
