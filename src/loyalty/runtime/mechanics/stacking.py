"""Stacking: what happens when several discounts, or several gifts, apply to one order (docs/semantics.md,
"Stacking" and "Stacking gifts").

By default every discount that applies is taken, one after another in rule order. A policy makes some of
them contest the order, and only the winner of a contest runs:

- `at most one discount per order` (the program block): all the discounts that apply contest it;
- `at most one discount per line` (the program block): on each line, the discounts that would take
  something off it contest the line, each weighed by what it would take off that line; a discount runs
  on the lines it wins only (what it would take off them, computed as its step does on the whole order);
- a rule marked `exclusive` that applies: all the discounts that apply contest the order with it;
- otherwise, the discounts of one campaign with `best of` contest among themselves, and the discounts with
  a `priority` (in no such campaign) contest among themselves; the others are taken as usual.

A discount "applies" when it would take something off: its worth, what its step would take off the lines
as they are when the discount phase begins (after the tier's discount), before its caps and budget, is
above zero. The winner of a contest is the one with the lowest priority number (a discount without one
comes after every discount with one), then the one worth most to the member, then the earlier rule of the
program. The losers take nothing and each says why (`discount_not_applied`: the winner in `scope`, the
reason, its worth in `amount`). The tier's discount and punch cards are not discounts here: they stack.

Its vectorised step (`vector_lost`) weighs the same worths per event and per line, beside the discount
rules' step (`discount.vector_discount_rules`).

Gifts (rules that give a reward on a purchase) contest an order the same way, among themselves only
(docs/semantics.md, "Stacking gifts"): `at most one gift per order` (the program block), an `exclusive` gift,
a campaign's `best of` over its gifts, `priority N`. A gift "applies" when its step would give it (its
conditions, trigger and item filters hold: `give.gift_times` above zero), before its caps, budget and stock;
it is worth its reward's face value in money (times the times it fires). The winner is chosen as above; each
loser gives nothing and says why (`gift_not_given`). `GiftStacked` is the plan's give phase under a policy,
`vector_gift_lost` its vectorised step (called by `give.vector_gives`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.registry import ProgramMechanic

ONE_PER_ORDER = "one per order"
ONE_PER_LINE = "one per line"
_NO_PRIORITY = 1 << 62  # after every written priority


def policy_of(prog, gifts: bool):
    """The program's policy for discounts, or with `gifts` for gifts (None when it says none)."""
    return prog.gift_stacking if gifts else prog.stacking


def has_policy(prog, rules, gifts: bool = False) -> bool:
    """Whether stacking can decide anything among `rules` (the discounts, or with `gifts` the gifts, of one set
    of applicable rules)."""
    if len(rules) < 2:
        return False
    return policy_of(prog, gifts) in (ONE_PER_ORDER, ONE_PER_LINE) or any(r.exclusive or r.priority is not None or r.group is not None
                                                 for r in rules)


def contests(prog, rules, worths, applies=None, gifts: bool = False) -> list:
    """The contests among `rules` given each one's worth on this order: (policy, indexes into `rules`), each with
    at least two discounts that apply (docs/semantics.md, "Stacking"). A discount applies when its worth is above
    zero; with `gifts`, the rules are gifts, which apply where `applies` says (a gift may be worth nothing)."""
    live = [i for i, w in enumerate(worths) if (applies[i] if gifts else w > 0)]
    if len(live) < 2:
        return []
    policy = policy_of(prog, gifts)
    if policy == ONE_PER_ORDER:
        return [(f"one {'gift' if gifts else 'discount'} per order", live)]
    if any(rules[i].exclusive for i in live):
        return [("exclusive", live)]
    if policy == ONE_PER_LINE:
        return []  # contests per line: `line_losers`
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


def losers(prog, rules, worths, applies=None, gifts: bool = False) -> dict:
    """index -> (winner index, reason) of every discount (or with `gifts`, gift) that loses a contest on this
    order."""
    lost: dict = {}
    for policy, members in contests(prog, rules, worths, applies, gifts):
        win = min(members, key=lambda i: rank(rules[i], worths[i]))
        for i in members:
            if i != win:
                lost[i] = (win, f"{policy}: {why_lost(rules[i], worths[i], rules[win], worths[win])}")
    return lost


def per_line(prog, rules, worths) -> bool:
    """Whether this order's contests are per line: `at most one discount per line`, and no exclusive discount
    that applies makes the whole order one contest."""
    return prog.stacking == ONE_PER_LINE and not any(r.exclusive and w > 0 for r, w in zip(rules, worths))


