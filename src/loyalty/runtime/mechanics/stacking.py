"""Stacking: what happens when several discounts apply to one order (docs/semantics.md, "Stacking").

By default every discount that applies is taken, one after another in rule order. A policy makes some of
them contest the order, and only the winner of a contest runs:

- `at most one discount per order` (the program block): all the discounts that apply contest it;
- a rule marked `exclusive` that applies: all the discounts that apply contest the order with it;
- otherwise, the discounts of one campaign with `best of` contest among themselves, and the discounts with
  a `priority` (in no such campaign) contest among themselves; the others are taken as usual.

A discount "applies" when it would take something off: its worth, what its step would take off the lines
as they are when the discount phase begins (after the tier's discount), before its caps and budget, is
above zero. The winner of a contest is the one with the lowest priority number (a discount without one
comes after every discount with one), then the one worth most to the member, then the earlier rule of the
program. The losers take nothing and each says why (`discount_not_applied`: the winner in `scope`, the
reason, its worth in `amount`). The tier's discount and punch cards are not discounts here: they stack.

Its vectorised step (`vector_allowed`) weighs the same worths per event, beside the discount rules' step
(`discount.vector_discount_rules`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.registry import ProgramMechanic

ONE_PER_ORDER = "one per order"
_NO_PRIORITY = 1 << 62  # after every written priority


def has_policy(prog, rules) -> bool:
    """Whether stacking can decide anything among `rules` (the discounts of one set of applicable rules)."""
    if len(rules) < 2:
        return False
    return prog.stacking == ONE_PER_ORDER or any(r.exclusive or r.priority is not None or r.group is not None
                                                 for r in rules)


def contests(prog, rules, worths) -> list:
    """The contests among `rules` given each one's worth on this order: (policy, indexes into `rules`), each with
    at least two discounts that apply (docs/semantics.md, "Stacking")."""
    live = [i for i, w in enumerate(worths) if w > 0]
    if len(live) < 2:
        return []
    if prog.stacking == ONE_PER_ORDER:
        return [("one discount per order", live)]
    if any(rules[i].exclusive for i in live):
        return [("exclusive", live)]
    groups: dict = {}
    for i in live:
        r = rules[i]
        if r.group is not None:
            groups.setdefault(f'best of "{r.group}"', []).append(i)
        elif r.priority is not None:
            groups.setdefault("priority", []).append(i)
    return [(policy, members) for policy, members in groups.items() if len(members) > 1]


def rank(r, worth: int) -> tuple:
    """A contest's order: the lowest priority number, then the most worth, then the earlier rule."""
    return (r.priority if r.priority is not None else _NO_PRIORITY, -worth, r.index)


def why_lost(loser, loser_worth: int, winner, winner_worth: int) -> str:
    lp = loser.priority if loser.priority is not None else _NO_PRIORITY
    wp = winner.priority if winner.priority is not None else _NO_PRIORITY
    if lp != wp:
        return "lower priority"
    if loser_worth < winner_worth:
        return "worth less"
    return "worth the same, later rule"


def losers(prog, rules, worths) -> dict:
    """index -> (winner index, reason) of every discount that loses a contest on this order."""
    lost: dict = {}
    for policy, members in contests(prog, rules, worths):
        win = min(members, key=lambda i: rank(rules[i], worths[i]))
        for i in members:
            if i != win:
                lost[i] = (win, f"{policy}: {why_lost(rules[i], worths[i], rules[win], worths[win])}")
    return lost


class Stacked:
    """The discount phase of one set of applicable rules under a policy: each discount (rule, mechanic, step,
    data) in the plan's order, then the punch cards' steps (which stack)."""

    __slots__ = ("discounts", "rules", "punches")

    def __init__(self, discounts: list, punches: list):
        self.discounts = tuple(discounts)
        self.rules = tuple(d[0] for d in discounts)
        self.punches = tuple(punches)

    def run(self, plan, st, lines, ev, ledger, out, order, tier, mults) -> None:
        t = ev.time
        worths = []
        for r, mechanic, _, data in self.discounts:
            w = 0
            for _, d in mechanic.worth(plan, st, data, lines, t):
                w += d
            worths.append(w)
        lost = losers(plan.prog, self.rules, worths)
        for i, (r, _, step, data) in enumerate(self.discounts):
            if i not in lost:
                step(plan, st, data, lines, ev, ledger, out, order, tier, mults)
        for i in sorted(lost, key=lambda i: self.rules[i].index):  # in program order
            r = self.rules[i]
            win, reason = lost[i]
            out.append(Effect("discount_not_applied", t, r.name, r.line, r.column, amount=worths[i], order=ev.order,
                              scope=self.rules[win].name, reason=reason, event=ev.id))
        for step, data in self.punches:
            step(plan, st, data, lines, ev, ledger, out, order, tier, mults)


def stacked(plan, discounts: list, punches: list) -> Optional[Stacked]:
    """The discount phase under the program's stacking policy, or None when it decides nothing here (the plan
    then runs every step, as without a policy)."""
    if not has_policy(plan.prog, [d[0] for d in discounts]):
        return None
    return Stacked(discounts, punches)


def vector_allowed(kern, rules, worth_of) -> Optional[dict]:
    """The vectorised step: per rule index, a bool per event, False where the rule loses a contest (as `losers`
    on every event at once). `worth_of(rule)` is its worth per event (int64), on the lines as the discount phase
    begins. None when stacking decides nothing in this program."""
    import numpy as np

    prog = kern.prog
    if not has_policy(prog, rules):
        return None
    worths = [worth_of(r) for r in rules]
    live = [w > 0 for w in worths]
    n_live = np.sum(live, axis=0)
    if prog.stacking == ONE_PER_ORDER:
        everyone = n_live > 1
    else:
        everyone = np.zeros(kern.nev, dtype=bool)
        for r, lv in zip(rules, live):
            if r.exclusive:
                everyone |= lv
        everyone &= n_live > 1
    # the contest each rule is in, where not everyone's: its best-of group, or all rules with a priority
    keys = [("group", r.group) if r.group is not None else ("priority",) if r.priority is not None else None
            for r in rules]
    allowed = {}
    for pool in [None] + sorted({k for k in keys if k is not None}, key=str):
        members = list(range(len(rules))) if pool is None else [i for i, k in enumerate(keys) if k == pool]
        where = everyone if pool is None else ~everyone
        # the winner per event: lexicographic (priority, -worth, rule order) among the live members
        best = np.full(kern.nev, -1, dtype=np.int64)
        best_p = np.full(kern.nev, _NO_PRIORITY, dtype=np.int64)
        best_w = np.zeros(kern.nev, dtype=np.int64)
        for i in sorted(members, key=lambda i: rules[i].index):
            p = rules[i].priority if rules[i].priority is not None else _NO_PRIORITY
            better = live[i] & ((best < 0) | (p < best_p) | ((p == best_p) & (worths[i] > best_w)))
            best = np.where(better, i, best)
            best_p = np.where(better, p, best_p)
            best_w = np.where(better, worths[i], best_w)
        contested = where & (np.sum([live[i] for i in members], axis=0) > 1)
        for i in members:
            lose = contested & live[i] & (best != i)
            allowed[rules[i].index] = allowed.get(rules[i].index, np.ones(kern.nev, dtype=bool)) & ~lose
    return allowed


class Stacking(ProgramMechanic):
    name = "stacking"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        return None  # vector_allowed, in discount.vector_discount_rules
