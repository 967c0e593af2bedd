"""Punch cards: every nth unit free or at a percentage off, and n paid then m free (`cycle`, `free`).

A card counts the units of the lines its filters select, across orders; the units that fall in the
last `free` places of a cycle are discounted (`formulas.cycle_count`); a return lowers the count
but never takes a free unit back, and never grants one again (`st.fired`: units discounted so far).
The cost of a free unit is its catalog cost when every free unit has one, else the revenue foregone.
"""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.formulas import cycle_count, half_even
from loyalty.runtime.internal import Ev
from loyalty.runtime.mechanics.context import matching
from loyalty.runtime.mechanics.limits import is_limited, limit
from loyalty.runtime.mechanics.registry import Mechanic, describe, register
from loyalty.runtime.state import NONE_YET, MemberState, OrderRecord

_tuple_new = tuple.__new__


def punch(plan, st, r, lines, ev, ledger, out, order, tier, mults) -> None:
    """The general step."""
    prog = plan.prog
    c = st.punches.get(r.index, 0)
    given = st.fired.get(r.index, 0)  # discounted units so far: a return lowers the count, never re-grants
    num, den = r.percent
    per_line = []
    total = 0
    units = 0
    # what the free units cost us: their items' unit costs, when the catalog has one for each (else None)
    unit_cost = 0 if (num, den) == (100, 1) else None
    for ln in lines:
        if not r.line_matches(ln[0], ln[1]):
            continue
        q = ln[2]
        k = max(0, cycle_count(c + q, r.cycle, r.free) - given)
        given += k
        c += q
        units += q
        if k:
            d = half_even(ln[4] * k * num, q * den * 100)
            per_line.append((ln, d))
            total += d
            item_cost = prog.item_costs.get(ln[0])
            unit_cost = None if unit_cost is None or item_cost is None else unit_cost + item_cost * k
    if units == 0:
        return
    st.punches[r.index] = c
    # fired is replaced, never changed in place (shared by state copies): when a free unit was given, or the card's
    # first unit is counted (get: None; the saved state lists the card from then)
    if given != st.fired.get(r.index):
        st.fired = {**st.fired, r.index: given}
    if order.punches is NONE_YET:
        order.punches = {}
    if order.items is NONE_YET:
        order.items = {}
    order.punches[r.index] = order.punches.get(r.index, 0) + units
    order.items[r.index] = sorted({ln[0] for ln in lines if r.line_matches(ln[0], ln[1])})
    if total <= 0:
        return
    granted = limit(prog, st, r, total, ev, ledger, out, None, money=True) or 0
    left = granted
    for ln, d in per_line:
        take = min(d, left)
        ln[4] -= take
        left -= take
    if granted > 0:
        # cost: the free units' catalog cost, else (a discounted unit, an item without a cost, a cap that
        # cut the discount) the revenue foregone
        cost = unit_cost if unit_cost is not None and granted == total else granted
        out.append(Effect("discount_applied", ev.time, r.name, r.line, r.column, amount=granted, cost=cost,
                          order=ev.order, event=ev.id))


def punch_plain(plan, st: MemberState, r, lines, ev: Ev, ledger, out: list, order: OrderRecord, tier, mults) -> None:
    """`punch` for a card without caps or budget, chosen at plan time."""
    matched = matching(r, lines) if r.filters else lines
    if not matched:
        return  # no unit counted
    ri = r.index
    c = st.punches.get(ri, 0)
    given = st.fired.get(ri, 0)
    cycle, free = r.cycle, r.free
    per_line = None
    units = 0
    for ln in matched:
        q = ln[2]
        c += q
        units += q
        k = cycle_count(c, cycle, free) - given
        if k > 0:
            given += k
            if per_line is None:
                per_line = [(ln, k)]
            else:
                per_line.append((ln, k))
    st.punches[ri] = c
    if given != st.fired.get(ri):  # as `punch`
        st.fired = {**st.fired, ri: given}
    if order.punches is NONE_YET:
        order.punches = {ri: units}
    else:
        order.punches[ri] = order.punches.get(ri, 0) + units
    items = [matched[0][0]] if len(matched) == 1 else sorted({ln[0] for ln in matched})
    if order.items is NONE_YET:
        order.items = {ri: items}
    else:
        order.items[ri] = items
    if per_line is None:
        return
    num, den = r.percent
    unit_cost = 0 if num == 100 and den == 1 else None
    total = 0
    costs = plan.item_costs
    for i, (ln, k) in enumerate(per_line):
        d = half_even(ln[4] * k * num, ln[2] * den * 100)
        per_line[i] = (ln, d)
        total += d
        if unit_cost is not None:
            item_cost = costs.get(ln[0])
            unit_cost = None if item_cost is None else unit_cost + item_cost * k
    if total <= 0:
        return
    for ln, d in per_line:  # no cap: the whole discount is granted
        ln[4] -= d
    out.append(_tuple_new(Effect, ("discount_applied", ev.time, r.name, r.line, r.column, None, None, total,
                                   unit_cost if unit_cost is not None else total, None, None, None, None, None,
                                   ev.order, None, None, None, None, ev.id)))


def punches_back(st, o, rule_share) -> None:
    """A return lowers each card's count by the units it carries back (never below 0)."""
    for ri, units in o.punches.items():
        delta = rule_share(ri, units) - o.punches_back.get(ri, 0)
        if delta > 0:
            o.punches_back[ri] = o.punches_back.get(ri, 0) + delta
            st.punches[ri] = max(0, st.punches.get(ri, 0) - delta)


# ---------------------------------------------------------------- vectorised


