"""A per-program specialised path for `Program.apply`: the same effects as `evaluator.apply_event`, faster.

`Plan(prog)` is built once per compiled program. It sorts what the general evaluator works out on every
event (which rules a purchase can fire, by action; which rules always apply; the metrics each kind of
progress feeds; the tier multipliers of every earning rule) and keeps it, so a purchase runs the work of
the rules the program has, in the evaluator's order, without the per-event rule selection, re-filtering
and the generic helpers' tests. The common cases are written out here (punch cards without caps, earning
per spend without multiplier rules, crediting points that are available at once, expiry after earning,
lifetime metrics, the tier check); everything else calls the general evaluator's own helpers, and events
other than purchases run `evaluator.apply_event` itself. (Reading the event dict without pydantic is
runtime/fastevents.py.)

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
from loyalty.runtime.state import _TAIL as _LOGMAP_TAIL, NONE_YET, Batch, OrderRecord
from loyalty.runtime.timeutil import add_duration, next_period_start

_Ctx = _ev.Ctx
_preds_ok = _ev._preds_ok
_order_has_line = _ev._order_has_line
_purchase_trigger_ok = _ev._purchase_trigger_ok
_limit = _ev._limit
_div_round = _ev.div_round
_MAX_TIME = _dt.datetime.max
_tuple_new = tuple.__new__  # an Effect or Batch built in one step (both are named tuples)


def _half_even(n: int, d: int) -> int:
    """`evaluator.half_even` (n / d rounded half to even, d > 0) in one call."""
    q, r = divmod(n, d)
    if r == 0:
        return q
    twice = 2 * r
    if twice > d or (twice == d and q % 2 == 1):
        return q + 1
    return q


def _matching(r, lines) -> list:
    """The working lines the rule's item filters select (`Rule.line_matches`), in order."""
    filters = r.filters
    if not filters:
        return lines
    out = []
    for ln in lines:
        item, cat = ln[0], ln[1]
        for items, cats in filters:
            if items is not None and item not in items and cat not in cats:
                break
        else:
            out.append(ln)
    return out


def _can_apply_to_purchase(r) -> bool:
    """Whether `evaluator._purchase_trigger_ok` can ever be true for the rule."""
    if r.trigger is None:
        return r.action != "earn_per_event" or r.event == "visit"
    return r.trigger in COUNTING_TRIGGERS


class _Kind:
    """A point kind's crediting, precomputed: how its expiry moment is found, the metrics it feeds."""

    __slots__ = ("index", "kind", "simple", "expiry_delta", "earned_metrics", "one_lifetime")

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
        self.one_lifetime = len(self.earned_metrics) == 1 and self.earned_metrics[0][1]


class _Earn:
    """An earning-per-spend rule, ready for `Plan._earn_per_spend`: its rate, kind and rounding, and per tier
    index the tier's multiplier for the rule's kind, (numerator, denominator, source) or None when it is 1."""

    __slots__ = ("rule", "filtered", "limited", "rn", "rd", "k", "kp", "kind_name", "down", "mode", "per_line",
                 "factors")

    def __init__(self, plan: "Plan", r):
        self.rule = r
        self.filtered = bool(r.filters)
        self.limited = bool(r.limits) or r.budget is not None
        self.rn, self.rd = r.rate
        self.k = r.point_kind
        self.kp = plan.kinds[r.point_kind]
        self.kind_name = self.kp.kind.name
        self.mode = self.kp.kind.rounding
        self.down = self.mode == "down"
        self.per_line = self.kp.kind.scope == "line"
        self.factors = plan.tier_factors[r.index]


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

    def __init__(self, plan: "Plan", applicable):
        self.discounts = tuple(r for r in applicable if r.action == "discount")
        self.scales = tuple(r for r in applicable if r.action == "discount_scale")
        # (rule, written out here?): a punch card without caps or budget
        self.punches = tuple((r, not r.limits and r.budget is None) for r in applicable if r.action == "punch")
        self.multipliers = [r for r in applicable if r.action == "multiplier"]
        # (rule, step, _Earn or None): how the earning step of a purchase runs each earning rule, in rule order
        earns = []
        for r in applicable:
            if r.action == "earn_per_spend":
                multiplied = any(m.point_kind == -1 or m.point_kind == r.point_kind for m in self.multipliers)
                earns.append((r, _EARN_STAGED, None) if multiplied else (r, _EARN_PER_SPEND, _Earn(plan, r)))
            elif r.action == "earn_fixed":
                earns.append((r, _EARN_FIXED, None))
            elif r.action == "earn_per_event" and r.event == "visit":
                earns.append((r, _EARN_PER_VISIT, None))
        self.earns = tuple(earns)
        self.gives = tuple(r for r in applicable if r.action == "give")


