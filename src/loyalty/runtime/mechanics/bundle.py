"""Same-order bundles (`buy 2 "coffee", get 1 free`, `3 "donut" for the price of 2`): in each order, the
units of the items the rule selects (mixed freely: any of the names, any item of the categories) are counted;
each full group of buy + free units makes `free` units free, and the free units are the cheapest: by what a
unit of its line still costs (line paid / quantity, compared exactly), ties to the earlier line. A line with
k of its q units free takes `paid x k / q` off (half even; all of it when k = q). Nothing carries over to
the next order (a punch card does that). It runs with the other discounts, in rule order; a cap or budget
cuts it like theirs, cheapest line first.

A return does not re-open the bundle: the discount stays given, and the return's refund is its share of
what the order paid (`returns.take_back`, spend back by the returned share), so the bundle's discount goes
back with the goods in the same proportion (docs/semantics.md, "Returns"). Its vectorised step,
`vector_bundle`, is beside the scalar one."""

from __future__ import annotations

from functools import cmp_to_key
from typing import Optional

from loyalty.runtime.formulas import half_even
from loyalty.runtime.mechanics.discount import apply_line_discounts
from loyalty.runtime.mechanics.registry import Mechanic, register


def free_units(units, buy: int, free: int):
    """The free units among `units` bundled units: `free` per full group of buy + free (an int, or an int64
    array of them, alike)."""
    return units // (buy + free) * free


def _by_unit_price(a: tuple, b: tuple) -> int:
    """(index, line) pairs by what a unit of the line still costs, paid / quantity, compared exactly (by cross
    products, as the vectorised step checks them); equal prices in line order."""
    (i, x), (j, y) = a, b
    left, right = x[4] * y[2], y[4] * x[2]
    return -1 if left < right else 1 if left > right else i - j


def bundle_lines(step, lines) -> list:
    """(line, discount) for the cheapest units the bundle makes free."""
    r, buy, free = step
    selected = [ln for ln in lines if r.line_matches(ln[0], ln[1])]
    left = free_units(sum(ln[2] for ln in selected), buy, free)
    if not left:
        return []
    cheapest = [i for i, _ in sorted(enumerate(selected), key=cmp_to_key(_by_unit_price))]
    per_line = []
    for i in cheapest:
        ln = selected[i]
        k = min(ln[2], left)
        per_line.append((ln, ln[4] if k == ln[2] else half_even(ln[4] * k, ln[2])))
        left -= k
        if not left:
            break
    return per_line


def bundle(plan, st, step, lines, ev, ledger, out, order, tier, mults) -> None:
    apply_line_discounts(plan.prog, st, step[0], bundle_lines(step, lines), ev, ledger, out)


def vector_bundle(kern, match, paid, buy: int, free: int):
    """`bundle` on every running purchase at once (called by `discount.vector_discount_rules`): per row of
    `match`, what it takes off `paid` (int64 arrays over the kernel's rows). The matched rows are ordered per
    event by unit price with a float key, then checked exactly (p1 x q2 against p2 x q1, ties by row, as the
    scalar sort); where a float could not tell two prices apart and the row order is not the exact one, the
    kernel declines (Unsupported) rather than guess."""
    import numpy as np

    from loyalty.runtime.arrays import Unsupported, fits, half_even, segment_ids, segmented_cumsum

    rows = np.flatnonzero(match)
    d = np.zeros(len(paid), dtype=np.int64)
    if not len(rows):
        return d
    qty, p, ev = kern.r_qty[rows], paid[rows], kern.r_ev[rows]
    if not fits(int(p.max(initial=0)), int(qty.max(initial=0))) or \
            not fits(int(qty.sum()), buy + free) or int(p.max(initial=0)) >= 1 << 53:
        raise Unsupported("amounts too large for 64-bit bundle discounts")
    order = np.lexsort((rows, p / qty, ev))  # by event, then unit price, then row
    rows, qty, p, ev = rows[order], qty[order], p[order], ev[order]
    same = ev[1:] == ev[:-1]
    left, right = p[:-1] * qty[1:], p[1:] * qty[:-1]  # unit price of each row against the next, exactly
    if (same & (left > right)).any():
        raise Unsupported("unit prices too close for a float to order (bundle)")
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    seg = segment_ids(starts, len(rows))
    n_free = free_units(np.add.reduceat(qty, starts), buy, free)[seg]
    before = segmented_cumsum(qty, seg, starts) - qty
    k = np.clip(n_free - before, 0, qty)
    d[rows] = np.where(k == qty, p, half_even(p * k, qty))
    return d


class Bundle(Mechanic):
    name = "same-order bundle"
    actions = ("bundle",)
    phase = "discount"
    # the compiled action: {"type": "bundle", "buy": units paid per group, "free": units free per group}; the
    # items in line_filters, as a punch card's. `N for the price of M` compiles to buy M, free N - M
    action_fields = {"buy": "int", "free": "int"}

    def purchase_step(self, rule, plan, specialise, mults=()):
        a = rule.action_doc
        return bundle, (rule, a["buy"], a["free"])

    def worth(self, plan, st, data, lines, t) -> list:
        return bundle_lines(data, lines)

    def vector_reason(self, rule, program) -> Optional[str]:
        return None  # vector_bundle, in discount.vector_discount_rules; caps and budgets are declined apart

    def check_action(self, action: dict, path: str, check) -> None:
        check.int(action["buy"], f"{path}.buy", 1)
        check.int(action["free"], f"{path}.free", 1)


register(Bundle())
