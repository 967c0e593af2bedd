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
# the members who may claim a budget are replayed apart (`claimants_apart`) when their rows are at most this share of
# the history's: below it the others' one pass saves most of a pass; above it two replays of parts cost about what
# a pass of all saves (a program whose budgets do not run out takes one pass either way)
CLAIMANTS_APART_SHARE = 0.5


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


class FirstPassScout:
    """The first pass (nothing known) of a run whose groups of members go one after another (in this process,
    `--grouped`): it is the last pass only if no budget runs out, so once the claims of the groups run so far
    make one run out, the groups still to come give their claims alone (`claims_only`: no figures to build);
    and once they make every budget run out, only their claims up to `before_us` (the latest of those
    cutoffs, and one microsecond) count, so those groups replay only their rows before it (`claims_prefix`).

    Why that is exact: every claim of a pass with nothing known is granted in full and asks a non-negative
    amount, so more claims can only make a budget run out sooner (`find_cutoffs`): the pass's cutoffs are
    where all its claims make each budget run out, at or before where the claims seen so far did. A member's
    claims before a moment depend only on her rows before it (the replay goes forward in time), so a group's
    rows before `before_us` give its claims before it exactly; and the pass is not the last, so its figures
    are never read (`solve_budgets` keeps the result of a pass that found no cutoff only)."""

    def __init__(self, limits: dict[str, int], known: Optional[Cutoffs]):
        self.limits = limits
        self.active = known is not None and not known and bool(limits)
        self.claims: list[tuple] = []  # the claims seen, those before `before_us` once it is set
        self.totals = {k: 0 for k in limits}  # what the claims seen ask of each budget
        self.before: Optional[int] = None

    @property
    def claims_only(self) -> bool:
        """Whether the groups still to come give their claims alone: a budget has run out."""
        return self.active and _one_runs_out(self.limits, self.totals)

    @property
    def before_us(self) -> Optional[int]:
        """The moment before which the groups still to come need their claims (every budget has run out), or
        None: all of them."""
        return self.before if self.active else None

    def add(self, claims: list[tuple]) -> None:
        """A group's claims (of its rows before `before_us`, when it was set)."""
        if not self.active:
            return
        totals = self.totals
        for c in claims:
            if c[4] < 0:  # (never made by the mechanics; then nothing is assumed)
                self.active = False
                return
            if c[3] in totals:
                totals[c[3]] += c[4]
        self.claims.extend(claims)
        if all(0 < t >= self.limits[k] for k, t in totals.items()):  # every budget has run out: where
            found = find_cutoffs(self.limits, self.claims, {})
            if len(found) == len(self.limits):  # (always, by the totals; else every row stays needed)
                self.before = max(pos[0] for pos, _left in found.values()) + 1
                self.claims = [c for c in self.claims if c[0] < self.before]


def _one_runs_out(limits: dict[str, int], totals: dict[str, int]) -> bool:
    """Whether claims asking `totals` of each budget (none negative) make one run out: `find_cutoffs` finds a
    budget's cutoff exactly where its claims ask more than nothing and at least its limit."""
    return any(0 < t >= limits[k] for k, t in totals.items())


def first_pass_not_last(limits: dict[str, int], known: Optional[Cutoffs], claims: list[tuple]) -> bool:
    """Whether some members' claims (of their whole rows) show that the pass they come from cannot be the last:
    a pass with nothing known where these claims alone make a budget run out. Every claim of such a pass is
    granted in full and, with none negative, the pass's other claims only add to what these ask, so the pass
    finds a cutoff and `solve_budgets` drops its figures (as `FirstPassScout`'s groups after the first)."""
    if known is None or known or not limits:
        return False
    totals = {k: 0 for k in limits}
    for c in claims:
        if c[4] < 0:
            return False
        if c[3] in totals:
            totals[c[3]] += c[4]
    return _one_runs_out(limits, totals)


def _reached_at(limit: int, claims: list[tuple]) -> Optional[tuple]:
    """The service position (time, member, seq) of the first of one key's claims (in service order) that asks more
    than nothing and brings what they asked to `limit` (where `find_cutoffs` puts the cutoff), or None."""
    used = 0
    for c in claims:
        used += c[4]
        if c[4] > 0 and used >= limit:
            return c[:3]
    return None


def claims_cover_the_cutoffs(limits: dict[str, int], parent: list[tuple], claims: list[tuple]) -> bool:
    """Whether `claims`, the claims of a kernel's members put together from two sources (those a pass got right,
    from `parent`, that pass's recorded claims, and the others' from a kernel of their own), hold every claim
    `find_cutoffs` may read of them. Each kernel records a key's claims only up to where its own claims reach
    the key's limit (stock.claims_that_can_cut), which is safe for its own claims; the parent's stop where
    claims it got wrong reached it, so those taken from it may miss some after that point. They miss none that
    counts when the claims put together reach the limit at or before it: the cutoff is there or earlier
    whatever other members claim (no amount negative). None negative is required too."""
    if any(c[4] < 0 for c in parent) or any(c[4] < 0 for c in claims):
        return False
    for key, limit in limits.items():
        cut = _reached_at(limit, sorted(c for c in parent if c[3] == key))  # (the parent's last claim kept)
        if cut is not None and _reached_at(limit, sorted(c for c in claims if c[3] == key and c[:3] <= cut)) is None:
            return False
    return True


