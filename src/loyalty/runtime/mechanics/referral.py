"""Two-sided referral: the referrer and the new member each get their own reward, each a rule of its own, once
the new member makes a qualifying purchase (docs/semantics.md, "Referral").

Triggers (compiled `trigger.type`):
- `referring` (`on referring a friend`): the referrer's side, on her `referral` event, at once;
- `referred` (`on being referred`): the new member's side, on her `referred` event, at once;
- `referred_purchase` (`on being referred and spending at least X within N days`): the new member's side, on
  her first purchase of at least X (the order's amount before the program's discounts) within N days of
  being referred;
- `referring_purchase` (`on referring a friend who spends at least X within N days`): the referrer's side,
  on a `referral_qualified` event naming the rule.

It is a trigger, not an action: the rule's action (fixed points or a reward, an offer when the reward has a
lifetime) is run by its own mechanic's `fire`, and the rule's caps (`at most 5 times per member per year`)
are the abuse limits.

The two sides are two members, and the evaluator sees one member at a time. The new member's state holds
her pending referral (`MemberState.referral`: who referred her, when, the qualified rules still open); her
qualifying purchase fires her own rules and, for each referrer's rule it qualifies, records a
`referral_qualified` effect naming the rule and the referrer (`scope`). A service delivers that to the
referrer as a `referral_qualified` event; the simulation finds the same moments from the history in a pass
before the members replay (`qualifying_times`, used by simulate/referrals.py), with the same `qualifies`."""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.context import Ctx, preds_ok, running
from loyalty.runtime.mechanics.registry import PlanError, ProgramMechanic
from loyalty.runtime.mechanics.tiers import tier_upgrade
from loyalty.runtime.timeutil import add_duration

REFERRING, REFERRED = "referring", "referred"
REFERRING_PURCHASE, REFERRED_PURCHASE = "referring_purchase", "referred_purchase"
TRIGGERS = (REFERRING, REFERRED, REFERRING_PURCHASE, REFERRED_PURCHASE)
QUALIFIED = (REFERRING_PURCHASE, REFERRED_PURCHASE)


class ReferralRules:
    """The program's referral rules by trigger, in source order."""

    __slots__ = ("referring", "referred", "referring_purchase", "referred_purchase", "qualified", "by_name")

    def __init__(self, prog, mechanics):
        rules = [r for r in prog.rules if r.trigger in TRIGGERS]
        for r in rules:
            if not hasattr(mechanics[r.index], "fire"):
                raise PlanError(f"rule {r.name!r}: the {mechanics[r.index].name} mechanic cannot fire on a referral")
        self.referring = tuple(r for r in rules if r.trigger == REFERRING)
        self.referred = tuple(r for r in rules if r.trigger == REFERRED)
        self.referring_purchase = tuple(r for r in rules if r.trigger == REFERRING_PURCHASE)
        self.referred_purchase = tuple(r for r in rules if r.trigger == REFERRED_PURCHASE)
        # the rules a referred member's purchases may qualify, in source order
        self.qualified = tuple(r for r in rules if r.trigger in QUALIFIED)
        self.by_name = {r.name: r for r in self.referring_purchase}

    def __bool__(self) -> bool:
        return bool(self.referring or self.referred or self.qualified)


def window_end(rule, since: _dt.datetime) -> _dt.datetime:
    """The last moment a purchase can qualify the referral made at `since` for the rule."""
    trig = rule.trigger_doc
    return add_duration(since, trig["amount"], trig["unit"])


def qualifies(rule, since: _dt.datetime, t: _dt.datetime, gross: int) -> bool:
    """Whether a purchase at t of `gross` minor units (before discounts) qualifies the referral made at `since`:
    at least the rule's amount, from the referral to the end of its window. The one definition: the evaluator
    and the simulation's pass over the history both ask it."""
    return since <= t <= window_end(rule, since) and gross >= rule.trigger_doc["minor"]


def on_referral(plan, st, ev, ledger, out) -> None:
    """The referrer's `referral` event: `on referring a friend` rules fire at once."""
    t = ev.time
    ctx = Ctx(t, st)
    for r in plan.referrals.referring:
        if preds_ok(r, ctx):
            plan.mechanics[r.index].fire(plan, st, r, ev, ledger, out, None, 1)


def on_referred(plan, st, ev, ledger, out) -> None:
    """The new member's `referred` event (ev.name: who referred her). A member is referred once: a later referral
    changes nothing. Her qualified rules open; `on being referred` rules fire at once."""
    if st.referral is not None or not running(plan.prog, ev.time):
        return
    refs = plan.referrals
    st.referral = (ev.name, ev.time, tuple(r.index for r in refs.qualified))
    ctx = Ctx(ev.time, st)
    for r in refs.referred:
        if preds_ok(r, ctx):
            plan.mechanics[r.index].fire(plan, st, r, ev, ledger, out, None, 1)
    tier_upgrade(plan.prog, st, ev.time, out)


def on_purchase(plan, st, ev, gross: int, ctx, ledger, out, order) -> None:
    """A referred member's purchase (after its rewards; the program runs): each open rule it qualifies is done
    with; her own rule fires when its conditions hold, a referrer's rule is recorded as `referral_qualified`
    for the referrer. Rules whose window has passed close unfired."""
    by, since, open_rules = st.referral
    t = ev.time
    rules = plan.prog.rules
    still = []
    for i in open_rules:
        r = rules[i]
        if t > window_end(r, since):
            continue
        if not qualifies(r, since, t, gross):
            still.append(i)
            continue
        if r.trigger == REFERRED_PURCHASE:
            if preds_ok(r, ctx if ctx is not None else Ctx(t, st)):
                plan.mechanics[i].fire(plan, st, r, ev, ledger, out, order, 1)
        else:
            out.append(Effect("referral_qualified", t, r.name, r.line, r.column, order=ev.order, scope=by,
                              event=ev.id))
    st.referral = (by, since, tuple(still))


