"""Exporting people lists as CSV or Excel, safe to open in a spreadsheet.

Rows hold the plain text of each cell. CSV has no types, so text a spreadsheet would run as a
formula gets a leading apostrophe there (`neutralise`); an Excel file stores every cell as text,
which is never evaluated, so its cells keep their exact value (a mobile stays "+33612345678").

A CSV file does not say its separator: Excel uses "," or ";" depending on the region (";" in
France, the product's default), and a file read with the other one is split inside its values. So
every field is quoted, and every part of a value that could become a cell (after a ";", a ",", a
line break or a quote) is neutralised like the start of the value; the import takes the
apostrophes off again (`unneutralise`), so an export imports back to the same values.
"""

import csv
import io

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

# The cell rules are shared with the import, a floor below (it takes the apostrophes off again).
from experquiz.spreadsheets import cell_text, is_formula_like, neutralise

CHUNK = 2000


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
    """One list of cell texts per user, read in chunks with their groups (constant memory).

    The texts are raw: each format makes them safe its own way (see the module's docstring).
    """
    for user in queryset.iterator(chunk_size=CHUNK):
        yield [
            cell_text(cell)
            for cell in (
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
                timezone.localtime(user.last_login).strftime("%Y-%m-%d %H:%M") if user.last_login else "",
                timezone.localtime(user.created_at).strftime("%Y-%m-%d %H:%M"),
            )
        ]


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
            yield writer.writerow([neutralise(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(header, rows, filename) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(filename[:31])
    sheet.append(header)
    for row in rows:
        cells = []
        for value in row:
            # Typed as text explicitly (openpyxl would otherwise store "=…" as a formula): a text
            # cell is shown as is and never evaluated, so it needs no apostrophe. The quote-prefix
            # style keeps formula-like text a text if someone edits the cell in Excel.
            text = cell_text(value)
            cell = WriteOnlyCell(sheet, value=text)
            cell.data_type = "s"
            if is_formula_like(text):
                cell.quotePrefix = True
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
