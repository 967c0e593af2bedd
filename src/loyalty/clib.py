"""The process's C library through ctypes, for the few calls the standard library lacks (malloc's settings,
renameat2, prctl). ctypes is optional in a Python build, and C libraries differ in what they have, so a caller
asks for one function by name and gets None where it is not there: one place decides what "not available"
means, and none of the callers can end a command in a traceback over it."""

from __future__ import annotations

from typing import Any, Optional


def c_function(name: str, use_errno: bool = False) -> Optional[Any]:
    """The C library's function `name`, or None: a Python built without ctypes, no C library to load, or one
    without that function (musl has no `malloc_trim`, macOS no `renameat2`)."""
    try:
        import ctypes

        return getattr(ctypes.CDLL(None, use_errno=use_errno), name)
    except (ImportError, OSError, AttributeError):
        return None
