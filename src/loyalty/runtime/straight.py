"""A straight-line purchase for programs of the simplest common shape, built once from the checked plan.

`program.apply` of such a program (punch cards without caps, earning per spend without caps, filters or
multiplier rules, points available at once that expire a fixed time after earning or never, tiers by a
lifetime metric without discounts or perks; no conditions, triggers, codes, budgets, gifts, draws,
goals, referrals, enrolment or acceptance windows: the benchmark's reference program) runs a purchase
here: one function whose rule constants are bound when the program is loaded, with no dispatch over
phases and steps and none of the plan's checks for mechanics the program does not have. It does what
`Plan.apply_event` does with the same plan's steps (`punch.punch_plain`, `earn.earn_per_spend_plain`,
`points.expire_only`, the plan's tier check), effect for effect and field for field
(tests/test_straight_purchase.py holds the two equal on generated programs and histories).

Anything else (another event type, a duplicate id, a known order id, a state holding something this
shape never makes) returns None before anything is changed, and the caller runs the plan.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.formulas import cycle_count, div_round, half_even, split_negative
from loyalty.runtime.mechanics.earn import earn_per_spend_plain
from loyalty.runtime.mechanics.points import expire_only
from loyalty.runtime.mechanics.punch import punch_plain
from loyalty.runtime.mechanics.tiers import upgrade_to
from loyalty.runtime.state import _TAIL as _LOGMAP_TAIL, NONE_YET, Batch, OrderRecord
from loyalty.runtime.timeutil import NEVER

_tuple_new = tuple.__new__


def straight_reason(plan) -> Optional[str]:
    """Why the plan's program is not of the straight shape (None when it is)."""
    prog = plan.prog
    if not plan.specialise:
        return "the general plan"
    if plan.bounded or prog.enrolment is not None:
        return "acceptance windows or enrolment"
    if prog.budgets:
        return "budgets"
    if not plan.expiry_only or plan.downgrade or plan.winback or plan.yearly or plan.tier_reached:
        return "timers other than expiry after earning"
    if plan.has_codes or plan.need_ctx or plan.static is None or plan.count_rules:
        return "conditions, triggers, codes, draws or goals"
    if plan.referrals.referred_purchase or plan.referrals.referring_purchase or plan.inactivity:
        return "referrals or inactivity"
    if plan.spend_metrics or plan.visit_metrics:
        return "spend or visit metrics"
    ph = plan.static
    if ph.stacked is not None or ph.gift_stacked is not None or ph.gives or ph.multipliers:
        return "stacking, gifts or multiplier rules"
    if any(step is not punch_plain for step, _ in ph.reductions):
        return "discounts other than punch cards without caps"
    for step, e in ph.earns:
        if step is not earn_per_spend_plain or e.limited or e.filtered or e.per_line or not e.kp.simple:
            return "earning other than per spend, uncapped, unfiltered, available at once"
    if plan.tiers is not None:
        if not plan.tier_lifetime or any(t.discount is not None or t.perks for t in plan.tier_list):
            return "tiers by a windowed metric, or with a discount or perks"
    for kp in plan.kinds:
        if not kp.simple or kp.kind.expiry not in (None, "after_earning"):
            return "pending points or expiry other than after earning"
    for _, e in ph.earns:
        if not e.kp.one_lifetime and e.kp.earned_metrics:
            return "windowed earned-points metrics"
    return None


