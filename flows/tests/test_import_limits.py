"""What an uploaded people file may unfold into: decompression bombs, over-long cells, big reports.

The hostile files are built here, part by part and streamed into the zip, so that each one is
small on disk and huge once unpacked, exactly like the files of the security review (a 60 KB
.xlsx holding one 60 MB cell). Memory is measured with tracemalloc around the reading only.
"""

import io
import json
import tracemalloc
import zipfile
from itertools import chain

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import ImportJob
from accounts.tests.factories import UserGroupFactory
from flows.importing import ImportFileError, check_rows, read_table

pytestmark = [
    pytest.mark.django_db,
    # The hand-made packages below carry an empty stylesheet, which openpyxl replaces with its own.
    pytest.mark.filterwarnings("ignore:Workbook contains no stylesheet"),
]
UPLOAD = reverse("accounts:user_import")
MB = 1024 * 1024
# Reading must never need more than this, whatever the file unfolds into.
PEAK_LIMIT = 50 * MB

MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b'<Override PartName="/xl/styles.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    b"</Types>"
)
ROOT_RELS = (
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Target="xl/workbook.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    b"</Relationships>"
)
WORKBOOK = (
    b'<workbook xmlns="' + MAIN + b'" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="People" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    b'<Relationship Id="rId2" Target="sharedStrings.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
    b'<Relationship Id="rId3" Target="styles.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"/>'
    b"</Relationships>"
)
STYLES = b'<styleSheet xmlns="' + MAIN + b'"/>'


