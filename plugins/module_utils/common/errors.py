"""The one exception type module_utils raise; modules turn it into ``fail_json``."""

from __future__ import annotations


class TridentError(Exception):
    """A failure with a message safe to show (it never contains secret values) and optional details."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_fail_kwargs(self):
        return {"msg": self.message, **self.details}