# how a purchase's earning step runs a rule (_Phases.earns)
_EARN_PER_SPEND, _EARN_STAGED, _EARN_FIXED, _EARN_PER_VISIT = range(4)
# sets of applicable rules whose phases a plan keeps (a bound for programs with very many conditional rules)
_PHASES_KEPT = 1024


class Plan:
    """What a program's events need, worked out once. Immutable after construction but for the `phases`
    cache, which only grows (shared by threads)."""

    __slots__ = ("prog", "runs_from", "runs_to", "kinds", "tiers", "tier_list", "tier_metric", "tier_lifetime",
                 "tier_thresholds", "downgrade", "has_timers", "count_rules", "candidates", "static",
                 "need_ctx", "inactivity", "spend_metrics", "visit_metrics", "tier_factors", "draws",
                 "item_costs", "expiry_only", "phases")

    def __init__(self, prog: CompiledProgram):
        self.prog = prog
        self.runs_from = prog.runs_from
        self.runs_to = prog.runs_to
        self.kinds = tuple(_Kind(prog, k) for k in prog.kinds)
        self.item_costs = prog.item_costs
        tiers = prog.tiers
        self.tiers = tiers
        self.tier_list = tiers.tiers if tiers is not None else ()
        self.tier_metric = tiers.metric if tiers is not None else -1
        self.tier_lifetime = tiers is not None and prog.metrics[tiers.metric].window == "lifetime"
        self.tier_thresholds = tuple((t.threshold, t.index) for t in self.tier_list)
        self.downgrade = bool(tiers and tiers.downgrade_period)
        self.has_timers = prog.has_timers
        # the only timers are expiry after earning (no pending points, inactivity, tier reviews): `_expire`
        self.expiry_only = not self.downgrade and all(
            k.pending is None and k.expiry in (None, "after_earning") for k in prog.kinds)
        rules = prog.rules
        # per rule, per tier index: (numerator, denominator, source) of the tier's multiplier for the rule's
        # kind when it is not 1, else None (evaluator._earn_staged)
        factors = []
        for r in rules:
            by_tier = []
            for t in self.tier_list:
                tn, td = 1, 1
                for mk, mn, md in t.multipliers:
                    if mk == -1 or mk == r.point_kind:
                        tn, td = tn * mn, td * md
                by_tier.append((tn, td, prog.sources[prog.extra_key(r.index, tier=t.index)])
                               if tn != td and is_regular_earning(r) else None)
            factors.append(tuple(by_tier))
        self.tier_factors = tuple(factors)
        self.count_rules = tuple(r for r in rules if r.counted and r.trigger != "every_spend")
        self.candidates = tuple(r for r in rules if _can_apply_to_purchase(r))
        static = all(r.trigger is None and not r.preds for r in self.candidates)
        self.static = _Phases(self, self.candidates) if static else None
        # otherwise the phases of each set of applicable rules met so far: few sets recur (the conditions are
        # of the day, the store, the member's segments ...), so a purchase looks its set up instead of sorting
        # it again. Only ever added to, with values never changed: safe to share between threads
        self.phases: dict = {}
        self.draws = prog.draws
        self.need_ctx = not static or bool(self.count_rules) or bool(self.draws)
        self.inactivity = tuple(k for k in prog.kinds if k.expiry == "inactivity")
        self.spend_metrics = _metric_slots(prog, "spend", -1)
        self.visit_metrics = _metric_slots(prog, "visits", -1)

    # ---------------------------------------------------------------- one event

    def apply_event(self, st, ev, ledger, out: list) -> None:
        """`evaluator.apply_event(prog, st, ev, ledger, out)`, specialised for purchases (the prelude of
        `apply_event`, then `evaluator._purchase`, in one)."""
        if ev.type != "purchase":
            _ev.apply_event(self.prog, st, ev, ledger, out)
            return
        eid = ev.id
        t = ev.time
        if eid is not None:
            seen = st.seen
            if eid in seen.tail:
                out.append(Effect("duplicate_ignored", t, event=eid))
                return
            for level in seen.levels:
                if eid in level:
                    out.append(Effect("duplicate_ignored", t, event=eid))
                    return
        prog = self.prog
        if self.downgrade and st.tier >= 0 and st.next_review is None:
            st.next_review = next_period_start(t, prog.tiers.downgrade_period)
            _ev._due(st, st.next_review)
        clock = st.clock
        if clock is None or t > clock:
            if self.has_timers and (st.due is None or t >= st.due):
                if self.expiry_only:
                    self._expire(st, t, out)
                else:
                    _ev.advance(prog, st, t, out)
            st.clock = t
        if eid is not None:
            seen = st.seen  # LogMap.__setitem__, written out: into the tail until it is full
            tail = seen.tail
            tail[eid] = True
            if len(tail) >= _LOGMAP_TAIL:
                seen[eid] = True  # freezes the tail into the levels

        # ---- evaluator._purchase
        if (self.runs_from is not None and t < self.runs_from) or (self.runs_to is not None and t >= self.runs_to):
            return
        first = st.purchases == 0
        st.purchases += 1
        st.visits += 1  # a purchase is a visit
        gross = 0
        lines = []  # working lines: [item, category, quantity, gross, paid]
        olines: dict = {}
        for (item, cat, q, amount) in ev.lines:
            lines.append([item, cat, q, amount, amount])
            gross += amount
            rec = olines.get(item)
            if rec is None:
                olines[item] = [q, amount, 0]
            else:
                rec[0] += q
                rec[1] += amount
        if self.need_ctx:
            ctx = _Ctx(t, st, ev.store, ev.channel, ev.lines, gross, sum(ln[2] for ln in lines), first, st.spend)
        else:
            ctx = None
        order = OrderRecord(t, gross, 0, olines)
        tier = self.tier_list[st.tier] if st.tier >= 0 and self.tiers is not None else None
        for r in self.count_rules:
            if _preds_ok(r, ctx) and _order_has_line(r, lines):
                st.counts[r.index] = st.counts.get(r.index, 0) + 1
        ph = self.static
        if ph is None:
            applicable = tuple(r for r in self.candidates if (r.trigger is None or _purchase_trigger_ok(r, ctx))
                               and (not r.preds or _preds_ok(r, ctx)))
            ph = self.phases.get(applicable)
            if ph is None:
                ph = _Phases(self, applicable)
                if len(self.phases) < _PHASES_KEPT:
                    self.phases[applicable] = ph

        # (2) discounts: tier discount, fixed discounts, the discount scale, punch cards
        if tier is not None and tier.discount is not None:
            _ev.tier_discount(tier, lines, t, ev.order, eid, out)
        if ph.discounts:
            for r in ph.discounts:
                _ev._discount_lines(prog, st, r, lines, r.percent, ev, ledger, out)
        if ph.scales:
            for r in ph.scales:
                value = _ev.metric_value(prog, st, r.metric, t)
                pct = None
                for threshold, n, d in r.steps:
                    if value >= threshold:
                        pct = (n, d)
                if pct is not None:
                    _ev._discount_lines(prog, st, r, lines, pct, ev, ledger, out)
        for r, plain in ph.punches:
            if plain:
                self._punch(st, r, lines, ev, out, order)
            else:
                _ev._punch(prog, st, r, lines, ev, ledger, out, order)
        paid = 0
        for ln in lines:
            paid += ln[4]
        order.paid = paid
        st.spend += paid
        orders = st.orders  # LogMap.__setitem__, written out
        tail = orders.tail
        tail[ev.order] = order
        if len(tail) >= _LOGMAP_TAIL:
            orders[ev.order] = order
        for kind in self.inactivity:
            ks = st.kinds[kind.index]
            ks.inactivity_deadline = add_duration(t, kind.expiry_amount, kind.expiry_unit)
            _ev._due(st, ks.inactivity_deadline)

        # (3) points on the amount paid, times multipliers
        for r, step, spec in ph.earns:
            if step == _EARN_PER_SPEND:
                self._earn_per_spend(st, spec, spec.factors[tier.index] if tier is not None else None, lines, ev,
                                     ledger, out, order)
            elif step == _EARN_STAGED:
                _ev._earn_per_spend(prog, st, r, lines, ph.multipliers, tier, ev, ledger, out, order)
            elif step == _EARN_FIXED:
                if _order_has_line(r, lines):
                    times = _ev._counting_fires(st, r, lines, order) if r.trigger == "every_spend" else 1
                    if times:
                        _ev._fire_simple(prog, st, r, ctx, ev, ledger, out, order, times)
            else:  # earn_per_event per visit: regular points, multiplied
                _ev._earn_staged(prog, st, r, [[r.points, 1, None]], ph.multipliers, tier, ev, ledger, out, order)
        # (4) rewards, tier perks, draw entries
        for r in ph.gives:
            if _order_has_line(r, lines):
                times = _ev._counting_fires(st, r, lines, order) if r.trigger == "every_spend" else 1
                if times:
                    _ev._fire_simple(prog, st, r, ctx, ev, ledger, out, order, times)
        if (tier is not None and tier.perks) or self.draws:
            _ev.perks_and_draws(self.draws, tier, lines, ctx, t, ev.order, eid, out)
        # (5) tier progress; the new tier applies from the next event
        if self.spend_metrics:
            _add(st, self.spend_metrics, t, paid)
        if self.visit_metrics:
            _add(st, self.visit_metrics, t, 1)
        if self.tiers is not None:  # evaluator._tier_upgrade
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

    # ---------------------------------------------------------------- time passing

    def _expire(self, st, T, out) -> None:
        """`evaluator.advance` (st.clock < T, st.due <= T) for a program whose only timers are expiry after
        earning: batches whose moment has come expire, oldest first. The expiry queue is read in place (the
        entries `TimerQueue.pop` would give, in its order), and a batch due is found at the front of the list
        (expiry in earning order, the usual case) before `KindState.index_of` searches for it."""
        kinds = st.kinds
        if st.next_review is not None or st.grace_until is not None:
            _ev.advance(self.prog, st, T, out)
            return
        for ks in kinds:
            if ks.maturing or ks.inactivity_deadline is not None:  # not from this program: the general way
                _ev.advance(self.prog, st, T, out)
                return
        several = len(self.kinds) > 1
        timed = []  # (time, order, seq, effect), as evaluator._advance_kind makes them, with several kinds
        seq = 0
        for kp in self.kinds:
            ks = kinds[kp.index]
            q = ks.expiring
            items = q.items
            h = q.head
            qn = q.n
            if h >= qn or items[h][0] > T:
                continue
            kind = kp.kind
            name, line, column = kind.name, kind.line, kind.column
            batches = ks.batches
            head = ks.head
            n = ks.n
            gone = []  # list positions of the batches that expired, in the order they did
            front = True  # ... which are head, head + 1, ...: they leave from the front
            while h < qn:
                at, bseq = items[h]
                if at > T:
                    break
                h += 1
                i = head + len(gone)
                if i >= n or batches[i].seq != bseq:
                    i = ks.index_of(bseq)
                    if i < 0:  # stale: the batch is gone
                        continue
                    front = False
                b = batches[i]
                gone.append(i)
                amount = b.amount
                ks.expired += amount
                if b.available_at is None:
                    ks.avail_sum -= amount
                else:
                    ks.pend_sum -= amount
                effect = _tuple_new(Effect, ("points_expired", at, name, line, column, name, amount, None, None,
                                             None, None, None, None, None, None, None, None, None, None, None))
                if several:
                    timed.append((at, 1, seq, effect))
                    seq += 1
                else:
                    out.append(effect)
            # the entries read are popped (TimerQueue.pop, and its letting go of popped entries)
            q.head = h
            if h >= 64 and 2 * h >= qn:
                q.items = items[h:qn]
                q.n = qn - h
                q.head = 0
            if gone:
                if front:  # the usual case: the oldest
                    ks.drop_front(head + len(gone))
                else:
                    drop = set(gone)
                    ks.replace_live([batches[j] for j in range(head, n) if j not in drop])
        if timed:
            timed.sort(key=lambda e: (e[0], e[1], e[2]))
            out.extend(e[3] for e in timed)
        # evaluator._next_due: the earliest expiry left (no other timer in this program)
        best = _MAX_TIME
        for ks in kinds:
            q = ks.expiring
            if q.n > q.head:
                first = q.items[q.head][0]
                if first < best:
                    best = first
        st.due = best

    # ---------------------------------------------------------------- punch cards

    def _punch(self, st, r, lines, ev, out, order) -> None:
        """`evaluator._punch` for a rule without caps or budget."""
        matching = _matching(r, lines) if r.filters else lines
        if not matching:
            return  # no unit counted
        ri = r.index
        c = st.punches.get(ri, 0)
        given = st.fired.get(ri, 0)  # discounted units so far: a return lowers the count, never re-grants
        cycle, free = r.cycle, r.free
        per_line = None
        units = 0
        for ln in matching:
            q = ln[2]
            c += q
            units += q
            k = (c // cycle) * free + max(0, c % cycle - (cycle - free)) - given  # evaluator._cycle_count - given
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
        items = [matching[0][0]] if len(matching) == 1 else sorted({ln[0] for ln in matching})
        if order.items is NONE_YET:
            order.items = {ri: items}
        else:
            order.items[ri] = items
        if per_line is None:
            return
        num, den = r.percent
        # what the free units cost us: their items' unit costs, when the catalog has one for each (else None)
        unit_cost = 0 if num == 100 and den == 1 else None
        total = 0
        costs = self.item_costs
        for i, (ln, k) in enumerate(per_line):
            d = _half_even(ln[4] * k * num, ln[2] * den * 100)
            per_line[i] = (ln, d)
            total += d
            if unit_cost is not None:
                item_cost = costs.get(ln[0])
                unit_cost = None if item_cost is None else unit_cost + item_cost * k
        if total <= 0:
            return
        for ln, d in per_line:  # no cap: the whole discount is granted
            ln[4] -= d
        # cost: the free units' catalog cost, else (a discounted unit, an item without a cost) the revenue foregone
        out.append(_tuple_new(Effect, ("discount_applied", ev.time, r.name, r.line, r.column, None, None, total,
                                       unit_cost if unit_cost is not None else total, None, None, None, None, None,
                                       ev.order, None, None, None, None, ev.id)))

    # ---------------------------------------------------------------- earning

    def _earn_per_spend(self, st, e: _Earn, factor, lines, ev, ledger, out, order) -> None:
        """`evaluator._earn_per_spend` when no multiplier rule applies to the rule's kind: the base points and,
        in a tier with a multiplier (`factor`), the tier's part (`evaluator._earn_staged` with at most two
        stages), each credited as `evaluator._credit` does."""
        r = e.rule
        matching = _matching(r, lines) if e.filtered else lines
        if not matching:
            return
        rn = e.rn
        rd = e.rd
        if e.per_line:
            mode = e.mode
            base = 0
            for ln in matching:
                base += _div_round(ln[4] * rn, rd, mode)
        else:
            paid = 0
            for ln in matching:
                paid += ln[4]
            base = paid * rn // rd if e.down else _div_round(paid * rn, rd, e.mode)
        if factor is None:
            if base <= 0:
                return
            parts = ((r, base),)
        else:
            tn, td, src1 = factor
            if e.per_line:
                tiered = 0
                for ln in matching:
                    tiered += _div_round(ln[4] * rn * tn, rd * td, mode)
            else:
                tiered = paid * rn * tn // (rd * td) if e.down else _div_round(paid * rn * tn, rd * td, e.mode)
            if tiered <= 0:
                return
            p1 = tiered - base
            if p1 < 0:  # a multiplier below 1 takes points away from the base
                take = min(base, -p1)
                parts = ((r, base - take), (src1, p1 + take))
            else:
                parts = ((r, base), (src1, p1))
        kp = e.kp
        t = ev.time
        if e.limited or e.filtered or not kp.simple:
            for src, pts in parts:
                if pts <= 0:
                    continue
                if src is r and e.limited:  # a tier's source has no caps or budget
                    pts = _limit(self.prog, st, r, pts, ev, ledger, out, kp.kind)
                    if not pts:
                        continue
                if e.filtered:
                    if order.items is NONE_YET:
                        order.items = {}
                    order.items[src.index] = sorted({ln[0] for ln in matching})
                if kp.simple:
                    self._credit(st, kp, src, pts, t, ev, out, order)
                else:
                    _ev._credit(self.prog, st, e.k, pts, t, order, ev, src, out)
            return
        # ---- evaluator._credit of points available at once, with no expiry or a fixed time after earning,
        # for each part; the running totals (earned, the earned-points metric, the next moment due) once
        oid = ev.order
        eid = ev.id
        kind_name = e.kind_name
        ks = st.kinds[e.k]
        delta = kp.expiry_delta
        expires = t + delta if delta is not None else None
        one_lifetime = kp.one_lifetime
        # KindState.add (available at once) for each part, written out: the batch list is this state's own
        # past its end, and the expiry timers, pushed in time order, are appended
        batches = ks.batches
        if len(batches) != ks.n:  # another copy appended to the shared list
            batches = ks.own()
        first_seq = seq = ks.next_seq
        if expires is not None:
            q = ks.expiring
            items = q.items
            n = q.n
            in_order = len(items) == n and (n == q.head or items[n - 1] <= (expires, seq))
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
                        items.append((expires, seq))
                    else:
                        q.push((expires, seq))
                seq += 1
                added += pts - pay
            points = order.points
            if points is NONE_YET:
                order.points = {src.index: pts}
            else:
                points[src.index] = points.get(src.index, 0) + pts
            if not one_lifetime and kp.earned_metrics:
                _add(st, kp.earned_metrics, t, pts)
            credited += pts
            out.append(_tuple_new(Effect, ("points_earned", t, src.name, src.line, src.column, kind_name, pts, None,
                                           None, None, None, None, False, None, oid, None, None, None, None, eid)))
        if seq != first_seq:
            ks.next_seq = seq
            ks.n += seq - first_seq
            ks.avail_sum += added
            if expires is not None and in_order:
                q.n = n + seq - first_seq
        if credited:
            ks.earned += credited
            if expires is not None:
                due = st.due
                if due is not None and expires < due:
                    st.due = expires
            if one_lifetime:  # [first moment, total]
                mi = kp.earned_metrics[0][0]
                c = st.metrics[mi]
                st.metrics[mi] = [t, credited] if c is None else [c[0], c[1] + credited]

    def _credit(self, st, kp: _Kind, src, pts: int, t, ev, out, order) -> None:
        """`evaluator._credit` of a purchase's points for a kind whose points are available at once, with no
        expiry or a fixed time after earning (`_Kind.simple`)."""
        ks = st.kinds[kp.index]
        pay = ks.debt
        if pay:
            pay = min(pay, pts)
            ks.debt -= pay
        delta = kp.expiry_delta
        expires = t + delta if delta is not None else None
        if pts - pay > 0:
            ks.add(t, None, expires, pts - pay, ev.order, src.index)
        if expires is not None:
            _ev._due(st, expires)
        ks.earned += pts
        if order.points is NONE_YET:
            order.points = {}
        order.points[src.index] = order.points.get(src.index, 0) + pts
        if kp.earned_metrics:
            _add(st, kp.earned_metrics, t, pts)
        out.append(_tuple_new(Effect, ("points_earned", t, src.name, src.line, src.column, kp.kind.name, pts, None,
                                       None, None, None, None, False, None, ev.order, None, None, None, None, ev.id)))
