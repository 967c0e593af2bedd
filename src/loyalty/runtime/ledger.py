"""Program-wide budgets: the one piece of state that couples members.

The evaluator asks a ledger before giving anything a budgeted rule gives:
`granted = ledger.claim(key, amount, time, member, event)`, where `key` names the
budget (`rule:<name>` or `campaign:<name>`), `amount` is in the budget's unit
(points, or minor units of money) and `granted <= amount` is what may be given.
The caller owns the ledger and passes it to every `apply`.

Implementations:
- `BudgetLedger`: the real thing: limits from the program, running totals, JSON.
- `RecordingLedger`: grants everything and records each claim; a partitioned
  simulation runs partitions with it, merges the claims in time order and finds
  the moment each budget ran out.
- `ExhaustedLedger`: grants in full before each budget's exhaustion time, the
  remainder at it (`partial`), nothing after; the partitioned re-run uses it, so
  the result equals a single sequential run over all members.
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


class RecordingLedger:
    """Grants every claim and records (time, member, event, key, amount)."""

    __slots__ = ("claims",)

    def __init__(self):
        self.claims: list[tuple] = []

    def claim(self, key, amount, time, member, event) -> int:
        self.claims.append((time, member, event or "", key, amount))
        return amount


class ExhaustedLedger:
    """Budgets known to run out at one claim: `{key: ((time, member, event), partial)}`.

    Claims ordered before that claim (by time, then member id, then event id: the
    order a sequential simulation applies them in) are granted in full, that claim
    gets `partial`, later ones nothing."""

    __slots__ = ("exhausted",)

    def __init__(self, exhausted: dict[str, tuple[tuple, int]]):
        self.exhausted = exhausted

    def claim(self, key, amount, time, member, event) -> int:
        when = self.exhausted.get(key)
        if when is None:
            return amount
        here = (time, member, event or "")
        if here < when[0]:
            return amount
        return min(amount, when[1]) if here == when[0] else 0


class UnlimitedLedger:
    __slots__ = ()

    def claim(self, key, amount, time, member, event) -> int:
        return amount
