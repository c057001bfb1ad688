"""Reading and checking a people file (CSV or XLSX) before anything is written.

`read_table` turns the uploaded bytes into a header and rows whatever the declared type;
`check_rows` says, row by row, what would be created, updated or refused and why. The web page
and `manage.py importusers` both use these, then `flows.imports.users_import` to write.
"""

import csv
import hashlib
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.filelimits import MAX_CELL_CHARS, Refused, cell_too_long, check_xlsx, clip
from accounts.identity import IDENTITY_FIELDS, Identity, IdentityRead, channel_for, identity_judge, identity_read
from accounts.models import Channel, Language, User, UserType
from experquiz.naming import fold
from experquiz.spreadsheets import unneutralise

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
# From this many rows a Celery worker does the work and the page shows a progress bar.
BACKGROUND_ROWS = 10_000
PROGRESS_EVERY = 1000
# Rows decided together: one query finds the existing people they match.
CHECK_CHUNK = 1000
# Rows to write per frame of a Plan, and per step of the write (flows.imports.WRITE_CHUNK).
FRAME_ROWS = 2000
# Distinct cells of types, groups or languages whose reading is remembered during a check.
MEMO_CELLS = 10_000
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

    The format is read from the content, never from the file name or declared type. Every row is
    read before this returns, so a file that cannot be read fails here whole; `iter_table` gives
    the same rows one at a time.
    """
    header, rows = iter_table(data)
    return header, list(rows)


def iter_table(data: bytes) -> tuple[list[str], Iterator[list[str]]]:
    """The header and an iterator over the rows of the file, read one at a time (a file of 100,000
    rows is never held as rows). Whatever makes the file unusable is ImportFileError: the format,
    size or header at once, a row when the iterator reaches it (a NUL, a cell too long, a row past
    the limit)."""
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
    rows = _numbered(rows)
    header = next(rows, None)
    if header is None:
        raise ImportFileError(_("The file is empty."))
    return header, rows


def table_size(data: bytes) -> int:
    """The number of rows under the header, the whole file read (ImportFileError if it cannot be)."""
    _header, rows = iter_table(data)
    return sum(1 for _row in rows)


def _numbered(rows):
    """The rows that are not blank, refused past the row limit or holding a NUL.

    The binary-file sniff reads only the start: a NUL further down would reach PostgreSQL, which
    stores no NUL in text or JSON, and fail the check half-way. Rows are numbered as the preview does.
    """
    for number, row in enumerate(rows, start=1):
        if any("\x00" in cell for cell in row):
            raise ImportFileError(
                _("Row %(row)s contains a NUL character, which is not text: remove it and upload the file again.")
                % {"row": number}
            )
        if number > MAX_ROWS + 1:
            raise ImportFileError(
                _("The file has more than %(max)s rows; at most %(max)s can be imported at once. Split it.")
                % {"max": MAX_ROWS}
            )
        yield row


def _kept(cells: list, number: int) -> bool:
    """Whether a read row is kept (not blank); a cell over the length limit refuses the file at once.

    Blank rows are dropped as they come, so that a file of millions of (blank) lines costs no row.
    """
    if not any(cells):
        return False
    for column, cell in enumerate(cells, start=1):
        if len(cell) > MAX_CELL_CHARS:
            raise ImportFileError(cell_too_long(number, column))
    return True


def _read_xlsx(data: bytes):
    from openpyxl import load_workbook

    try:
        # Sizes, cells and XML checked first, as a stream: openpyxl then reads a file known to fit.
        check_xlsx(data)
    except Refused as error:
        raise ImportFileError(error.message) from None
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True, max_col=60)
    except Exception:  # openpyxl raises many kinds of errors on damaged or foreign zip files
        raise ImportFileError(_("This is not a readable Excel (.xlsx) file.")) from None
    return _xlsx_rows(workbook, rows)


def _xlsx_rows(workbook, rows):
    number = 0
    try:
        while True:
            try:
                row = next(rows, None)
            except Exception:
                raise ImportFileError(_("This is not a readable Excel (.xlsx) file.")) from None
            if row is None:
                return
            number += 1
            cells = [_cell_text(value) for value in row]
            if _kept(cells, number):
                yield cells
    finally:
        workbook.close()


def _read_csv(data: bytes):
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
    return _csv_rows(csv.reader(_lines(text), delimiter=delimiter))


def _csv_rows(reader):
    rows_end, number = 0, 0
    while True:
        try:
            row = next(reader, None)
        except csv.Error:  # a cell longer than the csv module's limit (a quote never closed, usually)
            # The row that failed starts on the line after the last row read.
            raise ImportFileError(
                _(
                    "Line %(line)s of the file cannot be read as CSV: a cell is far too long, usually "
                    'because a quote (") is opened and never closed.'
                )
                % {"line": rows_end + 1}
            ) from None
        if row is None:
            return
        number += 1
        rows_end = reader.line_num
        # Apostrophes the CSV export put before formula-like text come off (export → import).
        if any(row):
            cells = [unneutralise(cell.strip()) for cell in row]
            if _kept(cells, number):
                yield cells


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


class Planned(NamedTuple):
    """One row to write, with only what the write needs: the check keeps every row of a file so
    (packed in frames, `Plan`), never as objects with the row's cells and errors."""

    number: int  # as a spreadsheet shows it: the header is row 1
    user_id: int | None  # the existing user it updates; None: a new person
    first_name: str
    last_name: str
    email: str
    mobile: str  # E.164
    national: str  # the mobile's national digits, read with it (for the search text)
    employee_number: str
    user_type_id: int | None
    language: str  # "": the organisation's
    channel: str  # as typed ("": none): a new person's default is computed at the write
    group_ids: list

    def values(self) -> dict:
        """What a new person gets (an update: what a non-blank value changes), by field."""
        channel = self.channel
        if self.user_id is None:
            channel = channel_for(channel, email=self.email, mobile=self.mobile)
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "mobile": self.mobile,
            "employee_number": self.employee_number,
            "user_type_id": self.user_type_id,
            "language": self.language,
            "preferred_channel": channel,
            "group_ids": list(self.group_ids),
        }


