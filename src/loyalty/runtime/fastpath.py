"""A per-program specialised path for `Program.apply`: the same effects as `evaluator.apply_event`, faster.

`Plan(prog)` is built once per compiled program. It sorts what the general evaluator works out on every
event (which rules a purchase can fire, by action; which rules always apply; the metrics each kind of
progress feeds; the tier multipliers of every earning rule) and keeps it, so a purchase runs the work of
the rules the program has, in the evaluator's order, without the per-event rule selection, re-filtering
and the generic helpers' tests. The common cases are written out here (punch cards without caps, earning
per spend without multiplier rules, crediting points that are available at once, lifetime metrics, the
tier check); everything else calls the general evaluator's own helpers, and events other than purchases
run `evaluator.apply_event` itself.

The semantics are the general evaluator's, to the effect, its order, the rule and line it names and the
resulting state: `tests/test_apply_fast_path.py` compares both over generated programs and histories. The
general path stays available (`facade.apply_general`), and any change to the evaluator's purchase must be
made here too (the differential tests say when it is not).

No code is generated: the plan is tuples of the program's own rule objects and a few flags.
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from loyalty.runtime import evaluator as _ev
from loyalty.runtime.effects import Effect
from loyalty.runtime.program import COUNTING_TRIGGERS, CompiledProgram, is_regular_earning
from loyalty.runtime.state import NONE_YET, OrderRecord
from loyalty.runtime.timeutil import add_duration, next_period_start

_Ctx = _ev.Ctx
_preds_ok = _ev._preds_ok
_order_has_line = _ev._order_has_line
_purchase_trigger_ok = _ev._purchase_trigger_ok
_limit = _ev._limit
_half_even = _ev.half_even
_div_round = _ev.div_round
_cycle_count = _ev._cycle_count


def _can_apply_to_purchase(r) -> bool:
    """Whether `evaluator._purchase_trigger_ok` can ever be true for the rule."""
    if r.trigger is None:
        return r.action != "earn_per_event" or r.event == "visit"
    return r.trigger in COUNTING_TRIGGERS


class _Kind:
    """A point kind's crediting, precomputed: how its expiry moment is found, the metrics it feeds."""

    __slots__ = ("index", "kind", "simple", "expiry_delta", "earned_metrics")

    def __init__(self, prog: CompiledProgram, kind):
        self.index = kind.index
        self.kind = kind
        self.expiry_delta: Optional[_dt.timedelta] = None
        if kind.expiry == "after_earning" and kind.expiry_unit in ("day", "week"):
            # add_duration for days and weeks is a timedelta
            self.expiry_delta = _dt.timedelta(days=kind.expiry_amount) if kind.expiry_unit == "day" else \
                _dt.timedelta(weeks=kind.expiry_amount)
        # the credit written out below: points available at once, no expiry or a fixed duration after earning
        self.simple = not kind.pending and (kind.expiry is None or self.expiry_delta is not None)
        self.earned_metrics = _metric_slots(prog, "earned", kind.index)


def _metric_slots(prog: CompiledProgram, what: str, point_kind: int) -> tuple:
    """(metric index, lifetime?) of every metric `evaluator._add_metric(prog, st, what, point_kind, ...)` feeds."""
    return tuple((m.index, m.window == "lifetime") for m in prog.metrics
                 if m.kind == what and (what != "earned" or m.point_kind == point_kind))


def _add(st, slots: tuple, t, value: int) -> None:
    """`evaluator._add_metric` over precomputed metric slots."""
    metrics = st.metrics
    for mi, lifetime in slots:
        if lifetime:
            c = metrics[mi]
            metrics[mi] = [t, value] if c is None else [c[0], c[1] + value]
        else:
            metrics[mi].add(t, value)


