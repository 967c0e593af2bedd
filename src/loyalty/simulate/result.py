"""The mergeable result of simulating some members.

A `SimResult` is plain data: counters (ints, or exact Decimals), nested tables of
counters, histograms, the best draw keys and the per-member rows. `merge` is
exact, associative and commutative for results over disjoint sets of members,
so members can be simulated in any grouping (one process, `--jobs`, a Dask
partition) and merged; the report is computed from the merged result only.
"""

from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import NamedTuple, Union

Number = Union[int, Decimal]

# Money and point figures are exact. Python's default decimal context keeps 28 digits: a point cost times
# the points of a 20-digit rate, multiplier and cost (docs/limits.md: each number 20 digits, amounts int64
# minor units) reaches ~150 digits, which the default context rounds silently and `quantize` refuses
# (InvalidOperation). Every sum and product of the simulator and its reports runs in EXACT instead, where
# none of them rounds; only a share (a division) is inexact, and it is quantized to its shown places.
EXACT = Context(prec=1000, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, DivisionByZero, Overflow])


def exact(fn):
    """Run fn with EXACT as the decimal context (workers, merges, reports and renderers alike)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with localcontext(EXACT):
            return fn(*args, **kwargs)
    return wrapper

# Joins two names into one table key. Names cannot hold control characters (the checker's
# LOY107), so splitting at this separator always gives the names back.
KEY_SEP = "\x1f"

# The by-store table's row for what happened in no store (events without a store; draw prizes), and the
# by-region rows of stores the program declares without a region, of stores it does not declare, and of no store
NO_STORE = "(no store)"
NO_REGION = "(no region)"
UNDECLARED_STORES = "(stores not in the program)"


def region_of(store: str, stores: dict) -> str:
    """The by-region row of an event's store ("" for none), given the program's store -> region."""
    if not store:
        return NO_STORE
    if store in stores:
        return stores[store] or NO_REGION
    return UNDECLARED_STORES


class MemberRow(NamedTuple):
    """One member's figures, for the by-member table and for `compare`."""

    member: str
    orders: int
    revenue: int  # minor units
    points_earned: Number
    points_redeemed: Number
    points_outstanding: Number
    rewards: int
    discount: int  # minor units
    value: Decimal  # what the member received, in the currency (discounts, rewards, points at their cost)
    tier: str  # at the end ("" without tiers)
    # what the member cost the business, minor units: discounts, rewards at cost, tier perks, and the points she
    # still holds at their cost (before the scenario's breakage); the bootstrap intervals resample it
    cost: Decimal = Decimal(0)
    liability: Decimal = Decimal(0)  # of which the points she still holds, at their cost, minor units


class DrawKey(NamedTuple):
    """A weighted-reservoir key: the members with the largest keys win a draw period."""

    key: float
    member: str


DRAW_HASH_RANGE = 18446744073709551616.0  # 2**64: a stable_hash over this, plus one, is in (0, 1]


def draw_key_values(seed, draw: str, period: str, members: list, entries: list) -> list:
    """Each member's weighted-reservoir key in one draw period (Efraimidis-Spirakis: log(u) / entries, the
    largest keys win), u from a seeded hash of (seed, "draw", draw, period, member) in (0, 1]."""
    import math

    from loyalty.simulate.scenario import stable_hashes

    log = math.log
    hashes = stable_hashes((seed, "draw", draw, period), members)
    return [log((h + 1) / DRAW_HASH_RANGE) / n for h, n in zip(hashes, entries)]


def draw_candidates(values: list, members: list, winners: int) -> list:
    """The keys (value, member) of one period's entrants that can be among its `winners` largest: those whose
    value is at least the winners-th largest value (ties included), in the order given."""
    if len(values) > winners:
        floor = sorted(values)[-winners]
        return [DrawKey(v, m) for v, m in zip(values, members) if v >= floor]
    return [DrawKey(v, m) for v, m in zip(values, members)]