def repeat(chunk: bytes, total: int):
    """`total` bytes of `chunk` repeated, yielded a megabyte at a time (never held whole)."""
    block = chunk * (MB // len(chunk))
    for _ in range(total // len(block)):
        yield block
    yield chunk * ((total % len(block)) // len(chunk))


def parts(*pieces):
    """One stream of bytes from bytes and iterables of bytes, in order (nothing is held whole)."""
    return chain.from_iterable([piece] if isinstance(piece, bytes) else piece for piece in pieces)


def inline(ref: str, text):
    return parts(f'<c r="{ref}" t="inlineStr"><is><t>'.encode(), text, b"</t></is></c>")


def shared(ref: str, index: int):
    return parts(f'<c r="{ref}" t="s"><v>{index}</v></c>'.encode())


def row(number: int, *cells):
    return parts(f'<row r="{number}">'.encode(), *cells, b"</row>")


def sheet(*rows, head=b""):
    return parts(head, b'<worksheet xmlns="' + MAIN + b'"><sheetData>', *rows, b"</sheetData></worksheet>")


def strings(*texts):
    return parts(b'<sst xmlns="' + MAIN + b'">', *(parts(b"<si><t>", text, b"</t></si>") for text in texts), b"</sst>")


def package(sheet_part, shared_part=None, styles_part=None, **extra) -> bytes:
    """A minimal .xlsx that openpyxl reads, its parts streamed in (each is an iterable of bytes)."""
    contents = {
        "[Content_Types].xml": [TYPES],
        "_rels/.rels": [ROOT_RELS],
        "xl/workbook.xml": [WORKBOOK],
        "xl/_rels/workbook.xml.rels": [WORKBOOK_RELS],
        "xl/styles.xml": styles_part or [STYLES],
        "xl/sharedStrings.xml": shared_part or strings(),
        "xl/worksheets/sheet1.xml": sheet_part,
        **extra,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in contents.items():
            with archive.open(name, "w") as part:
                for chunk in content:
                    part.write(chunk)
    return buffer.getvalue()


def understate(data: bytes, name: str, size: int) -> bytes:
    """The zip with its directory (and local header) declaring `size` bytes for `name`: a lie."""
    out = bytearray(data)
    end = data.rfind(b"PK\x05\x06")
    position = int.from_bytes(data[end + 16 : end + 20], "little")
    while data[position : position + 4] == b"PK\x01\x02":
        lengths = [int.from_bytes(data[position + i : position + i + 2], "little") for i in (28, 30, 32)]
        if data[position + 46 : position + 46 + lengths[0]] == name.encode():
            out[position + 24 : position + 28] = size.to_bytes(4, "little")
            local = int.from_bytes(data[position + 42 : position + 46], "little")
            out[local + 22 : local + 26] = size.to_bytes(4, "little")
            return bytes(out)
        position += 46 + sum(lengths)
    raise AssertionError(f"{name} is not in the zip")


def read_measured(data: bytes):
    """(the error message or None, peak traced memory in bytes) of reading `data`."""
    tracemalloc.start()
    try:
        read_table(data)
        message = None
    except ImportFileError as error:
        message = error.message
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return message, peak


def test_the_handmade_package_is_a_file_the_import_reads():
    # The files below differ from this one only by their size: each refusal is about a limit.
    data = package(
        sheet(row(1, shared("A1", 0), shared("B1", 1)), row(2, inline("A2", b"ann@example.com"), shared("B2", 2))),
        strings(b"email", b"first_name", b"Ann"),
    )
    header, rows = read_table(data)
    assert (header[:2], rows[0][:2], any(header[2:] + rows[0][2:])) == (
        ["email", "first_name"],
        ["ann@example.com", "Ann"],
        False,
    )


def test_a_60_mb_shared_string_is_refused_from_the_zip_directory_in_bounded_memory():
    data = package(
        sheet(row(1, shared("A1", 0), shared("B1", 1)), row(2, inline("A2", b"a@example.com"), shared("B2", 2))),
        strings(b"email", b"first_name", repeat(b"x", 60 * MB)),
    )
    assert len(data) < 200 * 1024
    message, peak = read_measured(data)
    assert message == (
        "The part “xl/sharedStrings.xml” of this Excel file unpacks to more than 50 MB, the limit for one part."
    )
    assert peak < PEAK_LIMIT


def test_a_long_shared_string_is_refused_naming_the_cell_that_uses_it():
    # Under every size limit of the zip (15 MB): it is the cell's own length that is refused, while
    # streaming, before openpyxl loads the strings.
    data = package(
        sheet(row(1, shared("A1", 0), shared("B1", 1)), row(2, inline("A2", b"a@example.com"), shared("B2", 2))),
        strings(b"email", b"first_name", repeat(b"x", 15 * MB)),
    )
    message, peak = read_measured(data)
    assert message == "Row 2, column B holds more than 1000 characters, the limit for one cell."
    assert peak < PEAK_LIMIT


def test_shared_strings_past_their_size_limit_are_refused_while_unpacking():
    data = package(
        sheet(row(1, shared("A1", 0))),
        strings(b"email", *(b"y" * 900 for _ in range(30_000))),
    )
    message, peak = read_measured(data)
    assert message == "The texts of this Excel file (its shared strings) take more than 20 MB, the limit."
    assert peak < PEAK_LIMIT


def test_a_sheet_of_many_huge_inline_strings_is_refused_at_the_first_one():
    huge = [inline(f"{column}3", repeat(b"z", 2 * MB)) for column in "ABCDEFGHIJKLMNOPQRST"]
    data = package(sheet(row(1, inline("A1", b"email")), row(2, inline("A2", b"a@example.com")), row(3, *huge)))
    message, peak = read_measured(data)
    assert message == "Row 3, column A holds more than 1000 characters, the limit for one cell."
    assert peak < PEAK_LIMIT


def test_cells_without_a_reference_are_located_by_their_rank():
    rows = b'<row><c t="inlineStr"><is><t>email</t></is></c></row>'
    rows += b'<row><c t="inlineStr"><is><t>a@example.com</t></is></c><c t="inlineStr"><is><t>' + b"w" * 1001
    rows += b"</t></is></c></row>"
    message, _peak = read_measured(package(sheet(rows)))
    assert message == "Row 2, column B holds more than 1000 characters, the limit for one cell."


def test_a_file_unfolding_past_the_total_limit_is_refused_from_the_zip_directory():
    # Like the review's 147 KB file (+1.8 GB): each part is under the per-part limit, not the sum.
    filler = {f"xl/media/filler{n}.bin": repeat(b"\0", 40 * MB) for n in range(3)}
    data = package(sheet(row(1, inline("A1", b"email"))), **filler)
    assert len(data) < 400 * 1024
    message, peak = read_measured(data)
    assert message == "This Excel file unpacks to more than 100 MB, the limit."
    assert peak < PEAK_LIMIT


@pytest.mark.parametrize("part", ["xl/styles.xml", "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"])
def test_a_part_larger_than_the_zip_directory_says_is_refused_while_unpacking(part):
    # The directory says 1 KB; the part unpacks to 60 MB. openpyxl reads some parts in one call,
    # which would unpack them whole before noticing the lie.
    big = parts(b"<x>", repeat(b" ", 60 * MB), b"</x>")
    data = package(
        big if part == "xl/worksheets/sheet1.xml" else sheet(row(1, inline("A1", b"email"))),
        big if part == "xl/sharedStrings.xml" else None,
        big if part == "xl/styles.xml" else None,
    )
    message, peak = read_measured(understate(data, part, 1024))
    assert message == f"This Excel file is damaged: its part “{part}” does not match the zip directory."
    assert peak < PEAK_LIMIT


@pytest.mark.parametrize(
    "head_and_rows",
    [
        # An XML entity bomb: Excel never writes a DTD.
        (
            b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
            [row(1, inline("A1", b"email")), row(2, inline("A2", b"&b;"))],
        ),
        # A 30 MB attribute: the XML parser would have to hold the whole tag.
        (b"", [row(1, inline("A1", b"email")), parts(b'<row r="2" spans="', repeat(b"1", 30 * MB), b'"/>')]),
        # Blanks before the XML, so that its first bytes do not look like XML: it is read as XML anyway.
        (b" " * 200_000, [row(1, inline("A1", b"email")), row(2, inline("A2", repeat(b"x", 30 * MB)))]),
    ],
    ids=["doctype", "endless-tag", "leading-blanks"],
)
def test_xml_tricks_are_refused_in_bounded_memory(head_and_rows):
    head, rows = head_and_rows
    message, peak = read_measured(package(sheet(*rows, head=head)))
    assert message == "This is not a readable Excel (.xlsx) file."
    assert peak < PEAK_LIMIT


def test_a_csv_cell_over_the_limit_is_refused_naming_its_row_and_column():
    ok = b"email,first_name,last_name\na@example.com,Ann," + b"b" * 1000 + b"\n"
    assert read_table(ok)[1][0][2] == "b" * 1000
    with pytest.raises(ImportFileError) as refused:
        read_table(ok + b"c@example.com,Cy," + b"c" * 1001 + b"\n")
    assert refused.value.message == "Row 3, column C holds more than 1000 characters, the limit for one cell."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"email\n" + b"\n" * MB, None),
        (b"email\n" + b"a@example.co\n" * 700_000, "The file has more than 100000 rows; at most 100000"),
    ],
    ids=["blank-lines", "rows-past-the-limit"],
)
def test_a_csv_never_holds_more_than_the_rows_it_may_import(data, message):
    error, peak = read_measured(data)
    assert error == message if message is None else error.startswith(message), error
    assert peak < PEAK_LIMIT


def test_the_upload_page_refuses_a_bomb_with_a_short_message_and_keeps_nothing(alice_client):
    data = package(sheet(row(1, inline("A1", b"email")), row(2, inline("A2", repeat(b"x", 45 * MB)))))
    response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("bomb.xlsx", data)})
    page = response.content.decode()
    assert response.status_code == 200 and len(page) < 100_000
    assert "Row 2, column A holds more than 1000 characters, the limit for one cell." in page
    assert not ImportJob.objects.exists()