class Plan:
    """The rows to write of a checked file, as compressed JSON frames of FRAME_ROWS rows: about 80
    bytes a row, where a row's objects take kilobytes. A job stores it (`dumps`) for its write."""

    def __init__(self, frames=None):
        self.frames = list(frames or [])
        self._rows = []

    def add(self, row: Planned) -> None:
        self._rows.append(row)
        if len(self._rows) >= FRAME_ROWS:
            self._pack()

    def _pack(self) -> None:
        if self._rows:
            self.frames.append(zlib.compress(json.dumps(self._rows, separators=(",", ":")).encode(), 1))
            self._rows = []

    def chunks(self) -> Iterator[list[Planned]]:
        """The rows, a frame at a time, in the file's order."""
        self._pack()
        for frame in self.frames:
            yield [Planned(*row) for row in json.loads(zlib.decompress(frame))]

    def __iter__(self):
        for chunk in self.chunks():
            yield from chunk

    def dumps(self) -> bytes:
        self._pack()
        return b"".join(len(frame).to_bytes(4, "big") + frame for frame in self.frames)

    @classmethod
    def loads(cls, data: bytes) -> "Plan":
        frames, start = [], 0
        while start < len(data):
            size = int.from_bytes(data[start : start + 4], "big")
            frames.append(data[start + 4 : start + 4 + size])
            start += 4 + size
        return cls(frames)


@dataclass
class RowCheck:
    """One row as the check judged it (a view made on demand: `ImportCheck.rows`)."""

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


