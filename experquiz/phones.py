"""Phone numbers: parsed the way people type them, stored in E.164."""

import functools
import re

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


def _parsed(raw: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw)
    return number


def to_e164(raw: str, region: str) -> str:
    """Parse '06 12 34 56 78', '+33 6 12…' or '0033612345678' with `region`; return '+33612345678'."""
    return phonenumbers.format_number(_parsed(raw, region), phonenumbers.PhoneNumberFormat.E164)


def looks_like_phone(raw: str) -> bool:
    return "@" not in raw and any(c.isdigit() for c in raw)


@functools.lru_cache(maxsize=4096)
def display(e164: str) -> str:
    """The international format for humans: '+33 6 12 34 56 78'. Remembered: a list page shows
    hundreds, and parsing one costs ~15 µs."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def read(raw: str, region: str) -> tuple[str, str]:
    """`to_e164`, and the number's national digits ('0612345678', what the people search also
    matches: accounts.search.phone_variants) from the same parse: a number read from a file is
    parsed once."""
    number = _parsed(raw, region)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    number.extension = None  # as stored: E.164 has no extension
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return e164, re.sub(r"\D", "", national)
