"""The evaluator's own event type and its rejection error, free of pydantic.

The evaluator and the simulator build `Ev`s directly; `loyalty.runtime.events` (the
validated pydantic models of the embedding API) converts to them. Keeping these two here
spares a simulation the import of pydantic and the construction of its models (~0.25 s).
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional


class EventError(ValueError):
    """An event was rejected; nothing changed. `field` is the dotted path of the bad field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class Ev:
    """An event inside the evaluator (no validation; built by `to_internal` or by the simulator)."""

    __slots__ = ("type", "id", "time", "order", "lines", "store", "channel", "reward", "name", "ret_lines", "ret_amount")

    def __init__(self, type: str, id: Optional[str], time: _dt.datetime, order: Optional[str] = None,
                 lines: tuple = (), store: Optional[str] = None, channel: Optional[str] = None,
                 reward: Optional[str] = None, name: Optional[str] = None, ret_lines: Optional[tuple] = None,
                 ret_amount: Optional[int] = None):
        self.type = type
        self.id = id
        self.time = time  # naive, program-local
        self.order = order
        self.lines = lines  # purchase: ((item, category, quantity, amount_minor), ...)
        self.store = store
        self.channel = channel
        self.reward = reward
        self.name = name
        self.ret_lines = ret_lines  # return: ((item, quantity), ...) or None
        self.ret_amount = ret_amount  # return: minor units or None