def line_winners(rules, pairs: list) -> dict:
    """id(line) -> (winner index, {loser index: why}) for each line two discounts would take something off;
    `pairs[i]` is discount i's (line, discount) pairs."""
    by_line: dict = {}
    for i, ps in enumerate(pairs):
        for ln, d in ps:
            if d > 0:
                by_line.setdefault(id(ln), []).append((i, d))
    out = {}
    for key, cands in by_line.items():
        if len(cands) < 2:
            continue
        win, wd = min(cands, key=lambda c: rank(rules[c[0]], c[1]))
        out[key] = (win, {i: why_lost(rules[i], d, rules[win], wd) for i, d in cands if i != win})
    return out


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
        if per_line(plan.prog, self.rules, worths):
            self._run_per_line(plan, st, lines, ev, ledger, out, order, tier, mults)
            return
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


    def _run_per_line(self, plan, st, lines, ev, ledger, out, order, tier, mults) -> None:
        """`at most one discount per line`: the lines' winners are chosen on the lines as the phase begins; each
        discount then runs as its step would, as the lines stand when it runs, but takes nothing off the lines it
        lost; caps cut its total as usual."""
        from loyalty.runtime.mechanics.discount import apply_line_discounts

        t = ev.time
        start = [m.worth(plan, st, data, lines, t) for _, m, _, data in self.discounts]
        winners = line_winners(self.rules, start)
        lost: dict = {}  # index -> [its worth on the lines it lost, the first such line's winner, why]
        for i, pairs in enumerate(start):
            for ln, d in pairs:
                w = winners.get(id(ln))
                if w is not None and i in w[1]:
                    lost.setdefault(i, [0, w[0], w[1][i]])[0] += d
        for i, (r, mechanic, step, data) in enumerate(self.discounts):
            if i not in lost:
                step(plan, st, data, lines, ev, ledger, out, order, tier, mults)
                continue
            kept = [(ln, d) for ln, d in mechanic.worth(plan, st, data, lines, t)
                    if not (id(ln) in winners and i in winners[id(ln)][1])]
            apply_line_discounts(plan.prog, st, r, kept, ev, ledger, out)
        for i in sorted(lost, key=lambda i: self.rules[i].index):
            r = self.rules[i]
            amount, win, why = lost[i]
            out.append(Effect("discount_not_applied", t, r.name, r.line, r.column, amount=amount, order=ev.order,
                              scope=self.rules[win].name, reason=f"one discount per line: {why}", event=ev.id))
        for step, data in self.punches:
            step(plan, st, data, lines, ev, ledger, out, order, tier, mults)


def stacked(plan, discounts: list, punches: list) -> Optional[Stacked]:
    """The discount phase under the program's stacking policy, or None when it decides nothing here (the plan
    then runs every step, as without a policy)."""
    if not has_policy(plan.prog, [d[0] for d in discounts]):
        return None
    return Stacked(discounts, punches)


class GiftStacked:
    """The give phase of one set of applicable rules under a policy: each gift rule's (rule, step, data) in the
    plan's order. Each gift's times are counted first, as its step would (`give.gift_times`: what an `after every
    X spent` has reached is used up whether or not it wins), then the winners are given in rule order."""

    __slots__ = ("rules",)

    def __init__(self, gives: list):
        self.rules = tuple(g[0] for g in gives)

    def run(self, plan, st, lines, ev, ledger, out, order, tier, mults) -> None:
        from loyalty.runtime.mechanics.give import fire_give, gift_times

        rewards = plan.prog.rewards
        times = [gift_times(plan, st, r, lines, order, ev, out) for r in self.rules]
        worths = [n * rewards[r.reward].face for r, n in zip(self.rules, times)]
        lost = losers(plan.prog, self.rules, worths, [n > 0 for n in times], gifts=True)
        for i, r in enumerate(self.rules):
            if times[i] and i not in lost:
                fire_give(plan, st, r, ev, ledger, out, order, times[i])
        t = ev.time
        for i in sorted(lost, key=lambda i: self.rules[i].index):  # in program order
            r = self.rules[i]
            win, reason = lost[i]
            out.append(Effect("gift_not_given", t, r.name, r.line, r.column, amount=worths[i], reward=r.reward,
                              order=ev.order, scope=self.rules[win].name, reason=reason, event=ev.id))


def gift_stacked(plan, gives: list) -> Optional[GiftStacked]:
    """The give phase under the program's policy for gifts, or None when it decides nothing here."""
    if not has_policy(plan.prog, [g[0] for g in gives], gifts=True):
        return None
    return GiftStacked(gives)


def _vector_winners(rules, members, live_of, worth_of, n):
    """Per slot (event or row) of `n`, the index in `rules` of the winner among the live `members` (-1: none), as
    `rank` orders them."""
    import numpy as np

    best = np.full(n, -1, dtype=np.int64)
    best_p = np.full(n, _NO_PRIORITY, dtype=np.int64)
    best_w = np.zeros(n, dtype=np.int64)
    # (members of one priority, or none: a winner so far has the same one, so the worth alone decides)
    one_priority = len({rules[i].priority for i in members}) == 1
    for i in sorted(members, key=lambda i: rules[i].index):
        p = rules[i].priority if rules[i].priority is not None else _NO_PRIORITY
        w = worth_of(i)
        if one_priority:
            better = live_of(i) & ((best < 0) | (w > best_w))
        else:
            better = live_of(i) & ((best < 0) | (p < best_p) | ((p == best_p) & (w > best_w)))
            best_p = np.where(better, p, best_p)
        best = np.where(better, i, best)  # (np.where: copyto's `where=` costs more, callgrind)
        best_w = np.where(better, w, best_w)
    return best


