"""The evaluator's own event type and its rejection error, free of pydantic.

The evaluator and the simulator build `Ev`s directly; `loyalty.runtime.events` (the
validated pydantic models of the embedding API) converts to them. Keeping these two here
spares a simulation the import of pydantic and the construction of its models (~0.25 s).
"""

from __future__ import annotations

from collections import namedtuple


class EventError(ValueError):
    """An event was rejected; nothing changed. `field` is the dotted path of the bad field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class Ev(namedtuple("_EvFields", ("type", "id", "time", "order", "lines", "store", "channel", "reward", "name",
                                   "ret_lines", "ret_amount"), defaults=(None, (), None, None, None, None, None, None))):
    """An event inside the evaluator (no validation; built by `to_internal` or by the simulator).

    type; id; time (naive, program-local); order; lines (a purchase's ((item, category, quantity,
    amount_minor), ...)); store; channel; reward; name; ret_lines (a return's ((item, quantity), ...) or
    None); ret_amount (a return's minor units or None). A named tuple: built in one step, never changed."""

    __slots__ = ()