def vector_discounts(kern) -> None:
    """The vectorised step (for the kernel `kern`, simulate/vector/kernel.py: every member's rows at once).
    Free units by prefix sums: the counter is a running sum of units bought less units returned, the
    units given so far a running max of the cycle count (a return never re-grants a free unit).

    Which lines get how many free units reads only the lines a card matches and the units returns carry
    back, not what the lines cost: a kernel runs this step once per spend pass, tier pass and tier of its
    first guess (every_mechanic at 1M rows: ~140 times), so that part is kept per rule on the kernel
    (`punch_cards`) and made again only when the matched lines or the returned units differ."""
    import numpy as np

    from loyalty.runtime.arrays import Unsupported, fits, half_even

    paid = kern.paid  # after the discount rules (discount.vector_discount_rules), lowered here in place
    cards = kern.__dict__.setdefault("punch_cards", {})
    for r in kern.punch_rules:
        match = kern.purchase_lines(r)
        back = kern.punch_back[r.index]
        card = cards.get(r.index)
        if card is None or not (np.array_equal(card.match, match) and np.array_equal(card.back, back)):
            card = cards[r.index] = _FreeUnits(kern, r, match, back)
        num, den = r.percent
        if not fits(int(paid.max(initial=0)), card.k_max, num):
            raise Unsupported("amounts too large for 64-bit punch card arithmetic")
        has, k = card.rows, card.k
        d = half_even(paid[has] * k * num, kern.r_qty[has] * den * 100)
        paid[has] -= d
        d_ev = np.zeros(kern.nev, dtype=np.int64)
        np.add.at(d_ev, kern.r_ev[has], d)
        kern.discounts[r.index] = d_ev
        # cost: the free units' catalog cost when every one has it (a free card), else the discount
        kern.discount_costs[r.index] = np.where(card.missing, d_ev, card.unit) if card.unit is not None else d_ev
    kern.e_paid = np.add.reduceat(paid, kern.e_start)


class _FreeUnits:
    """A punch card's free units on a kernel's rows (`vector_discounts`): the rows that get any (`rows`), how
    many each (`k`), and for a free card the events with a free unit of no catalog cost (`missing`) and the
    free units' catalog cost per event (`unit`, None for a card at a percentage off)."""

    __slots__ = ("match", "back", "rows", "k", "k_max", "missing", "unit")

    def __init__(self, kern, r, match, back):
        import numpy as np

        from loyalty.runtime.arrays import (Unsupported, cycle_count, fits, segmented_cummax, segmented_cumsum)

        self.match, self.back = match, back.copy()
        nrows = kern.nrows
        units = np.where(match, kern.r_qty, 0)
        delta = units.copy()
        delta[kern.e_start] -= back  # returns: one entry on the return's first row
        # a cycle or a count of units past int64 (a 20-digit cycle, quantities near 2**63): the evaluator's
        if not fits(r.cycle + 1, r.free + 1) or float(np.abs(delta).sum(dtype=np.float64)) >= 2.0 ** 61:
            raise Unsupported("a punch card cycle or unit count too large for 64-bit arithmetic")
        c_after = segmented_cumsum(delta, kern.r_mem, kern.m_rowstart)
        cc = np.where(match, cycle_count(c_after, r.cycle, r.free), 0)
        if len(cc) and not fits(int(kern.r_mem[-1]) + 1, int(cc.max()) + 1):
            raise Unsupported("too many free units to pack per member")
        given_after = segmented_cummax(cc, kern.r_mem)
        given_before = np.zeros(nrows, dtype=np.int64)
        if nrows > 1:
            given_before[1:] = given_after[:-1]
        given_before[kern.m_rowstart] = 0
        k = np.where(match, given_after - given_before, 0)
        num, den = r.percent
        if not fits(int(kern.r_qty.max(initial=0)), den, 100):
            raise Unsupported("amounts too large for 64-bit punch card arithmetic")
        self.rows = np.flatnonzero(k > 0)
        self.k = k[self.rows]
        self.k_max = int(k.max(initial=0))
        self.missing = self.unit = None
        if (num, den) == (100, 1):
            # each row's item cost from the catalog, -1 where there is none (as the scalar `_punch`)
            costs, names = kern.prog.item_costs, kern.rows.item_names
            item_cost = np.array([costs.get((names[c] if c >= 0 else None) or "", -1) for c in range(len(names))]
                                 or [0], dtype=np.int64)
            row_cost = np.where(kern.r_item >= 0, item_cost[np.maximum(kern.r_item, 0)], -1)
            if not fits(self.k_max, int(row_cost.max(initial=0))):
                raise Unsupported("amounts too large for 64-bit punch card arithmetic")
            row_cost = row_cost[self.rows]
            ev = kern.r_ev[self.rows]
            self.missing = np.zeros(kern.nev, dtype=bool)
            self.missing[ev[row_cost < 0]] = True
            self.unit = np.zeros(kern.nev, dtype=np.int64)
            np.add.at(self.unit, ev, self.k * np.maximum(row_cost, 0))


class PunchCard(Mechanic):
    name = "punch card"
    actions = ("punch",)
    phase = "punch"
    action_fields = {"cycle": "int", "free": "int", "percent": "dec"}

    def check_action(self, action, path, check) -> None:
        check.int(action["cycle"], f"{path}.cycle", 1, check.MAX_WRITTEN)
        check.int(action["free"], f"{path}.free", 1, action["cycle"])
        check.dec(action["percent"], f"{path}.percent", *check.PERCENT, lo_open=True)

    def purchase_step(self, rule, plan, specialise, mults=()):
        return (punch_plain if specialise and not is_limited(rule) else punch), rule

    def vector_reason(self, rule, program) -> Optional[str]:
        if rule.trigger is None:
            return None
        return f"rule {rule.name!r} ({describe(rule)}) is not vectorised yet"


register(PunchCard())
