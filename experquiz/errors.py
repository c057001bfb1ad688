"""Domain errors: raised by services, turned into clear messages by views and commands.

Every floor raises them, so they live at the bottom; an app's own subclasses stay in its app
(`accounts.errors`, `groups.errors`, …).
"""


class DomainError(Exception):
    """A business rule refused an action. `message` is translated and safe to show."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message
