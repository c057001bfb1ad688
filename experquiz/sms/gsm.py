"""GSM 03.38: which characters fit a plain 160-character SMS, and how many septets a text takes."""

import unicodedata

BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENDED = set("^{}\\[~]|€\f")
SMS_LIMIT = 160
LOOKALIKES = {"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-", "\u00a0": " "}


def septets(text: str) -> int:
    """Length in GSM-7 septets (extended characters count twice); ValueError if one does not fit."""
    length = 0
    for char in text:
        if char in BASIC:
            length += 1
        elif char in EXTENDED:
            length += 2
        else:
            raise ValueError(f"{char!r} is not a GSM-7 character")
    return length


def to_gsm(text: str) -> str:
    """Replace characters outside GSM-7 (ê, ç, curly quotes…) by their nearest plain form.

    One character outside the alphabet would switch the whole message to UCS-2 and its limit to 70.
    """
    out = []
    for char in text:
        if char in BASIC or char in EXTENDED:
            out.append(char)
            continue
        replacement = LOOKALIKES.get(char)
        if replacement is None:
            decomposed = unicodedata.normalize("NFKD", char)
            replacement = "".join(c for c in decomposed if c in BASIC) or "?"
        out.append(replacement)
    return "".join(out)
