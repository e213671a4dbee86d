"""The one error a bad filter text raises."""

from __future__ import annotations

from store.errors import StoreError


class FilterError(StoreError):
    """A filter text that cannot run. ``str()`` is one line naming the token and, when one is
    close, the nearest valid spelling; ``token`` is the offending term as written."""

    def __init__(self, message: str, *, token: str = "", suggestion: str | None = None) -> None:
        if suggestion:
            message = f"{message}; did you mean {suggestion!r}?"
        super().__init__(message)
        self.token = token
        self.suggestion = suggestion
