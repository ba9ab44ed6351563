"""The one error type for input that fails a domain validation, carrying a readable reason."""

from __future__ import annotations


class InvalidValue(ValueError):
    """A value a customer or agent supplied does not have the required form.

    `reason` is a short English sentence fit for an API problem detail; subclasses name
    which kind of value was rejected so callers can catch one kind only.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
