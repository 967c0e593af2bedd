"""Tiers: qualifying (upgrade at once), reviews with downgrade and grace, and a tier's benefits on a
purchase (its discount and perks; its multipliers are a source of the earning mechanic's staged points)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.formulas import half_even
from loyalty.runtime.mechanics.context import due
from loyalty.runtime.mechanics.metrics import metric_value
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.timeutil import add_duration, next_period_start


def tier_effect(prog, old: int, new: int, t, reason: str) -> Effect:
    tiers = prog.tiers.tiers
    decl = tiers[new] if new >= 0 else tiers[old]
    return Effect("tier_changed", t, decl.name, decl.line, decl.column, tier_from=tiers[old].name if old >= 0 else None,
                  tier_to=tiers[new].name if new >= 0 else None, reason=reason)


def start_reviews(prog, st, t) -> None:
    """A member holding a tier gets their first review at the end of the period that contains t."""
    st.next_review = next_period_start(t, prog.tiers.downgrade_period)
    due(st, st.next_review)


def tier_upgrade(prog, st, t, out) -> None:
    """The general step after an event: the tier the metric qualifies for, if higher, from now on."""
    tiers = prog.tiers
    if tiers is None:
        return
    upgrade_to(prog, st, tiers.qualified(metric_value(prog, st, tiers.metric, t)), t, out)


def upgrade_to(prog, st, q: int, t, out) -> None:
    """Tier `q` qualifies now: an upgrade if it is higher; qualifying again ends a grace period."""
    if q > st.tier:
        out.append(tier_effect(prog, st.tier, q, t, "upgrade"))
        st.tier = q
        if prog.tiers.downgrade_period and st.next_review is None:
            start_reviews(prog, st, t)
    if st.grace_until is not None and q >= st.tier:
        st.grace_until = None  # qualified again during the grace period


def tier_after_return(prog, st, t, out) -> None:
    """A return can lower the metric: the tier follows it either way at once."""
    q = prog.tiers.qualified(metric_value(prog, st, prog.tiers.metric, t))
    if q != st.tier:
        out.append(tier_effect(prog, st.tier, q, t, "return" if q < st.tier else "upgrade"))
        st.tier = q


def advance_tiers(prog, st, T, timed) -> None:
    """Reviews and grace periods that end up to T, into `timed` as (time, 2, seq, effect)."""
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
                timed.append((ng, 2, seq, tier_effect(prog, st.tier, new, ng, "grace ended")))
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
                timed.append((E, 2, seq, tier_effect(prog, st.tier, target, E, "review")))
                st.tier = target
        seq += 1


def tier_discount(tier, lines: list, t, order, event, out: list) -> None:
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


def perks(tier, t, order, event, out: list) -> None:
    """A purchase's tier perks: rewards at no charge."""
    for name, cost in tier.perks:
        out.append(Effect("reward_issued", t, tier.name, tier.line, tier.column, reward=name, amount=0, cost=cost,
                          order=order, reason="tier perk", event=event))


class Tiers(ProgramMechanic):
    name = "tiers"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        t = program.tiers
        if t is None:
            return None
        if t.downgrade_period:
            return "tier downgrades (reviews and grace) are not vectorised yet"
        m = program.metrics[t.metric]
        if m.window != "lifetime":
            return f"a tier metric over a {m.window} window is not vectorised yet"
        for tier in t.tiers:
            if tier.discount is not None or tier.perks:
                return f"tier {tier.name!r} has a discount or perks: not vectorised yet"
        return None