def on_qualified(plan, st, ev, ledger, out) -> None:
    """The referrer's `referral_qualified` event (ev.name: the rule): the rule fires when the program runs and its
    conditions hold; its caps are the abuse limits. (An event naming no such rule is refused before: plan.py.)"""
    r = plan.referrals.by_name.get(ev.name)
    if r is None or not running(plan.prog, ev.time):
        return
    if preds_ok(r, Ctx(ev.time, st)):
        plan.mechanics[r.index].fire(plan, st, r, ev, ledger, out, None, 1)
        tier_upgrade(plan.prog, st, ev.time, out)


def qualifying_times(prog, since: _dt.datetime, purchases) -> list[tuple[_dt.datetime, object]]:
    """For a member referred at `since` and her purchases ((time, gross), in time order): (the moment, rule) of
    each referrer's rule her purchases qualify, as `on_purchase` records them (the first qualifying purchase
    within each rule's window, while the program runs)."""
    out = []
    if not running(prog, since):  # a referral while the program does not run opens nothing (`on_referred`)
        return out
    for r in prog.rules:
        if r.trigger != REFERRING_PURCHASE:
            continue
        for t, gross in purchases:
            if t < since or not running(prog, t):
                continue
            if t > window_end(r, since):
                break
            if qualifies(r, since, t, gross):
                out.append((t, r))
                break
    return out


# ---------------------------------------------------------------- vectorised


def vector_fires(kern, r):
    """The vectorised step (for the kernel `kern`, simulate/vector/kernel.py): per event, 1 where referral rule
    r fires, else 0, as the scalar steps fire it. The referral pass's events are the kernel's too
    (simulate/referrals.add_to_rows: `referred` and `referral_qualified` rows, the latter naming its rule in
    `rows.added_rule`), so:
    - `on referring a friend`: the referrer's `referral` events (`on_referral`);
    - `on being referred`: the new member's `referred` event (`on_referred`);
    - `on referring a friend who spends ...`: the referrer's `referral_qualified` events naming the rule; its
      caps, the abuse limits, are the rule's own (`limits.vector_own_cap`, applied by the action's step);
    - `on being referred and spending ...`: the new member's first purchase within the rule's window of her
      `referred` event (while the program runs) that `qualifies`, when the rule's conditions hold there
      (`on_purchase`: the first qualifying purchase closes the rule either way)."""
    import numpy as np

    from loyalty.runtime import arrays
    from loyalty.runtime.arrays import REFERRAL

    ok = kern.e_running & kern._event_ok(r)
    typ = kern.e_type
    if r.trigger == REFERRING:
        return ((typ == REFERRAL) & ok).astype(np.int64)
    if r.trigger == REFERRED:
        return ((typ == arrays.REFERRED) & ok).astype(np.int64)
    if r.trigger == REFERRING_PURCHASE:
        added = getattr(kern.rows, "added_rule", None)  # none without the referral pass's events
        if added is None:
            return np.zeros(kern.nev, dtype=np.int64)
        named = added[kern.sel][kern.e_start] == r.index
        return ((typ == arrays.REFERRAL_QUALIFIED) & named & ok).astype(np.int64)
    return (_first_qualifying(kern, r) & kern._event_ok(r)).astype(np.int64)


def vector_qualified(kern) -> int:
    """How many `referral_qualified` effects the kernel's new members' purchases record (`on_purchase`): per
    referrer's rule, each new member's first purchase that qualifies it."""
    return sum(int(_first_qualifying(kern, r).sum()) for r in kern.prog.rules if r.trigger == REFERRING_PURCHASE)


def _first_qualifying(kern, r):
    """Per event: the member's first purchase that `qualifies` rule r for her referral (its window from her
    `referred` event, while the program runs), as `on_purchase` finds it."""
    import numpy as np

    from loyalty.runtime import arrays
    from loyalty.runtime.arrays import PURCHASE, add_duration, segmented_cumsum

    typ = kern.e_type
    referred = np.flatnonzero((typ == arrays.REFERRED) & kern.e_running)  # a referral while the program runs opens it
    since = np.full(kern.nmem, np.iinfo(np.int64).max, dtype=np.int64)
    since[kern.e_mem[referred]] = kern.e_time[referred]
    end = np.full(kern.nmem, np.iinfo(np.int64).min, dtype=np.int64)
    trig = r.trigger_doc
    end[kern.e_mem[referred]] = add_duration(kern.e_time[referred], trig["amount"], trig["unit"])
    t = kern.e_time
    m = kern.e_mem
    qualifying = (typ == PURCHASE) & kern.e_running & (t >= since[m]) & (t <= end[m]) & (kern.e_total >= trig["minor"])
    return qualifying & (segmented_cumsum(qualifying.astype(np.int64), m, kern.m_evstart) == 1)


class Referral(ProgramMechanic):
    """Two-sided referral on the vectorised kernel: `vector_fires` says where each referral rule fires, and the
    rule's action mechanic (fixed points, give) fires there (`triggers.vector_firings`)."""

    name = "two-sided referral"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        return None
