"""Integers from request data (ids, page sizes), parsed one way everywhere.

Only ASCII digits count: `str.isdigit` also accepts "²" (then `int()` fails, a 500), and `int()` also
accepts " 12", "+12", "1_0" and Arabic-Indic digits, so the same id could be written many ways.
A number must be positive and fit a 64-bit signed integer: beyond, PostgreSQL refuses it and SQLite
raises OverflowError, both a 500 instead of "nothing found".
"""

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(value) -> int | None:
    """A positive integer written in ASCII digits (or an int) within a 64-bit integer; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = value if isinstance(value, str) else str(value or "")
        # The length check comes first: int() of thousands of digits is slow, then refused.
        if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
            return None
        number = int(text)
    return number if 0 < number <= MAX_ID else None


def parse_ids(values) -> list[int]:
    """The values that are ids (see `parse_id`), in order; the others are dropped."""
    return [number for number in map(parse_id, values) if number is not None]
