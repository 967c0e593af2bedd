"""Earning points: per amount spent, per event (visit, referral), a fixed number, and the multipliers
(rules and tiers) that scale regular earning.

A regular earning rule's points are staged by source (docs/semantics.md, "Multipliers"): stage 0 is
the base; the tier's multiplier, then each multiplier rule in source order, multiplies the values it
applies to; each stage is rounded like any points of the kind, and source k is credited stage k -
stage k-1 (`formulas.split_negative` moves a negative part to the parts before it).
`earn_staged` is the general step; `earn_per_spend_plain` its specialised variant for a rule no
multiplier rule applies to (at most two stages: the base and the tier's part).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.formulas import div_round, split_negative, tier_factor
from loyalty.runtime.internal import Ev
from loyalty.runtime.mechanics.context import matching, order_has_line, preds_ok
from loyalty.runtime.mechanics.limits import (budget_or_own_cap_vector_reason, is_limited, limit,
                                              own_cap_vector_reason, vector_own_cap)
from loyalty.runtime.mechanics.metrics import add_to
from loyalty.runtime.mechanics.points import credit, credit_simple
from loyalty.runtime.mechanics.registry import MODIFIER, Mechanic, register
from loyalty.runtime.mechanics.triggers import (FIRED_VECTOR_TRIGGERS, VECTOR_TRIGGERS, capped_fires,
                                                spend_trigger_vector_reason, vector_firings)
from loyalty.runtime.program import is_regular_earning
from loyalty.runtime.schema import Opt
from loyalty.runtime.state import NONE_YET, Batch, MemberState, OrderRecord
from loyalty.runtime.timeutil import NEVER

_tuple_new = tuple.__new__


def earn_staged(prog, st, r, values, multipliers, tier, ev, ledger, out, order) -> None:
    """A regular earning rule's points, split by source: `values` are the exact points [numerator,
    denominator, line or None] before any multiplier (a line per matching line; one value without a line for
    points per visit). The last stage is the member's total."""
    k = r.point_kind
    kind = prog.kinds[k]
    per_line = kind.scope == "line"
    mode = kind.rounding

    def total() -> int:
        if per_line:
            return sum(div_round(n, d, mode) for n, d, _ in values)
        n_sum, d_sum = 0, 1
        for n, d, _ in values:
            if d == d_sum:
                n_sum += n
            else:
                n_sum, d_sum = n_sum * d + n * d_sum, d_sum * d
        return div_round(n_sum, d_sum, mode)

    parts: list[tuple[Any, Any, Any]] = [(r, total(), None)]  # (source, points, the multiplier rule or None)
    if tier is not None:
        tn, td = tier_factor(tier, k)
        if tn != td:
            for v in values:
                v[0] *= tn
                v[1] *= td
            parts.append((prog.sources[prog.extra_key(r.index, tier=tier.index)], total(), None))
    for m in multipliers:
        if m.point_kind != -1 and m.point_kind != k:
            continue
        hit = False
        for v in values:
            ln = v[2]
            if (ln is None and not m.filters) or (ln is not None and m.line_matches(ln[0], ln[1])):
                v[0] *= m.factor[0]
                v[1] *= m.factor[1]
                hit = True
        if hit:
            parts.append((prog.sources[prog.extra_key(r.index, rule=m.index)], total(), m))
    if parts[-1][1] <= 0:
        return
    pts = split_negative([parts[0][1]] + [parts[j][1] - parts[j - 1][1] for j in range(1, len(parts))])
    for (src, _, m), p in zip(parts, pts):
        if p <= 0:
            continue
        p = limit(prog, st, src, p, ev, ledger, out, kind) if src.limits or src.budget is not None else p
        if not p:
            continue
        if order is not None and values[0][2] is not None and (r.filters or (m is not None and m.filters)):
            if order.items is NONE_YET:
                order.items = {}
            order.items[src.index] = sorted({v[2][0] for v in values if v[2] is not None and r.line_matches(
                v[2][0], v[2][1]) and (m is None or m.line_matches(v[2][0], v[2][1]))})
        credit(prog, st, k, p, ev.time, order, ev, src, out)