@dataclass
class ImportCheck:
    """What checking a file found: how many rows create, update or are in error; the rows to write
    (`plan`); every row in error with its reasons; the first `listed` rows to create and to update
    with their values, for the preview; and `basis`, what the decisions read besides the people."""

    columns: list
    ignored: list
    plan: Plan = field(default_factory=Plan, repr=False)
    counts: dict = field(default_factory=lambda: {"create": 0, "update": 0, "error": 0})
    listed: list = field(default_factory=list, repr=False)  # report rows (dicts) to create or update
    error_rows: list = field(default_factory=list, repr=False)  # (number, label, errors)
    basis: str = ""

    def count(self, action) -> int:
        return self.counts[action]

    @property
    def has_errors(self) -> bool:
        return self.counts["error"] > 0

    @property
    def rows(self) -> list[RowCheck]:
        """Every row as a RowCheck, in the file's order (all in memory: for small files and tests)."""
        cells = {row["row"]: (row["cells"], row["changes"]) for row in self.listed}
        rows = [
            RowCheck(
                number=planned.number,
                values=planned.values(),
                user_id=planned.user_id,
                cells=cells.get(planned.number, ([], []))[0],
                changes=cells.get(planned.number, ([], []))[1],
            )
            for planned in self.plan
        ]
        rows += [RowCheck(number=number, values={}, errors=list(errors)) for number, _label, errors in self.error_rows]
        return sorted(rows, key=lambda row: row.number)

    def report(self, rows_per_action=None) -> dict:
        """What the preview page and the command show (JSON-serialisable).

        The counts are always complete; the rows listed are every row in error and the first rows to
        create and to update (`check_rows(listed=…)`); with `rows_per_action`, at most that many of
        each action (what an import job stores: the page shows no more).
        """
        errors = [
            {"row": number, "action": "error", "label": label, "errors": errors, "cells": [], "changes": []}
            for number, label, errors in self.error_rows[:rows_per_action]
        ]
        shown = {"create": 0, "update": 0}
        rows = []
        for row in self.listed:
            shown[row["action"]] += 1
            if rows_per_action is None or shown[row["action"]] <= rows_per_action:
                rows.append(row)
        return {
            "columns": self.columns,
            "ignored": self.ignored,
            **self.counts,
            "rows": sorted([*rows, *errors], key=lambda row: row["row"]),
        }

    def dumps(self) -> bytes:
        """What the write of a job needs (ImportJob.plan): the counts, the basis and the rows to write."""
        head = json.dumps({"counts": self.counts, "basis": self.basis, "columns": self.columns}).encode()
        return len(head).to_bytes(4, "big") + head + self.plan.dumps()

    @classmethod
    def loads(cls, data: bytes, report: dict) -> "ImportCheck":
        """A check kept by `dumps`, with the report stored beside it (the preview's rows)."""
        size = int.from_bytes(data[:4], "big")
        head = json.loads(data[4 : 4 + size])
        listed = [row for row in report.get("rows", []) if row["action"] != "error"]
        return cls(
            columns=head["columns"],
            ignored=report.get("ignored", []),
            plan=Plan.loads(data[4 + size :]),
            counts=head["counts"],
            listed=listed,
            basis=head["basis"],
        )


class _Directory:
    """What the rows are checked against besides the people: the organisation's user types and the
    groups the actor may fill, read once; `basis` sums them up, so that a write can tell whether
    they are still what the check read."""

    def __init__(self, organization, actor):
        from groups.models import UserGroup
        from rights.names import Right
        from rights.selectors import actor_scope, groups_in_scope

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
        # A group-scoped manager must put the people they create in one of their groups (DESIGN §6).
        self.must_place = actor is not None and not actor_scope(actor, Right.MANAGE_USERS).all_users
        basis = {
            "organization": organization.pk,
            "region": organization.phone_region,
            "actor": getattr(actor, "pk", None),
            "types": sorted(self.types.items()),
            "groups": sorted(self.groups.items()),
            "other_groups": sorted(self.other_groups),
            "must_place": self.must_place,
        }
        self.basis = hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()
        # What a cell of types, groups or language gives, by its text: files repeat them.
        self.memo = {"user_type": {}, "groups": {}, "language": {}}