def _vector_event_losers(policy, rules, live, worths, nev):
    """Per index into `rules`, a bool per event: True where the rule lost the order's contest (as `contests` and
    `losers` on every event at once; a `one per line` policy's contests per line are the caller's). Also the
    events where everyone contests (`one per order`, or an exclusive rule applies)."""
    import numpy as np

    n_live = np.sum(live, axis=0)
    exclusive = np.zeros(nev, dtype=bool)
    for r, lv in zip(rules, live):
        if r.exclusive:
            exclusive |= lv
    everyone = (n_live > 1) & (exclusive | (policy == ONE_PER_ORDER))
    lost = [np.zeros(nev, dtype=bool) for _ in rules]

    def lose_events(members, where):
        if not where.any():  # no event contested here (no exclusive rule, no one-per-order policy): none lost
            return
        best = _vector_winners(rules, members, lambda i: live[i], lambda i: worths[i], nev)
        contested = where & (np.sum([live[i] for i in members], axis=0) > 1)
        for i in members:
            lost[i] |= contested & live[i] & (best != i)

    lose_events(list(range(len(rules))), everyone)
    if policy != ONE_PER_LINE:
        # the contest each rule is in, where not everyone's: its best-of group, or all rules with a priority
        keys = [("group", r.group) if r.group is not None else ("priority",) if r.priority is not None else None
                for r in rules]
        for pool in sorted({k for k in keys if k is not None}, key=str):
            lose_events([i for i, k in enumerate(keys) if k == pool], ~everyone)
    return lost, everyone


def vector_gift_lost(kern, rules, fired: dict) -> Optional[dict]:
    """The vectorised step of `GiftStacked`: per rule index, a bool per event of the kernel, True where the gift
    lost the order's contest. `rules` are the gift rules that run on a purchase, `fired[r.index]` how many
    times each fires per event (before its caps). None when stacking decides nothing among them."""
    from loyalty.runtime.arrays import PURCHASE

    prog = kern.prog
    if not has_policy(prog, rules, gifts=True):
        return None
    purchase = (kern.e_type == PURCHASE) & kern.e_running  # (an `nth visit` gift fires on visits too: no contest)
    live = [(fired[r.index] > 0) & purchase for r in rules]
    worths = [fired[r.index] * prog.rewards[r.reward].face for r in rules]
    lost, _ = _vector_event_losers(prog.gift_stacking, rules, live, worths, kern.nev)
    return {r.index: lost[i] for i, r in enumerate(rules)}


def vector_lost(kern, rules, worth_of, kept: Optional[dict] = None) -> Optional[dict]:
    """The vectorised step: per rule index, a bool per row of the kernel, True where the rule takes nothing off
    the row because it lost a contest (as `losers`, and per line as `line_winners`, on every event at once).
    `worth_of(rule)` is what it takes off each row (int64), on the lines as the discount phase begins. None when
    stacking decides nothing in this program. `kept`, where the contests are per order (not `one per line`):
    filled with, per rule index, what it takes off each event's rows where it did not lose (int64 per event),
    its discount per event when nothing changed its rows' worth since."""
    import numpy as np

    prog = kern.prog
    if not has_policy(prog, rules):
        return None
    rows = [worth_of(r) for r in rules]
    worths = [np.add.reduceat(d, kern.e_start) for d in rows]
    ev_lost, everyone = _vector_event_losers(prog.stacking, rules, [w > 0 for w in worths], worths, kern.nev)
    lost = {r.index: ev_lost[i][kern.r_ev] for i, r in enumerate(rules)}
    if kept is not None and prog.stacking != ONE_PER_LINE:
        kept.update((r.index, np.where(ev_lost[i], 0, worths[i])) for i, r in enumerate(rules))
    if prog.stacking == ONE_PER_LINE:  # elsewhere, each line its own contest
        everything = list(range(len(rules)))
        row_live = [(d > 0) & ~everyone[kern.r_ev] for d in rows]
        best = _vector_winners(rules, everything, lambda i: row_live[i], lambda i: rows[i], len(kern.r_ev))
        contested = np.sum(row_live, axis=0) > 1
        for i in everything:
            lost[rules[i].index] |= contested & row_live[i] & (best != i)
    return lost


class Stacking(ProgramMechanic):
    name = "stacking"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        # discounts: vector_lost, in discount.vector_discount_rules; gifts: vector_gift_lost, in give.vector_gives,
        # which weighs the gifts of an order up front: a gift whose condition reads a balance is known later
        from loyalty.runtime.mechanics.context import balance_conditions
        from loyalty.runtime.mechanics.triggers import can_apply_to_purchase

        gifts = [r for r in program.rules if r.action == "give" and can_apply_to_purchase(r)]
        if has_policy(program, gifts, gifts=True):
            for r in gifts:
                if balance_conditions(program.doc["rules"][r.index]):
                    return (f"rule {r.name!r}: a gift whose condition reads a points balance, under a stacking "
                            "policy for gifts, is not vectorised yet")
        return None
