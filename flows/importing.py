"""Reading and checking a people file (CSV or XLSX) before anything is written.

`read_table` turns the uploaded bytes into a header and rows whatever the declared type;
`check_rows` says, row by row, what would be created, updated or refused and why. The web page
and `manage.py importusers` both use these, then `flows.imports.users_import` to write.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.filelimits import MAX_CELL_CHARS, Refused, cell_too_long, check_xlsx, clip
from accounts.identity import IDENTITY_FIELDS, Identity, IdentityInvalid, identity_clean
from accounts.models import Channel, Language, User, UserType
from experquiz.naming import fold
from experquiz.spreadsheets import unneutralise

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
# From this many rows a Celery worker does the work and the page shows a progress bar.
BACKGROUND_ROWS = 10_000
PROGRESS_EVERY = 1000
# Rows of each kind (to create, to update, in error) kept in an import job's stored report: the page
# shows no more, and a report holding every row of a big file would be read at each view.
REPORT_ROWS = 200
# Unknown groups named one by one in a row's errors; a cell of hundreds of them gives one more line.
GROUP_ERRORS_SHOWN = 10
IGNORED_SHOWN = 20

COLUMNS = {
    "first_name": ["first name", "firstname", "given name", "prenom"],
    "last_name": ["last name", "lastname", "surname", "family name", "nom", "nom de famille"],
    "email": ["email", "e mail", "email address", "mail", "courriel", "adresse e mail", "adresse email"],
    "mobile": [
        "mobile",
        "mobile number",
        "mobile phone",
        "phone",
        "telephone",
        "telephone mobile",
        "portable",
        "numero de mobile",
        "numero de telephone",
        "tel",
    ],
    "employee_number": ["employee number", "employee id", "employee no", "matricule", "numero d employe"],
    "user_type": ["user type", "type", "type d utilisateur", "type utilisateur"],
    "groups": ["groups", "group", "groupes", "groupe"],
    "language": ["language", "langue"],
    "preferred_channel": ["preferred channel", "channel", "canal", "canal prefere"],
}
# The columns an update shows before and after (groups are added to, never replaced).
UPDATE_SHOWN = ("first_name", "last_name", "email", "mobile", "employee_number", "language", "preferred_channel")
COLUMN_LABELS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "mobile": "mobile",
    "employee_number": "employee_number",
    "user_type": "user_type",
    "groups": "groups",
    "language": "language",
    "preferred_channel": "preferred_channel",
}
LANGUAGES = {"en": Language.EN, "english": Language.EN, "anglais": Language.EN}
LANGUAGES |= {"fr": Language.FR, "french": Language.FR, "francais": Language.FR}
CHANNELS = {"email": Channel.EMAIL, "e mail": Channel.EMAIL, "mail": Channel.EMAIL, "courriel": Channel.EMAIL}
CHANNELS |= {"sms": Channel.SMS, "texto": Channel.SMS, "mobile": Channel.SMS}
GROUP_SEPARATORS = re.compile(r"[;,|]")
SAMPLE_ROWS = [
    ["Ann", "Bee", "ann.bee@example.com", "06 12 34 56 78", "E-1001", "Employee", "Sales; Lyon", "fr", "email"],
    ["Bob", "Carter", "", "07 56 12 34 56", "", "Trainee", "", "en", "sms"],
]


class ImportFileError(Exception):
    """The whole file is unusable (format, encoding, size, columns): `message` says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _header_key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(text)).split())


