"""Domain errors of groups and rights: views turn them into messages or 404s, never 500s."""

from experquiz.errors import DomainError


class NotAllowed(DomainError):
    """The actor does not hold the right (or the scope) this action needs."""