# ---------------------------------------------------------------- purchase steps


def earn_per_spend(plan, st, r, lines, ev, ledger, out, order, tier, mults) -> None:
    """The general step of points per amount paid."""
    rn, rd = r.rate
    values = [[ln[4] * rn, rd, ln] for ln in lines if r.line_matches(ln[0], ln[1])]
    if values:
        earn_staged(plan.prog, st, r, values, mults, tier, ev, ledger, out, order)


def earn_per_visit(plan, st, r, lines, ev, ledger, out, order, tier, mults) -> None:
    """Points per visit on a purchase (a purchase is a visit): regular points, multiplied."""
    earn_staged(plan.prog, st, r, [[r.points, 1, None]], mults, tier, ev, ledger, out, order)


def fire_fixed(plan, st, r, ev, ledger, out, order, times: int) -> None:
    """A fixed number of points, `times` times (a counting trigger can fire more than once)."""
    prog = plan.prog
    kind = prog.kinds[r.point_kind]
    for _ in range(times):
        pts = limit(prog, st, r, r.points, ev, ledger, out, kind)
        if pts:
            credit(prog, st, r.point_kind, pts, ev.time, order, ev, r, out)


def earn_fixed(plan, st, r, lines, ev, ledger, out, order, tier, mults) -> None:
    if order_has_line(r, lines):
        times = capped_fires(st, r, lines, order, ev, out, r.points, plan.prog.kinds[r.point_kind]) \
            if r.trigger == "every_spend" else 1
        if times:
            fire_fixed(plan, st, r, ev, ledger, out, order, times)


class EarnPlan:
    """An earning-per-spend rule, ready for `earn_per_spend_plain`: its rate, kind and rounding, and per tier
    index the tier's multiplier for the rule's kind, (numerator, denominator, source) or None when it is 1."""

    __slots__ = ("rule", "filtered", "limited", "rn", "rd", "k", "kp", "kind_name", "down", "mode", "per_line",
                 "factors")
    # typed, so that the compiled build (hatch_build.py) keeps them unboxed and indexes st.kinds natively
    rule: Any
    filtered: bool
    limited: bool
    rn: int
    rd: int
    k: int
    kp: Any
    kind_name: str
    down: bool
    mode: str
    per_line: bool
    factors: tuple

    def __init__(self, plan, r):
        self.rule = r
        self.filtered = bool(r.filters)
        self.limited = is_limited(r)
        self.rn, self.rd = r.rate
        self.k = r.point_kind
        self.kp = plan.kinds[r.point_kind]
        self.kind_name = self.kp.kind.name
        self.mode = self.kp.kind.rounding
        self.down = self.mode == "down"
        self.per_line = self.kp.kind.scope == "line"
        self.factors = tier_factors(plan.prog, r)


def tier_factors(prog, r) -> tuple:
    """Per tier index, (numerator, denominator, source) of the tier's multiplier for a regular earning rule's
    kind when it is not 1, else None."""
    out = []
    for t in (prog.tiers.tiers if prog.tiers is not None else ()):
        tn, td = tier_factor(t, r.point_kind)
        out.append((tn, td, prog.sources[prog.extra_key(r.index, tier=t.index)])
                   if tn != td and is_regular_earning(r) else None)
    return tuple(out)


