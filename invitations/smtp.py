"""Sending one prepared email (`composer.PreparedEmail`) in two steps over an open smtplib connection.

`envelope` names the sender and the recipient (MAIL FROM, RCPT TO); `content` then sends the message
(DATA), which the server accepts or refuses; `abandon` drops the envelope instead (RSET). Between the
two the delivery records the previous message and checks this one is still to send, so the database's
round trip and the server's overlap, and nothing is accepted before that check. The steps, their
replies and their errors are smtplib's `sendmail` for one recipient, split in two.
"""

import functools
import re
import smtplib

# An address smtplib's quoteaddr leaves as it is, but for the angle brackets (a dot-atom on either side
# of the @): quoted without parsing it, which costs more than the rest of the command.
_PLAIN = re.compile(r"[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\Z")
_quoteaddr = functools.lru_cache(maxsize=64)(smtplib.quoteaddr)


def _quoted(address: str) -> str:
    return f"<{address}>" if _PLAIN.match(address) else _quoteaddr(address)


def envelope(connection: smtplib.SMTP, sender: str, recipient: str, size: int) -> None:
    connection.ehlo_or_helo_if_needed()
    # smtplib's mail() and rcpt(), with the size option only.
    options = f" size={size}" if connection.does_esmtp and connection.has_extn("size") else ""
    connection.putcmd("mail", f"from:{_quoted(sender)}{options}")
    code, response = connection.getreply()
    if code != 250:
        if code == 421:
            connection.close()
        else:
            connection._rset()
        raise smtplib.SMTPSenderRefused(code, response, sender)
    connection.putcmd("rcpt", f"to:{_quoted(recipient)}")
    code, response = connection.getreply()
    if code not in (250, 251):
        if code == 421:
            connection.close()
        else:
            connection._rset()
        raise smtplib.SMTPRecipientsRefused({recipient: (code, response)})


def content(connection: smtplib.SMTP, data: bytes) -> None:
    code, response = connection.data(data)
    if code != 250:
        if code == 421:
            connection.close()
        else:
            connection._rset()
        raise smtplib.SMTPDataError(code, response)


def abandon(connection: smtplib.SMTP) -> None:
    code, response = connection.rset()
    if code != 250:
        raise smtplib.SMTPResponseException(code, response)
