"""The evaluator's own event type and its rejection error, free of pydantic.

The evaluator and the simulator build `Ev`s directly; `loyalty.runtime.events` (the
validated pydantic models of the embedding API) converts to them. Keeping these two here
spares a simulation the import of pydantic and the construction of its models (~0.25 s).
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, NamedTuple, Optional

# The moments an event may have, program-local: well inside what datetime holds, so that a timer set a century
# after an event (expiry, pending points, a review) still exists, and a time zone conversion cannot overflow.
# the times a history row may carry too (simulate/history.py FIRST_TIME, LAST_TIME): the API and the simulation
# accept the same events
EARLIEST = _dt.datetime(1000, 1, 1)
LATEST = _dt.datetime(9000, 1, 1)  # exclusive
TIME_RANGE = "1000-01-01 to 8999-12-31, program-local time"
MAX_MINOR = 10**18  # amounts are below this many minor units: exact in an int64 and in Decimal's 28 digits


def has_surrogate(text: str) -> bool:
    """A lone surrogate (half of a UTF-16 pair): not a Unicode character, cannot be written as UTF-8 or read back
    from a saved state."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


SURROGATE = "holds a lone surrogate (half of a UTF-16 pair), which is not a character"


# codes (runtime/mechanics/codes.py): what one code may be, in a program, an event and a history's codes column
MAX_CODE_LENGTH = 64
MAX_CODES = 16  # codes on one purchase


def code_problem(code: str) -> Optional[str]:
    """Why `code` cannot be a code, or None: a code is one word (a history's codes column separates codes by
    spaces) of visible characters, at most MAX_CODE_LENGTH long."""
    if not code:
        return "a code cannot be empty"
    if len(code) > MAX_CODE_LENGTH:
        return f"a code is at most {MAX_CODE_LENGTH} characters long"
    if any(ch.isspace() for ch in code):
        return "a code is one word: it cannot hold a space"
    if not code.isprintable() or has_surrogate(code):
        return "a code cannot hold control or invisible characters"
    return None


def codes_problem(text: str) -> Optional[str]:
    """Why a history's codes value (codes separated by spaces) cannot be read, or None."""
    codes = text.split()
    if len(codes) > MAX_CODES:
        return f"more than {MAX_CODES} codes on one row"
    for code in codes:
        why = code_problem(code)
        if why is not None:
            return why
    return None


class EventError(ValueError):
    """An event was rejected; nothing changed. `field` is the dotted path of the bad field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class Ev(NamedTuple):
    """An event inside the evaluator (no validation; built by `to_internal` or by the simulator).

    type; id; time (naive, program-local); order; lines (a purchase's ((item, category, quantity,
    amount_minor), ...)); store; channel; reward; name; ret_lines (a return's ((item, quantity), ...) or
    None); ret_amount (a return's minor units or None); codes (the codes a purchase carries, a tuple of
    texts, runtime/mechanics/codes.py); adjust (an adjustment's (what, name, value, set), its reason in
    `name`: runtime/mechanics/adjustments.py). A named tuple: built in one step, never changed. Declared as a
    typing.NamedTuple so that the compiled apply path (hatch_build.py) reads its fields by index."""

    type: str
    id: Any
    time: Any
    order: Any = None
    lines: Any = ()
    store: Any = None
    channel: Any = None
    reward: Any = None
    name: Any = None
    ret_lines: Any = None
    ret_amount: Any = None
    codes: Any = ()
    adjust: Any = None


MAX_MINOR = 2**63 - 1  # amounts (minor units) and quantities are 64-bit integers, in histories and events alike


def exact_minor(value: Decimal, exponent: int) -> tuple[Optional[int], str]:
    """value * 10**exponent as an exact int, or (None, why not): "not a number", "too many decimals" (after
    trailing zeros: 35.000 is 35), "too large" (over MAX_MINOR). No decimal context arithmetic: 1e999999999
    does not overflow, 1e-999999999 does not read as 0, a 30-digit value is not rounded to 28 digits.
    The one conversion of the history reader and both readings of an event."""
    if not value.is_finite():
        return None, "not a number"
    sign, digits, exp = value.as_tuple()
    n = len(digits)
    while n > 1 and digits[n - 1] == 0 and exp < 0:
        n -= 1
        exp += 1
    if n == 1 and digits[0] == 0:
        return 0, ""
    if exp + exponent < 0:
        return None, "too many decimals"
    if n + exp + exponent > 19:  # more than 19 digits: over 2**63 - 1
        return None, "too large"
    minor = int("".join(map(str, digits[:n]))) * 10 ** (exp + exponent)
    if minor > MAX_MINOR:
        return None, "too large"
    return (-minor if sign else minor), ""
