"""Program-wide budgets: the one piece of state that couples members.

The evaluator asks a ledger before giving anything a budgeted rule gives:
`granted = ledger.claim(key, amount, time, member, event)`, where `key` names the
budget (`rule:<name>` or `campaign:<name>`), `amount` is in the budget's unit
(points, or minor units of money) and `granted <= amount` is what may be given.
The caller owns the ledger and passes it to every `apply`.

Implementations:
- `BudgetLedger`: the real thing: limits from the program, running totals, JSON.
- `UnlimitedLedger`: grants everything (a program without budgets).
- `simulate/budgets.py` `CutoffLedger`: a simulation pass's ledger, which finds where
  each budget ran out in service order across members split over processes.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Optional, Protocol


class Ledger(Protocol):
    def claim(self, key: str, amount: int, time: _dt.datetime, member: str, event: Optional[str]) -> int: ...


class BudgetLedger:
    __slots__ = ("limits", "used")

    def __init__(self, limits: dict[str, int], used: Optional[dict[str, int]] = None):
        self.limits = dict(limits)
        self.used = {k: 0 for k in limits}
        if used:
            self.used.update(used)

    def claim(self, key: str, amount: int, time, member, event) -> int:
        limit = self.limits.get(key)
        if limit is None:
            return amount
        used = self.used[key]
        granted = max(0, min(amount, limit - used))
        self.used[key] = used + granted
        return granted

    def remaining(self, key: str) -> int:
        return self.limits[key] - self.used[key]

    def to_json(self) -> str:
        return json.dumps({"limits": self.limits, "used": self.used}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "BudgetLedger":
        doc = json.loads(text)
        return cls({k: int(v) for k, v in doc["limits"].items()}, {k: int(v) for k, v in doc["used"].items()})

    def copy(self) -> "BudgetLedger":
        return BudgetLedger(self.limits, self.used)


class UnlimitedLedger:
    __slots__ = ()

    def claim(self, key, amount, time, member, event) -> int:
        return amount
