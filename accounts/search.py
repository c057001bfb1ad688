"""Free-text search on people: one folded column, compared with LIKE, served by a trigram index.

Names, email and phone numbers are folded once, when a user is saved (lower case, accents
removed, phone digits in international and national form), so a search is a plain
`search_text LIKE '%term%'` per word. That works on every database; on PostgreSQL a GIN trigram
index (migration 0002) turns it into an index scan, without needing the non-immutable `unaccent`.

A common word matches too many people for that index to help a page in name order (all of them are
read, then sorted): PostgreSQL also keeps each person's words (`search_words`) with their name
(accounts.models.SearchWord, migration 0015), and a term that only one known word of the
organisation contains is looked up there (`word_term`).
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


# A word of the search text: a run of letters and digits holding three letters in a row. The
# database's triggers split the text with the same two expressions (migration 0015).
WORD_SEPARATORS = re.compile(r"[^a-z0-9]+")
WORD_LETTERS = re.compile(r"[a-z]{3}")


def search_words(search_text: str) -> set[str]:
    """The words of a search text that the database keeps per person (SearchWord)."""
    return {word for word in WORD_SEPARATORS.split(search_text) if WORD_LETTERS.search(word)}


def word_term(terms: list[str]) -> str:
    """The first of `terms` that can be looked up among the people's words, or "".

    A term of letters and digits lies, wherever it occurs in a search text, inside one of its runs of
    letters and digits; with three letters in a row, so does every run holding it. So the people whose
    text contains the term are exactly the people who have one of the known words containing it: when
    only one known word does, its people are the term's matches, and its index gives them in name order.
    """
    for term in terms:
        if not WORD_SEPARATORS.search(term) and WORD_LETTERS.search(term):
            return term
    return ""


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
