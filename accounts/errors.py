"""The people floor's domain errors (DomainError itself is shared: experquiz.errors)."""

from experquiz.errors import DomainError, InvalidFields


class TransitionNotAllowed(DomainError):
    pass


class LastAdministrator(DomainError):
    pass


class LoginIdTaken(InvalidFields):
    """Another user of the organisation has this email, mobile or employee number (`field`).

    The message never names `existing`: the page names them only to someone who may see them."""

    def __init__(self, message, *, field, existing):
        super().__init__({field: [message]})
        self.field = field
        self.existing = existing


class NoWayIn(TransitionNotAllowed):
    """Becoming active would leave the person no way to log in: no password, no temporary one coming."""
