"""Paid tiers: `fee 299 NOK per year` in a tier's block. A `fee` event (a history row of type `fee`) is the
member paying it: she holds the tier (or the higher one she already has) for one period from the payment, and
no review, grace end or return takes her below it before the period ends. Paying again for the same tier
while it is paid extends the period from its end (paid ahead); paying for another paid tier replaces the
period before (from the payment).

When a period ends without a renewal, the member holding the paid tier (or a lower one) drops to the tier she
would hold without the fee: the higher of the tier her metric qualifies for at that moment and the tier she
held by her own qualifying when she paid, or (in a program with reviews) the tier the last review during the
paid period found her metric qualifies for (`earned`, kept in the state). No grace period: the fee was the
deal. The fee is revenue, not a cost of the program
(the simulation reports it apart, with each tier's net cost: docs/simulate.md, "Paid tiers").

A fee event naming a tier the program lacks, or one without a fee, is refused before anything changes
(`EventError` on `tier`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.internal import EventError
from loyalty.runtime.mechanics.context import due
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.timeutil import add_duration


def fee_tier(prog, name):
    """The paid tier a fee event names; EventError naming what is wrong."""
    tiers = prog.tiers
    if tiers is None:
        raise EventError("tier", "the program has no tiers, so no fee can be paid")
    paid = [t.name for t in tiers.tiers if t.fee is not None]
    i = tiers.names.get(name) if name is not None else None
    if i is None:
        raise EventError("tier", f"{name!r} is not a tier of the program; paid tiers: "
                         + (", ".join(paid) or "none"))
    if tiers.tiers[i].fee is None:
        raise EventError("tier", f"tier {name!r} has no fee; paid tiers: " + (", ".join(paid) or "none"))
    return tiers.tiers[i]


def check_fee(prog, ev) -> None:
    """Refuse (before anything changes) a fee the program cannot take."""
    fee_tier(prog, ev.name)


def period_end(start, period: str):
    """The end of one paid period from `start` (calendar months and years; a quarter is 3 months)."""
    if period == "quarter":
        return add_duration(start, 3, "month")
    return add_duration(start, 1, period)


def paid_floor(st, t) -> int:
    """The tier a paid period holds the member at at moment t (-1: none): nothing takes her below it."""
    p = st.paid
    return p[0] if p is not None and t < p[1] else -1


def pay_fee(prog, st, ev, out: list) -> None:
    """A fee `check_fee` accepted: the paid period (extended when the same tier is paid ahead), the tier."""
    from loyalty.runtime.mechanics.tiers import start_reviews, tier_effect

    tier = fee_tier(prog, ev.name)
    t = ev.time
    amount, period = tier.fee
    p = st.paid
    start = p[1] if p is not None and p[0] == tier.index and p[1] > t else t
    until = period_end(start, period)
    # the tier she holds by her own qualifying: while a period is paid, st.tier is the paid one's
    earned = p[2] if p is not None and p[1] > t else st.tier
    st.paid = (tier.index, until, earned)
    due(st, until)
    out.append(Effect("fee_paid", t, tier.name, tier.line, tier.column, amount=amount, tier_to=tier.name,
                      event=ev.id))
    if tier.index > st.tier:
        out.append(tier_effect(prog, st.tier, tier.index, t, "fee"))
        st.tier = tier.index
        if prog.tiers.downgrade_period and st.next_review is None:
            start_reviews(prog, st, t)
    if st.grace_until is not None and tier.index >= st.tier:
        st.grace_until = None  # paid during a grace period: she keeps the tier


def reviewed(st, target: int) -> None:
    """A review during a paid period found her metric qualifies for `target`: what she holds by her own
    qualifying from now on (the review's floor is the fee's business)."""
    index, until, _earned = st.paid
    st.paid = (index, until, target)


def fee_end(prog, st, qualified: int, timed: list, seq: int) -> None:
    """The paid period ends unrenewed (at st.paid[1]): a member holding the paid tier or a lower one drops to the
    tier she holds by her own qualifying (`qualified`, what her metric meets then, or the tier she earned) where
    that is lower. Into `timed`."""
    from loyalty.runtime.mechanics.tiers import tier_effect

    index, end, earned = st.paid
    st.paid = None
    new = max(qualified, earned)
    if st.tier <= index and new < st.tier:
        timed.append((end, 2, seq, tier_effect(prog, st.tier, new, end, "fee not renewed")))
        st.tier = new


def has_fees(prog) -> bool:
    return prog.tiers is not None and any(t.fee is not None for t in prog.tiers.tiers)


class Fees(ProgramMechanic):
    """Fees run on the scalar plan: the kernel sends a member with a fee row there (counted in kernel.ROUTED)."""

    name = "fees"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        return None
