"""Emails of a packet built once per shape: the same message for everyone, but for the recipient.

Most messages of a packet differ only by whom they go to: the same kind, language, organisation,
expiry and assessment, with another first name, address and link. The composer asks the normal path
(`messages.build_email`) once per shape for a message whose recipient parts are markers, keeps its
bytes as Django's SMTP backend would send them, and makes each message by putting the recipient's
parts in place of the markers (escaped in the HTML part, as the templates escape them), with its own
Date and Message-ID. The first message of each shape is also built the normal way and compared: a
shape whose bytes differ (a template that uses the name in the subject, a part encoded in
quoted-printable…) is built the normal way for the rest of the packet. So is any message the markers
cannot stand for (an address that is not plain ASCII, a line that would grow past RFC 5322's limit).
"""

import copy
import logging
import re
from dataclasses import dataclass
from email.utils import formatdate

from django.conf import settings
from django.core.mail.message import DNS_NAME, RFC5322_EMAIL_LINE_LENGTH_LIMIT, make_msgid, sanitize_address
from django.utils.html import escape

from . import messages
from .models import Invitation

logger = logging.getLogger(__name__)

Kind = Invitation.Kind
# The kinds whose message depends on the recipient only through the first name, address and link.
COMPOSED_KINDS = {Kind.ACCOUNT, Kind.PASSWORD_RESET, Kind.ASSESSMENT}

NAME, LINK, ADDRESS, PK, DATE, MESSAGE_ID = "name", "link", "address", "pk", "date", "message_id"
_ASCII_MARKERS = {
    NAME: "QZXFIRSTNAMEQZX",
    LINK: "https://qzxlink.invalid/QZXLINKQZX/",
    ADDRESS: "qzxaddressqzx@qzx.invalid",
    PK: "7357735773577357",
}
# A shape whose recipient parts are not all ASCII: the parts are sent as 8bit, not 7bit.
_WIDE_MARKERS = {**_ASCII_MARKERS, NAME: "QZXFIRSTNAMEÉQZX"}
_LONGEST_ADDRESS = 70  # a longer To header could be folded differently from the marker's
# An address Django's sanitize_address leaves as it is (a dot-atom on either side of the @): checked
# without parsing it, which costs more than the rest of the message.
_DOT_ATOM = re.compile(r"[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\Z")
# A link token that reverse() leaves as it is (urlsafe base64), and its stand-in.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\Z")
_TOKEN_MARKER = "QZXTOKENQZX"
_LINKED_KINDS = {Kind.ACCOUNT, Kind.PASSWORD_RESET}
_HEADERS = re.compile(rb"^(Date|Message-ID): [^\r\n]*\r\n", re.MULTILINE)
_BOUNDARY = re.compile(rb'boundary="([^"]+)"')


@dataclass(frozen=True)
class PreparedEmail:
    """What Django's SMTP backend would give smtplib: the envelope and the message's bytes."""

    sender: str
    recipients: list
    data: bytes


class _Shape:
    """The message of one shape cut into constant bytes and the recipient's slots."""

    def __init__(self, data: bytes, markers: dict):
        header_end = data.index(b"\r\n\r\n") + 4
        boundary = _BOUNDARY.search(data[:header_end])
        self.slots = []  # constant bytes, or (slot, escaped)
        self.lines = []  # per line with slots: its constant length and its slots
        pieces = _HEADERS.sub(lambda match: b"\0" + match.group(1) + b"\0", data[:header_end])
        self._cut(pieces, markers, escaped=False, header=True)
        body = data[header_end:]
        if boundary is None:
            self._cut(body, markers, escaped=False)
            return
        delimiter = b"--" + boundary.group(1)
        for position, part in enumerate(body.split(delimiter)):
            if position:
                self.slots.append(delimiter)
            self._cut(part, markers, escaped=b"Content-Type: text/html" in part.split(b"\r\n\r\n", 1)[0])

    def _cut(self, data: bytes, markers: dict, *, escaped: bool, header: bool = False):
        named = {value.encode(): name for name, value in markers.items()}
        if header:
            named.update({b"\0Date\0": DATE, b"\0Message-ID\0": MESSAGE_ID})
        pattern = re.compile(b"(" + b"|".join(re.escape(marker) for marker in named) + b")")
        for line in data.split(b"\n"):
            found = [named[piece] for piece in pattern.findall(line)]
            if found and not header:
                self.lines.append((len(pattern.sub(b"", line)), found, escaped))
        for position, piece in enumerate(pattern.split(data)):
            if position % 2:
                self.slots.append((named[piece], escaped))
            elif piece:
                self.slots.append(piece)

    def compose(self, values: dict) -> bytes | None:
        """The message with `values` in the slots; None when a line would grow past RFC 5322's limit
        (Django would then encode the part differently). Each value is escaped and encoded once."""
        plain = {slot: value.encode() for slot, value in values.items()}
        escaped = {}
        for constant, found, html in self.lines:
            length = constant
            for slot in found:
                if html and slot not in escaped:
                    escaped[slot] = str(escape(values[slot])).encode()
                length += len(escaped[slot] if html else plain[slot])
            if length > RFC5322_EMAIL_LINE_LENGTH_LIMIT:
                return None
        out = []
        for piece in self.slots:
            if piece.__class__ is bytes:
                out.append(piece)
                continue
            slot, html = piece
            if html:
                if slot not in escaped:
                    escaped[slot] = str(escape(values[slot])).encode()
                out.append(escaped[slot])
            else:
                out.append(plain[slot])
        return b"".join(out)


