"""Program-wide budgets in a run split into partitions of members.

A budget couples members: whether a claim is granted depends on every earlier
claim of every member. Partitions cannot share a live ledger (they run in other
processes or machines), so a partitioned run finds each budget's *cutoff*, the
claim at which it ran out in service order, and replays with that knowledge.

Service order is (time, member id, the claim's index in that member's replay):
the order one sequential service would have granted the claims in.

`solve_budgets(program, run_pass)` drives the passes; `run_pass(known)` replays
every partition with a `CutoffLedger(known)` and returns the merged result,
whose `claims` are the claims made on budgets whose cutoff is not yet known.

Why it is exact (docs/scale.md, "Budgets"): in a pass, known cutoffs are those
of the sequential run, and unknown budgets are granted in full. Up to the
earliest point c where an unknown budget reaches its limit in this pass,
nothing differs from the sequential run (no unknown budget was full before c,
so it refused nothing there either); so c is that budget's true cutoff, and so
is what was left of it at c. Later cutoffs found in the same pass may be wrong
(refusing at c changes members' state and so their later claims), so only the
earliest is fixed, and the pass repeats. A pass that finds no cutoff is the
sequential run. Passes: one more than the number of budgets that run out.
"""

from __future__ import annotations

import datetime as _dt
from typing import Callable, Optional

from loyalty.simulate.result import SimResult

# key -> ((time_us, member, seq), what was left of the budget when that claim came)
Cutoffs = dict[str, tuple[tuple[int, str, int], int]]

_EPOCH = _dt.datetime(1970, 1, 1)
_ONE_US = _dt.timedelta(microseconds=1)


def _micros(t: _dt.datetime) -> int:
    return (t - _EPOCH) // _ONE_US


class CutoffLedger:
    """One member's ledger in a pass: budgets with a known cutoff grant in full before it, what was
    left at it, nothing after; the others grant in full and record (time_us, member, seq, key, amount).
    `seq` counts the member's claims, so two claims in one event (two rules of a campaign sharing its
    budget) or two events at one time without event ids stay distinct and in replay order."""

    __slots__ = ("known", "claims", "seq", "left")

    def __init__(self, known: Cutoffs):
        self.known = known
        self.claims: list[tuple] = []
        self.seq = 0
        self.left: dict[str, int] = {}

    def claim(self, key, amount, time, member, event) -> int:
        seq = self.seq
        self.seq = seq + 1
        cutoff = self.known.get(key)
        here_us = _micros(time)
        if cutoff is None:
            self.claims.append((here_us, member, seq, key, amount))
            return amount
        here = (here_us, member, seq)
        if here < cutoff[0]:
            return amount
        if here == cutoff[0]:
            return min(amount, cutoff[1])
        return 0


def find_cutoffs(limits: dict[str, int], claims: list[tuple], skip: Cutoffs) -> Cutoffs:
    """Where each budget not in `skip` runs out, from every claim on it (granted in full)."""
    used = {k: 0 for k in limits}
    out: Cutoffs = {}
    for t, member, seq, key, amount in sorted(claims, key=lambda c: (c[0], c[1], c[2])):
        limit = limits.get(key)
        if limit is None or key in skip or key in out:
            continue
        if amount > 0 and used[key] + amount >= limit:
            out[key] = ((t, member, seq), limit - used[key])
        used[key] += amount
    return out


def solve_budgets(limits: dict[str, int], run_pass: Callable[[Cutoffs], SimResult],
                  on_pass: Optional[Callable[[int], None]] = None) -> SimResult:
    """Passes until no further budget runs out; the last pass is the result, with each budget's
    exhaustion time recorded."""
    known: Cutoffs = {}
    passes = 0
    while True:
        passes += 1
        if on_pass:
            on_pass(passes)
        result = run_pass(dict(known))
        found = find_cutoffs(limits, result.claims, known)
        result.claims = []
        if not found:
            from loyalty.simulate.history import micros_to_datetime

            for key, ((t, _member, _seq), _left) in known.items():
                result.ran_out(key, micros_to_datetime(t).isoformat())
            return result
        earliest = min(found, key=lambda k: (found[k][0], k))
        known[earliest] = found[earliest]
