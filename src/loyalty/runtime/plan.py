"""The plan: a compiled program turned, once, into the ordered steps each kind of event runs.

Every path executes a plan: `program.apply` and the scalar simulation run `Plan(prog)` (specialised),
the reference evaluation (`evaluator.apply_event`, `facade.apply_general`) runs
`Plan(prog, specialise=False)`, and the vectorised kernel's supported set is derived from the same
mechanics (`simulate/vector/support.py`). A mechanic's meaning lives in its module under
`runtime/mechanics/`; this module only orders the steps:

- a purchase: conditions and counting triggers choose the applicable rules; then, in
  `PURCHASE_PHASES` order, the tier's discount and the discount, discount-scale and punch-card steps,
  the amount paid, the earning steps (multipliers read as modifiers), the give steps, the tier's perks
  and draw entries, and last tier progress (docs/semantics.md, "The order of work for a purchase");
- a visit, signup, action or referral: the rules whose mechanic fires on it;
- a return and a redemption: `mechanics/returns.py` and `mechanics/redeem.py`;
- before any event, time passes to its moment (`advance`).

`specialise` chooses, per rule, the faster variant its mechanic offers (e.g. a punch card without
caps); without it every rule runs its general step, the reference the variants are tested against
effect by effect (tests/test_apply_fast_path.py). A rule whose action no mechanic runs, or whose
trigger its mechanic cannot fire on, is a `PlanError` when the plan is built, never a silent no-op.
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.internal import Ev, EventError
from loyalty.runtime.mechanics import MODIFIER, PURCHASE_PHASES, PlanError, mechanic_for
from loyalty.runtime.mechanics.adjustments import adjust, check_adjustment
from loyalty.runtime.mechanics.fees import check_fee, pay_fee
from loyalty.runtime.mechanics.codes import use_codes
from loyalty.runtime.mechanics.context import Ctx, order_has_line, preds_ok, running
from loyalty.runtime.mechanics.draws import enter_draws
from loyalty.runtime.mechanics.enrolment import (MEMBER_EVENTS, ORDER_NOT_COUNTED, join, not_counted,
                                                order_not_counted, skipped)
from loyalty.runtime.mechanics.offers import lapse_offers, next_offer_end, use_offers
from loyalty.runtime.mechanics.metrics import add_metric, add_to, metric_slots, metric_value
from loyalty.runtime.mechanics.points import KindPlan, advance_kind, expire_only, start_inactivity
from loyalty.runtime.mechanics.redeem import check_redemption, redeem
from loyalty.runtime.mechanics.stacking import gift_stacked, stacked
from loyalty.runtime.mechanics.returns import check_return, take_back
from loyalty.runtime.mechanics.tiers import (advance_tiers, perks, start_reviews, tier_discount, tier_upgrade,
                                             upgrade_to)
from loyalty.runtime.mechanics.triggers import can_apply_to_purchase, purchase_trigger_ok, visit_trigger_ok
from loyalty.runtime.mechanics.goals import count_event, goal_rules
from loyalty.runtime.mechanics.moments import fire_tier_reached, fire_timers, moment_rules
from loyalty.runtime.mechanics.referral import (ReferralRules, on_purchase as referral_purchase, on_qualified,
                                                on_referral, on_referred)
from loyalty.runtime.mechanics.winback import start_lapses, winback_rules
from loyalty.runtime.state import _TAIL as _LOGMAP_TAIL, MemberState, OrderRecord
from loyalty.runtime.windows import late_cutoff, prune, return_cutoff, too_late

_tuple_new = tuple.__new__
# triggers of events that carry no purchase: the rules they fire run their mechanic's `fire`
SIMPLE_TRIGGERS = ("signup", "action")
# sets of applicable rules whose phases a plan keeps (a bound for programs with very many conditional rules)
_PHASES_KEPT = 1024


class Phases:
    """The steps of one purchase for one set of applicable rules, by phase, each (function, data) in rule
    order: `reductions` (discounts, discount scales, punch cards: what lowers the amount paid), `earns`,
    `gives`; and the applicable multiplier rules the earning steps read. `stacked`: the reductions under the
    program's stacking policy (mechanics/stacking.py), or None when it decides nothing among these rules;
    `gift_stacked` likewise the gives."""

    __slots__ = ("reductions", "multipliers", "earns", "gives", "stacked", "gift_stacked")

    def __init__(self, plan: "Plan", applicable):
        by_phase: dict = {p: [] for p in PURCHASE_PHASES}
        discounts: dict = {"discount": [], "discount_scale": []}  # (rule, mechanic, step, data), for stacking
        self.multipliers = [r for r in applicable if plan.phase_of[r.index] == MODIFIER]
        gifts: list = []  # (rule, step, data), for stacking
        for r in applicable:
            phase = plan.phase_of[r.index]
            if phase != MODIFIER:
                step = plan.mechanics[r.index].purchase_step(r, plan, plan.specialise, self.multipliers)
                by_phase[phase].append(step)
                if phase in discounts:
                    discounts[phase].append((r, plan.mechanics[r.index], *step))
                elif phase == "give":
                    gifts.append((r, *step))
        self.reductions = tuple(by_phase["discount"] + by_phase["discount_scale"] + by_phase["punch"])
        self.stacked = stacked(plan, discounts["discount"] + discounts["discount_scale"], by_phase["punch"])
        self.earns = tuple(by_phase["earn"])
        self.gives = tuple(by_phase["give"])
        self.gift_stacked = gift_stacked(plan, gifts)


class Plan:
    """What a program's events need, worked out once. Immutable after construction but for the `phases`
    cache, which only grows (shared by threads)."""

    __slots__ = ("prog", "specialise", "runs_from", "runs_to", "kinds", "tiers", "tier_list", "tier_metric",
                 "tier_lifetime", "tier_thresholds", "downgrade", "has_timers", "count_rules", "candidates",
                 "static", "need_ctx", "inactivity", "spend_metrics", "visit_metrics", "draws", "item_costs",
                 "expiry_only", "phases", "mechanics", "phase_of", "visit_steps", "referral_rules",
                 "trigger_rules", "winback", "yearly", "tier_reached", "anniversaries", "bounded", "has_codes", "goals", "referrals")

    def __init__(self, prog, specialise: bool = True):
        self.prog = prog
        self.specialise = specialise
        rules = prog.rules
        # every rule's mechanic: an action none runs is refused here, not ignored at run time
        self.mechanics = tuple(mechanic_for(r) for r in rules)
        self.phase_of = tuple(m.purchase_phase(r) for r, m in zip(rules, self.mechanics))
        self.runs_from = prog.runs_from
        self.runs_to = prog.runs_to
        self.kinds = tuple(KindPlan(prog, k) for k in prog.kinds)
        self.item_costs = prog.item_costs
        tiers = prog.tiers
        self.tiers = tiers
        self.tier_list = tiers.tiers if tiers is not None else ()
        self.tier_metric = tiers.metric if tiers is not None else -1
        self.tier_lifetime = tiers is not None and prog.metrics[tiers.metric].window == "lifetime"
        self.tier_thresholds = tuple((t.threshold, t.index) for t in self.tier_list)
        self.downgrade = bool(tiers and tiers.downgrade_period)
        self.has_timers = prog.has_timers
        # win-back rules: a purchase starts their lapse, time passing fires it (mechanics/winback.py)
        self.winback = winback_rules(prog, self.mechanics)
        # moments without a purchase: yearly ones fire as time passes, tier-reached ones after an upgrade
        self.yearly, self.tier_reached = moment_rules(prog, self.mechanics)
        self.anniversaries = any(r.trigger == "anniversary" for r in self.yearly)
        # the program bounds how late events and returns come (runtime/windows.py): `_apply_bounded`
        self.bounded = prog.late_window is not None or prog.return_window is not None
        # goals and streaks: purchases and visits add to their progress (mechanics/goals.py)
        self.goals = goal_rules(prog, self.mechanics)
        # two-sided referral: each side's rules, fired by referral events and the new member's purchases
        self.referrals = ReferralRules(prog, self.mechanics)
        # the only timers are expiry after earning (no pending points, inactivity, tier reviews): `expire_only`
        self.expiry_only = specialise and not self.downgrade and not self.winback and not self.yearly and not (
            tiers and tiers.paid) and not any(
            rw.is_offer for rw in prog.rewards.values()) and all(
            k.pending is None and k.expiry in (None, "after_earning") for k in prog.kinds)
        self.count_rules = tuple(r for r in rules if r.counted and r.trigger != "every_spend")
        self.candidates = tuple(r for r in rules if can_apply_to_purchase(r))
        for r in self.candidates:
            if self.phase_of[r.index] is None:
                raise PlanError(f"rule {r.name!r}: the {self.mechanics[r.index].name} mechanic does not run on a "
                                f"purchase, but its trigger fires on one")
        # rules that require a code (mechanics/codes.py): they apply only to a purchase that carries and uses it
        self.has_codes = any(r.code is not None for r in rules)
        static = all(r.trigger is None and not r.preds and r.code is None for r in self.candidates)
        self.static = Phases(self, self.candidates) if static else None
        # otherwise the phases of each set of applicable rules met so far: few sets recur (the conditions are
        # of the day, the store, the member's segments ...), so a purchase looks its set up instead of sorting
        # it again. Only ever added to, with values never changed: safe to share between threads
        self.phases: dict = {}
        self.draws = prog.draws
        self.need_ctx = not specialise or not static or bool(self.count_rules) or bool(self.draws) or bool(self.goals) \
            or any(r.preds for r in self.referrals.referred_purchase)  # conditions on the new member's qualifying purchase
        self.inactivity = tuple(k for k in prog.kinds if k.expiry == "inactivity")
        self.spend_metrics = metric_slots(prog, "spend", -1)
        self.visit_metrics = metric_slots(prog, "visits", -1)
        # (a rule that requires a code fires only on a purchase: no other event carries codes)
        self.visit_steps = tuple((r, m.visit_step(r)) for r, m in zip(rules, self.mechanics)
                                 if m.fires_on_visit(r) and r.code is None)
        self.referral_rules = tuple(r for r, m in zip(rules, self.mechanics) if m.fires_on_referral(r) and r.code is None)
        self.trigger_rules = {}
        for trigger in SIMPLE_TRIGGERS:
            fired = tuple(r for r in prog.by_trigger.get(trigger, ()) if r.code is None)
            for r in fired:
                if not hasattr(self.mechanics[r.index], "fire"):
                    raise PlanError(f"rule {r.name!r}: the {self.mechanics[r.index].name} mechanic cannot fire "
                                    f"on {trigger}")
            self.trigger_rules[trigger] = fired

    # ---------------------------------------------------------------- one event

    def apply_event(self, st: MemberState, ev: Ev, ledger, out: list) -> None:
        """Apply one event to the mutable state `st`, appending effects to `out`. Raises `EventError` before
        changing anything when the event is refused (a return of an unknown order, ...)."""
        if self.bounded:
            self._apply_bounded(st, ev, ledger, out)
            return
        eid = ev.id
        t = ev.time
        typ = ev.type
        if eid is not None:  # state.log_get, written out
            if eid in st.seen_tail:
                out.append(Effect("duplicate_ignored", t, event=eid))
                return
            if st.seen_levels:  # (an empty loop is skipped, not iterated: here and below)
                for level in st.seen_levels:
                    if eid in level:
                        out.append(Effect("duplicate_ignored", t, event=eid))
                        return
        prog = self.prog
        if prog.enrolment is not None and self._not_counted(st, ev, out):
            return
        if typ == "return":  # refused before anything changes
            check_return(st, ev)
        elif typ == "purchase":
            # a new event (its id is new) with an order id the member already bought under: refused, so an order
            # is never overwritten (docs/semantics.md, "Identity and duplicates")
            oid = ev.order
            known = oid in st.orders_tail  # state.log_get, written out
            if not known and st.orders_levels:
                for level in st.orders_levels:
                    if oid in level:
                        known = True
                        break
            if known:
                raise EventError("order", f"member {st.member_id!r} already has a purchase with order id {ev.order!r}; "
                                      f"a new purchase needs a new order id")
        elif typ == "redemption":
            check_redemption(prog, ev)
        elif typ == "adjustment":
            check_adjustment(prog, ev)
        elif typ == "fee":
            check_fee(prog, ev)
        elif typ == "referral_qualified" and ev.name not in self.referrals.by_name:
            raise EventError("rule", f"{ev.name!r} is not a referral rule with a qualifying purchase of the program")
        self._run(st, ev, ledger, out, True)

    def _not_counted(self, st, ev, out: list) -> bool:
        """Under `members join at signup` (mechanics/enrolment.py): a signup makes her a member; an event she does
        not make as a member, or a return of an order she does not have, gives `not_counted` and nothing else."""
        typ = ev.type
        if typ == "signup":
            join(st, ev.time)
            return False
        if typ in MEMBER_EVENTS:
            why = not_counted(self.prog, st, ev.time)
        elif typ == "return" and st.order(ev.order) is None and order_not_counted(
                self.prog, st, ev.time if st.clock is None or ev.time > st.clock else st.clock):
            why = ORDER_NOT_COUNTED
        else:
            return False
        if why is None:
            return False
        out.append(skipped(ev, why))
        return True

    def _run(self, st: MemberState, ev: Ev, ledger, out: list, seen_value) -> None:
        """`apply_event` once the event is accepted: time passes, the id is remembered (as `seen_value`), the
        event does what it does."""
        prog = self.prog
        eid = ev.id
        t = ev.time
        typ = ev.type
        if self.downgrade and st.tier >= 0 and st.next_review is None:
            start_reviews(prog, st, t)
        start = len(out)  # this event's effects, from here (for `on reaching tier`)
        clock = st.clock
        if clock is None or t > clock:
            if self.has_timers and (st.due is None or t >= st.due or self.yearly):
                if (self.winback and st.lapses) or self.yearly:  # in time order among the other timers
                    fire_timers(self, st, t, ledger, out, advance)
                if not (self.expiry_only and expire_only(self.kinds, st, t, out)):
                    advance(prog, st, t, out)
            st.clock = t
            start = len(out)  # tiers reached at the timers' moments fired their rules there (fire_timers)
        if eid is not None:
            tail = st.seen_tail  # MemberState.put_seen, written out: into the tail until it is full
            tail[eid] = seen_value
            if len(tail) >= _LOGMAP_TAIL:
                st.put_seen(eid, seen_value)  # freezes the tail into the levels
        if typ == "signup" and self.anniversaries and st.joined is None:
            st.joined = t.date()  # the day anniversaries count from, unless a signup_date attribute says
        if typ == "purchase":
            self._purchase(st, ev, ledger, out)
        elif typ == "return":
            take_back(prog, st, ev, ledger, out)
        elif typ == "redemption":
            redeem(prog, st, ev, out)
        elif typ == "visit":
            self._visit(st, ev, ledger, out)
        elif typ == "signup":
            self._simple_trigger(st, ev, ledger, out, "signup", None)
        elif typ == "action":
            self._simple_trigger(st, ev, ledger, out, "action", ev.name)
        elif typ == "referral":
            self._referral(st, ev, ledger, out)
        elif typ == "adjustment":
            adjust(prog, st, ev, out)
        elif typ == "fee":
            pay_fee(prog, st, ev, out)
        elif typ == "referred":
            on_referred(self, st, ev, ledger, out)
        elif typ == "referral_qualified":
            on_qualified(self, st, ev, ledger, out)
        # "tick": time has passed; nothing else to do
        if self.tier_reached and len(out) > start:
            fire_tier_reached(self, st, out, start, ledger)

    def _apply_bounded(self, st, ev, ledger, out: list) -> None:
        """`apply_event` under acceptance windows (runtime/windows.py): what is forgotten is decided by moments,
        so a state saved and loaded between events gives the same results as one kept in memory."""
        prog = self.prog
        why = too_late(prog, st, ev)
        if why is not None:
            raise EventError("time", why)
        t = ev.time
        clock = st.clock
        now = t if clock is None or t > clock else clock
        eid = ev.id
        if eid is not None:
            when = st.seen_get(eid)
            if when is not None and (prog.late_window is None or when >= late_cutoff(prog, now)):
                out.append(Effect("duplicate_ignored", t, event=eid))
                return
        typ = ev.type
        if prog.enrolment is not None and self._not_counted(st, ev, out):
            return
        if typ == "return":
            check_return(st, ev, return_cutoff(prog, now), prog)
        elif typ == "purchase":
            o = st.order(ev.order)
            cutoff = return_cutoff(prog, now)
            if o is not None and (cutoff is None or o.time >= cutoff):
                raise EventError("order", f"member {st.member_id!r} already has a purchase with order id {ev.order!r}; "
                                          f"a new purchase needs a new order id")
        elif typ == "redemption":
            check_redemption(prog, ev)
        elif typ == "adjustment":
            check_adjustment(prog, ev)
        elif typ == "fee":
            check_fee(prog, ev)
        elif typ == "referral_qualified" and ev.name not in self.referrals.by_name:
            raise EventError("rule", f"{ev.name!r} is not a referral rule with a qualifying purchase of the program")
        self._run(st, ev, ledger, out, t if prog.late_window is not None else True)
        if eid is not None and not st.seen_tail:  # every 32 ids, when the tail of ids has just been frozen
            prune(prog, st)

    # ---------------------------------------------------------------- events without a purchase

    def _visit(self, st, ev, ledger, out) -> None:
        prog = self.prog
        t = ev.time
        if not running(prog, t):
            return
        st.visits += 1
        add_metric(prog, st, "visits", -1, t, 1)
        ctx = Ctx(t, st, store=ev.store)
        tier = self.tier_list[st.tier] if self.tiers is not None and st.tier >= 0 else None
        for r, step in self.visit_steps:
            if r.counted:  # counts the visits its conditions select; a visit has no lines to match
                if r.filters or not preds_ok(r, ctx):
                    continue
                st.add_count(r.index, 1)
            if visit_trigger_ok(r, st) and preds_ok(r, ctx):
                step(self, st, r, ev, ledger, out, tier, ctx)
        if self.goals:
            count_event(self, st, ev, ctx, 0, False, ledger, out)
        tier_upgrade(prog, st, t, out)

    def _simple_trigger(self, st, ev, ledger, out, trigger: str, name) -> None:
        if not running(self.prog, ev.time):
            return
        ctx = Ctx(ev.time, st)
        for r in self.trigger_rules[trigger]:
            if (name is None or r.trigger_name == name) and preds_ok(r, ctx):
                self.mechanics[r.index].fire(self, st, r, ev, ledger, out, None, 1)
        tier_upgrade(self.prog, st, ev.time, out)

    def _referral(self, st, ev, ledger, out) -> None:
        if not running(self.prog, ev.time):
            return
        ctx = Ctx(ev.time, st)
        for r in self.referral_rules:
            if preds_ok(r, ctx):
                self.mechanics[r.index].fire(self, st, r, ev, ledger, out, None, 1)
        if self.referrals.referring:
            on_referral(self, st, ev, ledger, out)
        tier_upgrade(self.prog, st, ev.time, out)

    # ---------------------------------------------------------------- a purchase

    def _purchase(self, st: MemberState, ev: Ev, ledger, out: list) -> None:
        t = ev.time
        if (self.runs_from is not None and t < self.runs_from) or (self.runs_to is not None and t >= self.runs_to):
            return
        first = st.purchases == 0
        if st.offers:  # offers with a lifetime still held are used on this purchase (mechanics/offers.py)
            use_offers(self.prog, st, t, ev.order, ev.id, out)
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
            ctx = Ctx(t, st, ev.store, ev.channel, ev.lines, gross, sum(ln[2] for ln in lines), first, st.spend)
        else:
            ctx = None
        order = OrderRecord(t, gross, 0, olines)
        tier = self.tier_list[st.tier] if st.tier >= 0 and self.tiers is not None else None
        # rules whose counting trigger counts only what their conditions and item filters select
        if self.count_rules:
            for r in self.count_rules:
                if preds_ok(r, ctx) and order_has_line(r, lines):
                    st.add_count(r.index, 1)
        ph = self.static
        if ph is None or ev.codes:
            applicable = tuple(r for r in self.candidates if (r.trigger is None or purchase_trigger_ok(r, ctx))
                               and (not r.preds or preds_ok(r, ctx)))
            if ev.codes or self.has_codes:
                applicable = use_codes(self.prog, st, ev, applicable, ledger, out)
            ph = self.phases.get(applicable)
            if ph is None:
                ph = Phases(self, applicable)
                if len(self.phases) < _PHASES_KEPT:
                    self.phases[applicable] = ph
        mults = ph.multipliers
        # (2) what lowers the amount paid: the tier's discount, discounts, the discount scale, punch cards
        if tier is not None and tier.discount is not None:
            tier_discount(tier, lines, t, ev.order, ev.id, out)
        if ph.stacked is not None:  # some discounts contest the order (mechanics/stacking.py)
            ph.stacked.run(self, st, lines, ev, ledger, out, order, tier, mults)
        else:
            for step, data in ph.reductions:
                step(self, st, data, lines, ev, ledger, out, order, tier, mults)
        paid = 0
        for ln in lines:
            paid += ln[4]
        order.paid = paid
        st.spend += paid
        tail = st.orders_tail  # MemberState.put_order, written out
        tail[ev.order] = order
        if len(tail) >= _LOGMAP_TAIL:
            st.put_order(ev.order, order)
        if self.inactivity:
            start_inactivity(self.inactivity, st, t)
        if self.winback:
            start_lapses(self.winback, st, t)
        # (3) points on the amount paid, times multipliers
        for step, data in ph.earns:
            step(self, st, data, lines, ev, ledger, out, order, tier, mults)
        # (4) rewards, tier perks, draw entries
        if ph.gift_stacked is not None:  # some gifts contest the order (mechanics/stacking.py)
            ph.gift_stacked.run(self, st, lines, ev, ledger, out, order, tier, mults)
        elif ph.gives:
            for step, data in ph.gives:
                step(self, st, data, lines, ev, ledger, out, order, tier, mults)
        if tier is not None and tier.perks:
            perks(tier, t, ev.order, ev.id, out)
        if self.draws:
            enter_draws(self.draws, lines, ctx, t, ev.order, ev.id, out)
        if self.goals:  # the goals this purchase reaches fire after its own rewards
            count_event(self, st, ev, ctx, paid, True, ledger, out)
        if st.referral is not None and st.referral[2]:  # a referred member's purchase may qualify her referral
            referral_purchase(self, st, ev, gross, ctx, ledger, out, order)
        # (5) tier progress; the new tier applies from the next event
        if self.spend_metrics:
            add_to(st, self.spend_metrics, t, paid)
        if self.visit_metrics:
            add_to(st, self.visit_metrics, t, 1)
        if self.tiers is not None:
            if self.tier_lifetime:
                log = st.metrics[self.tier_metric]
                value = log[1] if log is not None else 0
            else:
                value = metric_value(self.prog, st, self.tier_metric, t)
            q = -1
            for threshold, index in self.tier_thresholds:
                if value >= threshold:
                    q = index
            if q > st.tier or st.grace_until is not None:
                upgrade_to(self.prog, st, q, t, out)


# ---------------------------------------------------------------- time passing


def advance(prog, st, T: _dt.datetime, out: list) -> None:
    """Everything due up to and including T: pending points mature, batches expire, tier reviews."""
    if not prog.has_timers or (st.clock is not None and T <= st.clock):
        return
    if st.due is not None and T < st.due:
        return
    timed: list[tuple] = []  # (time, order, seq, effect)
    for kind in prog.kinds:
        ks = st.kinds[kind.index]
        if not ks.has_batches() and ks.inactivity_deadline is None and not ks.maturing and not ks.has_expiry():
            continue
        advance_kind(kind, ks, T, timed)
    if prog.tiers and (prog.tiers.downgrade_period or st.paid is not None):
        advance_tiers(prog, st, T, timed)
    if st.offers:
        lapse_offers(prog, st, T, timed)
    if timed:
        timed.sort(key=lambda e: (e[0], e[1], e[2]))
        out.extend(e[3] for e in timed)
    st.due = next_due(st)


def next_due(st) -> Optional[_dt.datetime]:
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
    if st.paid is not None and st.paid[1] < best:
        best = st.paid[1]
    if st.lapses:
        for t in st.lapses.values():
            if t < best:
                best = t
    if st.offers:
        t = next_offer_end(st)
        if t is not None and t < best:
            best = t
    return best


def plan_of(prog, specialise: bool = True) -> Plan:
    """The program's plan, built on first use and kept on the program (both are immutable)."""
    cache = prog.plans
    got = cache.get(specialise)
    if got is None:
        got = cache[specialise] = Plan(prog, specialise)
    return got


__all__ = ["Plan", "PlanError", "Phases", "advance", "next_due", "plan_of"]
