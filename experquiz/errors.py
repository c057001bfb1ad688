"""Domain errors: raised by services, turned into clear messages by views and commands.

Every floor raises them, so they live at the bottom; an app's own subclasses stay in its app
(`accounts.errors`, `groups.errors`, …).
"""


class DomainError(Exception):
    """A business rule refused an action. `message` is translated and safe to show."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class InvalidFields(DomainError):
    """A refusal about named fields: `errors` maps each field to its messages.

    A form shows each message next to its field (`experquiz.web.form_error_from_service`), the
    import next to the row and column; `message` joins them for a page message or a command.
    """

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {field: [str(message) for message in messages] for field, messages in errors.items() if messages}
        super().__init__(" ".join(message for messages in self.errors.values() for message in messages))