@dataclass
class SimResult:
    counts: dict[str, Number] = field(default_factory=dict)
    # (table, row key, column) -> value, e.g. cells["rule", "points on every dollar", "points_issued"]: one flat
    # dict, so the accumulator adds with one lookup; `tables` gives the nested view the report reads
    cells: dict[tuple[str, str, str], Number] = field(default_factory=dict)
    # name -> value -> members, e.g. days to first reward
    histograms: dict[str, dict[int, int]] = field(default_factory=dict)
    # "draw|period" -> the best keys (at most `winners` of them)
    draw_keys: dict[str, list[DrawKey]] = field(default_factory=dict)
    draw_winners: dict[str, int] = field(default_factory=dict)  # "draw|period" -> winners drawn
    # budget -> the earliest time it ran out (ISO text sorts as time)
    exhausted: dict[str, str] = field(default_factory=dict)
    members: list[MemberRow] = field(default_factory=list)  # sorted by member id
    # budget claims (time, member, event, budget, amount) from a first pass, to find when budgets run out
    claims: list[tuple] = field(default_factory=list)

    # ------------------------------------------------------------ building
    def count(self, name: str, value: Number = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def add(self, table: str, key: str, column: str, value: Number = 1) -> None:
        cell = (table, key, column)
        self.cells[cell] = self.cells.get(cell, 0) + value

    @property
    def tables(self) -> dict[str, dict[str, dict[str, Number]]]:
        """table -> row key -> column -> value, e.g. tables["rule"]["points on every dollar"]["points_issued"]."""
        out: dict[str, dict[str, dict[str, Number]]] = {}
        for (table, key, column), value in self.cells.items():
            out.setdefault(table, {}).setdefault(key, {})[column] = value
        return out

    def observe(self, histogram: str, value: int) -> None:
        h = self.histograms.setdefault(histogram, {})
        h[value] = h.get(value, 0) + 1

    def offer_draw(self, draw_period: str, winners: int, key: DrawKey) -> None:
        self.draw_winners[draw_period] = winners
        keys = self.draw_keys.setdefault(draw_period, [])
        keys.append(key)
        if len(keys) > winners:
            keys[:] = heapq.nlargest(winners, keys)

    def offer_draws(self, draw_period: str, winners: int, keys: list, offered: int = -1) -> None:
        """`offer_draw` for each of `offered` keys in turn (all of `keys`, or more of which `keys` are those that
        can win: `draw_candidates`), at once: the period keeps the `winners` largest keys (sorted, largest first)
        once it has had more than that many, else every key in the order offered."""
        offered = max(offered, len(keys))
        if not offered:
            return
        self.draw_winners[draw_period] = winners
        held = self.draw_keys.setdefault(draw_period, [])
        had = len(held)
        held.extend(keys)
        if had + offered > winners:
            held[:] = heapq.nlargest(winners, held)

    def ran_out(self, budget: str, when: str) -> None:
        if budget not in self.exhausted or when < self.exhausted[budget]:
            self.exhausted[budget] = when

    # ------------------------------------------------------------ merging
    @exact
    def merge(self, other: "SimResult") -> "SimResult":
        """A new result for the members of both (which must be disjoint)."""
        return SimResult.merge_many([self, other])

    @staticmethod
    @exact
    def merge_many(parts: list) -> "SimResult":
        """A new result for the members of all `parts` (disjoint), as merging them two by two in any grouping
        gives (sums are exact, so their order does not matter), each part's tables added once into one result
        rather than copied at every level of a tree of merges."""
        out = SimResult()
        counts, cells, histograms = out.counts, out.cells, out.histograms
        for part in parts:
            for name, value in part.counts.items():
                counts[name] = counts.get(name, 0) + value
            for cell, value in part.cells.items():
                cells[cell] = cells.get(cell, 0) + value
            for name, hist in part.histograms.items():
                target = histograms.setdefault(name, {})
                for value, n in hist.items():
                    target[value] = target.get(value, 0) + n
            for budget, when in part.exhausted.items():
                out.ran_out(budget, when)
            out.draw_winners.update(part.draw_winners)
        for draw_period in sorted({d for part in parts for d in part.draw_keys}):
            keys = [k for part in parts for k in part.draw_keys.get(draw_period, [])]
            out.draw_keys[draw_period] = heapq.nlargest(out.draw_winners[draw_period], keys)
        # each part's members are sorted by member id; ranges of members in order (every engine's groups) join
        lists = [part.members for part in parts if part.members]
        if all(a[-1] < b[0] for a, b in zip(lists, lists[1:])):
            out.members = [m for members in lists for m in members]
        else:
            out.members = list(heapq.merge(*lists))
        out.claims = sorted(c for part in parts for c in part.claims)
        return out

    def canonical(self) -> dict:
        """Everything, with sorted keys and exact numbers as text: equal results give equal dicts."""

        def num(v: Number) -> str:
            return str(v)

        tables = self.tables
        return {
            "counts": {k: num(v) for k, v in sorted(self.counts.items())},
            "tables": {
                t: {k: {c: num(v) for c, v in sorted(cols.items())} for k, cols in sorted(rows.items())}
                for t, rows in sorted(tables.items())
            },
            "histograms": {n: {str(k): v for k, v in sorted(h.items())} for n, h in sorted(self.histograms.items())},
            "draws": {d: [[repr(k.key), k.member] for k in sorted(keys, reverse=True)]
                      for d, keys in sorted(self.draw_keys.items())},
            "exhausted": dict(sorted(self.exhausted.items())),
            "members": [[str(x) for x in row] for row in self.members],
            "claims": [[str(x) for x in c] for c in sorted(self.claims)],
        }


@exact
def merge_all(results: list[SimResult]) -> SimResult:
    out = SimResult()
    for r in results:
        out = out.merge(r)
    return out
