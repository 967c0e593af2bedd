"""The one error type of the simulation's inputs: a message that names the place, and a hint."""

from __future__ import annotations

from typing import Optional, Sequence


class InputError(Exception):
    """A history, scenario or option that cannot be used; the CLI prints it and exits 1."""

    def __init__(self, message: str, hint: Optional[str] = None, also: Sequence[tuple[str, Optional[str]]] = ()):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.also = tuple(also)  # further (message, hint) problems of the same input, printed after this one
