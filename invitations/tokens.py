"""Link tokens: 256 random bits, shown once in the message, stored only as a SHA-256."""

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 bits; token_urlsafe(32) is 43 characters


def make_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def make_temporary_password() -> str:
    """Easy to type from an SMS on a phone: three groups of four, no look-alike characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
