"""Limits on what an uploaded people file may unfold into, checked while it is read.

An .xlsx is a zip of XML parts, and XML compresses about a thousand to one: a 60 KB file can hold a
60 MB cell, and openpyxl loads the shared strings and several parts whole. So before openpyxl sees
a file, `check_xlsx`:

1. reads the zip directory and refuses declared sizes over the limits, having unpacked nothing;
2. unpacks every part itself, 64 KB at a time, counting the bytes really produced, since the
   directory can lie (and Python's zipfile, asked for a whole part, inflates all of it before
   cutting it to the declared size);
3. reads each XML part as a stream (expat) and stops at the first cell or shared string longer
   than a cell may be, any DOCTYPE (entity bombs; Excel never writes one) and any tag the parser
   would have to hold whole.

A file that passes has a truthful directory and short texts, so openpyxl reads it in bounded
memory. Each refusal says which limit was passed and, where it is known, which row and column.

CSV has the same cell limit (`cell_too_long`), applied by `importing` as it reads the rows; any
value a message or a report quotes from a file is cut by `clip`.
"""

import io
import re
import struct
import zipfile
import zlib
from xml.parsers import expat

from django.utils.translation import gettext as _
from openpyxl.utils import column_index_from_string, get_column_letter

MB = 1024 * 1024
# The longest cell accepted: far above a real name (150), email address (254) or list of groups.
MAX_CELL_CHARS = 1000
# What a message, a report or a page quotes of a value from a file, at most.
ECHO_CHARS = 200

MAX_UNPACKED_BYTES = 100 * MB  # the whole archive, unpacked
MAX_PART_BYTES = 50 * MB  # any one part: a worksheet, which openpyxl reads as a stream
MAX_SHARED_STRINGS_BYTES = 20 * MB  # openpyxl holds every shared string in memory
MAX_WHOLE_PART_BYTES = 10 * MB  # other XML parts (workbook, styles, relations...), parsed whole
MAX_DIRECTORY_BYTES = 1 * MB  # the zip's central directory: zipfile makes an object per entry
MAX_PARTS = 2000
MAX_TEXT_CHARS = 64 * 1024  # any text outside cells (headers, comments...)
CHUNK = 64 * 1024
# The longest tag (with its attributes) the XML parser may have to hold: real ones are far shorter.
MAX_TAG_BYTES = 64 * 1024

