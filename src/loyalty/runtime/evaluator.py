"""The evaluator: one member's events in, effects out.

Fast internal entry points (used by the facade and by `loyalty simulate`):

- `apply_event(prog, st, ev, ledger, effects)`: applies one internal event `Ev`
  to a mutable `MemberState` in place, appending `Effect`s to `effects`. It may
  raise `EventError` (e.g. a return of an unknown order) before changing anything
  that matters; callers that need all-or-nothing copy the state first (the facade does).
- `run_member(prog, member_id, attributes, events, ledger=None)`: a fresh member
  through an iterable of `Ev`s (in time order); yields `(ev, effects)` per event.

Work per event is plain int arithmetic over precomputed rule objects; there is no
pydantic, Decimal or Fraction on this path. The order of work for a purchase and
every rounding rule are stated in docs/semantics.md.
"""

from __future__ import annotations

import datetime as _dt
from typing import Iterable, Iterator, Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.internal import Ev, EventError
from loyalty.runtime.ledger import UnlimitedLedger
from loyalty.runtime.program import CompiledProgram, PointKind, Rule

from loyalty.runtime.state import NONE_YET, MemberState, MetricLog, OrderRecord
from loyalty.runtime.timeutil import add_duration, next_period_start, period_key, period_start, sub_duration

_UNLIMITED = UnlimitedLedger()


class Ctx:
    """What conditions look at while one event is evaluated."""

    __slots__ = ("t", "st", "store", "channel", "lines", "gross", "items", "first", "spend_before")

    def __init__(self, t, st, store=None, channel=None, lines=(), gross=0, items=0, first=False, spend_before=0):
        self.t = t
        self.st = st
        self.store = store
        self.channel = channel
        self.lines = lines
        self.gross = gross
        self.items = items
        self.first = first
        self.spend_before = spend_before


# ---------------------------------------------------------------- rounding (exact, on ints)


def div_round(n: int, d: int, mode: str) -> int:
    """n / d (d > 0) rounded by `mode`: down | up | half even | half up. Down and up are toward -inf/+inf."""
    q, r = divmod(n, d)
    if r == 0 or mode == "down":
        return q
    if mode == "up":
        return q + 1
    twice = 2 * r
    if twice > d or (twice == d and (mode == "half up" or q % 2 == 1)):
        return q + 1
    return q


def half_even(n: int, d: int) -> int:
    return div_round(n, d, "half even")


def new_member(prog: CompiledProgram, member_id: str, attributes: Optional[dict] = None) -> MemberState:
    st = MemberState(member_id, dict(attributes or {}), len(prog.kinds), len(prog.metrics))
    st.metrics = [None if m.window == "lifetime" else MetricLog() for m in prog.metrics]
    if prog.tiers:
        st.tier = prog.tiers.qualified(0)  # a tier from 0 is held from the start, without an effect
    return st


def run_member(prog: CompiledProgram, member_id: str, attributes: Optional[dict], events: Iterable[Ev],
               ledger=None) -> Iterator[tuple[Ev, list[Effect]]]:
    st = new_member(prog, member_id, attributes)
    ledger = ledger if ledger is not None else _UNLIMITED
    for ev in events:
        out: list[Effect] = []
        apply_event(prog, st, ev, ledger, out)
        yield ev, out


# ---------------------------------------------------------------- one event


def apply_event(prog: CompiledProgram, st: MemberState, ev: Ev, ledger, out: list[Effect]) -> None:
    if ev.id is not None and ev.id in st.seen:
        out.append(Effect("duplicate_ignored", ev.time, event=ev.id))
        return
    typ = ev.type
    if typ == "return":  # validate before anything changes
        _check_return(st, ev)
    elif typ == "redemption" and ev.reward not in prog.redeem:
        raise EventError("reward", f"no reward named {ev.reward!r} can be redeemed in this program"
                         + (f"; known: {', '.join(sorted(prog.redeem))}" if prog.redeem else ""))
    t = ev.time
    if st.tier >= 0 and st.next_review is None and prog.tiers and prog.tiers.downgrade_period:
        st.next_review = next_period_start(t, prog.tiers.downgrade_period)
        _due(st, st.next_review)
    advance(prog, st, t, out)
    if st.clock is None or t > st.clock:
        st.clock = t
    if ev.id is not None:
        st.seen[ev.id] = True
    if typ == "purchase":
        _purchase(prog, st, ev, ledger, out)
    elif typ == "return":
        _return(prog, st, ev, ledger, out)
    elif typ == "redemption":
        _redeem(prog, st, ev, out)
    elif typ == "visit":
        if _running(prog, t):
            st.visits += 1
            _add_metric(prog, st, "visits", -1, t, 1)
            ctx = Ctx(t, st, store=ev.store)
            tier = prog.tiers.tiers[st.tier] if prog.tiers is not None and st.tier >= 0 else None
            multipliers = None
            for r in prog.rules:
                if r.action == "earn_per_event":
                    fires = r.event == "visit" and r.trigger is None
                else:
                    fires = r.trigger in ("nth_visit", "every_visits") and r.action in ("earn_fixed", "give")
                if fires:
                    if r.counted:  # counts the visits its conditions select; a visit has no lines to match
                        if r.filters or not _preds_ok(r, ctx):
                            continue
                        st.counts[r.index] = st.counts.get(r.index, 0) + 1
                    if _visit_trigger_ok(r, st) and _preds_ok(r, ctx):
                        if r.action == "earn_per_event":
                            if multipliers is None:
                                multipliers = [m for m in prog.rules if m.action == "multiplier" and m.trigger is None
                                               and _preds_ok(m, ctx)]
                            _earn_staged(prog, st, r, [[r.points, 1, None]], multipliers, tier, ev, ledger, out, None)
                        else:
                            _fire_simple(prog, st, r, ctx, ev, ledger, out, None, 1)
            _tier_upgrade(prog, st, t, out)
    elif typ == "signup":
        _simple_trigger(prog, st, ev, ledger, out, "signup", None)
    elif typ == "referral":
        if _running(prog, t):
            ctx = Ctx(t, st)
            for r in prog.rules:
                if r.action == "earn_per_event" and r.event == "referral" and _preds_ok(r, ctx):
                    _fire_simple(prog, st, r, ctx, ev, ledger, out, None, 1)
            _tier_upgrade(prog, st, t, out)
    elif typ == "action":
        _simple_trigger(prog, st, ev, ledger, out, "action", ev.name)
    # "tick": time has passed; nothing else to do


