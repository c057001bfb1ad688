"""The people floor's domain errors (DomainError itself is shared: experquiz.errors)."""

from experquiz.errors import DomainError


class TransitionNotAllowed(DomainError):
    pass


class LastAdministrator(DomainError):
    pass


class LoginIdTaken(DomainError):
    def __init__(self, message, *, field, existing):
        super().__init__(message)
        self.field = field
        self.existing = existing


class NoWayIn(TransitionNotAllowed):
    """Becoming active would leave the person no way to log in: no password, no temporary one coming."""
