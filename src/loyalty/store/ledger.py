"""The database's budget ledger, seen by the evaluator during one `store.apply`.

`program.apply` asks a ledger `claim(key, amount, time, member, event) -> granted` (runtime/ledger.py).
The store runs `apply` outside the write transaction, against `ClaimLog`: a `BudgetLedger` holding the
budgets' `used` as the store last read them, which records every claim and what it granted. Inside the
write transaction the store locks the budget rows the claims touched, replays the claims against what is
used *now* (`regrant`), and writes only if every claim is granted exactly what the evaluator was told; any
difference is a conflict and the whole apply runs again. So the budget rows change in the same transaction
as the member row, and several processes share a budget exactly: a claim while the budget has room is
granted in full whatever others used meanwhile (no conflict); near the limit the replay catches the race.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from loyalty.runtime.ledger import BudgetLedger


class Claim(NamedTuple):
    key: str
    amount: int
    granted: int


class ClaimLog:
    """A `BudgetLedger` (the runtime's, same `claim` interface) that remembers each claim in order."""

    __slots__ = ("ledger", "claims")

    def __init__(self, limits: dict[str, int], used: dict[str, int]):
        self.ledger = BudgetLedger(limits, used)
        self.claims: list[Claim] = []

    def claim(self, key: str, amount: int, time, member, event: Optional[str]) -> int:
        granted = self.ledger.claim(key, amount, time, member, event)
        self.claims.append(Claim(key, amount, granted))
        return granted

    def keys(self) -> list[str]:
        """The budgets claimed, sorted: the order their rows are locked in (so two writers never deadlock)."""
        return sorted({c.key for c in self.claims if c.key in self.ledger.limits})


def regrant(claims: list[Claim], limits: dict[str, int], used_now: dict[str, int]) -> Optional[dict[str, int]]:
    """The new `used` of each claimed budget if every claim, replayed in order against `used_now`, is granted
    what it was granted before; None if any would be granted something else (the apply must run again)."""
    replay = BudgetLedger({k: limits[k] for k in used_now}, used_now)
    for c in claims:
        if c.key not in used_now:
            continue  # not a budget of the program: BudgetLedger grants it whole, as it did
        if replay.claim(c.key, c.amount, None, None, None) != c.granted:
            return None
    return dict(replay.used)
