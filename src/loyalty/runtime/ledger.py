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


class LedgerMismatchError(ValueError):
    """A budget ledger that is not well formed, or not the one of the program it is used with."""


class Ledger(Protocol):
    def claim(self, key: str, amount: int, time: _dt.datetime, member: str, event: Optional[str]) -> int: ...


class BudgetLedger:
    __slots__ = ("limits", "used")

    def __init__(self, limits: dict[str, int], used: Optional[dict[str, int]] = None):
        self.limits = dict(limits)
        self.used = {k: 0 for k in limits}
        if used:
            self.used.update(used)

    def claim(self, key: str, amount: int, time: object, member: object, event: object) -> int:
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
        """A ledger from `to_json`; `LedgerMismatchError` for anything else. Check it against the program with
        `program.budget_ledger_from_json` (or let `program.apply` do it)."""
        try:
            doc = json.loads(text)
        except (TypeError, ValueError) as err:
            raise LedgerMismatchError(f"not a budget ledger: not JSON ({err})") from None
        if type(doc) is not dict or set(doc) != {"limits", "used"}:
            raise LedgerMismatchError('not a budget ledger: expected an object with "limits" and "used"')
        for field in ("limits", "used"):
            value = doc[field]
            if type(value) is not dict:
                raise LedgerMismatchError(f"not a budget ledger: {field}: expected an object")
            for k, v in value.items():
                if type(v) is not int or v < 0:
                    raise LedgerMismatchError(f"not a budget ledger: {field}[{k!r}]: expected a whole number >= 0, "
                                              f"found {v!r}"[:200])
        extra = sorted(set(doc["used"]) - set(doc["limits"]))
        if extra:
            raise LedgerMismatchError(f"not a budget ledger: used[{extra[0]!r}]: a budget without a limit")
        return cls(doc["limits"], doc["used"])

    def check_for(self, budgets: dict[str, int]) -> None:
        """Raise `LedgerMismatchError` unless this ledger holds exactly these budgets (key -> limit): a budget
        the ledger lacks would grant without limit."""
        if self.limits == budgets:
            return
        for key, limit in sorted(budgets.items()):
            if key not in self.limits:
                raise LedgerMismatchError(f"the budget ledger has no budget {key!r}, which the program has: use "
                                          "program.new_budget_ledger() (or a ledger saved from one)")
            if self.limits[key] != limit:
                raise LedgerMismatchError(f"the budget ledger's limit for {key!r} is {self.limits[key]}, the "
                                          f"program's is {limit}: the ledger belongs to another version of the "
                                          "program; start a new one (program.new_budget_ledger()) and carry "
                                          "over what was used")
        extra = sorted(set(self.limits) - set(budgets))
        raise LedgerMismatchError(f"the budget ledger has a budget {extra[0]!r} the program does not have "
                                  f"(the program's: {', '.join(map(repr, sorted(budgets))) or 'none'}): it "
                                  "belongs to another program")

    def copy(self) -> "BudgetLedger":
        return BudgetLedger(self.limits, self.used)


class UnlimitedLedger:
    __slots__ = ()

    def claim(self, key: str, amount: int, time: object, member: object, event: object) -> int:
        return amount