class _Row:
    """A row between its reading and the decision that needs the people (a chunk of them at a time)."""

    __slots__ = ("number", "raw", "read", "type_id", "group_ids", "language", "errors", "user_id", "identity")

    def __init__(self, number, raw, read, type_id=None, group_ids=(), language="", errors=None):
        self.number, self.raw, self.read = number, raw, read
        self.type_id, self.group_ids, self.language = type_id, group_ids, language
        self.errors = errors if errors is not None else []
        self.user_id = None
        self.identity = None

    def planned(self) -> Planned:
        values = self.read.values
        return Planned(
            self.number,
            self.user_id,
            values["first_name"],
            values["last_name"],
            values["email"],
            values["mobile"],
            self.read.national,
            values["employee_number"],
            self.type_id,
            self.language,
            values["preferred_channel"],
            list(self.group_ids),
        )

    @classmethod
    def of(cls, planned: Planned) -> "_Row":
        """A row to write as a check would have read it, to judge it again (`plan_holds`)."""
        values = {
            "email": planned.email,
            "mobile": planned.mobile,
            "preferred_channel": planned.channel,
            "employee_number": planned.employee_number,
            "first_name": planned.first_name,
            "last_name": planned.last_name,
        }
        return cls(planned.number, None, IdentityRead(values, {}, planned.national), group_ids=planned.group_ids)

    def label(self) -> str:
        # The names as typed: a name refused (too long) still tells the reader which row it is.
        raw = self.raw
        name = f"{raw.get('first_name', '')} {raw.get('last_name', '')}".strip()
        return clip(name or self.read.values["email"] or raw.get("mobile", ""))


def check_rows(*, organization, actor, header, rows, progress=None, listed=REPORT_ROWS) -> ImportCheck:
    """Check every row against the file's other rows and the organisation's users; write nothing.

    `rows` may be any iterable (`iter_table`): rows are read one at a time, decided CHECK_CHUNK at a
    time (one query finds the people they match), and kept only as what the write needs. Every
    row in error is kept with its reasons, and the first `listed` rows to create and to update with
    their values (None: all of them).
    """
    mapping, ignored = map_header(header)
    directory = _Directory(organization, actor)
    check = ImportCheck(columns=[COLUMN_LABELS[c] for c in mapping], ignored=ignored, basis=directory.basis)
    seen = {"email": {}, "mobile": {}, "employee_number": {}}
    updates = []  # the listed updates, with their values, for the changes they make
    chunk, done = [], 0
    for index, row in enumerate(rows):
        raw = {column: (row[i] if i < len(row) else "") for column, i in mapping.items()}
        chunk.append(_read_row(index + 2, raw, organization, directory, seen))
        if len(chunk) == CHECK_CHUNK:
            done += _keep_decided(check, chunk, organization, actor, directory, listed, updates)
            chunk = []
            if progress and done % PROGRESS_EVERY == 0:
                progress(done)
    if chunk:
        _keep_decided(check, chunk, organization, actor, directory, listed, updates)
    _describe_updates(updates)
    return check


def _keep_decided(check, chunk, organization, actor, directory, listed, updates) -> int:
    _decide(chunk, organization, actor, directory)
    for row in chunk:
        action = "error" if row.errors else "update" if row.user_id else "create"
        check.counts[action] += 1
        if action == "error":
            check.error_rows.append((row.number, row.label(), row.errors))
            continue
        check.plan.add(row.planned())
        if listed is None or check.counts[action] <= listed:
            shown = {
                "row": row.number,
                "action": action,
                "label": row.label(),
                "errors": [],
                "cells": [(COLUMN_LABELS[column], clip(value)) for column, value in row.raw.items() if value],
                "changes": [],
            }
            check.listed.append(shown)
            if action == "update":
                updates.append((shown, row.user_id, row.planned().values()))
    return len(chunk)


def _read_row(number, raw, organization, directory, seen) -> _Row:
    """What a row says on its own (and against the rows before it): each cell read once."""
    cells = _identity_cells(raw)
    read = identity_read(organization, **cells)
    row = _Row(number, raw, read)
    errors = row.errors

    type_name = raw.get("user_type", "")
    if type_name:
        row.type_id, error = _memo(directory, "user_type", type_name, _read_type)
        errors.extend(error)

    groups = raw.get("groups", "")
    if groups:
        row.group_ids, error = _memo(directory, "groups", groups, _read_groups)
        errors.extend(error)

    language = raw.get("language", "")
    if language:
        row.language, error = _memo(directory, "language", language, _read_language)
        errors.extend(error)

    # The same person twice in the file.
    values = read.values
    for column in ("email", "mobile", "employee_number"):
        key = values[column]
        if key:
            earlier = seen[column].get(key)
            if earlier:
                errors.append((column, _("same value as row %(row)s") % {"row": earlier}))
            else:
                seen[column][key] = number
    return row