def message_bytes(message) -> bytes:
    """The bytes Django's SMTP backend sends for `message` (an EmailMessage)."""
    return message.message().as_bytes(linesep="\r\n")


def normalized(data: bytes) -> bytes:
    """The bytes with what differs between two builds of the same message made the same: the Date,
    the Message-ID and the MIME boundary (random per build)."""
    data = re.sub(rb"^Date: [^\r\n]*", b"Date: -", data, flags=re.MULTILINE)
    data = re.sub(rb"^Message-ID: [^\r\n]*", b"Message-ID: -", data, flags=re.MULTILINE)
    for boundary in set(_BOUNDARY.findall(data)):
        data = data.replace(boundary, b"BOUNDARY")
    return data


class Composer:
    """The emails of one packet; `email(invitation, link)` is None when the normal path must build it."""

    def __init__(self):
        self.shapes: dict[tuple, _Shape | None] = {}
        self.checked: set[tuple] = set()
        self.links: dict[tuple, tuple[str, str] | None] = {}
        self.sender = sanitize_address(settings.DEFAULT_FROM_EMAIL, settings.DEFAULT_CHARSET)

    def email(self, invitation: Invitation, *, link: str) -> PreparedEmail | None:
        if invitation.kind not in COMPOSED_KINDS or settings.DEFAULT_CHARSET.lower() != "utf-8":
            return None
        address = invitation.address
        if not address.isascii() or len(address) > _LONGEST_ADDRESS or not link.isascii():
            return None
        if not _DOT_ATOM.match(address) and sanitize_address(address, "utf-8") != address:
            return None
        if invitation.recipient is None:
            return None
        name = getattr(invitation.recipient, "first_name", "") or ""
        if not name.isprintable():
            return None
        key = _shape_key(invitation, name)
        if key not in self.shapes:
            self.shapes[key] = self._prepare(invitation, name)
        shape = self.shapes[key]
        if shape is None:
            return None
        values = {
            NAME: name,
            LINK: link,
            ADDRESS: address,
            PK: str(invitation.pk),
            DATE: "Date: " + formatdate(localtime=settings.EMAIL_USE_LOCALTIME) + "\r\n",
            MESSAGE_ID: "Message-ID: " + make_msgid(domain=DNS_NAME) + "\r\n",
        }
        data = shape.compose(values)
        if data is None:
            return None
        if key not in self.checked:
            self.checked.add(key)
            expected = message_bytes(messages.build_email(invitation, link=link))
            if normalized(data) != normalized(expected):
                logger.warning("Invitation emails of shape %s differ from the normal build: built one by one", key)
                self.shapes[key] = None
                return None
        return PreparedEmail(sender=self.sender, recipients=[address], data=data)

    def link(self, invitation: Invitation, token: str) -> str:
        """`messages.link_for(invitation, token)`, made once per kind and organisation around a marker
        that stands for the token (the URL resolver costs more than the rest of the message); the first
        link of each is also made the normal way and compared."""
        if invitation.kind not in _LINKED_KINDS or not _TOKEN.match(token):
            return messages.link_for(invitation, token)
        key = (invitation.kind, invitation.organization_id)
        if key not in self.links:
            link = messages.link_for(invitation, token)
            prefix, marker, suffix = messages.link_for(invitation, _TOKEN_MARKER).partition(_TOKEN_MARKER)
            same = marker and _TOKEN_MARKER not in suffix and prefix + token + suffix == link
            self.links[key] = (prefix, suffix) if same else None
            return link
        parts = self.links[key]
        if parts is None:
            return messages.link_for(invitation, token)
        return parts[0] + token + parts[1]

    def _prepare(self, invitation: Invitation, name: str) -> _Shape | None:
        markers = _ASCII_MARKERS if name.isascii() else _WIDE_MARKERS
        stand_in = copy.copy(invitation)
        recipient = copy.copy(invitation.recipient)
        recipient.first_name = markers[NAME] if name else ""
        if invitation.user_id:
            stand_in.user = recipient
        else:
            stand_in.contact = recipient
        stand_in.address = markers[ADDRESS]
        stand_in.pk = markers[PK]
        try:
            data = message_bytes(messages.build_email(stand_in, link=markers[LINK]))
        except Exception:
            logger.exception("The email of invitation %s could not be prepared: built one by one", invitation.pk)
            return None
        return _Shape(data, markers)


def _shape_key(invitation: Invitation, name: str) -> tuple:
    """What the message depends on, but the recipient's first name, address and link."""
    return (
        invitation.kind,
        messages.recipient_language(invitation),
        invitation.organization_id,
        invitation.is_reminder,
        invitation.expires_at,
        invitation.batch_id if invitation.kind == Kind.ASSESSMENT else None,
        bool(name),
        name.isascii(),
        invitation.user_id is not None,
    )
