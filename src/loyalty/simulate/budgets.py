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

Fewer passes when several budgets run out (`solve_budgets`): a pass may also take every cutoff the last
pass found as known, a guess, and record every claim on every budget (the amount asked, also where a
cutoff is known). The guess is the answer when the claims of that pass give back the same cutoffs: then
the pass is a fixed point, and there is only one. Take the earliest claim (in service order) where such
a pass and the sequential run differ: everything before it is the same, so it asks the same amount;
the cutoffs the pass used are where its own claims reach each limit, which, before that claim and at
it, are the sequential run's claims, so it is granted what the sequential ledger grants: no such claim.
Two budgets that run out independently (a stock gone in January, a campaign's budget in June) take two
passes, not three. A guess that does not settle in `SPECULATIVE_PASSES` passes falls back to the
earliest-cutoff passes above, from the first pass's earliest cutoff (exact, as the first pass guessed
nothing).
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


# passes that take every cutoff found so far as a guess, before the earliest-cutoff passes take over
SPECULATIVE_PASSES = 4


class CutoffLedger:
    """One member's ledger in a pass: budgets with a known cutoff grant in full before it, what was
    left at it, nothing after; the others grant in full. Every claim is recorded as (time_us, member,
    seq, key, amount asked), for the next pass's cutoffs and for checking a guess (`solve_budgets`).
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
        self.claims.append((here_us, member, seq, key, amount))
        if cutoff is None:
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
    """Passes until the cutoffs a pass used are the ones its claims give; the last pass is the result, with
    each budget's exhaustion time recorded. While more than one budget runs out, every cutoff found is
    guessed at once (module docstring); else, and when guesses do not settle, the earliest found is fixed
    per pass."""
    passes = 0

    def run(known: Cutoffs) -> tuple[SimResult, Cutoffs]:
        nonlocal passes
        passes += 1
        if on_pass:
            on_pass(passes)
        result = run_pass(dict(known))
        claims, result.claims = result.claims, []
        return result, find_cutoffs(limits, claims, {})

    result, found = run({})
    if not found:
        return result
    first = _earliest(found)
    first_cutoff = found[first]  # exact: the first pass guessed nothing
    if len(found) > 1:
        known = found
        while passes < SPECULATIVE_PASSES:  # guesses: every cutoff the last pass found
            result, found = run(known)
            if found == known:
                return _ran_out(result, known)
            known = found
    # the earliest-cutoff passes: `known` holds only cutoffs of the sequential run
    known = {first: first_cutoff}
    while True:
        result, found = run(known)
        new = {k: v for k, v in found.items() if k not in known}
        if not new:
            return _ran_out(result, known)
        earliest = _earliest(new)
        known[earliest] = new[earliest]


def _earliest(found: Cutoffs) -> str:
    return min(found, key=lambda k: (found[k][0], k))


def _ran_out(result: SimResult, known: Cutoffs) -> SimResult:
    from loyalty.simulate.history import micros_to_datetime

    for key, ((t, _member, _seq), _left) in known.items():
        result.ran_out(key, micros_to_datetime(t).isoformat())
    return result