def _running(prog: CompiledProgram, t: _dt.datetime) -> bool:
    return (prog.runs_from is None or t >= prog.runs_from) and (prog.runs_to is None or t < prog.runs_to)


def _preds_ok(r, ctx) -> bool:
    for p in r.preds:
        if not p(ctx):
            return False
    return True


def _visit_trigger_ok(r: Rule, st: MemberState) -> bool:
    visits = st.counts.get(r.index, 0) if r.counted else st.visits
    if r.trigger == "nth_visit":
        return visits == r.trigger_n
    if r.trigger == "every_visits":
        return visits % r.trigger_n == 0
    return True


def _simple_trigger(prog, st, ev, ledger, out, trigger: str, name) -> None:
    if not _running(prog, ev.time):
        return
    ctx = Ctx(ev.time, st)
    for r in prog.by_trigger.get(trigger, ()):
        if (name is None or r.trigger_name == name) and _preds_ok(r, ctx):
            _fire_simple(prog, st, r, ctx, ev, ledger, out, None, 1)
    _tier_upgrade(prog, st, ev.time, out)


def _fire_simple(prog, st, r: Rule, ctx, ev, ledger, out, order: Optional[OrderRecord], times: int) -> None:
    """A fixed earn or a reward, `times` times (counting triggers can fire more than once)."""
    for _ in range(times):
        if r.action in ("earn_fixed", "earn_per_event"):
            pts = _limit(prog, st, r, r.points, ev, ledger, out, prog.kinds[r.point_kind])
            if pts:
                _credit(prog, st, r.point_kind, pts, ev.time, order, ev, r, out)
        elif r.action == "give":
            rw = prog.rewards[r.reward]
            if _limit(prog, st, r, rw.cost, ev, ledger, out, None, money=True, all_or_nothing=True) is None:
                continue
            st.rewards[rw.name] = st.rewards.get(rw.name, 0) + 1
            if order is not None:
                order.rewards = [*order.rewards, [r.index, rw.name]]  # rare: a new list, not in place
            out.append(Effect("reward_issued", ev.time, r.name, r.line, r.column, reward=rw.name, amount=rw.face,
                              cost=rw.cost, order=ev.order, event=ev.id))


# ---------------------------------------------------------------- limits: caps and budgets