def _memo(directory, column, text, reader):
    """What `reader` makes of a cell's text, once per distinct text (up to MEMO_CELLS of them)."""
    known = directory.memo[column]
    result = known.get(text)
    if result is None:
        result = reader(directory, text)
        if len(known) < MEMO_CELLS:
            known[text] = result
    return result


def _read_type(directory, type_name) -> tuple:
    type_id = directory.types.get(fold(type_name))
    if type_id is None:
        return None, (("user_type", _("unknown user type “%(value)s”") % {"value": clip(type_name)}),)
    return type_id, ()


def _read_groups(directory, text) -> tuple:
    group_ids, errors, unknown = [], [], 0
    for name in filter(None, (part.strip() for part in GROUP_SEPARATORS.split(text))):
        key = fold(name)
        group_id = directory.groups.get(key)
        if group_id is None and key in directory.other_groups:
            errors.append(("groups", _("group “%(value)s” is outside your groups") % {"value": clip(name)}))
        elif group_id is None:
            unknown += 1
            if unknown <= GROUP_ERRORS_SHOWN:
                errors.append(("groups", _("unknown group “%(value)s”") % {"value": clip(name)}))
        elif group_id not in group_ids:
            group_ids.append(group_id)
    if unknown > GROUP_ERRORS_SHOWN:
        more = unknown - GROUP_ERRORS_SHOWN
        errors.append(
            ("groups", ngettext("and %(n)s more unknown group", "and %(n)s more unknown groups", more) % {"n": more})
        )
    return tuple(group_ids), tuple(errors)


def _read_language(directory, language) -> tuple:
    code = LANGUAGES.get(_header_key(language), "")
    if not code:
        return "", (("language", _("unknown language “%(value)s” (use en or fr)") % {"value": clip(language)}),)
    return code, ()


def _decide(chunk, organization, actor, directory) -> None:
    """What needs the organisation's people, for a chunk of read rows: the person each row updates
    (matched by email, mobile or employee number; two different people is an error), the rules
    between fields judged against them, the actor's scope over them, and where new people go."""
    from rights.names import Right
    from rights.selectors import users_in_scope

    keys = {"email": set(), "mobile": set(), "employee_number": set()}
    for row in chunk:
        for column, found in keys.items():
            if row.read.values[column]:
                found.add(row.read.values[column])
    by = {"email": {}, "mobile": {}, "employee_number": {}}
    current = {}
    for pk, email, mobile, number, channel in _people_matching(organization, keys):
        for column, value in (("email", email), ("mobile", mobile), ("employee_number", number)):
            if value:
                by[column][value] = pk
        current[pk] = Identity(email=email, mobile=mobile, employee_number=number, preferred_channel=channel)
    for row in chunk:
        values = row.read.values
        # An existing user matched by any of the three keys is updated; two different users is a conflict.
        matches = {}
        for column in ("email", "mobile", "employee_number"):
            pk = by[column].get(values[column]) if values[column] else None
            if pk:
                matches[column] = pk
        conflict = len(set(matches.values())) > 1
        if conflict:
            row.errors.append(
                (", ".join(matches), _("the email, mobile or employee number belong to different existing users"))
            )
            row.identity, refused = identity_judge(row.read)
        elif matches:
            row.user_id = next(iter(matches.values()))
            # An update: a blank cell keeps what the user has, and the rules between fields judge the
            # result (an SMS channel is fine for someone who already has a mobile).
            row.identity, refused = identity_judge(row.read, current=current[row.user_id])
        else:
            row.identity, refused = identity_judge(row.read)
        row.errors[:0] = [(column, message) for column, messages in refused.items() for message in messages]
    matched = {row.user_id for row in chunk if row.user_id}
    if matched and actor is not None:
        in_scope = set(users_in_scope(actor, Right.MANAGE_USERS).filter(pk__in=matched).values_list("pk", flat=True))
        for row in chunk:
            if row.user_id and row.user_id not in in_scope:
                row.errors.append(("email", _("this person is a user you may not manage")))
    if directory.must_place:
        # Without one of the manager's groups, a new user would be out of their own scope.
        for row in chunk:
            if not row.errors and not row.user_id and not row.group_ids:
                row.errors.append(("groups", _("a new user must be put in one of your groups")))


