"""Exporting people lists as CSV or Excel, safe to open in a spreadsheet.

Rows hold each cell's value: a text (or None), or a date or an aware datetime for the columns that
are dates. Each writer makes them safe its own way.

CSV has no types: a date is written as "2026-12-02 15:09" in the site's time zone, and text a
spreadsheet would run as a formula gets a leading apostrophe (`neutralise`). A CSV file does not say
its separator: Excel uses "," or ";" depending on the region (";" in France, the product's default),
and a file read with the other one is split inside its values. So every field is quoted, and every
part of a value that could become a cell (after a ";", a ",", a line break or a quote) is
neutralised like the start of the value; the import takes the apostrophes off again
(`unneutralise`), so an export imports back to the same values.

An Excel file stores every other cell as text, which is never evaluated, so its cells keep their
exact value (a mobile stays "+33612345678"); dates are real date cells in the site's time zone,
shown in the reader's language's date format, and empty when unknown. Its header row is frozen and
its columns are as wide as the header and the first rows need. It is written row by row to a
temporary file and sent from there, so a big export never sits in memory.
"""

import csv
import datetime
import tempfile
from itertools import chain, islice

from django.http import FileResponse, StreamingHttpResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

# The cell rules are shared with the import, a floor below (it takes the apostrophes off again).
from experquiz.spreadsheets import cell_text, is_formula_like, neutralise

CHUNK = 2000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Column widths (in characters) are measured on the header and this many first rows: a write-only
# sheet needs them before its first row, and the rest of the rows are never held.
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH = 8, 60


def user_header() -> list[str]:
    return [
        _("First name"),
        _("Last name"),
        _("Email"),
        _("Mobile"),
        _("Employee number"),
        _("Type"),
        _("Status"),
        _("Groups"),
        _("Language"),
        _("Preferred channel"),
        _("Last login"),
        _("Created"),
    ]


def user_rows(queryset):
    """One list of cells per user, read in chunks with their groups (constant memory).

    Texts are raw and dates are datetimes: each format makes them safe its own way (see the module's
    docstring).
    """
    for user in queryset.iterator(chunk_size=CHUNK):
        texts = (
            user.first_name,
            user.last_name,
            user.email,
            user.mobile,
            user.employee_number,
            user.user_type.name if user.user_type else "",
            user.get_status_display(),
            ", ".join(group.name for group in user.user_groups.all()),
            user.language,
            user.preferred_channel,
        )
        yield [*(cell_text(text) for text in texts), user.last_login, user.created_at]


def local(value):
    """A datetime in the site's time zone, without its zone (what a spreadsheet cell holds); a date as is."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    return value


def csv_text(value) -> str:
    """A cell's text in CSV, before neutralising: dates in ISO order, in the site's time zone."""
    if isinstance(value, datetime.datetime):
        return local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return cell_text(value)


class _Echo:
    def write(self, value):
        return value


def csv_response(header, rows, filename) -> StreamingHttpResponse:
    # Every field quoted: a value holding the other separator (";" for a "," file) stays whole. Lines
    # end with \n alone: read with the other separator, a line end can fall inside a cell, and a
    # cell must not start with the \r of a \r\n.
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL, lineterminator="\n")

    def lines():
        yield "\ufeff"  # BOM: Excel then reads the file as UTF-8
        yield writer.writerow([neutralise(cell) for cell in header])
        for row in rows:
            yield writer.writerow([neutralise(csv_text(cell)) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


# Django's date format letters as Excel number-format codes, so that a date cell reads like the dates
# on the pages, in the reader's language ("02/12/2026 15:09" in French, "2 Dec 2026, 15:09" in English).
_EXCEL_CODES = {
    "d": "dd",
    "j": "d",
    "D": "ddd",
    "l": "dddd",
    "m": "mm",
    "n": "m",
    "M": "mmm",
    "b": "mmm",
    "N": "mmm",
    "F": "mmmm",
    "Y": "yyyy",
    "y": "yy",
    "H": "hh",
    "G": "h",
    "i": "mm",
    "s": "ss",
}
# Shown as they are in an Excel format; any other character is escaped ("/" alone would be replaced
# by the date separator of the reader's system).
_EXCEL_LITERALS = " :,.-"


def excel_date_format(django_format: str) -> str:
    """The Excel number format showing a date as Django's format does: "d/m/Y H:i" → "dd\\/mm\\/yyyy hh:mm"."""
    codes, escaped = [], False
    for char in django_format:
        if escaped or char not in _EXCEL_CODES:
            if char == "\\" and not escaped:
                escaped = True
                continue
            codes.append(char if char in _EXCEL_LITERALS else "\\" + char)
        else:
            codes.append(_EXCEL_CODES[char])
        escaped = False
    return "".join(codes)


def _shown(value) -> str:
    """A cell's text as a reader of the Excel file sees it, to measure its column."""
    if isinstance(value, datetime.datetime):
        return formats.date_format(local(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    return cell_text(value)


def column_widths(header, rows) -> list[int]:
    """Each column's width: its longest header or cell line among `rows`, plus a margin, within bounds."""
    widths = [0] * len(header)
    for row in chain([header], rows):
        for index, value in enumerate(row[: len(widths)]):
            longest = max((len(line) for line in _shown(value).splitlines()), default=0)
            widths[index] = max(widths[index], longest)
    return [min(max(width + 2, MIN_WIDTH), MAX_WIDTH) for width in widths]


def xlsx_response(header, rows, filename) -> FileResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(filename[:31])
    date_formats = {
        datetime.datetime: excel_date_format(formats.get_format("SHORT_DATETIME_FORMAT")),
        datetime.date: excel_date_format(formats.get_format("SHORT_DATE_FORMAT")),
    }

    def text_cell(value, font=None):
        # Typed as text explicitly (openpyxl would otherwise store "=…" as a formula): a text cell is
        # shown as is and never evaluated, so it needs no apostrophe. The quote-prefix style keeps
        # formula-like text a text if someone edits the cell in Excel.
        text = cell_text(value)
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"
        if is_formula_like(text):
            cell.quotePrefix = True
        if font is not None:
            cell.font = font
        return cell

    def any_cell(value):
        # No cell for an empty value, a date cell for a date, a text cell for anything else.
        if value is None or value == "":
            return None
        if isinstance(value, datetime.date):
            cell = WriteOnlyCell(sheet, value=local(value))
            cell.number_format = date_formats[
                datetime.datetime if isinstance(value, datetime.datetime) else datetime.date
            ]
            return cell
        return text_cell(value)

    # A write-only sheet takes its column widths and panes before its first row.
    rows = iter(rows)
    first = list(islice(rows, WIDTH_SAMPLE_ROWS))
    for index, width in enumerate(column_widths(header, first), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"  # the header row stays in view while scrolling
    bold = Font(bold=True)
    sheet.append([text_cell(title, font=bold) for title in header])
    for row in chain(first, rows):
        sheet.append([any_cell(value) for value in row])
    # Streamed from a temporary file, which FileResponse closes once sent (and closing deletes it).
    file = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        workbook.save(file)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return FileResponse(file, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_TYPE)