def _limit(prog, st, r: Rule, amount: int, ev, ledger, out, kind: Optional[PointKind], money=False,
           all_or_nothing=False) -> Optional[int]:
    """How much of `amount` the rule may give after its caps and budget; says so when truncated.
    None when nothing may be given (a `times` cap is used up, or an all-or-nothing claim failed)."""
    if not r.limits and r.budget is None:
        return amount
    unit = "money" if money else "points"
    granted = amount
    for c in r.limits:
        if c.unit != "times" and c.unit != unit:
            continue
        key = period_key(ev.time, c.period)
        used = st.caps.get(c.scope)
        used_amount = used[1] if used is not None and used[0] == key else 0
        room = c.amount - used_amount
        want = 1 if c.unit == "times" else granted
        if want > room:
            allowed = 0 if c.unit == "times" else max(room, 0)
            if all_or_nothing:
                allowed = 0
            out.append(Effect("cap_reached", ev.time, r.name, r.line, r.column, scope=c.scope,
                              point_kind=kind.name if kind else None, truncated=granted - allowed, event=ev.id))
            granted = allowed
            if granted <= 0:
                return None
    if r.budget is not None:
        claim = granted
        if r.budget_unit == "money" and not money:
            cost = kind.cost if kind else None
            claim = -((-granted * cost[0]) // cost[1]) if cost else 0
        got = ledger.claim(r.budget, claim, ev.time, st.member_id, ev.id)
        if got < claim:
            if r.budget_unit == "money" and not money:
                got_units = (got * kind.cost[1]) // kind.cost[0] if kind.cost and kind.cost[0] else 0
            else:
                got_units = got
            if all_or_nothing:
                got_units = 0
            out.append(Effect("budget_reached", ev.time, r.name, r.line, r.column, scope=r.budget,
                              point_kind=kind.name if kind else None, truncated=granted - got_units, event=ev.id))
            granted = got_units
            if granted <= 0:
                return None
    for c in r.limits:
        if c.unit != "times" and c.unit != unit:
            continue
        key = period_key(ev.time, c.period)
        used = st.caps.get(c.scope)
        if used is None or used[0] != key:
            used = [key, 0]
            st.caps[c.scope] = used
        used[1] += 1 if c.unit == "times" else granted
    return granted


# ---------------------------------------------------------------- points in and out


def _credit(prog, st, k: int, pts: int, t, order: Optional[OrderRecord], ev, r, out) -> None:
    kind = prog.kinds[k]
    ks = st.kinds[k]
    expires = None
    if kind.expiry == "after_earning":
        expires = add_duration(t, kind.expiry_amount, kind.expiry_unit)
    elif kind.expiry == "period_end":
        expires = next_period_start(t, kind.expiry_period)
        if kind.expiry_next:
            expires = next_period_start(expires, kind.expiry_period)
    rule_index = r.index if r is not None else -1
    oid = ev.order if order is not None else None
    if kind.pending and order is not None:  # only purchases wait: a return can take their points back
        avail = add_duration(t, kind.pending[0], kind.pending[1])
        ks.add(t, avail, expires, pts, oid, rule_index)
        _due(st, avail)
        pending = True
    else:
        pay = min(ks.debt, pts)
        ks.debt -= pay
        if pts - pay > 0:
            ks.add(t, None, expires, pts - pay, oid, rule_index)
        pending = False
    if expires is not None:
        _due(st, expires)
    ks.earned += pts
    if order is not None and r is not None:
        if order.points is NONE_YET:
            order.points = {}
        order.points[r.index] = order.points.get(r.index, 0) + pts
    _add_metric(prog, st, "earned", k, t, pts)
    out.append(Effect("points_earned", t, r.name if r else None, r.line if r else 0, r.column if r else 0,
                      point_kind=kind.name, points=pts, pending=pending, order=oid, event=ev.id))


def _due(st: MemberState, t) -> None:
    if st.due is not None and t < st.due:
        st.due = t


def _spend_oldest(ks, amount: int, pending: bool, order: Optional[str] = None, rule: Optional[int] = None) -> int:
    """Take up to `amount` from available (or pending) batches, oldest first; returns what was taken.
    Batches are replaced, never changed (state copies share them); the scan stops once `amount` is taken.
    The list is the state's own: a partly taken batch is replaced in its slot, emptied ones are removed
    (from the front by moving the head; elsewhere by `del`, a memmove), so batches that do not match
    (another order's, pending ones) are only looked at, never copied."""
    if pending and not ks.maturing:
        return 0  # no pending batch: each has an entry in the maturing queue until it matures
    taken = 0
    batches = ks.own()
    emptied = []
    head = i = ks.head
    n = ks.n
    while i < n and taken < amount:
        b = batches[i]
        if (b.available_at is not None) == pending and (order is None or b.order == order) and (
                rule is None or b.rule == rule):
            take = min(b.amount, amount - taken)
            taken += take
            if take < b.amount:
                batches[i] = b.with_amount(b.amount - take)
            else:
                emptied.append(i)
        i += 1
    if taken:
        if emptied:
            if emptied[0] == head and emptied[-1] == head + len(emptied) - 1:  # the oldest: the usual case
                ks.drop_front(head + len(emptied))
            else:
                for j in reversed(emptied):
                    del batches[j]
                ks.n -= len(emptied)
        if pending:
            ks.pend_sum -= taken
        else:
            ks.avail_sum -= taken
    return taken


def _add_metric(prog, st, kind: str, point_kind: int, t, value: int) -> None:
    for m in prog.metrics:
        if m.kind == kind and (kind != "earned" or m.point_kind == point_kind):
            if m.window == "lifetime":
                c = st.metrics[m.index]
                st.metrics[m.index] = [t, value] if c is None else [c[0], c[1] + value]
            else:
                st.metrics[m.index].add(t, value)


def metric_value(prog, st, mi: int, at: _dt.datetime, review: bool = False) -> int:
    """The metric at moment `at`; at a review (a period end) a calendar window means the period just ended."""
    m = prog.metrics[mi]
    log = st.metrics[mi]
    if m.window == "lifetime":
        return log[1] if log is not None else 0
    if m.window == "rolling":
        lo = sub_duration(at, m.amount, m.unit)
        return log.sum_between(lo, at, False, True) if not review else log.sum_between(lo, at, True, False)
    if review:
        lo = period_start(at - _dt.timedelta(microseconds=1), m.period)
        return log.sum_between(lo, at, True, False)
    lo = period_start(at, m.period)
    return log.sum_between(lo, at, True, True)


# ---------------------------------------------------------------- time passing


def advance(prog: CompiledProgram, st: MemberState, T: _dt.datetime, out: list[Effect]) -> None:
    """Everything due up to and including T: pending points mature, batches expire, tier reviews."""
    if not prog.has_timers or (st.clock is not None and T <= st.clock):
        return
    if st.due is not None and T < st.due:
        return
    timed: list[tuple] = []  # (time, order, seq, effect)
    for kind in prog.kinds:
        ks = st.kinds[kind.index]
        if not ks.has_batches() and ks.inactivity_deadline is None and not ks.maturing and not ks.expiring:
            continue
        _advance_kind(kind, ks, T, timed)
    if prog.tiers and prog.tiers.downgrade_period:
        _advance_tiers(prog, st, T, timed)
    if timed:
        timed.sort(key=lambda e: (e[0], e[1], e[2]))
        out.extend(e[3] for e in timed)
    st.due = _next_due(prog, st)


def _next_due(prog, st) -> Optional[_dt.datetime]:
    best = _dt.datetime.max
    for ks in st.kinds:
        t = ks.next_timer()
        if t is not None and t < best:
            best = t
        if ks.inactivity_deadline is not None and ks.inactivity_deadline < best:
            best = ks.inactivity_deadline
    if st.next_review is not None and st.next_review < best:
        best = st.next_review
    if st.grace_until is not None and st.grace_until < best:
        best = st.grace_until
    return best


def _advance_kind(kind: PointKind, ks, T, timed) -> None:
    # at one moment: maturing first, then expiry (a batch that matures and expires at once expires).
    # Effects get `seq` in list order within a moment, as a scan of the batches in order would.
    seq = len(timed)
    heap = ks.maturing
    if heap and heap.first()[0] <= T:
        ks.own()  # batches are replaced in their slots below
        due = []
        while heap and heap.first()[0] <= T:
            _, bseq = heap.pop()
            i = ks.index_of(bseq)
            if i >= 0 and ks.batches[i].available_at is not None:
                due.append(i)
        if due:
            due.sort()  # debt is paid in list order
            batches = ks.batches
            gone = []
            for i in due:
                b = batches[i]
                at = b.available_at
                pay = min(ks.debt, b.amount)
                ks.debt -= pay
                timed.append((at, 0, seq, Effect("points_available", at, kind.name, kind.line, kind.column,
                                                 point_kind=kind.name, points=b.amount, order=b.order)))
                seq += 1
                ks.pend_sum -= b.amount
                ks.avail_sum += b.amount - pay
                if b.amount - pay > 0:
                    batches[i] = b._replace(available_at=None, amount=b.amount - pay)
                else:
                    gone.append(i)
            if gone:
                drop = set(gone)
                ks.replace_live([batches[j] for j in range(ks.head, ks.n) if j not in drop])
    heap = ks.expiring
    if heap and heap.first()[0] <= T:
        gone = set()
        batches = ks.batches
        while heap and heap.first()[0] <= T:
            at, bseq = heap.pop()
            i = ks.index_of(bseq)
            if i < 0:
                continue
            b = batches[i]
            gone.add(i)
            ks.expired += b.amount
            if b.available_at is None:
                ks.avail_sum -= b.amount
            else:
                ks.pend_sum -= b.amount
            timed.append((at, 1, seq, Effect("points_expired", at, kind.name, kind.line, kind.column,
                                             point_kind=kind.name, points=b.amount)))
            seq += 1
        if gone:
            if min(gone) == ks.head and max(gone) == ks.head + len(gone) - 1:  # the usual case: the oldest
                ks.drop_front(ks.head + len(gone))
            else:
                ks.replace_live([batches[j] for j in range(ks.head, ks.n) if j not in gone])
    d = ks.inactivity_deadline
    if d is not None and d <= T:
        total = 0
        keep = []
        for b in ks.live():
            if b.available_at is None and b.earned_at <= d:
                total += b.amount
            else:
                keep.append(b)
        ks.replace_live(keep)
        ks.avail_sum -= total
        ks.inactivity_deadline = None
        if total:
            ks.expired += total
            timed.append((d, 1, seq, Effect("points_expired", d, kind.name, kind.line, kind.column,
                                            point_kind=kind.name, points=total, reason="inactivity")))


def _advance_tiers(prog, st, T, timed) -> None:
    tiers = prog.tiers
    seq = 10_000
    while True:
        nr = st.next_review if st.next_review is not None and st.next_review <= T else None
        ng = st.grace_until if st.grace_until is not None and st.grace_until <= T else None
        if nr is None and ng is None:
            return
        if ng is not None and (nr is None or ng <= nr):
            st.grace_until = None
            q = tiers.qualified(metric_value(prog, st, tiers.metric, ng))
            new = max(q, st.grace_target)
            if new < st.tier:
                timed.append((ng, 2, seq, _tier_effect(prog, st.tier, new, ng, "grace ended")))
                st.tier = new
            seq += 1
            continue
        E = nr
        st.next_review = next_period_start(E, tiers.downgrade_period)
        if st.tier < 0:
            continue
        target = tiers.qualified(metric_value(prog, st, tiers.metric, E, review=True))
        if target < st.tier and st.grace_until is None:
            if tiers.grace:
                st.grace_until = add_duration(E, tiers.grace[0], tiers.grace[1])
                st.grace_target = target
            else:
                timed.append((E, 2, seq, _tier_effect(prog, st.tier, target, E, "review")))
                st.tier = target
        seq += 1


def _tier_effect(prog, old: int, new: int, t, reason: str) -> Effect:
    tiers = prog.tiers.tiers
    decl = tiers[new] if new >= 0 else tiers[old]
    return Effect("tier_changed", t, decl.name, decl.line, decl.column, tier_from=tiers[old].name if old >= 0 else None,
                  tier_to=tiers[new].name if new >= 0 else None, reason=reason)


def _tier_upgrade(prog, st, t, out) -> None:
    tiers = prog.tiers
    if tiers is None:
        return
    q = tiers.qualified(metric_value(prog, st, tiers.metric, t))
    if q > st.tier:
        out.append(_tier_effect(prog, st.tier, q, t, "upgrade"))
        st.tier = q
        if tiers.downgrade_period and st.next_review is None:
            st.next_review = next_period_start(t, tiers.downgrade_period)
            _due(st, st.next_review)
    if st.grace_until is not None and q >= st.tier:
        st.grace_until = None  # qualified again during the grace period


# ---------------------------------------------------------------- purchases


def perks_and_draws(draws, tier, lines: list, ctx: Ctx, t, order, event, out: list[Effect]) -> None:
    """A purchase's tier perks (rewards at no charge) and its entries into the draws whose conditions hold."""
    if tier is not None:
        for name, cost in tier.perks:
            out.append(Effect("reward_issued", t, tier.name, tier.line, tier.column, reward=name, amount=0, cost=cost,
                              order=order, reason="tier perk", event=event))
    for dr in draws:
        if _preds_ok(dr, ctx):
            base = sum(ln[4] for ln in lines if dr.line_matches(ln[0], ln[1]))
            entries = base // dr.per * dr.entries
            if entries > 0:
                out.append(Effect("draw_entries", t, dr.name, dr.line, dr.column, draw=dr.name, entries=entries,
                                  order=order, event=event))


def tier_discount(tier, lines: list, t, order, event, out: list[Effect]) -> None:
    """The tier's percentage off each working line's amount paid (line[4]); one effect for the order."""
    total = 0
    num, den = tier.discount
    for ln in lines:
        d = half_even(ln[4] * num, den * 100)
        ln[4] -= d
        total += d
    if total:
        out.append(Effect("discount_applied", t, tier.name, tier.line, tier.column, amount=total, order=order,
                          event=event))


def _purchase(prog: CompiledProgram, st: MemberState, ev: Ev, ledger, out: list[Effect]) -> None:
    t = ev.time
    if not _running(prog, t):
        return
    first = st.purchases == 0
    st.purchases += 1
    st.visits += 1  # a purchase is a visit
    gross = 0
    items = 0
    # working lines: [item, category, quantity, gross, paid]
    lines = []
    for (item, cat, q, amount) in ev.lines:
        lines.append([item, cat, q, amount, amount])
        gross += amount
        items += q
    ctx = Ctx(t, st, ev.store, ev.channel, ev.lines, gross, items, first, st.spend)
    order = OrderRecord(t, gross, 0, {})
    for ln in lines:
        rec = order.lines.get(ln[0])
        if rec is None:
            order.lines[ln[0]] = [ln[2], ln[3], 0]
        else:
            rec[0] += ln[2]
            rec[1] += ln[3]
    rules = prog.rules
    tier = prog.tiers.tiers[st.tier] if prog.tiers is not None and st.tier >= 0 else None
    # rules whose counting trigger counts only what their conditions and item filters select
    for r in rules:
        if r.counted and r.trigger != "every_spend" and _preds_ok(r, ctx) and _order_has_line(r, lines):
            st.counts[r.index] = st.counts.get(r.index, 0) + 1
    applicable = [r for r in rules if _purchase_trigger_ok(r, ctx) and _preds_ok(r, ctx)]

    # (2) discounts: tier discount, fixed discounts, the discount scale, punch cards
    if tier is not None and tier.discount is not None:
        tier_discount(tier, lines, t, ev.order, ev.id, out)
    for r in applicable:
        if r.action == "discount":
            _discount_lines(prog, st, r, lines, r.percent, ev, ledger, out)
    for r in applicable:
        if r.action == "discount_scale":
            value = metric_value(prog, st, r.metric, t)
            pct = None
            for threshold, n, d in r.steps:
                if value >= threshold:
                    pct = (n, d)
            if pct is not None:
                _discount_lines(prog, st, r, lines, pct, ev, ledger, out)
    for r in applicable:
        if r.action == "punch":
            _punch(prog, st, r, lines, ev, ledger, out, order)
    paid = 0
    for ln in lines:
        paid += ln[4]
    order.paid = paid
    st.spend += paid
    st.orders[ev.order] = order
    for k, kind in enumerate(prog.kinds):
        if kind.expiry == "inactivity":
            st.kinds[k].inactivity_deadline = add_duration(t, kind.expiry_amount, kind.expiry_unit)
            _due(st, st.kinds[k].inactivity_deadline)

    # (3) points on the amount paid, times multipliers
    multipliers = [r for r in applicable if r.action == "multiplier"]
    for r in applicable:
        if r.action == "earn_per_spend":
            _earn_per_spend(prog, st, r, lines, multipliers, tier, ev, ledger, out, order)
        elif r.action == "earn_fixed" and _order_has_line(r, lines):
            times = _counting_fires(st, r, lines, order) if r.trigger == "every_spend" else 1
            if times:
                _fire_simple(prog, st, r, ctx, ev, ledger, out, order, times)
        elif r.action == "earn_per_event" and r.event == "visit":  # per visit: regular points, multiplied
            _earn_staged(prog, st, r, [[r.points, 1, None]], multipliers, tier, ev, ledger, out, order)
    # (4) rewards, tier perks, draw entries
    for r in applicable:
        if r.action == "give" and _order_has_line(r, lines):
            times = _counting_fires(st, r, lines, order) if r.trigger == "every_spend" else 1
            if times:
                _fire_simple(prog, st, r, ctx, ev, ledger, out, order, times)
    perks_and_draws(prog.draws, tier, lines, ctx, t, ev.order, ev.id, out)
    # (5) tier progress; the new tier applies from the next event
    _add_metric(prog, st, "spend", -1, t, paid)
    _add_metric(prog, st, "visits", -1, t, 1)
    _tier_upgrade(prog, st, t, out)


def _purchase_trigger_ok(r: Rule, ctx: Ctx) -> bool:
    """Whether the rule's trigger fires on this purchase (its conditions are checked apart). A counted rule's
    counter has already counted this purchase when its conditions and filters select it; when they do not,
    `_preds_ok` or `_order_has_line` refuses it anyway."""
    trig = r.trigger
    if trig is None:
        return r.action != "earn_per_event" or r.event == "visit"
    if r.counted and trig != "every_spend":
        n = ctx.st.counts.get(r.index, 0)
        if trig == "first_purchase":
            return n == 1 and _order_has_line(r, ctx.lines)
        if trig == "nth_visit":
            return n == r.trigger_n and _order_has_line(r, ctx.lines)
        return n > 0 and n % r.trigger_n == 0 and _order_has_line(r, ctx.lines)
    if trig == "first_purchase":
        return ctx.first
    if trig == "nth_visit":
        return ctx.st.visits == r.trigger_n
    if trig == "every_visits":
        return ctx.st.visits % r.trigger_n == 0
    if trig == "every_spend":
        return True
    return False


def _counting_fires(st, r: Rule, lines=None, order=None) -> int:
    """How many new multiples of X the spend has reached (`after every X spent`): the member's net spend, or
    for a counted rule its own counter, which this purchase raises by what was paid on the rule's lines."""
    if r.counted:
        paid = sum(ln[4] for ln in lines if r.line_matches(ln[0], ln[1]))
        st.counts[r.index] = st.counts.get(r.index, 0) + paid
        if order.counted is NONE_YET:
            order.counted = {}
        order.counted[r.index] = order.counted.get(r.index, 0) + paid
        spent = st.counts[r.index]
    else:
        spent = st.spend
    fired = st.fired.get(r.index, 0)
    due = spent // r.trigger_n - fired
    if due > 0:
        st.fired[r.index] = fired + due
        return due
    return 0


def _order_has_line(r: Rule, lines) -> bool:
    if not r.filters:
        return True
    return any(r.line_matches(ln[0], ln[1]) for ln in lines)


def _discount_lines(prog, st, r: Rule, lines, pct, ev, ledger, out) -> None:
    num, den = pct
    per_line = []
    total = 0
    for ln in lines:
        if r.line_matches(ln[0], ln[1]):
            d = half_even(ln[4] * num, den * 100)
            per_line.append((ln, d))
            total += d
    if total <= 0:
        return
    granted = _limit(prog, st, r, total, ev, ledger, out, None, money=True)
    if not granted:
        return
    left = granted
    for ln, d in per_line:
        take = min(d, left)
        ln[4] -= take
        left -= take
    out.append(Effect("discount_applied", ev.time, r.name, r.line, r.column, amount=granted, order=ev.order,
                      event=ev.id))


def _cycle_count(n: int, cycle: int, free: int) -> int:
    """How many of units 1..n fall in the last `free` places of their cycle."""
    return (n // cycle) * free + max(0, n % cycle - (cycle - free))


def _punch(prog, st, r: Rule, lines, ev, ledger, out, order) -> None:
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
        k = max(0, _cycle_count(c + q, r.cycle, r.free) - given)
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
    st.fired[r.index] = given
    if order.punches is NONE_YET:
        order.punches = {}
    if order.items is NONE_YET:
        order.items = {}
    order.punches[r.index] = order.punches.get(r.index, 0) + units
    order.items[r.index] = sorted({ln[0] for ln in lines if r.line_matches(ln[0], ln[1])})
    if total <= 0:
        return
    granted = _limit(prog, st, r, total, ev, ledger, out, None, money=True) or 0
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


def _earn_per_spend(prog, st, r: Rule, lines, multipliers, tier, ev, ledger, out, order) -> None:
    rn, rd = r.rate
    values = [[ln[4] * rn, rd, ln] for ln in lines if r.line_matches(ln[0], ln[1])]
    if values:
        _earn_staged(prog, st, r, values, multipliers, tier, ev, ledger, out, order)


def _earn_staged(prog, st, r: Rule, values, multipliers, tier, ev, ledger, out, order) -> None:
    """A regular earning rule's points, split by source (docs/semantics.md, "Multipliers"): `values` are the
    exact points [numerator, denominator, line or None] before any multiplier (a line per matching line; one
    value without a line for points per visit). Stage 0 is the base; each source (the tier's multiplier, then
    multiplier rules in source order) multiplies the values it applies to; stage k is rounded like any points
    of the kind, and source k is credited stage k - stage k-1. The last stage is the member's total."""
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

    parts = [(r, total(), None)]  # (source, points, the lines it applied to or None for all)
    if tier is not None:
        tn, td = 1, 1
        for mk, mn, md in tier.multipliers:
            if mk == -1 or mk == k:
                tn, td = tn * mn, td * md
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
    pts = [parts[0][1]] + [parts[j][1] - parts[j - 1][1] for j in range(1, len(parts))]
    # a multiplier below 1 takes points away: its negative part is taken from the parts before it, latest first
    for j in range(len(pts) - 1, 0, -1):
        i = j - 1
        while pts[j] < 0 and i >= 0:
            take = min(pts[i], -pts[j])
            pts[i] -= take
            pts[j] += take
            i -= 1
    for (src, _, m), p in zip(parts, pts):
        if p <= 0:
            continue
        p = _limit(prog, st, src, p, ev, ledger, out, kind) if src.limits or src.budget is not None else p
        if not p:
            continue
        if order is not None and values[0][2] is not None and (r.filters or (m is not None and m.filters)):
            if order.items is NONE_YET:
                order.items = {}
            order.items[src.index] = sorted({v[2][0] for v in values if v[2] is not None and r.line_matches(
                v[2][0], v[2][1]) and (m is None or m.line_matches(v[2][0], v[2][1]))})
        _credit(prog, st, k, p, ev.time, order, ev, src, out)


# ---------------------------------------------------------------- returns


def _check_return(st: MemberState, ev: Ev) -> None:
    o = st.orders.get(ev.order)
    if o is None:
        raise EventError("order", f"member {st.member_id!r} has no purchase with order id {ev.order!r}")
    if ev.ret_lines is not None:
        wanted: dict[str, int] = {}
        for i, (item, q) in enumerate(ev.ret_lines):
            rec = o.lines.get(item)
            if rec is None:
                raise EventError(f"lines.{i}.item", f"order {ev.order!r} has no item {item!r}")
            wanted[item] = wanted.get(item, 0) + q
            if rec[2] + wanted[item] > rec[0]:
                raise EventError(f"lines.{i}.quantity", f"returns {rec[2] + wanted[item]} of {item!r} but the order "
                                 f"had {rec[0]}")
    elif ev.ret_amount is not None:
        if o.returned + ev.ret_amount > o.gross:
            raise EventError("amount", f"returns more than is left of order {ev.order!r}")
    elif o.returned >= o.gross and o.gross > 0:
        raise EventError("order", f"order {ev.order!r} was already returned in full")


def _return(prog: CompiledProgram, st: MemberState, ev: Ev, ledger, out: list[Effect]) -> None:
    o = st.orders[ev.order] = st.orders[ev.order].copy()  # copy on write: earlier states share the record
    t = ev.time
    if ev.ret_lines is not None:
        r_amount = 0
        for item, q in ev.ret_lines:
            rec = o.lines[item]
            before = half_even(rec[1] * rec[2], rec[0])
            rec[2] += q
            r_amount += half_even(rec[1] * rec[2], rec[0]) - before
    elif ev.ret_amount is not None:
        r_amount = ev.ret_amount
        o.by_amount = True
    else:
        r_amount = o.gross - o.returned
        for rec in o.lines.values():
            rec[2] = rec[0]
    prev = o.returned
    R = prev + r_amount
    o.returned = R
    G = o.gross

    def share(total: int, upto: int) -> int:  # the part of `total` that `upto` of the order's gross amount carries
        return total if G == 0 or upto >= G else half_even(total * upto, G)

    whole = R >= G

    def rule_share(ri: int, total: int) -> int:
        """What a rule's points or punches carry of the return: by the rule's own lines when the
        returns so far name lines, else by the order's amount."""
        items = o.items.get(ri)
        if whole or o.by_amount or items is None:
            return share(total, R)
        g = sum(o.lines[i][1] for i in items)
        back = sum(half_even(o.lines[i][1] * o.lines[i][2], o.lines[i][0]) for i in items)
        return total if back >= g else (half_even(total * back, g) if g else 0)

    # points, per rule that earned them
    n = len(prog.rules)  # in rule order, each rule's multiplier sources after it (the order they were earned in)
    for ri, pts in sorted(o.points.items(), key=lambda kv: (kv[0] % n, kv[0] // n)):
        delta = rule_share(ri, pts) - o.clawed.get(ri, 0)
        if delta > 0:
            o.clawed[ri] = o.clawed.get(ri, 0) + delta
            _claw(prog, st, prog.source(ri), delta, ev, out)
    # punches
    for ri, units in o.punches.items():
        delta = rule_share(ri, units) - o.punches_back.get(ri, 0)
        if delta > 0:
            o.punches_back[ri] = o.punches_back.get(ri, 0) + delta
            st.punches[ri] = max(0, st.punches.get(ri, 0) - delta)
    # spend and tier progress
    paid_back = share(o.paid, R) - share(o.paid, prev)
    if paid_back:
        st.spend -= paid_back
        _add_metric(prog, st, "spend", -1, o.time, -paid_back)
    for ri, counted in o.counted.items():  # a rule's own spend counter: the same share of what it counted
        back = share(counted, R) - share(counted, prev)
        if back:
            st.counts[ri] = st.counts.get(ri, 0) - back
    if whole and prog.rewards_taken_back:
        for ri, name in o.rewards:
            rule = prog.rules[ri]
            st.rewards[name] = st.rewards.get(name, 0) - 1
            rw = prog.rewards[name]
            out.append(Effect("reward_taken_back", t, rule.name, rule.line, rule.column, reward=name, amount=rw.face,
                              cost=rw.cost, order=ev.order, event=ev.id))
        o.rewards = []
    if prog.tiers is not None:
        q = prog.tiers.qualified(metric_value(prog, st, prog.tiers.metric, t))
        if q != st.tier:
            out.append(_tier_effect(prog, st.tier, q, t, "return" if q < st.tier else "upgrade"))
            st.tier = q


def _claw(prog, st, r: Rule, amount: int, ev, out) -> None:
    kind = prog.kinds[r.point_kind]
    ks = st.kinds[r.point_kind]
    t = ev.time
    # points of this order still pending are cancelled first
    from_pending = _spend_oldest(ks, amount, True, order=ev.order, rule=r.index)
    if from_pending:
        out.append(Effect("points_clawed_back", t, r.name, r.line, r.column, point_kind=kind.name, points=from_pending,
                          pending=True, order=ev.order, event=ev.id))
    rest = amount - from_pending
    truncated = 0
    taken = 0
    if rest > 0:
        if kind.policy == "negative":
            taken = _spend_oldest(ks, rest, False)
            ks.debt += rest - taken
            taken = rest
        elif kind.policy == "zero":
            taken = _spend_oldest(ks, rest, False)
            truncated = rest - taken
        else:  # pending only
            taken = _spend_oldest(ks, rest, True)
            truncated = rest - taken
        if taken or truncated:
            out.append(Effect("points_clawed_back", t, r.name, r.line, r.column, point_kind=kind.name, points=taken,
                              pending=kind.policy == "pending_only", truncated=truncated or None, order=ev.order,
                              event=ev.id))
    clawed = from_pending + taken
    ks.clawed += clawed
    if clawed:
        _add_metric(prog, st, "earned", r.point_kind, st.orders[ev.order].time, -clawed)


# ---------------------------------------------------------------- redemptions


def _redeem(prog: CompiledProgram, st: MemberState, ev: Ev, out: list[Effect]) -> None:
    rd = prog.redeem[ev.reward]
    kind = prog.kinds[rd.kind]
    ks = st.kinds[rd.kind]
    t = ev.time
    label = f"redeem for {rd.reward}"
    if ks.available < rd.price:
        out.append(Effect("redemption_refused", t, label, rd.line, rd.column, reward=rd.reward, point_kind=kind.name,
                          points=rd.price, reason=f"the balance is {ks.available} {kind.name}, the price is {rd.price}",
                          event=ev.id))
        return
    _spend_oldest(ks, rd.price, False)
    ks.redeemed += rd.price
    rw = prog.rewards[rd.reward]
    st.rewards[rw.name] = st.rewards.get(rw.name, 0) + 1
    out.append(Effect("points_redeemed", t, label, rd.line, rd.column, point_kind=kind.name, points=rd.price,
                      reward=rd.reward, event=ev.id))
    out.append(Effect("reward_issued", t, label, rd.line, rd.column, reward=rw.name, amount=rw.face, cost=rw.cost,
                      event=ev.id))
