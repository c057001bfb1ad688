import csv
import datetime
import io
import tracemalloc
import zipfile

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from experquiz.spreadsheets import neutralise
from web.people.export import excel_date_format, user_header, xlsx_response

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33612345678", "'+33612345678"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ann", "Ann"),
        ("", ""),
        (None, ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_neutralised(value, expected):
    assert neutralise(value) == expected


@pytest.fixture
def hostile(alice):
    group = UserGroupFactory(organization=alice.organization, name='=HYPERLINK("http://evil")')
    user = UserFactory(organization=alice.organization, first_name="=cmd|' /C calc'!A0", last_name="@Evil")
    MembershipFactory(group=group, user=user)
    UserFactory(organization=alice.organization, first_name="Inactive", last_name="Person", status="inactive")
    return user


def test_csv_export_is_the_filtered_list_with_formulas_neutralised(alice_client, hostile):
    response = alice_client.get(reverse("accounts:user_export", args=["csv"]), {"status": "active"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["First name", "Last name", "Email"]
    firsts = sorted(row[0] for row in rows[1:])
    assert firsts == ["'=cmd|' /C calc'!A0", "Alice"]
    evil = next(row for row in rows if row[1] == "'@Evil")
    assert evil[7] == '\'=HYPERLINK("http://evil")'
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def workbook_of(response):
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def test_xlsx_export_stores_text_never_formulas(alice_client, hostile):
    response = alice_client.get(reverse("accounts:user_export", args=["xlsx"]), {"q": "evil"})
    data = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    # The exact value, as a text cell (never a formula: no cell of type "f" anywhere), quote-prefixed
    # so that editing it in Excel keeps it a text.
    assert rows[1][0] == "=cmd|' /C calc'!A0" and rows[1][1] == "@Evil"
    assert rows[1][7] == '=HYPERLINK("http://evil")'
    dates = {user_header().index("Last login"), user_header().index("Created")}
    assert all(
        cell.data_type == "s"
        for row in sheet.iter_rows()
        for cell in row
        if cell.value and cell.col_idx - 1 not in dates
    )
    assert sheet["A2"].quotePrefix and sheet["H2"].quotePrefix
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_export_keeps_mobiles_exactly(alice_client, alice):
    UserFactory(organization=alice.organization, first_name="Zed", mobile="+33612345678")
    response = alice_client.get(reverse("accounts:user_export", args=["xlsx"]), {"q": "zed"})
    sheet = workbook_of(response).active
    assert sheet["D2"].value == "+33612345678" and sheet["D2"].data_type == "s"


PARIS = datetime.timezone(datetime.timedelta(hours=1))  # Europe/Paris in January


@pytest.fixture
def dated(alice, settings):
    settings.TIME_ZONE = "Europe/Paris"
    # 23:30 in UTC is half past midnight the next day in Paris: the cell must show the Paris date.
    logged_in = UserFactory(
        organization=alice.organization,
        first_name="Dee",
        last_name="Dated",
        email="dee.with.a.rather.long.address@example.com",
        mobile="+33612345678",
        employee_number="00042",
        last_login=datetime.datetime(2026, 1, 15, 23, 30, tzinfo=datetime.UTC),
    )
    never = UserFactory(organization=alice.organization, first_name="Nev", last_name="Dated", last_login=None)
    return logged_in, never


def test_xlsx_export_has_widths_a_frozen_header_and_real_dates(alice_client, dated):
    logged_in, never = dated
    response = alice_client.get(reverse("accounts:user_export", args=["xlsx"]), {"q": "dated"})
    assert response.streaming  # sent from a file, never built in memory
    assert response["Content-Disposition"] == 'attachment; filename="users-acme.xlsx"'
    sheet = workbook_of(response).active
    header = user_header()
    assert [cell.value for cell in sheet[1]] == header
    assert all(cell.font.bold for cell in sheet[1])
    # The header row stays in view: the pane is frozen below it.
    assert sheet.freeze_panes == "A2"
    # Every column has a width: its longest value (or header) plus a margin, within bounds.
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJKL"}
    assert all(8 <= width <= 60 for width in widths.values()), widths
    assert widths["C"] == len(logged_in.email) + 2  # the e-mail column fits the address
    assert widths["A"] == len("First name") + 2  # a header longer than its values
    assert widths["K"] >= len("15 Jan 2026, 00:30")  # a date column fits its dates

    dee, nev = sheet[2], sheet[3]
    last_login, created = header.index("Last login"), header.index("Created")
    # A real date cell, in the site's time zone, shown in the reader's date format.
    assert dee[last_login].is_date and dee[last_login].data_type == "d"
    assert dee[last_login].value == datetime.datetime(2026, 1, 16, 0, 30)
    assert dee[last_login].number_format == "d mmm yyyy, hh:mm"
    assert dee[created].is_date
    local_created = logged_in.created_at.astimezone(datetime.timezone(logged_in.created_at.astimezone().utcoffset()))
    assert abs(dee[created].value - local_created.replace(tzinfo=None)) < datetime.timedelta(hours=2)
    # An unknown date is an empty cell.
    assert nev[last_login].value is None
    # Every other cell is text, kept exactly: the mobile with its "+", the number with its zeros.
    others = [cell for cell in (*dee, *nev) if cell.col_idx - 1 not in (last_login, created) and cell.value]
    assert all(cell.data_type == "s" for cell in others)
    assert dee[header.index("Mobile")].value == "+33612345678"
    assert dee[header.index("Employee number")].value == "00042"


def test_xlsx_dates_follow_the_readers_language(alice_client, dated):
    alice_client.cookies["django_language"] = "fr"
    response = alice_client.get(reverse("accounts:user_export", args=["xlsx"]), {"q": "dee"})
    sheet = workbook_of(response).active
    assert sheet["A1"].value == "Prénom"
    assert sheet["K2"].value == datetime.datetime(2026, 1, 16, 0, 30)
    assert sheet["K2"].number_format == "dd\\/mm\\/yyyy hh:mm"


def test_csv_export_writes_dates_in_the_sites_time_zone_and_leaves_unknown_ones_empty(alice_client, dated):
    response = alice_client.get(reverse("accounts:user_export", args=["csv"]), {"q": "dated"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    last_login = user_header().index("Last login")
    assert [row[last_login] for row in rows[1:]] == ["2026-01-16 00:30", ""]
    assert rows[1][3] == "'+33612345678"


@pytest.mark.parametrize(
    ("django_format", "excel_format"),
    [
        ("d/m/Y H:i", "dd\\/mm\\/yyyy hh:mm"),
        ("j M Y, H:i", "d mmm yyyy, hh:mm"),
        ("Y-m-d", "yyyy-mm-dd"),
        ("d.m.Y", "dd.mm.yyyy"),
        ("j \\d\\e F", "d \\d\\e mmmm"),
    ],
)
def test_excel_date_formats_follow_djangos(django_format, excel_format):
    assert excel_date_format(django_format) == excel_format


def test_a_long_value_is_cut_to_the_widest_column_and_a_short_column_kept_readable():
    rows = [["x" * 500, "", None]]
    sheet = load_workbook(io.BytesIO(b"".join(xlsx_response(["a", "b", "c"], rows, "w").streaming_content))).active
    assert [sheet.column_dimensions[letter].width for letter in "ABC"] == [60, 8, 8]
    assert sheet["B2"].value is None and sheet["C2"].value is None


def _peak_memory(rows: int) -> int:
    def lines():
        for n in range(rows):
            yield [f"Person {n}", f"person{n}@example.com", "+33612345678", datetime.datetime(2026, 1, 1, 9, n % 60)]

    tracemalloc.start()
    try:
        response = xlsx_response(["Name", "Email", "Mobile", "Created"], lines(), "big")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = sum(len(chunk) for chunk in response.streaming_content)
    assert size > rows * 20
    return peak


@pytest.mark.slow
def test_a_big_xlsx_export_is_written_in_constant_memory():
    # Rows go to a temporary file as they come, and the file is sent from disk: twenty times the rows
    # take the same memory (the first rows, kept to measure the widths, and openpyxl's buffers).
    # Built in memory, the file would take some 400 kB more.
    small, big = _peak_memory(1_000), _peak_memory(20_000)
    assert big < small + 150_000, (small, big)


def test_export_never_includes_another_tenant(alice_client, alice, mallory):
    response = alice_client.get(reverse("accounts:user_export", args=["csv"]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "mallory" not in text.lower() and "alice@acme.example" in text


def test_plain_users_cannot_export(bob_client):
    assert bob_client.get(reverse("accounts:user_export", args=["csv"])).status_code == 403


def test_an_export_with_an_invalid_filter_exports_nothing(alice_client, mallory):
    response = alice_client.get(reverse("accounts:user_export", args=["csv"]), {"status": "bogus"})
    assert response.status_code == 302
