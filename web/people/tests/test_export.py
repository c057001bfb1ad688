import csv
import io
import zipfile

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from experquiz.spreadsheets import neutralise

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


def test_xlsx_export_stores_text_never_formulas(alice_client, hostile):
    response = alice_client.get(reverse("accounts:user_export", args=["xlsx"]), {"q": "evil"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    # The exact value, as a text cell (never a formula: no cell of type "f" anywhere), quote-prefixed
    # so that editing it in Excel keeps it a text.
    assert rows[1][0] == "=cmd|' /C calc'!A0" and rows[1][1] == "@Evil"
    assert rows[1][7] == '=HYPERLINK("http://evil")'
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value)
    assert sheet["A2"].quotePrefix and sheet["H2"].quotePrefix
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_export_keeps_mobiles_exactly(alice_client, alice):
    UserFactory(organization=alice.organization, first_name="Zed", mobile="+33612345678")
    response = alice_client.get(reverse("accounts:user_export", args=["xlsx"]), {"q": "zed"})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[1][3] == "+33612345678"


def test_export_never_includes_another_tenant(alice_client, alice, mallory):
    response = alice_client.get(reverse("accounts:user_export", args=["csv"]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "mallory" not in text.lower() and "alice@acme.example" in text


def test_plain_users_cannot_export(bob_client):
    assert bob_client.get(reverse("accounts:user_export", args=["csv"])).status_code == 403


def test_an_export_with_an_invalid_filter_exports_nothing(alice_client, mallory):
    response = alice_client.get(reverse("accounts:user_export", args=["csv"]), {"status": "bogus"})
    assert response.status_code == 302