class _Phases:
    """The applicable rules of one purchase, by the step of the purchase that runs them (each in rule order)."""

    __slots__ = ("discounts", "scales", "punches", "multipliers", "earns", "gives")

    def __init__(self, applicable):
        self.discounts = tuple(r for r in applicable if r.action == "discount")
        self.scales = tuple(r for r in applicable if r.action == "discount_scale")
        self.punches = tuple(r for r in applicable if r.action == "punch")
        self.multipliers = [r for r in applicable if r.action == "multiplier"]
        self.earns = tuple(r for r in applicable if r.action in ("earn_per_spend", "earn_fixed", "earn_per_event"))
        self.gives = tuple(r for r in applicable if r.action == "give")


class Plan:
    """What a program's events need, worked out once. Immutable after construction (shared by threads)."""

    __slots__ = ("prog", "runs_from", "runs_to", "kinds", "tiers", "tier_list", "tier_metric", "tier_lifetime",
                 "tier_thresholds", "downgrade", "has_timers", "count_rules", "candidates", "static",
                 "need_ctx", "inactivity", "spend_metrics", "visit_metrics", "tier_factors", "draws",
                 "any_perks", "tier_discounts")

    def __init__(self, prog: CompiledProgram):
        self.prog = prog
        self.runs_from = prog.runs_from
        self.runs_to = prog.runs_to
        self.kinds = tuple(_Kind(prog, k) for k in prog.kinds)
        tiers = prog.tiers
        self.tiers = tiers
        self.tier_list = tiers.tiers if tiers is not None else ()
        self.tier_metric = tiers.metric if tiers is not None else -1
        self.tier_lifetime = tiers is not None and prog.metrics[tiers.metric].window == "lifetime"
        self.tier_thresholds = tuple((t.threshold, t.index) for t in self.tier_list)
        self.downgrade = bool(tiers and tiers.downgrade_period)
        self.has_timers = prog.has_timers
        rules = prog.rules
        self.count_rules = tuple(r for r in rules if r.counted and r.trigger != "every_spend")
        self.candidates = tuple(r for r in rules if _can_apply_to_purchase(r))
        static = all(r.trigger is None and not r.preds for r in self.candidates)
        self.static = _Phases(self.candidates) if static else None
        self.draws = prog.draws
        self.need_ctx = not static or bool(self.count_rules) or bool(self.draws)
        self.inactivity = tuple(k for k in prog.kinds if k.expiry == "inactivity")
        self.spend_metrics = _metric_slots(prog, "spend", -1)
        self.visit_metrics = _metric_slots(prog, "visits", -1)
        self.any_perks = any(t.perks for t in self.tier_list)
        self.tier_discounts = any(t.discount is not None for t in self.tier_list)
        # (earning rule index, tier index) -> (numerator, denominator, source) of the tier's multiplier for the
        # rule's kind, when it is not 1 (evaluator._earn_staged)
        factors = {}
        for r in rules:
            for t in self.tier_list:
                tn, td = 1, 1
                for mk, mn, md in t.multipliers:
                    if mk == -1 or mk == r.point_kind:
                        tn, td = tn * mn, td * md
                if tn != td and is_regular_earning(r):
                    factors[(r.index, t.index)] = (tn, td, prog.sources[prog.extra_key(r.index, tier=t.index)])
        self.tier_factors = factors

    # ---------------------------------------------------------------- one event

    def apply_event(self, st, ev, ledger, out: list) -> None:
        """`evaluator.apply_event(prog, st, ev, ledger, out)`, specialised for purchases."""
        if ev.type != "purchase":
            _ev.apply_event(self.prog, st, ev, ledger, out)
            return
        eid = ev.id
        if eid is not None:
            seen = st.seen
            dup = eid in seen.tail
            if not dup:
                for level in seen.levels:
                    if eid in level:
                        dup = True
                        break
            if dup:
                out.append(Effect("duplicate_ignored", ev.time, event=eid))
                return
        t = ev.time
        prog = self.prog
        if self.downgrade and st.tier >= 0 and st.next_review is None:
            st.next_review = next_period_start(t, prog.tiers.downgrade_period)
            _ev._due(st, st.next_review)
        clock = st.clock
        if self.has_timers and (clock is None or t > clock) and (st.due is None or t >= st.due):
            _ev.advance(prog, st, t, out)
        if clock is None or t > clock:
            st.clock = t
        if eid is not None:
            st.seen[eid] = True
        self._purchase(prog, st, ev, ledger, out)

    def _purchase(self, prog, st, ev, ledger, out) -> None:
        t = ev.time
        if (self.runs_from is not None and t < self.runs_from) or (self.runs_to is not None and t >= self.runs_to):
            return
        first = st.purchases == 0
        st.purchases += 1
        st.visits += 1  # a purchase is a visit
        gross = 0
        items = 0
        lines = []  # working lines: [item, category, quantity, gross, paid]
        olines: dict = {}
        for (item, cat, q, amount) in ev.lines:
            lines.append([item, cat, q, amount, amount])
            gross += amount
            items += q
            rec = olines.get(item)
            if rec is None:
                olines[item] = [q, amount, 0]
            else:
                rec[0] += q
                rec[1] += amount
        ctx = _Ctx(t, st, ev.store, ev.channel, ev.lines, gross, items, first, st.spend) if self.need_ctx else None
        order = OrderRecord(t, gross, 0, olines)
        tier = self.tier_list[st.tier] if st.tier >= 0 and self.tiers is not None else None
        for r in self.count_rules:
            if _preds_ok(r, ctx) and _order_has_line(r, lines):
                st.counts[r.index] = st.counts.get(r.index, 0) + 1
        ph = self.static
        if ph is None:
            ph = _Phases([r for r in self.candidates if (r.trigger is None or _purchase_trigger_ok(r, ctx))
                          and (not r.preds or _preds_ok(r, ctx))])

        # (2) discounts: tier discount, fixed discounts, the discount scale, punch cards
        if tier is not None and tier.discount is not None:
            total = 0
            num, den = tier.discount
            for ln in lines:
                d = _half_even(ln[4] * num, den * 100)
                ln[4] -= d
                total += d
            if total:
                out.append(Effect("discount_applied", t, tier.name, tier.line, tier.column, amount=total,
                                  order=ev.order, event=ev.id))
        for r in ph.discounts:
            _ev._discount_lines(prog, st, r, lines, r.percent, ev, ledger, out)
        for r in ph.scales:
            value = _ev.metric_value(prog, st, r.metric, t)
            pct = None
            for threshold, n, d in r.steps:
                if value >= threshold:
                    pct = (n, d)
            if pct is not None:
                _ev._discount_lines(prog, st, r, lines, pct, ev, ledger, out)
        for r in ph.punches:
            if r.limits or r.budget is not None:
                _ev._punch(prog, st, r, lines, ev, ledger, out, order)
            else:
                self._punch(prog, st, r, lines, ev, out, order)
        paid = 0
        for ln in lines:
            paid += ln[4]
        order.paid = paid
        st.spend += paid
        st.orders[ev.order] = order
        for kind in self.inactivity:
            ks = st.kinds[kind.index]
            ks.inactivity_deadline = add_duration(t, kind.expiry_amount, kind.expiry_unit)
            _ev._due(st, ks.inactivity_deadline)

        # (3) points on the amount paid, times multipliers
        multipliers = ph.multipliers
        for r in ph.earns:
            action = r.action
            if action == "earn_per_spend":
                if self._multiplied(r, multipliers):
                    _ev._earn_per_spend(prog, st, r, lines, multipliers, tier, ev, ledger, out, order)
                else:
                    self._earn_per_spend(prog, st, r, lines, tier, ev, ledger, out, order)
            elif action == "earn_fixed":
                if _order_has_line(r, lines):
                    times = _ev._counting_fires(st, r, lines, order) if r.trigger == "every_spend" else 1
                    if times:
                        _ev._fire_simple(prog, st, r, ctx, ev, ledger, out, order, times)
            elif r.event == "visit":  # earn_per_event per visit: regular points, multiplied
                _ev._earn_staged(prog, st, r, [[r.points, 1, None]], multipliers, tier, ev, ledger, out, order)
        # (4) rewards, tier perks, draw entries
        for r in ph.gives:
            if _order_has_line(r, lines):
                times = _ev._counting_fires(st, r, lines, order) if r.trigger == "every_spend" else 1
                if times:
                    _ev._fire_simple(prog, st, r, ctx, ev, ledger, out, order, times)
        if tier is not None and tier.perks:
            for name, cost in tier.perks:
                out.append(Effect("reward_issued", t, tier.name, tier.line, tier.column, reward=name, amount=0,
                                  cost=cost, order=ev.order, reason="tier perk", event=ev.id))
        for dr in self.draws:
            if _preds_ok(dr, ctx):
                base = sum(ln[4] for ln in lines if dr.line_matches(ln[0], ln[1]))
                entries = base // dr.per * dr.entries
                if entries > 0:
                    out.append(Effect("draw_entries", t, dr.name, dr.line, dr.column, draw=dr.name, entries=entries,
                                      order=ev.order, event=ev.id))
        # (5) tier progress; the new tier applies from the next event
        if self.spend_metrics:
            _add(st, self.spend_metrics, t, paid)
        if self.visit_metrics:
            _add(st, self.visit_metrics, t, 1)
        if self.tiers is not None:
            self._tier_upgrade(prog, st, t, out)

    @staticmethod
    def _multiplied(r, multipliers) -> bool:
        """Whether a multiplier rule may apply to the rule's points (then the general staged earning runs)."""
        k = r.point_kind
        for m in multipliers:
            if m.point_kind == -1 or m.point_kind == k:
                return True
        return False

    def _tier_upgrade(self, prog, st, t, out) -> None:
        """`evaluator._tier_upgrade`."""
        if self.tier_lifetime:
            log = st.metrics[self.tier_metric]
            value = log[1] if log is not None else 0
        else:
            value = _ev.metric_value(prog, st, self.tier_metric, t)
        q = -1
        for threshold, index in self.tier_thresholds:
            if value >= threshold:
                q = index
        if q > st.tier:
            out.append(_ev._tier_effect(prog, st.tier, q, t, "upgrade"))
            st.tier = q
            if self.downgrade and st.next_review is None:
                st.next_review = next_period_start(t, prog.tiers.downgrade_period)
                _ev._due(st, st.next_review)
        if st.grace_until is not None and q >= st.tier:
            st.grace_until = None  # qualified again during the grace period

    # ---------------------------------------------------------------- punch cards

    def _punch(self, prog, st, r, lines, ev, out, order) -> None:
        """`evaluator._punch` for a rule without caps or budget."""
        ri = r.index
        c = st.punches.get(ri, 0)
        given = st.fired.get(ri, 0)  # discounted units so far: a return lowers the count, never re-grants
        num, den = r.percent
        cycle, free = r.cycle, r.free
        filters = r.filters
        per_line = []
        total = 0
        units = 0
        matched = set()
        unit_cost = 0 if (num, den) == (100, 1) else None
        for ln in lines:
            if filters and not r.line_matches(ln[0], ln[1]):
                continue
            matched.add(ln[0])
            q = ln[2]
            c += q
            k = (c // cycle) * free + max(0, c % cycle - (cycle - free)) - given  # _cycle_count(c, ...) - given
            units += q
            if k > 0:
                given += k
                d = _half_even(ln[4] * k * num, q * den * 100)
                per_line.append((ln, d))
                total += d
                item_cost = prog.item_costs.get(ln[0])
                unit_cost = None if unit_cost is None or item_cost is None else unit_cost + item_cost * k
        if units == 0:
            return
        st.punches[ri] = c
        st.fired[ri] = given
        if order.punches is NONE_YET:
            order.punches = {}
        if order.items is NONE_YET:
            order.items = {}
        order.punches[ri] = order.punches.get(ri, 0) + units
        order.items[ri] = sorted(matched)
        if total <= 0:
            return
        for ln, d in per_line:  # no cap: the whole discount is granted
            ln[4] -= d
        # cost: the free units' catalog cost, else (a discounted unit, an item without a cost) the revenue foregone
        out.append(Effect("discount_applied", ev.time, r.name, r.line, r.column, None, None, total,
                          unit_cost if unit_cost is not None else total, None, None, None, None, None, ev.order,
                          None, None, None, None, ev.id))

    # ---------------------------------------------------------------- earning

    def _earn_per_spend(self, prog, st, r, lines, tier, ev, ledger, out, order) -> None:
        """`evaluator._earn_per_spend` when no multiplier rule applies to the rule's kind: the base points and,
        in a tier with a multiplier, the tier's part (`evaluator._earn_staged` with at most two stages)."""
        rn, rd = r.rate
        filters = r.filters
        if filters:
            paid = [ln[4] for ln in lines if r.line_matches(ln[0], ln[1])]
            if not paid:
                return
        else:
            paid = [ln[4] for ln in lines]
        k = r.point_kind
        kind = prog.kinds[k]
        mode = kind.rounding
        per_line = kind.scope == "line"
        if per_line:
            base = 0
            for a in paid:
                base += _div_round(a * rn, rd, mode)
        else:
            base = _div_round(sum(paid) * rn, rd, mode)
        f = self.tier_factors.get((r.index, tier.index)) if tier is not None else None
        if f is None:
            if base <= 0:
                return
            p0, p1, src1 = base, 0, None
        else:
            tn, td, src1 = f
            if per_line:
                tiered = 0
                for a in paid:
                    tiered += _div_round(a * rn * tn, rd * td, mode)
            else:
                tiered = _div_round(sum(paid) * rn * tn, rd * td, mode)
            if tiered <= 0:
                return
            p0, p1 = base, tiered - base
            if p1 < 0:  # a multiplier below 1 takes points away from the base
                take = min(p0, -p1)
                p0 -= take
                p1 += take
        item_names = None
        if p0 > 0:
            p = _limit(prog, st, r, p0, ev, ledger, out, kind) if r.limits or r.budget is not None else p0
            if p:
                if filters:
                    item_names = sorted({ln[0] for ln in lines if r.line_matches(ln[0], ln[1])})
                    if order.items is NONE_YET:
                        order.items = {}
                    order.items[r.index] = item_names
                self._credit(prog, st, k, p, ev.time, order, ev, r, out)
        if p1 > 0:  # a tier's source has no caps or budget of its own
            if filters:
                if order.items is NONE_YET:
                    order.items = {}
                order.items[src1.index] = item_names if item_names is not None else sorted(
                    {ln[0] for ln in lines if r.line_matches(ln[0], ln[1])})
            self._credit(prog, st, k, p1, ev.time, order, ev, src1, out)

    def _credit(self, prog, st, k: int, pts: int, t, order, ev, r, out) -> None:
        """`evaluator._credit` for a purchase's points (order and rule given)."""
        kp = self.kinds[k]
        if not kp.simple:
            _ev._credit(prog, st, k, pts, t, order, ev, r, out)
            return
        kind = kp.kind
        ks = st.kinds[k]
        delta = kp.expiry_delta
        expires = t + delta if delta is not None else None
        oid = ev.order
        pay = ks.debt
        if pay:
            pay = min(pay, pts)
            ks.debt -= pay
        if pts - pay > 0:
            ks.add(t, None, expires, pts - pay, oid, r.index)
        if expires is not None:
            due = st.due
            if due is not None and expires < due:
                st.due = expires
        ks.earned += pts
        points = order.points
        if points is NONE_YET:
            points = order.points = {}
        points[r.index] = points.get(r.index, 0) + pts
        if kp.earned_metrics:
            _add(st, kp.earned_metrics, t, pts)
        out.append(Effect("points_earned", t, r.name, r.line, r.column, kind.name, pts, None, None, None, None, None,
                          False, None, oid, None, None, None, None, ev.id))
