"""People exports are safe to open in a spreadsheet, whatever the people's data (security review #8).

Excel in French regional settings, the product's default region, splits a CSV on ";", not ",": a
name "Gab;=1+2;" written unquoted gave it a cell "=1+2", run as a formula. So every export is read
here with both separators, with a hostile value in each free-text column, and no cell may start
like a formula. The CSV export and the import must then round-trip: what the export adds to defuse
a cell, the import takes off.
"""

import csv
import io
import zipfile

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory, UserTypeFactory
from flows.importing import check_rows, read_table
from web.people.export import user_header

pytestmark = pytest.mark.django_db

# A spreadsheet runs a cell starting with one of these as a formula (or a DDE command).
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = [
    "Gab;=1+2;",
    "=1+2",
    "+33 6 12",
    "-2-3",
    "@SUM(A1)",
    "a,=1+2",
    "x;+1;-1;@a",
    ";;=cmd|' /C calc'!A0",
    "a;\t=1",
    "a,\r=1",
    "a;\r=1",
    'q";=1+2',
    '",=1+2',
    'say "hi";=2',
    "line\n=1+2",
    "'=1+2",
    "a;'=b",
    "\t\t=1",
]


def _set_name(field):
    def put(user, value):
        setattr(user, field, value.lower() if field == "email" else value)  # emails are stored lower-case
        user.save(update_fields=[field])

    return put


def _set_type(user, value):
    user.user_type = UserTypeFactory(organization=user.organization, name=value)
    user.save(update_fields=["user_type"])


def _add_group(user, value):
    MembershipFactory(group=UserGroupFactory(organization=user.organization, name=value), user=user)


# Every column of the export, and how a hostile value gets into it.
FREE_TEXT = {
    "First name": _set_name("first_name"),
    "Last name": _set_name("last_name"),
    "Email": _set_name("email"),
    "Employee number": _set_name("employee_number"),
    "Type": _set_type,
    "Groups": _add_group,
}
# Columns the product fills itself: a mobile is always E.164 ("+33…", which must be defused too),
# the others are choices and dates.
PRODUCT_FILLED = {"Mobile", "Status", "Language", "Preferred channel", "Last login", "Created"}


def test_the_hostile_values_cover_every_column_of_the_export():
    # A new column must be added to one of the two sets above, so that the tests below cover it.
    assert set(user_header()) == set(FREE_TEXT) | PRODUCT_FILLED


@pytest.fixture
def hostile_people(alice):
    people = []
    for column, put in FREE_TEXT.items():
        for n, value in enumerate(HOSTILE):
            person = UserFactory(
                organization=alice.organization, mobile=f"+336{len(people):08d}", first_name="P", last_name=f"{n}"
            )
            put(person, value)
            people.append((column, value, person))
    return people