HEADER_ALIASES = {_header_key(alias): column for column, aliases in COLUMNS.items() for alias in [column, *aliases]}


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_table(data: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a CSV (UTF-8, with or without BOM, comma or semicolon) or XLSX file.

    The format is read from the content, never from the file name or declared type.
    """
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            _("The file is %(size)s MB; the limit is %(max)s MB.")
            % {"size": round(len(data) / 1024 / 1024, 1), "max": MAX_BYTES // 1024 // 1024}
        )
    if not data.strip():
        raise ImportFileError(_("The file is empty."))
    if data[:4] == b"PK\x03\x04":
        rows = _read_xlsx(data)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError(_("Old Excel files (.xls) are not supported: save the file as .xlsx or as CSV UTF-8."))
    else:
        rows = _read_csv(data)
    rows = [row for row in rows if any(cell for cell in row)]
    if not rows:
        raise ImportFileError(_("The file is empty."))
    # The binary-file sniff reads only the start: a NUL further down would reach PostgreSQL, which
    # stores no NUL in text or JSON, and fail the check half-way. Rows are numbered as the preview does.
    for number, row in enumerate(rows, start=1):
        if any("\x00" in cell for cell in row):
            raise ImportFileError(
                _("Row %(row)s contains a NUL character, which is not text: remove it and upload the file again.")
                % {"row": number}
            )
    header, body = rows[0], rows[1:]
    if len(body) > MAX_ROWS:
        # The readers stop one row past the limit, so the file's real count is not known.
        raise ImportFileError(
            _("The file has more than %(max)s rows; at most %(max)s can be imported at once. Split it.")
            % {"max": MAX_ROWS}
        )
    return header, body


def _keep(rows: list, cells: list, number: int) -> bool:
    """Add a read row to `rows` unless blank; True once past the row limit, to stop reading.

    Blank rows are dropped as they come and reading stops one row past the limit, so that a file of
    millions of (blank) lines is never held; a cell over the length limit refuses the file at once.
    """
    if not any(cells):
        return False
    for column, cell in enumerate(cells, start=1):
        if len(cell) > MAX_CELL_CHARS:
            raise ImportFileError(cell_too_long(number, column))
    rows.append(cells)
    return len(rows) > MAX_ROWS + 1


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        # Sizes, cells and XML checked first, as a stream: openpyxl then reads a file known to fit.
        check_xlsx(data)
    except Refused as error:
        raise ImportFileError(error.message) from None
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        # A small compressed file can unfold into millions of rows: stop reading past the cap.
        rows = []
        for number, row in enumerate(sheet.iter_rows(values_only=True, max_col=60), start=1):
            if _keep(rows, [_cell_text(value) for value in row], number):
                break
        workbook.close()
    except ImportFileError:
        raise
    except Exception:  # openpyxl raises many kinds of errors on damaged or foreign zip files
        raise ImportFileError(_("This is not a readable Excel (.xlsx) file.")) from None
    return rows


def _read_csv(data: bytes) -> list[list[str]]:
    if b"\x00" in data[:4096]:
        raise ImportFileError(_("This is neither a CSV text file nor an Excel (.xlsx) file."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFileError(
            _("The file is not UTF-8 text (line %(line)s). In Excel, use “Save as” → “CSV UTF-8 (comma delimited)”.")
            % {"line": line}
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(_lines(text), delimiter=delimiter)
    rows, rows_end = [], 0
    try:
        for number, row in enumerate(reader, start=1):
            rows_end = reader.line_num
            # Apostrophes the CSV export put before formula-like text come off (export → import).
            if any(row) and _keep(rows, [unneutralise(cell.strip()) for cell in row], number):
                break
    except csv.Error:  # a cell longer than the csv module's limit (a quote never closed, usually)
        # The row that failed starts on the line after the last row read.
        raise ImportFileError(
            _(
                "Line %(line)s of the file cannot be read as CSV: a cell is far too long, usually "
                'because a quote (") is opened and never closed.'
            )
            % {"line": rows_end + 1}
        ) from None
    return rows


def _lines(text: str, block: int = 1024 * 1024):
    """The text's lines with their endings, for the csv reader, a block of about `block` characters at a time.

    io.StringIO splits lines the way csv needs (\n, \r\n or \r), but copies its text at four bytes a
    character: fed in blocks cut after a \n, it never holds more than a few megabytes.
    """
    start = 0
    while start < len(text):
        cut = text.rfind("\n", start, start + block) + 1 if start + block < len(text) else 0
        end = cut or len(text)  # no \n in the block (a file with \r endings): the rest at once
        yield from io.StringIO(text[start:end], newline="")
        start = end


def map_header(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """{column: index} for the recognised headers, and the headers that were not recognised."""
    mapping, ignored = {}, []
    for index, title in enumerate(header):
        column = HEADER_ALIASES.get(_header_key(title))
        if column and column not in mapping:
            mapping[column] = index
        elif title:
            ignored.append(clip(title))
    if "email" not in mapping and "mobile" not in mapping:
        raise ImportFileError(
            _(
                "Missing column: the file needs an “email” or a “mobile” column (found: %(found)s). "
                "Download the sample file to see the expected columns."
            )
            % {"found": clip(", ".join(h for h in header if h)) or "—"}
        )
    if len(ignored) > IGNORED_SHOWN:
        ignored = [*ignored[:IGNORED_SHOWN], _("and %(n)s more") % {"n": len(ignored) - IGNORED_SHOWN}]
    return mapping, ignored


@dataclass
class RowCheck:
    number: int  # as a spreadsheet shows it: the header is row 1
    values: dict
    errors: list = field(default_factory=list)  # [(column, reason)]
    user_id: int | None = None  # the existing user this row updates
    cells: list = field(default_factory=list)  # [(column, value as typed)] of the columns given
    changes: list = field(default_factory=list)  # [(column, before, after)] for a row that updates

    @property
    def action(self) -> str:
        if self.errors:
            return "error"
        return "update" if self.user_id else "create"

    def label(self) -> str:
        # The names as typed: a name refused (too long) still tells the reader which row it is.
        name = f"{self.values.get('first_name_raw', '')} {self.values.get('last_name_raw', '')}".strip()
        return clip(name or self.values.get("email") or self.values.get("mobile_raw", ""))

    def as_dict(self) -> dict:
        return {
            "row": self.number,
            "action": self.action,
            "label": self.label(),
            "errors": self.errors,
            # The values only of rows that will be written (an error row says what is wrong): the
            # stored report stays small.
            "cells": [] if self.errors else self.cells,
            "changes": self.changes,
        }


@dataclass
class ImportCheck:
    rows: list
    columns: list
    ignored: list
    # Each row's identity as read from its cells alone, (Identity, refusals): what a second check of
    # the same file may take instead of reading every cell again (flows.tasks, the import's write).
    identities: list = field(default_factory=list, repr=False)

    def count(self, action) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)

    def report(self, rows_per_action=None) -> dict:
        """What the preview page and the command show (JSON-serialisable).

        The counts are always complete; with `rows_per_action`, only that many rows of each action
        are listed (what an import job stores: the page shows no more).
        """
        listed = {"create": 0, "update": 0, "error": 0}
        rows = []
        for row in self.rows:
            listed[row.action] += 1
            if rows_per_action is None or listed[row.action] <= rows_per_action:
                rows.append(row.as_dict())
        return {
            "columns": self.columns,
            "ignored": self.ignored,
            "create": listed["create"],
            "update": listed["update"],
            "error": listed["error"],
            "rows": rows,
        }


class _Directory:
    """The organisation's existing users and groups, loaded once, to check thousands of rows fast."""

    def __init__(self, organization, actor):
        from groups.models import UserGroup
        from rights.names import Right
        from rights.selectors import groups_in_scope

        self.by_email, self.by_mobile, self.by_number = {}, {}, {}
        # What a row updating an existing user is checked against (the fields the rules tie together).
        self.identities = {}
        for pk, email, mobile, number, channel in User.objects.for_org(organization).values_list(
            "pk", "email", "mobile", "employee_number", "preferred_channel"
        ):
            if email:
                self.by_email[email] = pk
            if mobile:
                self.by_mobile[mobile] = pk
            if number:
                self.by_number[number] = pk
            self.identities[pk] = Identity(
                email=email, mobile=mobile, employee_number=number, preferred_channel=channel
            )
        self.types = {fold(t.name): t.pk for t in UserType.objects.for_org(organization)}
        groups = (
            UserGroup.objects.for_org(organization) if actor is None else groups_in_scope(actor, Right.MANAGE_USERS)
        )
        self.groups = {fold(name): pk for pk, name in groups.values_list("pk", "name")}
        # Groups of the organisation outside the actor's scope: named as such, not as unknown.
        self.other_groups = (
            set()
            if actor is None
            else {
                fold(name)
                for name in UserGroup.objects.for_org(organization)
                .exclude(pk__in=groups)
                .values_list("name", flat=True)
            }
        )


def check_rows(*, organization, actor, header, rows, progress=None, identities=None) -> ImportCheck:
    """Check every row against the file's other rows and the organisation's users; write nothing.

    `identities`: the `ImportCheck.identities` of an earlier check of the same rows for the same
    organisation, in the same language; the identity cells are then not read again (a mobile number
    is parsed in a fraction of a millisecond, 10,000 of them in seconds). Everything that depends on
    the organisation's people, groups, types or the actor's scope is checked again."""
    from rights.names import Right
    from rights.selectors import actor_scope, users_in_scope

    mapping, ignored = map_header(header)
    directory = _Directory(organization, actor)
    seen = {"email": {}, "mobile": {}, "employee_number": {}}
    checks, read = [], []
    known = identities if identities is not None and len(identities) == len(rows) else None
    for index, row in enumerate(rows):
        number = index + 2
        raw = {column: (row[i] if i < len(row) else "") for column, i in mapping.items()}
        check, identity = _check_row(number, raw, organization, directory, seen, known[index] if known else None)
        check.cells = [(COLUMN_LABELS[column], clip(value)) for column, value in raw.items() if value]
        checks.append(check)
        read.append(identity)
        if progress and (index + 1) % PROGRESS_EVERY == 0:
            progress(index + 1)
    matched = {check.user_id for check in checks if check.user_id}
    if matched and actor is not None:
        in_scope = set(users_in_scope(actor, Right.MANAGE_USERS).filter(pk__in=matched).values_list("pk", flat=True))
        for check in checks:
            if check.user_id and check.user_id not in in_scope:
                check.errors.append(("email", _("this person is a user you may not manage")))
    if actor is not None and not actor_scope(actor, Right.MANAGE_USERS).all_users:
        # A group-scoped manager must put the people they create in one of their groups (DESIGN §6):
        # without one, a new user would be out of their own scope.
        for check in checks:
            if check.action == "create" and not check.values.get("group_ids"):
                check.errors.append(("groups", _("a new user must be put in one of your groups")))
    _describe_updates([check for check in checks if check.action == "update"][:REPORT_ROWS])
    return ImportCheck(rows=checks, columns=[COLUMN_LABELS[c] for c in mapping], ignored=ignored, identities=read)


def _describe_updates(checks) -> None:
    """Each update's (column, before, after) for the cells it was given that differ from the user's."""
    current = User.objects.select_related("user_type").in_bulk([check.user_id for check in checks])
    for check in checks:
        user = current[check.user_id]
        now = {name: getattr(user, name) for name in UPDATE_SHOWN}
        now["user_type"] = user.user_type.name if user.user_type_id else ""
        for column, typed in check.cells:
            # Compared as it would be stored (an address in lower case, a mobile in full).
            after = check.values.get(column) or typed
            if column in now and after and str(after) != str(now[column]):
                check.changes.append((column, now[column], after))


def _identity_cells(raw) -> dict:
    """The identity cells of a row, as identity_clean takes them (a channel written the usual ways)."""
    cells = {name: raw.get(name, "") for name in IDENTITY_FIELDS}
    channel = cells["preferred_channel"]
    if channel:
        # A word the import does not know goes on as typed, and identity_clean says it is unknown.
        cells["preferred_channel"] = CHANNELS.get(_header_key(channel), channel)
    return cells


def _check_identity(organization, cells, current=None) -> tuple[Identity, dict]:
    """The row's identity read by the rule of every other path, and its refusals by column."""
    try:
        return identity_clean(organization, **cells, current=current), {}
    except IdentityInvalid as invalid:
        return invalid.identity, invalid.errors


def _check_row(number, raw, organization, directory, seen, known=None) -> tuple[RowCheck, tuple]:
    """The row's check, and its identity as read from its cells alone (`known`: as an earlier check read it)."""
    cells = _identity_cells(raw)
    identity, refused = read = known if known is not None else _check_identity(organization, cells)
    email, mobile, number_value = identity.email, identity.mobile, identity.employee_number
    values = identity.as_dict()
    values |= {f"{name}_raw": raw.get(name, "") for name in ("first_name", "last_name", "mobile")}
    check = RowCheck(number=number, values=values)
    errors = check.errors

    type_name = raw.get("user_type", "")
    values["user_type_id"] = None
    if type_name:
        values["user_type_id"] = directory.types.get(fold(type_name))
        if values["user_type_id"] is None:
            errors.append(("user_type", _("unknown user type “%(value)s”") % {"value": clip(type_name)}))

    values["group_ids"] = []
    unknown = 0
    for name in filter(None, (part.strip() for part in GROUP_SEPARATORS.split(raw.get("groups", "")))):
        group_id = directory.groups.get(fold(name))
        if group_id is None and fold(name) in directory.other_groups:
            errors.append(("groups", _("group “%(value)s” is outside your groups") % {"value": clip(name)}))
        elif group_id is None:
            unknown += 1
            if unknown <= GROUP_ERRORS_SHOWN:
                errors.append(("groups", _("unknown group “%(value)s”") % {"value": clip(name)}))
        elif group_id not in values["group_ids"]:
            values["group_ids"].append(group_id)
    if unknown > GROUP_ERRORS_SHOWN:
        more = unknown - GROUP_ERRORS_SHOWN
        errors.append(
            ("groups", ngettext("and %(n)s more unknown group", "and %(n)s more unknown groups", more) % {"n": more})
        )

    language = raw.get("language", "")
    values["language"] = ""
    if language:
        values["language"] = LANGUAGES.get(_header_key(language), "")
        if not values["language"]:
            errors.append(("language", _("unknown language “%(value)s” (use en or fr)") % {"value": clip(language)}))

    # The same person twice in the file.
    for column, key in (("email", email), ("mobile", mobile), ("employee_number", number_value)):
        if key:
            earlier = seen[column].get(key)
            if earlier:
                errors.append((column, _("same value as row %(row)s") % {"row": earlier}))
            else:
                seen[column][key] = number

    # An existing user matched by any of the three keys is updated; two different users is a conflict.
    matches = {
        column: pk
        for column, pk in (
            ("email", directory.by_email.get(email) if email else None),
            ("mobile", directory.by_mobile.get(mobile) if mobile else None),
            ("employee_number", directory.by_number.get(number_value) if number_value else None),
        )
        if pk
    }
    if len(set(matches.values())) > 1:
        errors.append(
            (
                ", ".join(matches),
                _("the email, mobile or employee number belong to different existing users"),
            )
        )
    elif matches:
        check.user_id = next(iter(matches.values()))
        # An update: a blank cell keeps what the user has, and the rules between fields judge the
        # result (an SMS channel is fine for someone who already has a mobile).
        _identity, refused = _check_identity(organization, cells, current=directory.identities[check.user_id])
        values["preferred_channel"] = cells["preferred_channel"]  # only a typed one changes theirs
    errors[:0] = [(column, message) for column, messages in refused.items() for message in messages]
    return check, read


def sample_table() -> tuple[list[str], list[list[str]]]:
    return list(COLUMN_LABELS.values()), SAMPLE_ROWS
