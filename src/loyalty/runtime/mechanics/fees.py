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
(`EventError` on `tier`).

The simulation's vectorised kernel runs the same steps over arrays (`VectorFees`, below, called by the tiers'
vectorised step `tiers.VectorTiers`)."""

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
    """Fees run on the kernel too: `VectorFees`, a part of the tiers' vectorised step (tiers.VectorTiers)."""

    name = "fees"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        return None


# ---------------------------------------------------------------- the vectorised step (simulate/vector/kernel.py)

NEVER_US = (1 << 63) - 1  # no paid period (int64 max as a µs moment: never ends)


def vector_period_end(start, period: str):
    """`period_end` over int64 µs moments."""
    from loyalty.runtime.arrays import add_duration

    return add_duration(start, 3, "month") if period == "quarter" else add_duration(start, 1, period)


class VectorFees:
    """The paid periods of every member in the kernel's lockstep, run by the tiers' vectorised step
    (tiers.VectorTiers) where the scalar `advance_tiers`, `tier_after_return` and the plan call the steps above:
    `pay` is `pay_fee`, `floor` is `paid_floor`, `end` is `fee_end` (a period's end is one of the tier step's
    timer moments, beside reviews and grace ends), `reviewed` is `reviewed`. Per member, `st.paid` as three
    arrays: `index` (-1: no period), `until` (NEVER_US: none) and `earned`."""

    def __init__(self, kern):
        import numpy as np

        from loyalty.runtime.arrays import FEE

        nmem = kern.nmem
        self.kern = kern
        self.index = np.full(nmem, -1, dtype=np.int64)
        self.until = np.full(nmem, NEVER_US, dtype=np.int64)
        self.earned = np.full(nmem, -1, dtype=np.int64)
        # the fee events that pay: accepted (a fee row names a paid tier: history.fee_problem) and counted (a
        # customer the scenario's enrolment leaves out pays nothing; a fee is not a member event otherwise)
        self.paying = kern.e_valid & kern.e_counted & (kern.e_type == FEE)
        self.periods = {t.index: t.fee[1] for t in kern.prog.tiers.tiers if t.fee is not None}

    def floor(self, m, t):
        """paid_floor: the paid tier of members `m` at moments `t` (-1: none)."""
        import numpy as np

        return np.where(self.until[m] > t, self.index[m], -1)

    def reviewed(self, m, target) -> None:
        """A review of members `m` (holding a tier) found `target`: what a paid period's end falls back to."""
        import numpy as np

        self.earned[m] = np.where(self.index[m] >= 0, target, self.earned[m])

    def pay(self, mm, idx, t_before):
        """pay_fee for members `mm` at their fee events `idx` (holding `t_before`, every earlier period that
        ended by then ended): the period, paid ahead when the same tier's is running. The tier after it."""
        import numpy as np

        k = self.kern
        ti = k.e_fee_tier[idx]
        t = k.e_time[idx]
        cur = self.index[mm]
        running = (cur >= 0) & (self.until[mm] > t)
        start = np.where(running & (cur == ti), self.until[mm], t)
        until = np.empty_like(start)
        for tier, period in self.periods.items():
            mine = ti == tier
            if mine.any():
                until[mine] = vector_period_end(start[mine], period)
        self.earned[mm] = np.where(running, self.earned[mm], t_before)
        self.index[mm] = ti
        self.until[mm] = until
        return np.maximum(t_before, ti)

    def end(self, m, qualified, tier):
        """fee_end for members `m` whose period ends now (their metric qualifying for `qualified`, holding
        `tier`): the tier they drop to (where lower), the period gone."""
        import numpy as np

        index, earned = self.index[m], self.earned[m]
        self.index[m] = -1
        self.until[m] = NEVER_US
        return np.where(tier <= index, np.maximum(qualified, earned), tier)

    def paid(self) -> list:
        """Per paid tier that was paid: (the tier, the events paying it), for the report's fee cells (the
        fee_paid effects)."""
        k = self.kern
        out = []
        for tier in k.prog.tiers.tiers:
            if tier.fee is not None:
                mine = self.paying & (k.e_fee_tier == tier.index)
                if mine.any():
                    out.append((tier, mine))
        return out
