"""Domain errors of questionnaires and attempts: views and commands turn them into clear messages."""

from experquiz import authorization
from experquiz.errors import DomainError


class NotAllowed(authorization.NotAllowed):
    """The actor may not do this to this questionnaire or attempt (their right or scope falls short).

    The one refusal of the authorisation convention (experquiz.authorization), so whoever catches
    that one catches this one too."""


class QuestionnaireLocked(DomainError):
    """People have started the questionnaire: its questions and choices can no longer change."""


class Gone(DomainError):
    """What the action was about has been removed meanwhile (by someone else, a moment before)."""


class NotOpen(NotAllowed):
    """The questionnaire cannot be started by this person (unpublished, or not visible to them): a
    refusal of the actor like any other."""


class AttemptClosed(DomainError):
    """The attempt was submitted already, or its time is up: its answers can no longer change."""


class InterchangeError(DomainError):
    """A questionnaire file that cannot be imported: `errors` lists every problem, each naming where
    it is (the question's number, the choice's number, the field)."""

    def __init__(self, errors: list[str]):
        super().__init__(errors[0] if errors else "")
        self.errors = errors


class LinkUnusable(DomainError):
    """An assessment link that cannot start or resume an attempt now; `reason` says why: `removed`
    (the person was taken off the invitation), `completed` (their answers are in), `revoked`,
    `too_late` (the window closed), `not_open` (it opens later), `unpublished`, `unknown`."""

    def __init__(self, message, *, reason):
        super().__init__(message)
        self.reason = reason