def export(client, fmt):
    response = client.get(reverse("accounts:user_export", args=[fmt]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def formula_like_cells(text, delimiter):
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [cell for row in rows for cell in row if cell.startswith(DANGEROUS)]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_no_csv_cell_starts_like_a_formula_whatever_the_separator(alice_client, hostile_people, delimiter):
    text = export(alice_client, "csv").decode("utf-8-sig")
    assert formula_like_cells(text, delimiter) == []
    # Read as written, every value is there (defused), one row per person.
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + 1 + len(hostile_people)
    assert all(len(row) == len(user_header()) for row in rows)


def test_every_csv_field_is_quoted(alice_client, hostile_people):
    data = export(alice_client, "csv").decode("utf-8-sig")
    fields = csv.reader(io.StringIO(data, newline=""))
    # Re-written with every field quoted, the text is unchanged: the export quoted them all.
    again = io.StringIO(newline="")
    csv.writer(again, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(fields)
    assert again.getvalue() == data


def test_the_xlsx_export_stores_every_hostile_value_as_plain_text(alice_client, hostile_people):
    data = export(alice_client, "xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    dates = {user_header().index("Last login") + 1, user_header().index("Created") + 1}
    cells = [
        cell for row in sheet.iter_rows() for cell in row if cell.value not in (None, "") and cell.column not in dates
    ]
    assert all(cell.data_type == "s" for cell in cells)
    assert [cell.coordinate for cell in cells if str(cell.value).startswith(DANGEROUS) and not cell.quotePrefix] == []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all("<f>" not in archive.read(name).decode() for name in archive.namelist() if name.endswith(".xml"))
    # An Excel file keeps each value exactly (a text cell is never run), hence a round trip below.
    values = {cell.value for cell in cells}
    expected = {value.lower() if column == "Email" else value for column, value, _person in hostile_people}
    assert {value for value in expected if "\r" not in value} <= values


IMPORTABLE = {
    "first_name": ["Gab;=1+2;", "=1+2", "-Jean", "@home", "'=quoted", "a;'=b", "x,-1"],
    "last_name": ["+plus", "O'Neil", "a;@b", "=SUM(A1:A2)", "'already", "-", "Smith"],
    "email": [
        "=x@example.com",
        "+tag@example.com",
        "-dash@example.com",
        "plain@example.com",
        "a=b@example.com",
        "z@example.com",
        "y@example.com",
    ],
    "employee_number": ["=E1", "+E2", "-3;=4", "@5", "E-6", "'=7", ""],
}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_to_the_same_people(alice_client, alice, fmt):
    org = alice.organization
    types = [UserTypeFactory(organization=org, name=name) for name in ("=Type", "@Type", "Plain")]
    groups = [UserGroupFactory(organization=org, name=name) for name in ("=Sales", "-Lyon", "@Paris", "+Nice")]
    people = []
    for n in range(7):
        person = UserFactory(
            organization=org,
            mobile=f"+3361234{n:04d}",
            user_type=types[n % 3],
            language="fr" if n % 2 else "en",
            preferred_channel="sms" if n % 2 else "email",
            **{field: values[n] for field, values in IMPORTABLE.items()},
        )
        for group in groups[: n % 5]:
            MembershipFactory(group=group, user=person)
        people.append(person)

    data = export(alice_client, fmt)
    if fmt == "csv":
        # The mobile is defused in the file ("'+33…"); the import must take the apostrophe off.
        assert f'"\'{people[0].mobile}"' in data.decode("utf-8-sig")
    header, rows = read_table(data)
    # The cell as read, before the phone rules: a mobile comes back exactly, apostrophe off.
    mobile_cells = {row[header.index("Email")]: row[header.index("Mobile")] for row in rows}
    checked = check_rows(organization=org, actor=alice, header=header, rows=rows)
    assert [(row.number, row.errors) for row in checked.rows if row.errors] == []
    by_user = {row.user_id: row.values for row in checked.rows}
    for person in people:
        values = by_user[person.pk]
        assert (
            values["first_name"],
            values["last_name"],
            values["email"],
            values["mobile"],
            mobile_cells[person.email],
            values["employee_number"],
            values["user_type_id"],
            set(values["group_ids"]),
            values["language"],
            values["preferred_channel"],
        ) == (
            person.first_name,
            person.last_name,
            person.email,
            person.mobile,
            person.mobile,
            person.employee_number,
            person.user_type_id,
            {group.pk for group in person.user_groups.all()},
            person.language,
            person.preferred_channel,
        )


def test_any_text_is_defused_and_given_back():
    # Generated values made of the characters that matter (separators, quotes, line breaks,
    # triggers, apostrophes), written by the export's own CSV writer.
    import random

    from experquiz.spreadsheets import unneutralise
    from web.people.export import csv_response

    generator = random.Random(8)
    alphabet = ";,\"\n\r\t=+-@' aZ"
    rows = [["".join(generator.choices(alphabet, k=generator.randint(0, 8))) for _ in range(3)] for _ in range(3000)]
    text = b"".join(csv_response(["a", "b", "c"], rows, "fuzz").streaming_content).decode("utf-8-sig")
    for delimiter in ",;":
        assert formula_like_cells(text, delimiter) == []
    read = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert [[unneutralise(cell) for cell in row] for row in read] == rows
