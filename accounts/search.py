"""Free-text search on people: one folded column, compared with LIKE, served by a trigram index.

Names, email and phone numbers are folded once, when a user is saved (lower case, accents
removed, phone digits in international and national form), so a search is a plain
`search_text LIKE '%term%'` per word. That works on every database; on PostgreSQL a GIN trigram
index (migration 0002) turns it into an index scan, without needing the non-immutable `unaccent`.
"""

import re

import phonenumbers

from experquiz import phones
from experquiz.naming import fold


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def phone_variants(e164: str) -> list[str]:
    """The digit strings people type for a number: '33612345678' and '0612345678'."""
    if not e164:
        return []
    variants = [_digits(e164)]
    try:
        number = phonenumbers.parse(e164, None)
        variants.append(_digits(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)))
    except phonenumbers.NumberParseException:
        pass
    return variants


def search_text_for(*, first_name="", last_name="", email="", mobile="", employee_number="", national="") -> str:
    """The folded text the people search looks in. `national`: the mobile's national digits when the
    caller read them with the number (experquiz.phones.read), which spares parsing it again."""
    variants = [_digits(mobile), national] if mobile and national else phone_variants(mobile)
    parts = [first_name, last_name, email, employee_number, *variants]
    return fold(" ".join(p for p in parts if p))[:600]


PHONE_LIKE = re.compile(r"^[\d\s().+\-/]+$")


def search_terms(q: str, region: str) -> list[str]:
    """The folded words a query must all contain. A query that looks like a phone number becomes
    one digit string, so '06 12 34 56 78', '+33 6 12…' and '0033612345678' all find the user."""
    q = (q or "").strip()
    if not q:
        return []
    if PHONE_LIKE.match(q) and len(_digits(q)) >= 3:
        try:
            return [_digits(phones.to_e164(q, region))]
        except phones.InvalidPhoneNumber:
            digits = _digits(q)
            # '0033…' is how some people type '+33…'.
            return [digits[2:] if digits.startswith("00") else digits]
    return [term for term in fold(q).split() if term][:8]