def earn_per_spend_plain(plan, st: MemberState, e: EarnPlan, lines, ev: Ev, ledger, out: list, order: OrderRecord,
                         tier, mults) -> None:
    """`earn_per_spend` when no multiplier rule applies to the rule's kind: the base points and, in a tier with
    a multiplier, the tier's part (`earn_staged` with at most two stages), each credited as `credit` does."""
    r = e.rule
    factor = e.factors[tier.index] if tier is not None else None
    matched = matching(r, lines) if e.filtered else lines
    if not matched:
        return
    rn = e.rn
    rd = e.rd
    if e.per_line:
        mode = e.mode
        base = 0
        for ln in matched:
            base += div_round(ln[4] * rn, rd, mode)
    else:
        paid = 0
        for ln in matched:
            paid += ln[4]
        base = paid * rn // rd if e.down else div_round(paid * rn, rd, e.mode)
    # (source, points) pairs; a cap can make a part's points None below
    parts: tuple[tuple[Any, Any], ...]
    if factor is None:
        if base <= 0:
            return
        parts = ((r, base),)
    else:
        tn, td, src1 = factor
        if e.per_line:
            tiered = 0
            for ln in matched:
                tiered += div_round(ln[4] * rn * tn, rd * td, mode)
        else:
            tiered = paid * rn * tn // (rd * td) if e.down else div_round(paid * rn * tn, rd * td, e.mode)
        if tiered <= 0:
            return
        p0, p1 = split_negative([base, tiered - base])
        parts = ((r, p0), (src1, p1))
    kp = e.kp
    t = ev.time
    if e.limited or e.filtered or not kp.simple:
        for src, pts in parts:
            if pts <= 0:
                continue
            if src is r and e.limited:  # a tier's source has no caps or budget
                pts = limit(plan.prog, st, r, pts, ev, ledger, out, kp.kind)
                if not pts:
                    continue
            if e.filtered:
                if order.items is NONE_YET:
                    order.items = {}
                order.items[src.index] = sorted({ln[0] for ln in matched})
            if kp.simple:
                credit_simple(st, kp, src, pts, t, ev, out, order)
            else:
                credit(plan.prog, st, e.k, pts, t, order, ev, src, out)
        return
    # ---- credit of points available at once, with no expiry or a fixed time after earning, for each part;
    # the running totals (earned, the earned-points metric, the next moment due) once
    oid = ev.order
    eid = ev.id
    kind_name = e.kind_name
    ks = st.kinds[e.k]
    delta = kp.expiry_delta
    try:
        expires = t + delta if delta is not None else None
    except OverflowError:  # past the calendar's end: never (timeutil.NEVER)
        expires = NEVER
    one_lifetime = kp.one_lifetime
    # KindState.add (available at once) for each part, written out: the batch list is this state's own
    # past its end, and the expiry timers, pushed in time order, are appended
    batches = ks.batches
    if len(batches) != ks.n:  # another copy appended to the shared list
        batches = ks.own()
    first_seq = seq = ks.next_seq
    if expires is not None:
        items = ks.exp_items
        n = ks.exp_n
        in_order = len(items) == n and (n == ks.exp_head or items[n - 1] <= (expires, seq))
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
                    ks.push_expiry((expires, seq))
            seq += 1
            added += pts - pay
        points = order.points
        if points is NONE_YET:
            order.points = {src.index: pts}
        else:
            points[src.index] = points.get(src.index, 0) + pts
        if not one_lifetime and kp.earned_metrics:
            add_to(st, kp.earned_metrics, t, pts)
        credited += pts
        out.append(_tuple_new(Effect, ("points_earned", t, src.name, src.line, src.column, kind_name, pts, None,
                                       None, None, None, None, False, None, oid, None, None, None, None, eid)))
    if seq != first_seq:
        ks.next_seq = seq
        ks.n += seq - first_seq
        ks.avail_sum += added
        if expires is not None and in_order:
            ks.exp_n = n + seq - first_seq
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


# ---------------------------------------------------------------- visit steps


def visit_multipliers(prog, ctx) -> list:
    """The multiplier rules that apply to a visit's points."""
    return [m for m in prog.rules if m.action == "multiplier" and m.trigger is None and preds_ok(m, ctx)]


