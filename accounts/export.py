"""Exporting people lists as CSV or Excel, safe to open in a spreadsheet."""

import csv
import io

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000


def neutralise(value) -> str:
    """The cell's text, with a leading apostrophe if a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


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
    """One list of neutralised cells per user, read in chunks with their groups (constant memory)."""
    for user in queryset.iterator(chunk_size=CHUNK):
        yield [
            neutralise(cell)
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
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # BOM: Excel then reads the file as UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

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
            # Typed as text explicitly: openpyxl would otherwise store "=…" as a formula.
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