def claims_prefix(history, before_us: int):
    """The history's rows before `before_us` (a wall-clock moment in microseconds, the claims' times), for
    `FirstPassScout`: each member's rows up to her first at or after it. None where that would not be each
    member's history up to that moment: a member whose wall times step back (a DST fall-back's repeated hour),
    or an order whose lines fall on both sides of the moment (one event, cut in two)."""
    import numpy as np

    from loyalty.simulate.columns import numbers

    time = numbers(history.table.column("time"))  # (not pyarrow's to_numpy, which imports pandas: ~0.5 s)
    member = history.code_array("member")
    same = member[1:] == member[:-1]
    if (same & (time[1:] < time[:-1])).any():
        return None
    keep = time < before_us
    kinds, names = history.dictionary_codes("type")
    purchase = np.array([n == "purchase" for n in names] or [False], dtype=bool)[kinds] & (kinds >= 0)
    order = history.code_array("order")
    lines = purchase & (order >= 0)
    key = member[lines] * (int(order.max()) + 1) + order[lines]  # (member, order) of each purchase line
    if np.isin(key[~keep[lines]], key[keep[lines]]).any():  # (the few kept lines looked up, not the many)
        return None
    return history.rows_where(keep)


def claimants_apart(program, history):
    """The history cut in two by member: (the members no budget claim can come from, the others), or None where the
    plan bounds no budget's claims to few members (`CLAIMANTS_APART_SHARE`). The first part takes one pass, the
    second the budget passes, and their results merge as any two groups of members do (parallel.py).

    Why it is exact: a member's replay consults the budgets only at her claims, so a member who makes no claim in
    a pass with nothing known makes none in any pass (every pass replays her the same up to her first claim, and
    there is none), and her part of the result is the same in every pass; the cutoffs are where the claims, all of
    the other members', reach each limit. Which members may claim is a guess from the plan (`claim_rows`): the
    driver replays the first part with nothing known and keeps the cut only if it made no claim at all, else it
    replays the whole history by passes as without the cut."""
    import numpy as np

    rows = claim_rows(program, history)
    if rows is None:
        return None
    member = history.code_array("member")
    claimant = np.zeros(int(member.max()) + 2 if len(member) else 1, dtype=bool)  # (-1, no member: the last slot)
    claimant[member[rows]] = True
    of_claimants = claimant[member]
    if int(of_claimants.sum()) > CLAIMANTS_APART_SHARE * len(history):
        return None
    return history.rows_where(~of_claimants), history.rows_where(of_claimants)


# what each trigger's budgeted rule can claim at: rows of these types only (a trigger not named: any row)
_CLAIMED_AT_TYPES = {"signup": ("signup",)}
_ONE_DAY_US = 86_400_000_000


def claim_rows(program, history):
    """The rows at which a claim on some budget may come, from the plan: a budgeted rule's claims come at the
    events it fires on, inside its dates (widened by a day on each side: the check is a guess, `claimants_apart`)
    and of its trigger's row types (`_CLAIMED_AT_TYPES`). None where a budget is not a rule's (a code's uses).
    The guess may be wrong (a timer's event on no row, a signup from the attributes): `claimants_apart`'s caller
    checks it."""
    import numpy as np

    ruled = {r.budget for r in program.rules if r.budget is not None}
    if not program.budgets or any(key not in ruled for key in program.budgets):
        return None
    from loyalty.runtime.arrays import is_one_of
    from loyalty.simulate.columns import numbers

    time = numbers(history.table.column("time"))
    kind, kinds = history.dictionary_codes("type")
    out = np.zeros(len(history), dtype=bool)
    for rule, doc in zip(program.rules, program.doc["rules"]):
        if rule.budget is None:
            continue
        here = np.ones(len(history), dtype=bool)
        for cond in doc.get("conditions", ()):
            if cond.get("kind") == "dates":
                try:
                    if cond.get("from"):
                        here &= time >= _day_us(cond["from"]) - _ONE_DAY_US
                    if cond.get("to"):
                        here &= time < _day_us(cond["to"]) + 2 * _ONE_DAY_US
                except (TypeError, ValueError):  # (not a date as the compiler writes it: no bound)
                    return None
        types = _CLAIMED_AT_TYPES.get(rule.trigger)
        if types is not None:
            here &= is_one_of(kind, [kinds.index(t) for t in types if t in kinds])
        out |= here
    return out


def _day_us(text: str) -> int:
    """A date's start as the history's times are: microseconds of the wall time since 1970-01-01."""
    return _micros(_dt.datetime.combine(_dt.date.fromisoformat(text), _dt.time()))