def earn_on_visit(plan, st, r, ev, ledger, out, tier, ctx) -> None:
    earn_staged(plan.prog, st, r, [[r.points, 1, None]], visit_multipliers(plan.prog, ctx), tier, ev, ledger, out,
                None)


def fire_on_visit(plan, st, r, ev, ledger, out, tier, ctx) -> None:
    plan.mechanics[r.index].fire(plan, st, r, ev, ledger, out, None, 1)


# ---------------------------------------------------------------- vectorised


def vector_points(kern) -> None:
    """The vectorised step (for the kernel `kern`, simulate/vector/kernel.py: every event at once).
    Each earn rule's points per purchase, split by source (base, the tier's extra, each multiplier's extra,
    as the scalar `_earn_staged`), for every tier the member might hold (index 0: no tier)."""
    import numpy as np

    from loyalty.runtime.arrays import CUSTOM, REFERRAL, SIGNUP, TIMER, Unsupported, div_round, fits
    from loyalty.runtime.mechanics.winback import POINT_TIMERS

    prog = kern.prog
    tiers = prog.tiers.tiers if prog.tiers else ()
    mults = kern.mults
    kern.ptab = {}
    rows = kern.ptab_rows  # the tiers' rows this pass reads (None: all)
    max_event = kern.max_event_amount  # (the most an event's lines cost: the kernel's, the same every pass)
    for r in kern.earn_rules:
        k = r.point_kind
        kind = prog.kinds[k]
        rn, rd = (r.points, 1) if is_per_visit(r) else r.rate
        mine = [m for m in mults if m.point_kind in (-1, k)]
        D = rd
        for m in mine:
            D *= m.factor[1]
        tier_factors = [(1, 1)]
        for t in tiers:
            tn, td = 1, 1
            for mk, mn, md in t.multipliers:
                if mk in (-1, k):
                    tn, td = tn * mn, td * md
            tier_factors.append((tn, td))
        top_n = max(f[0] for f in tier_factors)
        top_d = max(f[1] for f in tier_factors)
        scale = rn
        for m in mine:
            scale *= m.factor[0] * m.factor[1]
        if not fits(1 if is_per_visit(r) else max_event, scale, top_n, D) or not fits(D, top_d):
            raise Unsupported("amounts too large for 64-bit points arithmetic")
        mode = kind.rounding
        if is_per_visit(r):  # one value per visit, without a line (earn_per_visit, earn_on_visit)
            fires, values = vector_visit_stages(kern, r, D)
            _vector_parts(kern, r, fires, _on_events(values, D, mode), tier_factors, rows)
            continue
        match = kern.purchase_lines(r)
        any_line = np.logical_or.reduceat(match, kern.e_start)  # (a bool sum: no int64 copy of the rows)
        n_line = kern.paid * rn * (D // rd)
        slots = [sl for sl in kern.earn_slots if sl.rule is r]
        if kind.scope == "line":  # each line rounded on its own: only the matching lines, summed per event
            lines = np.flatnonzero(match)
            first_line = np.searchsorted(lines, kern.e_start)  # each event's lines: [first_line, next event's)
            end_line = np.append(first_line[1:], len(lines))
            values = []
            for sl in slots:
                if sl.mult is not None:
                    n_line = np.where(kern._line_match(sl.mult), n_line // sl.mult.factor[1] * sl.mult.factor[0],
                                      n_line)
                values.append(n_line[lines])

            def stage(j, tn, td):
                # (a running sum that wraps past int64 still differences to each event's exact sum)
                running = np.concatenate(([0], np.cumsum(div_round(values[j] * tn, D * td, mode))))
                return running[end_line] - running[first_line]
        else:  # the order's matching lines summed, then rounded: a stage is one value per event
            S = np.add.reduceat(np.where(match, n_line, 0), kern.e_start)
            values = []
            behind: list = []  # multipliers applied to S, not yet to n_line
            for sl in slots:
                m = sl.mult
                if m is not None and not m.filters:  # it applies to every line of an event or none: each line
                    # value is a multiple of m.factor[1] (D holds it), so the event's sum multiplies exactly
                    S = np.where(kern._event_ok(m), S // m.factor[1] * m.factor[0], S)
                    behind.append(m)
                elif m is not None:  # (exact divisions: the order multipliers apply in changes nothing)
                    for x in behind + [m]:
                        n_line = np.where(kern._line_match(x), n_line // x.factor[1] * x.factor[0], n_line)
                    behind = []
                    S = np.add.reduceat(np.where(match, n_line, 0), kern.e_start)
                values.append(S)
            stage = _on_events(values, D, mode)
        _vector_parts(kern, r, any_line, stage, tier_factors, rows)
    kern.fixed = {}
    kern.fixed_times = {}  # rules that can fire more than once on an event: how many times (fire_fixed's effects)
    kern.fixed_refused = {}  # what a rule's cap refused, per event (limits.vector_own_cap)
    for r in kern.fixed_rules:
        if r.action == "earn_fixed" and r.trigger == "signup":
            fires = (kern.e_type == SIGNUP) & kern.e_running & kern._event_ok(r)
        elif r.action == "earn_fixed" and r.trigger in POINT_TIMERS:  # at the kernel's own events of its timer
            fires = (kern.e_type == TIMER) & (kern.e_timer_rule == r.index)
        elif r.action == "earn_fixed" and r.trigger == "action":  # _simple_trigger: the action named
            names = kern.rows.item_names
            named = np.array([(n or "") == r.trigger_name for n in names] + [r.trigger_name == ""], dtype=bool)
            fires = (kern.e_type == CUSTOM) & kern.e_running & named[kern.r_item[kern.e_start]] & kern._event_ok(r)
        elif r.action == "earn_fixed":  # on purchases and visits, as give's trigger (and times it fires)
            fires = vector_firings(kern, r)
        else:
            fires = (kern.e_type == REFERRAL) & kern.e_running & kern._event_ok(r)
        if not fits(int(np.max(fires, initial=0)), r.points):
            raise Unsupported(f"rule {r.name!r}: points too large for 64-bit sums")
        points = (fires.astype(np.int64) * r.points).astype(np.int64)
        # one claim per event: a rule that fires more than once on an event has no cap (the reasons)
        kern.fixed[r.index], kern.fixed_refused[r.index] = vector_own_cap(kern, r, points)
        if r.trigger == "every_spend":
            kern.fixed_times[r.index] = fires


def is_per_visit(r) -> bool:
    """Points per visit: regular earning, staged by source like points per spend (`earn_staged`), on every
    purchase and every visit."""
    return r.action == "earn_per_event" and r.event == "visit"


def is_vector_staged(r) -> bool:
    """The rules the kernel earns by `vector_points`' staged tables (its earning slots: base, the tier's part,
    one per multiplier): points per spend and per visit."""
    return r.action == "earn_per_spend" or is_per_visit(r)


def _on_events(values, D: int, mode: str):
    """The stages of values per event (numerators on D, one array per stage): stage j at a tier's factor."""
    from loyalty.runtime.arrays import div_round

    return lambda j, tn, td: div_round(values[j] * tn, D * td, mode)


def _vector_parts(kern, r, earns, stage, tier_factors, rows) -> None:
    """Each source's part of the staged totals (stage j - stage j-1, `split_negative` moving a multiplier's
    negative part to the parts before it), into `kern.ptab` by slot: a table per slot, a row per tier state
    (row 0: no tier; factor `tier_factors[row]`). `stage(j, tn, td)`: stage j's points per event (rounded like
    the kind's) at the factor tn/td; stage 0, the base, has no tier factor. An event earns where `earns` and the
    last stage is above zero. Only the rows in `rows` are worked out (Kernel.ptab_rows; None: all; the others
    are zero), each once per distinct factor, a row at a time: no stage table is built whole."""
    import numpy as np

    slots = [sl for sl in kern.earn_slots if sl.rule is r]
    tables = [np.zeros((len(tier_factors), kern.nev), dtype=np.int64) for _ in slots]
    base = None
    done: dict = {}  # factor -> the first row worked out with it (a row with the same factor is a copy)
    for ti, factor in enumerate(tier_factors):
        if rows is not None and ti not in rows:
            continue
        same = done.setdefault(factor, ti)
        if same != ti:
            for table in tables:
                table[ti] = table[same]
            continue
        if base is None:
            base = stage(0, 1, 1)
        values = [base] + [stage(j, *factor) for j in range(1, len(slots))]
        keep = earns & (values[-1] > 0)
        parts = [np.where(keep, values[0], 0)] + [np.where(keep, values[j] - values[j - 1], 0)
                                                   for j in range(1, len(values))]
        for j in range(len(parts) - 1, 0, -1):  # a multiplier below 1: its negative part from the parts before
            if parts[j].min(initial=0) >= 0:  # (none: the usual case, one pass instead of the loop's)
                continue
            for i in range(j - 1, -1, -1):
                take = np.minimum(np.maximum(parts[i], 0), np.maximum(-parts[j], 0))
                parts[i] -= take
                parts[j] += take
        for table, part in zip(tables, parts):
            table[ti] = part
    for sl, table in zip(slots, tables):
        kern.ptab[sl.skey] = table


def vector_visit_stages(kern, r, D: int):
    """A points-per-visit rule's value per event at each stage (numerators on D; `earn_staged` on one value without
    a line), and where it fires: on a running purchase the rule applies as the plan's applicable rules (its
    conditions and code), on a running visit as the visit's steps (its conditions; a rule requiring a code is not
    among them). A multiplier multiplies it where it applies (on a purchase: among the applicable rules; on a
    visit: `visit_multipliers`, its conditions alone) and has no item filter (a value without a line matches
    none)."""
    import numpy as np

    from loyalty.runtime.arrays import PURCHASE, VISIT

    purchase = kern.e_type == PURCHASE
    visit = kern.e_type == VISIT
    conditions = kern.prog.doc["rules"]
    fires = kern.e_running & ((purchase & kern._event_ok(r)) | (
        visit & (r.code is None) & kern._conditions_ok(r.index, conditions[r.index].get("conditions", ()))))
    n = np.where(fires, r.points * D, 0)
    values: list = []
    for sl in [sl for sl in kern.earn_slots if sl.rule is r]:
        m = sl.mult
        if m is not None and not m.filters:
            hit = (purchase & kern._event_ok(m)) | (
                visit & kern._conditions_ok(m.index, conditions[m.index].get("conditions", ())))
            n = np.where(hit, n // m.factor[1] * m.factor[0], n)
        values.append(n)
    return fires, values


# ---------------------------------------------------------------- the mechanics


class EarnPerSpend(Mechanic):
    name = "earn per spend"
    actions = ("earn_per_spend",)
    phase = "earn"
    action_fields = {"point_kind": Opt("str"), "points": "dec", "per_minor": "int"}

    def check_action(self, action, path, check) -> None:
        check.dec(action["points"], f"{path}.points", Decimal(0), Decimal(check.MAX_INT), lo_open=True)
        check.int(action["per_minor"], f"{path}.per_minor", 1)

    def purchase_step(self, rule, plan, specialise, mults=()):
        multiplied = any(m.point_kind == -1 or m.point_kind == rule.point_kind for m in mults)
        if specialise and not multiplied:
            return earn_per_spend_plain, EarnPlan(plan, rule)
        return earn_per_spend, rule

    def limits_vector_reason(self, rule) -> Optional[str]:
        return budget_or_own_cap_vector_reason(rule, ("times", "points"))  # limits.vector_limits

    def vector_reason(self, rule, program) -> Optional[str]:
        return None if rule.trigger is None else super().vector_reason(rule, program)


class EarnPerEvent(Mechanic):
    """Points per visit (regular points: multiplied) or per referral."""

    name = "earn per event"
    actions = ("earn_per_event",)
    step = staticmethod(earn_per_visit)
    action_fields = {"point_kind": Opt("str"), "points": "int", "event": "str"}

    def check_action(self, action, path, check) -> None:
        check.int(action["points"], f"{path}.points", 1)
        check.one_of(action["event"], ("visit", "referral"), f"{path}.event")

    def purchase_phase(self, rule) -> Optional[str]:
        return "earn" if rule.event == "visit" else None

    def fires_on_visit(self, rule) -> bool:
        return rule.event == "visit" and rule.trigger is None

    def visit_step(self, rule):
        return earn_on_visit

    def fires_on_referral(self, rule) -> bool:
        return rule.event == "referral"

    def fire(self, plan, st, r, ev, ledger, out, order, times) -> None:
        fire_fixed(plan, st, r, ev, ledger, out, order, times)

    def limits_vector_reason(self, rule) -> Optional[str]:
        return own_cap_vector_reason(rule, ("times", "points")) if rule.event == "referral" else \
            super().limits_vector_reason(rule)

    def vector_reason(self, rule, program) -> Optional[str]:
        if rule.event == "referral" and rule.trigger is None:
            return None
        if is_per_visit(rule) and rule.trigger is None and not rule.filters:  # vector_visit_stages
            return None
        return super().vector_reason(rule, program)


class EarnFixed(Mechanic):
    name = "fixed earn"
    actions = ("earn_fixed",)
    phase = "earn"
    step = staticmethod(earn_fixed)
    visit_triggers = ("nth_visit", "every_visits")
    action_fields = {"point_kind": Opt("str"), "points": "int"}

    def check_action(self, action, path, check) -> None:
        check.int(action["points"], f"{path}.points", 1)

    def visit_step(self, rule):
        return fire_on_visit

    def fire(self, plan, st, r, ev, ledger, out, order, times) -> None:
        fire_fixed(plan, st, r, ev, ledger, out, order, times)

    def limits_vector_reason(self, rule) -> Optional[str]:
        return budget_or_own_cap_vector_reason(rule, ("times", "points"))

    def vector_reason(self, rule, program) -> Optional[str]:
        from loyalty.runtime.mechanics.winback import POINT_TIMERS

        if (rule.trigger == "signup" and rule.trigger_name is None) or rule.trigger in VECTOR_TRIGGERS \
                or rule.trigger == "action" or rule.trigger in FIRED_VECTOR_TRIGGERS \
                or rule.trigger in POINT_TIMERS:  # (timers: winback.timer_vector_reason)
            return None
        if rule.trigger == "every_spend":
            return spend_trigger_vector_reason(rule)
        return super().vector_reason(rule, program)


class Multiplier(Mechanic):
    """A multiplier rule runs nothing itself: the earning steps read it (`earn_staged`)."""

    name = "multiplier"
    actions = ("multiplier",)
    phase = MODIFIER
    action_fields = {"point_kind": Opt("str"), "factor": "dec"}

    def check_action(self, action, path, check) -> None:
        check.dec(action["factor"], f"{path}.factor", Decimal(0), Decimal(check.MAX_WRITTEN), lo_open=True)

    def limits_vector_reason(self, rule) -> Optional[str]:
        return budget_or_own_cap_vector_reason(rule, ("times", "points"))  # limits.vector_limits

    def vector_reason(self, rule, program) -> Optional[str]:
        return None if rule.trigger is None else super().vector_reason(rule, program)


register(EarnPerSpend())
register(EarnPerEvent())
register(EarnFixed())
register(Multiplier())