def straight_purchase(plan: Any) -> Optional[Callable[[Any, tuple], Any]]:
    """The program's straight purchase, `run(old, ev)` -> (new state, effects) or None (the plan's turn), or None
    when the program is not of the straight shape (`straight_reason`)."""
    if straight_reason(plan) is not None:
        return None
    prog = plan.prog
    runs_from, runs_to = plan.runs_from, plan.runs_to
    kinds_plan = plan.kinds
    has_timers = plan.has_timers
    item_costs = plan.item_costs
    # punch cards: (rule index, filters, cycle, free, numerator, denominator, name, line, column)
    punches = tuple((r.index, r.filters, r.cycle, r.free, r.percent[0], r.percent[1], r.name, r.line, r.column)
                    for _, r in plan.static.reductions)
    # earning: (rule, rate numerator, denominator, kind index, kind name, rounding, factors by tier, expiry delta,
    # earned-points metric slot or None)
    earn_list = []
    for _, e in plan.static.earns:
        kp = e.kp
        metric = kp.earned_metrics[0][0] if kp.one_lifetime else None
        earn_list.append((e.rule, e.rn, e.rd, e.k, e.kind_name, e.mode, e.down, e.factors, kp.expiry_delta, metric))
    earns = tuple(earn_list)
    tiers = plan.tiers
    tier_metric = plan.tier_metric
    thresholds = plan.tier_thresholds

    def run(old, ev):
        if (ev[0] != "purchase" or ev[11] or old.offers or old.referral is not None or old.grace_until is not None
                or old.next_review is not None or old.paid is not None):
            return None
        eid = ev[1]
        oid = ev[3]
        seen = old.seen
        if eid in seen.tail:
            return None  # a duplicate: the plan says so
        for level in seen.levels:
            if eid in level:
                return None
        orders = old.orders
        if oid in orders.tail:
            return None  # a known order id: the plan refuses it
        for level in orders.levels:
            if oid in level:
                return None
        for ks in old.kinds:
            q = ks.maturing  # (TimerQueue.__bool__, written out)
            if q.n > q.head or ks.inactivity_deadline is not None:
                return None  # not a state this program makes (the plan's general timers)
        st = old.copy()
        out: list = []
        t = ev[2]
        clock = st.clock
        if clock is None or t > clock:
            if has_timers and (st.due is None or t >= st.due):
                expire_only(kinds_plan, st, t, out)
            st.clock = t
        seen = st.seen  # LogMap.__setitem__, written out
        tail = seen.tail
        tail[eid] = True
        if len(tail) >= _LOGMAP_TAIL:
            seen[eid] = True
        if (runs_from is not None and t < runs_from) or (runs_to is not None and t >= runs_to):
            return st, out
        st.purchases += 1
        st.visits += 1
        gross = 0
        lines = []  # working lines: [item, category, quantity, gross, paid]
        olines: dict = {}
        for (item, cat, q, amount) in ev[4]:
            lines.append([item, cat, q, amount, amount])
            gross += amount
            rec = olines.get(item)
            if rec is None:
                olines[item] = [q, amount, 0]
            else:
                rec[0] += q
                rec[1] += amount
        order = OrderRecord(t, gross, 0, olines)
        tier = st.tier
        # punch cards (punch.punch_plain)
        for ri, filters, cycle, free, num, den, name, line, column in punches:
            if filters:
                matched = []
                for ln in lines:
                    item, cat = ln[0], ln[1]
                    for items, cats in filters:
                        if items is not None and item not in items and cat not in cats:
                            break
                    else:
                        matched.append(ln)
                if not matched:
                    continue
            else:
                matched = lines
            c = st.punches.get(ri, 0)
            given = st.fired.get(ri, 0)
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
            st.fired[ri] = given
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
                continue
            unit_cost = 0 if num == 100 and den == 1 else None
            total = 0
            for i, (ln, k) in enumerate(per_line):
                d = half_even(ln[4] * k * num, ln[2] * den * 100)
                per_line[i] = (ln, d)
                total += d
                if unit_cost is not None:
                    item_cost = item_costs.get(ln[0])
                    unit_cost = None if item_cost is None else unit_cost + item_cost * k
            if total <= 0:
                continue
            for ln, d in per_line:
                ln[4] -= d
            out.append(_tuple_new(Effect, ("discount_applied", t, name, line, column, None, None, total,
                                           unit_cost if unit_cost is not None else total, None, None, None, None,
                                           None, oid, None, None, None, None, eid)))
        paid = 0
        for ln in lines:
            paid += ln[4]
        order.paid = paid
        st.spend += paid
        orders = st.orders  # LogMap.__setitem__, written out
        tail = orders.tail
        tail[oid] = order
        if len(tail) >= _LOGMAP_TAIL:
            orders[oid] = order
        # earning per spend (earn.earn_per_spend_plain, its crediting of points available at once)
        for r, rn, rd, k, kind_name, mode, down, factors, delta, metric in earns:
            base = paid * rn // rd if down else div_round(paid * rn, rd, mode)
            factor = factors[tier] if tier >= 0 else None
            if factor is None:
                if base <= 0:
                    continue
                parts = ((r, base),)
            else:
                tn, td, src1 = factor
                tiered = paid * rn * tn // (rd * td) if down else div_round(paid * rn * tn, rd * td, mode)
                if tiered <= 0:
                    continue
                p0, p1 = split_negative([base, tiered - base])
                parts = ((r, p0), (src1, p1))
            ks = st.kinds[k]
            try:
                expires = t + delta if delta is not None else None
            except OverflowError:  # past the calendar's end: never (timeutil.NEVER)
                expires = NEVER
            batches = ks.batches
            if len(batches) != ks.n:  # another copy appended to the shared list
                batches = ks.own()
            first_seq = seq = ks.next_seq
            if expires is not None:
                qu = ks.expiring
                qitems = qu.items
                qn = qu.n
                in_order = len(qitems) == qn and (qn == qu.head or qitems[qn - 1] <= (expires, seq))
            added = 0
            credited = 0
            for src, pts in parts:
                if pts <= 0:
                    continue
                pay = ks.debt
                if pay:
                    pay = min(pay, pts)
                    ks.debt -= pay
                if pts - pay > 0:
                    batches.append(_tuple_new(Batch, (t, None, expires, pts - pay, oid, src.index, seq)))
                    if expires is not None:
                        if in_order:
                            qitems.append((expires, seq))
                        else:
                            qu.push((expires, seq))
                    seq += 1
                    added += pts - pay
                points = order.points
                if points is NONE_YET:
                    order.points = {src.index: pts}
                else:
                    points[src.index] = points.get(src.index, 0) + pts
                credited += pts
                out.append(_tuple_new(Effect, ("points_earned", t, src.name, src.line, src.column, kind_name, pts,
                                               None, None, None, None, None, False, None, oid, None, None, None, None,
                                               eid)))
            if seq != first_seq:
                ks.next_seq = seq
                ks.n += seq - first_seq
                ks.avail_sum += added
                if expires is not None and in_order:
                    qu.n = qn + seq - first_seq
            if credited:
                ks.earned += credited
                if expires is not None:
                    due = st.due
                    if due is not None and expires < due:
                        st.due = expires
                if metric is not None:  # [first moment, total]
                    c = st.metrics[metric]
                    st.metrics[metric] = [t, credited] if c is None else [c[0], c[1] + credited]
        # tier progress on a lifetime metric; the new tier applies from the next event
        if tiers is not None:
            log = st.metrics[tier_metric]
            value = log[1] if log is not None else 0
            q = -1
            for threshold, index in thresholds:
                if value >= threshold:
                    q = index
            if q > st.tier:
                upgrade_to(prog, st, q, t, out)
        return st, out

    return run

__all__ = ["straight_purchase", "straight_reason"]
