"""Link tokens and temporary passwords: shown once in the message, never stored.

A token is derived from the secret key and the invitation's row (its id and a random nonce of 256
bits), like Django's password-reset tokens: any rendering of the same invitation gives the same link,
so the copy of a message sent again after a crash (SMTP cannot be exactly-once) carries a link that
works as well as the first. The row keeps the nonce and the token's SHA-256, never the token: the
database alone does not give the links (the secret key is needed too), and a link is looked up by its
hash. A resend is a new invitation, with a new nonce, so a new link. Temporary passwords are derived
the same way (another salt).

Rotating SECRET_KEY: put the old key first in SECRET_KEY_FALLBACKS for as long as a message rendered
under it may be sent again (a few minutes after the rotation is plenty: only messages still pending
are rendered again). Links already sent keep working whatever the key, since only their hash is
checked; a message rendered under a key no longer listed gets a new link (its earlier copy, if any
reached someone, stops working).
"""

import base64
import hashlib
import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

TOKEN_BYTES = 32  # 256 bits; 43 characters in URL-safe base64
LINK_SALT = "invitations.tokens.link"
PASSWORD_SALT = "invitations.tokens.temporary_password"
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alike characters


def new_nonce() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def make_token() -> str:
    """A random token (for links made outside the outbox, such as the tests')."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secret_keys() -> list[str]:
    """The key in use first, then those kept while a rotation ends."""
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def _digest(salt: str, pk: int, nonce: str, secret: str) -> bytes:
    return salted_hmac(salt, f"{pk}:{nonce}", secret=secret, algorithm="sha256").digest()


def link_token(pk: int, nonce: str, *, secret: str | None = None) -> str:
    digest = _digest(LINK_SALT, pk, nonce, secret or settings.SECRET_KEY)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_token_for(invitation) -> str:
    """The token of `invitation`'s link: the one its stored hash names (whichever key made it), or a
    token under the current key when it has none yet, or was made under a key no longer kept."""
    if invitation.token_hash:
        for secret in secret_keys():
            token = link_token(invitation.pk, invitation.nonce, secret=secret)
            if hash_token(token) == invitation.token_hash:
                return token
    return link_token(invitation.pk, invitation.nonce)


def temporary_password(pk: int, nonce: str, *, secret: str | None = None) -> str:
    """Easy to type from an SMS on a phone: three groups of four, no look-alike characters."""
    number = int.from_bytes(_digest(PASSWORD_SALT, pk, nonce, secret or settings.SECRET_KEY), "big")
    characters = []
    for _ in range(12):
        number, index = divmod(number, len(PASSWORD_ALPHABET))
        characters.append(PASSWORD_ALPHABET[index])
    return "-".join("".join(characters[start : start + 4]) for start in (0, 4, 8))


def make_temporary_password() -> str:
    """A random temporary password (for messages rendered outside the outbox, such as the tests')."""
    return temporary_password(0, new_nonce())