def test_the_stored_report_and_the_import_page_stay_small(alice_client, alice):
    UserGroupFactory(organization=alice.organization, name="Sales")
    # Cells just under the limit, each echoed by an error message, and groups cells that would each
    # give hundreds of "unknown group" errors: the report and the page must not grow with them.
    long_name = "N" * 999
    groups = ";".join(f"g{n:03}" for n in range(199))
    lines = ["first_name,last_name,email,groups,user_type"]
    lines += [f"{long_name},{long_name},{'e' * 990}{n:05},{groups},{'t' * 999}" for n in range(1000)]
    data = ("\n".join(lines) + "\n").encode()
    response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("long.csv", data)})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.state == "ready"
    assert job.report["error"] == 1000  # every row is counted...
    assert len(json.dumps(job.report)) < 500_000  # ...but the stored report stays small
    page = alice_client.get(reverse("accounts:user_import_job", args=[job.pk])).content.decode()
    assert "1000 in error" in page
    assert len(page) < 500_000
    assert "N" * 201 not in page and "N" * 199 + "…" in page  # a cell is never echoed whole
    assert "and 189 more unknown groups" in page


def test_reading_a_row_echoes_clipped_values(alice):
    header, rows = read_table(("email,user_type\n" + "x" * 500 + "," + "T" * 600 + "\n").encode())
    (checked,) = check_rows(organization=alice.organization, actor=alice, header=header, rows=rows).rows
    reasons = [reason for _column, reason in checked.errors]
    assert reasons == [
        f"“{'x' * 199}…” is not a valid email address.",
        f"unknown user type “{'T' * 199}…”",
    ]


def test_the_refusals_speak_the_users_language():
    from django.utils import translation

    data = package(sheet(row(1, inline("A1", b"email")), row(2, inline("A2", b"x" * 1001))))
    with translation.override("fr"):
        message, _peak = read_measured(data)
    assert message == "La ligne 2, colonne A, contient plus de 1000 caractères, la limite pour une cellule."
