"""Domain errors of groups and rights: views turn them into messages or 404s, never 500s."""

from experquiz.authorization import NotAllowed

__all__ = ["NotAllowed"]