_MATCHING = """
    SELECT person.* FROM unnest(%s::text[]) AS typed(value) CROSS JOIN LATERAL (
        SELECT id, email, mobile, employee_number, preferred_channel FROM accounts_user
        WHERE organization_id = %s AND {column} = typed.value AND NOT ({column} = '') LIMIT 1
    ) AS person
"""


def _people_matching(organization, keys: dict[str, set]) -> list[tuple]:
    """(id, email, mobile, employee number, channel) of the organisation's people who have one of
    `keys` ({column: values}).

    On PostgreSQL each value is one probe of the column's unique index (a join on the typed values):
    the plan holds on tables whose statistics are missing or stale, as after a big import, where a
    plain filter was read as a scan of the whole organisation."""
    keys = {column: sorted(values) for column, values in keys.items() if values}
    if not keys:
        return []
    if connection.vendor == "postgresql":
        sql = " UNION ALL ".join(_MATCHING.format(column=column) for column in keys)
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for values in keys.values() for value in (values, organization.pk)])
            return cursor.fetchall()
    condition = Q()
    for column, values in keys.items():
        condition |= Q(**{f"{column}__in": values})
    people = User.objects.for_org(organization).filter(condition).order_by()
    return list(people.values_list("pk", "email", "mobile", "employee_number", "preferred_channel"))


def plan_holds(check: ImportCheck, *, organization, actor) -> bool:
    """Whether `check` may still be written as it is: the organisation's types and groups and the
    actor's scope are what it read (`basis`), and every row to write matches the same person as
    then (or still nobody) and still passes the rules against them and the actor's scope. The
    cells are not read again: only what depends on the people is decided again, a chunk at a time.
    When it does not hold, the file must be checked again (the rows' actions or errors changed).
    """
    directory = _Directory(organization, actor)
    if directory.basis != check.basis:
        return False
    for chunk in check.plan.chunks():
        for start in range(0, len(chunk), CHECK_CHUNK):
            planned = chunk[start : start + CHECK_CHUNK]
            rows = [_Row.of(row) for row in planned]
            _decide(rows, organization, actor, directory)
            if any(row.errors or row.user_id != was.user_id for row, was in zip(rows, planned, strict=True)):
                return False
    return True


def _describe_updates(updates) -> None:
    """Each listed update's (column, before, after) for the cells it was given that differ from the user's."""
    current = User.objects.select_related("user_type").in_bulk([user_id for _shown, user_id, _values in updates])
    for shown, user_id, values in updates:
        user = current.get(user_id)
        if user is None:  # gone since it was matched: the write finds that out (plan_holds)
            continue
        now = {name: getattr(user, name) for name in UPDATE_SHOWN}
        now["user_type"] = user.user_type.name if user.user_type_id else ""
        for column, typed in shown["cells"]:
            # Compared as it would be stored (an address in lower case, a mobile in full).
            after = values.get(column) or typed
            if column in now and after and str(after) != str(now[column]):
                shown["changes"].append((column, now[column], after))


def _identity_cells(raw) -> dict:
    """The identity cells of a row, as identity_read takes them (a channel written the usual ways)."""
    cells = {name: raw.get(name, "") for name in IDENTITY_FIELDS}
    channel = cells["preferred_channel"]
    if channel:
        # A word the import does not know goes on as typed, and identity_read says it is unknown.
        cells["preferred_channel"] = CHANNELS.get(_header_key(channel), channel)
    return cells


def sample_table() -> tuple[list[str], list[list[str]]]:
    return list(COLUMN_LABELS.values()), SAMPLE_ROWS