_CELL_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
_ROW_NUMBER = re.compile(r"[0-9]{1,7}")
_XML_STARTS = (b"<", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00<")


class Refused(Exception):
    """The file passes a limit; `message` (translated) says which."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class _LongSharedString(Exception):
    def __init__(self, index):
        super().__init__(index)
        self.index = index


def clip(text, limit=ECHO_CHARS) -> str:
    """`text`, cut to `limit` characters with an ellipsis: a file's value is never quoted whole."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell_too_long(row, column) -> str:
    """The message for a cell over MAX_CELL_CHARS; `column` is a 1-based index or a letter."""
    if isinstance(column, int):
        column = get_column_letter(column)
    return _("Row %(row)s, column %(column)s holds more than %(max)s characters, the limit for one cell.") % {
        "row": row,
        "column": column,
        "max": MAX_CELL_CHARS,
    }


def _unreadable() -> Refused:
    return Refused(_("This is not a readable Excel (.xlsx) file."))


def _damaged(part) -> Refused:
    return Refused(
        _("This Excel file is damaged: its part “%(part)s” does not match the zip directory.") % {"part": clip(part)}
    )


def _strings_too_big() -> Refused:
    return Refused(
        _("The texts of this Excel file (its shared strings) take more than %(max)s MB, the limit.")
        % {"max": MAX_SHARED_STRINGS_BYTES // MB}
    )


def _part_too_big(part, limit) -> Refused:
    return Refused(
        _("The part “%(part)s” of this Excel file unpacks to more than %(max)s MB, the limit for one part.")
        % {"part": clip(part), "max": limit // MB}
    )


def _too_big() -> Refused:
    return Refused(_("This Excel file unpacks to more than %(max)s MB, the limit.") % {"max": MAX_UNPACKED_BYTES // MB})


def check_xlsx(data: bytes) -> None:
    """Raise `Refused` unless every limit above holds for this .xlsx (zip) file."""
    members = _directory(data)
    try:
        _scan(data, members)
    except _LongSharedString as error:
        # Refused already; name the cell that shows the string, if a worksheet uses it.
        _scan(data, members, locate=error.index)
        raise Refused(
            _("A text of this Excel file holds more than %(max)s characters, the limit for one cell.")
            % {"max": MAX_CELL_CHARS}
        ) from None


def _directory(data: bytes) -> list:
    """The zip's entries, refusing declared sizes over the limits before anything is unpacked."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 0xFFFF))
    if end < 0 or len(data) < end + 22:
        raise _unreadable()
    directory_size = struct.unpack("<L", data[end + 12 : end + 16])[0]
    if directory_size > MAX_DIRECTORY_BYTES:
        raise Refused(_("This Excel file has too many parts (more than %(max)s).") % {"max": MAX_PARTS})
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise _unreadable() from None
    if len(members) > MAX_PARTS:
        raise Refused(_("This Excel file has too many parts (more than %(max)s).") % {"max": MAX_PARTS})
    for member in members:
        if member.file_size > MAX_PART_BYTES:
            raise _part_too_big(member.filename, MAX_PART_BYTES)
    if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise _too_big()
    return members


def _scan(data: bytes, members: list, locate=None) -> None:
    unpacked = 0
    for member in members:
        xml = None
        produced = 0
        for chunk in _unpack(data, member):
            produced += len(chunk)
            unpacked += len(chunk)
            if unpacked > MAX_UNPACKED_BYTES:
                raise _too_big()
            if xml is None:
                # XML unless it starts like something else: blanks first must not hide XML from the scan.
                start = chunk.lstrip(b" \t\r\n")
                xml = _XmlPart(member.filename, locate) if not start or start.startswith(_XML_STARTS) else False
            if xml:
                xml.feed(chunk)
                limit = xml.byte_limit()
            else:
                limit = MAX_PART_BYTES
            if produced > limit:
                raise _strings_too_big() if xml and xml.kind == "strings" else _part_too_big(member.filename, limit)
        if xml:
            xml.close()


def _unpack(data: bytes, member):
    """The part's bytes, CHUNK at a time, checked against what the directory declares."""
    if member.flag_bits & 0x1 or member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _unreadable()  # encrypted, or a compression Excel never uses
    header = data[member.header_offset : member.header_offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise _damaged(member.filename)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = member.header_offset + 30 + name_length + extra_length
    raw = memoryview(data)[start : start + member.compress_size]
    if len(raw) < member.compress_size:
        raise _damaged(member.filename)
    produced, crc = 0, 0
    for chunk in _inflate(raw, member):
        produced += len(chunk)
        if produced > member.file_size:
            raise _damaged(member.filename)  # the directory understates the part: stop here
        crc = zlib.crc32(chunk, crc)
        yield chunk
    if produced != member.file_size or crc != member.CRC:
        raise _damaged(member.filename)


def _inflate(raw: memoryview, member):
    if member.compress_type == zipfile.ZIP_STORED:
        for start in range(0, len(raw), CHUNK):
            yield bytes(raw[start : start + CHUNK])
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for start in range(0, len(raw), CHUNK):
            piece = raw[start : start + CHUNK]
            while True:
                # At most CHUNK bytes out per call, whatever the input unfolds into.
                chunk = inflater.decompress(piece, CHUNK)
                if chunk:
                    yield chunk
                piece = inflater.unconsumed_tail
                if not piece and len(chunk) < CHUNK:
                    break
            if inflater.eof:
                return
    except zlib.error:
        raise _damaged(member.filename) from None
    raise _damaged(member.filename)  # the compressed data ends before the part does


class _XmlPart:
    """One XML part read as a stream, refusing over-long texts and tags as they come."""

    def __init__(self, name, locate=None):
        self.name = name
        self.locate = locate  # the index of an over-long shared string whose cell is sought
        self.kind = None  # "sheet", "strings" or "other", from the root element
        self.fed = self.last_event = 0
        self.row = self.column = 0
        self.in_cell = self.in_value = False
        self.cell_chars = self.text_chars = 0
        self.cell_type = ""
        self.value = []
        self.string_index = -1
        self.in_string = False
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = False
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.text
        parser.StartDoctypeDeclHandler = self.doctype
        for handler in ("XmlDeclHandler", "CommentHandler", "ProcessingInstructionHandler"):
            setattr(parser, handler, self.event)
        parser.StartCdataSectionHandler = parser.EndCdataSectionHandler = self.event
        self.parser = parser

    def byte_limit(self) -> int:
        return {"sheet": MAX_PART_BYTES, "strings": MAX_SHARED_STRINGS_BYTES}.get(self.kind, MAX_WHOLE_PART_BYTES)

    def feed(self, chunk: bytes) -> None:
        self.fed += len(chunk)
        self._parse(chunk, False)
        # Every event (tag, text) marks where it starts; what lies beyond the last one is a token
        # the parser is holding whole, waiting for its end.
        if self.fed - self.last_event > MAX_TAG_BYTES + CHUNK:
            raise _unreadable()

    def close(self) -> None:
        self._parse(b"", True)

    def _parse(self, chunk, final) -> None:
        try:
            self.parser.Parse(chunk, final)
        except expat.ExpatError:
            raise _unreadable() from None

    def event(self, *args) -> None:
        self.last_event = self.parser.CurrentByteIndex

    def doctype(self, *args) -> None:
        raise _unreadable()

    def start(self, name, attrs) -> None:
        self.last_event = self.parser.CurrentByteIndex
        self.text_chars = 0
        local = name.rpartition(" ")[2]
        if self.kind is None:
            self.kind = {"worksheet": "sheet", "sst": "strings"}.get(local, "other")
        if self.kind == "sheet":
            if local == "c":
                self._start_cell(attrs)
            elif local == "row":
                number = attrs.get("r", "")
                self.row = int(number) if _ROW_NUMBER.fullmatch(number) else self.row + 1
                self.column = 0
            elif local == "v":
                self.in_value = True
        elif self.kind == "strings" and local == "si":
            self.string_index += 1
            self.in_string, self.cell_chars = True, 0

    def _start_cell(self, attrs) -> None:
        match = _CELL_REF.fullmatch(attrs.get("r", ""))
        if match:
            self.column = column_index_from_string(match.group(1).upper())
            self.row = int(match.group(2))
        else:  # a cell without a reference follows the previous one
            self.column += 1
        self.in_cell, self.cell_chars = True, 0
        self.cell_type = attrs.get("t", "")
        self.value = []

    def end(self, name) -> None:
        self.last_event = self.parser.CurrentByteIndex
        self.text_chars = 0
        local = name.rpartition(" ")[2]
        if self.kind == "sheet":
            if local == "c":
                self.in_cell = False
                shows_it = self.cell_type == "s" and "".join(self.value).strip() == str(self.locate)
                if self.locate is not None and shows_it:
                    raise Refused(cell_too_long(self.row, self.column))
            elif local == "v":
                self.in_value = False
        elif local == "si":
            self.in_string = False

    def text(self, data) -> None:
        self.last_event = self.parser.CurrentByteIndex
        if self.in_cell:
            self.cell_chars += len(data)
            if self.cell_chars > MAX_CELL_CHARS:
                raise Refused(cell_too_long(self.row, self.column))
            if self.locate is not None and self.in_value:
                self.value.append(data)
        elif self.in_string:
            self.cell_chars += len(data)
            if self.cell_chars > MAX_CELL_CHARS and self.locate is None:
                raise _LongSharedString(self.string_index)
        else:
            self.text_chars += len(data)
            if self.text_chars > MAX_TEXT_CHARS:
                raise Refused(
                    _("The part “%(part)s” of this Excel file holds a text of more than %(max)s characters.")
                    % {"part": clip(self.name), "max": MAX_TEXT_CHARS}
                )
