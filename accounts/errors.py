"""Domain errors: raised by services, turned into clear messages by views and commands."""


class DomainError(Exception):
    """A business rule refused an action. `message` is translated and safe to show."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class TransitionNotAllowed(DomainError):
    pass


class LastAdministrator(DomainError):
    pass


class LoginIdTaken(DomainError):
    def __init__(self, message, *, field, existing):
        super().__init__(message)
        self.field = field
        self.existing = existing
