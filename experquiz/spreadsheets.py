"""Cells safe in a spreadsheet (CSV injection): what the people export writes (`neutralise`) and the
import reads back (`unneutralise`), so an export imports back to the same values. See
web/people/export.py for why every part of a value is neutralised, not only its start."""

import re

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Where a spreadsheet may start a cell within a value: at its start, or after a separator, a line
# break or a quote (read with the other separator, a quote in a value can open or close a quoted
# cell). The look-behind reads "not preceded by anything else". A part that starts with
# apostrophes before a trigger gets one more, so that taking one off always gives the value back.
_PART_START = r"(?<![^;,\r\n\"])"
_FORMULA_PART = re.compile(_PART_START + r"('*[=+\-@\t\r])")
_NEUTRALISED_PART = re.compile(_PART_START + r"'('*[=+\-@\t\r])")


def cell_text(value) -> str:
    return "" if value is None else str(value)


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read this text, typed in a cell, as a formula."""
    return text.startswith(FORMULA_TRIGGERS)


def neutralise(value) -> str:
    """The cell's text for CSV, an apostrophe before each part a spreadsheet could read as a formula."""
    return _FORMULA_PART.sub(r"'\1", cell_text(value))


def unneutralise(text: str) -> str:
    """The value `neutralise` was given: what the import does to each cell of a CSV file."""
    return _NEUTRALISED_PART.sub(r"\1", text)
