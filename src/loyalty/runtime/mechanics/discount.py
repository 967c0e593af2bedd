"""Discounts: a percentage off the lines a rule selects, and a discount scale (the percentage of the
highest step a metric has reached). A tier's own discount is the tiers mechanic's (`tiers.tier_discount`).
Each line's discount is rounded half to even; a cap or budget cuts the order's total, taken from the
lines in order."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.formulas import half_even
from loyalty.runtime.mechanics.limits import limit, own_cap_vector_reason, vector_own_cap
from loyalty.runtime.mechanics.metrics import metric_value
from loyalty.runtime.mechanics.registry import Mechanic, register
from loyalty.runtime.mechanics.triggers import trigger_vector_reason, vector_discount_trigger
from loyalty.runtime.schema import List, Obj


def percent_off_lines(r, lines, pct) -> list:
    """(line, discount) for each line the rule selects: `pct` of what it still costs, half to even."""
    num, den = pct
    return [(ln, half_even(ln[4] * num, den * 100)) for ln in lines if r.line_matches(ln[0], ln[1])]


def discount_lines(prog, st, r, lines, pct, ev, ledger, out) -> None:
    apply_line_discounts(prog, st, r, percent_off_lines(r, lines, pct), ev, ledger, out)


def apply_line_discounts(prog, st, r, per_line: list, ev, ledger, out) -> None:
    """Take each (line, discount) off the line's amount paid, after the rule's caps and budget cut the total
    (what they leave is taken from the lines in order); one effect for the order."""
    total = 0
    for _, d in per_line:
        total += d
    if total <= 0:
        return
    granted = limit(prog, st, r, total, ev, ledger, out, None, money=True)
    if not granted:
        return
    left = granted
    for ln, d in per_line:
        take = min(d, left)
        ln[4] -= take
        left -= take
    out.append(Effect("discount_applied", ev.time, r.name, r.line, r.column, amount=granted, order=ev.order,
                      event=ev.id))


def discount(plan, st, r, lines, ev, ledger, out, order, tier, mults) -> None:
    discount_lines(plan.prog, st, r, lines, r.percent, ev, ledger, out)


def discount_worth(plan, st, r, lines) -> list:
    """What `discount` would take off each line, before caps (mechanics/stacking.py weighs it)."""
    return percent_off_lines(r, lines, r.percent)


def scale_percent(r, value: int):
    """The percentage of the highest step `value` has reached, or None below the first."""
    pct = None
    for threshold, n, d in r.steps:
        if value >= threshold:
            pct = (n, d)
    return pct


def discount_scale(plan, st, r, lines, ev, ledger, out, order, tier, mults) -> None:
    pct = scale_percent(r, metric_value(plan.prog, st, r.metric, ev.time))
    if pct is not None:
        discount_lines(plan.prog, st, r, lines, pct, ev, ledger, out)


def scale_worth(plan, st, r, lines, t) -> list:
    """What `discount_scale` would take off each line at moment `t`, before caps (mechanics/stacking.py)."""
    pct = scale_percent(r, metric_value(plan.prog, st, r.metric, t))
    return percent_off_lines(r, lines, pct) if pct is not None else []


def vector_discount_rules(kern) -> None:
    """The vectorised step (for the kernel `kern`, simulate/vector/kernel.py): the discount rules' discounts
    (a percentage off, `discount_each`'s amount off each unit, `fixed_price`'s member price, `order_discount`'s
    amount off the order, `bundle`'s cheapest units free, then the scales' percentage of the step the
    spend before the order has reached, `kern.spend_before`), in the plan's order, on each running purchase's
    lines they select, off `kern.paid` in place (the punch cards' step runs after, as on the scalar plan);
    per rule the discount of each event. Rounded half to even per line, as `discount_lines`. A rule's own
    cap (`vector_own_cap`) cuts an order's total, taken from its lines in order (`apply_line_discounts`);
    what it refused is `kern.discount_refused` per rule."""
    import numpy as np

    from loyalty.runtime.arrays import segmented_cumsum
    from loyalty.runtime.mechanics.stacking import vector_lost

    paid = kern.paid
    kern.discount_refused = {}
    # stacking (mechanics/stacking.py): each discount's worth on the lines as the phase begins decides who wins
    start = paid.copy()

    def lines_of(r):
        match = kern.purchase_lines(r)
        if r.trigger is not None:  # `on the 5th purchase` (triggers.trigger_vector_reason admits it)
            match &= vector_discount_trigger(kern, r)[kern.r_ev]
        return match

    worths = {}  # per rule: (its lines, its worth on `start`), for the loop below (_reused_worth)

    def worth_of(r):
        worths[r.index] = _worth_on_start(kern, r, lines_of, start)
        return worths[r.index][1]

    kept: dict = {}  # per rule: its worth per event where it won (vector_lost), while its rows' worth holds
    lost = vector_lost(kern, kern.discount_rules, worth_of, kept)
    changed = None  # the rows an earlier rule took something off (paid is no longer `start` there)
    for r in kern.discount_rules:
        d = None if lost is None else _reused_worth(kern, r, worths.get(r.index), changed, lost[r.index])
        if d is None:
            kept.pop(r.index, None)
            d = _vector_discount(kern, r, lines_of(r), paid)
        if lost is not None:  # what it would take off the lines it lost: nothing (as stacking.Stacked.run)
            d[lost[r.index]] = 0
        per_event = kept.pop(r.index, None)  # (its rows' worth, less the events it lost: their sums are known)
        if r.limits:  # the cap grants part of the order's total, from its first lines on
            granted, kern.discount_refused[r.index] = vector_own_cap(
                kern, r, np.add.reduceat(d, kern.e_start) if per_event is None else per_event)
            before = segmented_cumsum(d, kern.r_ev, kern.e_start) - d  # the earlier lines' discounts
            d = np.minimum(np.maximum(granted[kern.r_ev] - before, 0), d)
            per_event = None
        paid -= d
        if lost is not None:
            changed = d != 0 if changed is None else changed | (d != 0)
        kern.discounts[r.index] = kern.discount_costs[r.index] = \
            np.add.reduceat(d, kern.e_start) if per_event is None else per_event


# a rule of these takes off each line what the line's own amount paid gives (_vector_discount): on a line whose
# amount paid is what it was as the phase began, the worth stacking weighed is its discount
_ROW_BY_ROW = ("discount", "discount_scale", "discount_each", "fixed_price")


def _worth_on_start(kern, r, lines_of, start) -> tuple:
    """(the rule's lines, what it takes off each row of `start`) for stacking's contest. A rule that reads neither
    the spend nor a trigger is worth the same in every pass of the kernel's `_settle_spend` (which empties
    `kern.discount_worths` as it begins, and `start` is the same in its passes): found once, in its first pass."""
    import numpy as np

    from loyalty.runtime.mechanics.context import reads_lifetime_spend

    cache = getattr(kern, "discount_worths", None)
    if cache is None or r.trigger is not None or r.action == "discount_scale" or \
            reads_lifetime_spend(kern.prog.doc["rules"][r.index]):
        match = lines_of(r)
        return match, _vector_discount(kern, r, match, start)  # (_vector_discount narrows a scale's lines in place)
    if not np.array_equal(cache.setdefault("start", start), start):  # (a guard: the same in each pass)
        cache.clear()
        cache["start"] = start
    if r.index not in cache:
        match = lines_of(r)
        worth = _vector_discount(kern, r, match, start)
        match.flags.writeable = worth.flags.writeable = False
        cache[r.index] = (match, worth)
    return cache[r.index]


def _reused_worth(kern, r, worth, changed, lost):
    """What rule `r` takes off each row, from its worth on the rows as the phase began, when no row it would
    take something off has been discounted since by an earlier rule: (a copy of) the worth; else None (to be
    computed on the rows as they are now). Row by row for the rules of _ROW_BY_ROW, else event by event (an
    order's amount off, a bundle's cheapest units, look at all the order's lines); lines it lost get nothing
    either way."""
    import numpy as np

    if worth is None:
        return None
    match, d = worth
    if changed is not None:
        touched = changed & match
        if r.action not in _ROW_BY_ROW and touched.any():
            touched = np.logical_or.reduceat(touched, kern.e_start)[kern.r_ev]
        if (touched & ~lost).any():
            return None
    return d if d.flags.writeable else d.copy()  # (a worth kept across passes is read-only)


def _vector_discount(kern, r, match, paid):
    """What discount rule `r` takes off each row of `paid` where `match`, before its cap (int64 per row)."""
    import numpy as np

    from loyalty.runtime.arrays import Unsupported, fits, half_even, segmented_cumsum

    if r.action == "discount_each":
        off = r.action_doc["amount_minor"]
        if not fits(int(kern.r_qty.max(initial=0)), off):
            raise Unsupported("amounts too large for 64-bit discounts")
        d = np.where(match, np.minimum(kern.r_qty * off, paid), 0)
    elif r.action == "fixed_price":  # fixed_price.price_discount, on every line at once
        from loyalty.runtime.mechanics.fixed_price import price_discount

        price = r.action_doc["price_minor"]
        if not fits(int(kern.r_qty.max(initial=0)), price):
            raise Unsupported("amounts too large for 64-bit discounts")
        d = np.where(match, price_discount(paid, kern.r_qty, price), 0)
    elif r.action == "bundle":
        from loyalty.runtime.mechanics.bundle import vector_bundle

        d = vector_bundle(kern, match, paid, r.action_doc["buy"], r.action_doc["free"])
    elif r.action == "discount_order":  # order_discount: over the threshold, taken from the lines in order
        a = r.action_doc
        selected = np.where(match, kern.r_amount, 0)
        over = (np.add.reduceat(selected, kern.e_start) > a["over_minor"])[kern.r_ev]
        avail = np.where(match & over, paid, 0)
        before = segmented_cumsum(avail, kern.r_ev, kern.e_start) - avail
        d = np.clip(a["amount_minor"] - before, 0, avail)
    else:
        if r.action == "discount_scale":  # scale_percent, per event: the highest step reached, if any
            # (the thresholds strictly increase, DiscountScale.check_action: the step reached is how many of them
            # the spend meets, counted by a comparison per step rather than assigned through a mask per step)
            reached = np.zeros(kern.nev, dtype=np.int64)
            for threshold, _, _ in r.steps:
                reached += kern.spend_before >= threshold
            num = np.array([0] + [n for _, n, _ in r.steps], dtype=np.int64)[reached][kern.r_ev]
            den = np.array([1] + [dd for _, _, dd in r.steps], dtype=np.int64)[reached][kern.r_ev]
            match &= num > 0
            top_num, top_den = max([n for _, n, _ in r.steps] + [0]), max([dd for _, _, dd in r.steps] + [1])
        else:
            num, den = r.percent
            top_num, top_den = num, den
        if not fits(int(paid.max(initial=0)), top_num) or not fits(top_den, 100):
            raise Unsupported("amounts too large for 64-bit discounts")
        d = np.where(match, half_even(paid * num, den * 100), 0)
    return d


class Discount(Mechanic):
    name = "discount"
    actions = ("discount",)
    phase = "discount"
    step = staticmethod(discount)
    action_fields = {"percent": "dec"}

    def worth(self, plan, st, data, lines, t) -> list:
        return discount_worth(plan, st, data, lines)

    def vector_reason(self, rule, program) -> Optional[str]:
        if rule.trigger is not None:
            return trigger_vector_reason(rule)
        return None  # vector_discount_rules; caps and budgets and conditions on state are declined apart

    def limits_vector_reason(self, rule) -> Optional[str]:
        return own_cap_vector_reason(rule, ("times", "money"))  # vector_discount_rules

    def check_action(self, action, path, check) -> None:
        check.dec(action["percent"], f"{path}.percent", *check.PERCENT, lo_open=True)


class DiscountScale(Mechanic):
    name = "discount scale"
    actions = ("discount_scale",)
    phase = "discount_scale"
    step = staticmethod(discount_scale)
    action_fields = {"metric": "int", "steps": List(Obj({"percent": "dec", "threshold": "int"}))}

    def worth(self, plan, st, data, lines, t) -> list:
        return scale_worth(plan, st, data, lines, t)

    def vector_reason(self, rule, program) -> Optional[str]:
        m = program.metrics[rule.metric]
        if m.kind == "spend" and m.window == "lifetime":
            return None  # vector_discount_rules, on the kernel's settled spend (Kernel._settle_spend)
        return f"rule {rule.name!r}: a discount scale by a {m.window} {m.kind} metric is not vectorised yet"

    def limits_vector_reason(self, rule) -> Optional[str]:
        return own_cap_vector_reason(rule, ("times", "money"))  # vector_discount_rules

    def check_action(self, action, path, check) -> None:
        check.int(action["metric"], f"{path}.metric", 0, check.metrics - 1)
        last = None
        for j, step in enumerate(action["steps"]):
            check.dec(step["percent"], f"{path}.steps[{j}].percent", *check.PERCENT)
            check.int(step["threshold"], f"{path}.steps[{j}].threshold", -check.MAX_INT)
            if last is not None and step["threshold"] <= last:
                raise check.error(f"{path}.steps[{j}].threshold", "steps must strictly increase")
            last = step["threshold"]


register(Discount())
register(DiscountScale())
