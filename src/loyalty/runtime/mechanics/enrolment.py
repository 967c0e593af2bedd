"""Enrolment: under `members join at signup` a customer is a member from her signup, and only what she does
as a member counts (docs/semantics.md, "Enrolment"). Without the clause everyone is a member from her first
event, as before.

Her signup is her `signup_date` attribute (the start of that day, on the program's clock), else the moment of
her first `signup` event (`MemberState.enrolled`). An event counts when it comes at or after her signup less
the program's pre-signup window (`purchases up to 30 days before signup count`; none: 0 days). One that does
not count changes nothing, not even her clock, and its id is not remembered: a till that sends a customer's
recent receipts again once she has joined gets those inside the window counted. A return of an order she does
not have (bought before she joined) is accepted and changes nothing.

`counts` is the one decision; the plan (`runtime/plan.py`) asks it before an event does anything, the
simulator knows each member's signup from her history (`simulate/engine.py`), and the vectorised kernel
masks the events that do not count (`VectorEnrolment`, beside the scalar step: the same moment, the same
counts). The scalar plan's uncounted event does not advance her clock; the kernel's masked one still is a
moment of her timeline, which matters only where time passing does something (expiry, pending points, tier
reviews, birthdays, anniversaries, offers): the kernel declines those programs under enrolment.
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.moments import _as_date
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.timeutil import sub_duration

# the events that count only for a member: what earns, or counts toward a trigger, a goal or a tier. A signup is
# how she joins; a redemption spends what she holds (nothing, before); an adjustment is the operator's own act
MEMBER_EVENTS = frozenset(("purchase", "visit", "action", "referral", "referred", "referral_qualified"))

NOT_A_MEMBER = "not a member"  # the effect's reason: no signup known yet, or the event is before the window
BEFORE_SIGNUP = "before signup"
ORDER_NOT_COUNTED = "order not counted"  # a return of an order she does not have


def member_from(st) -> Optional[_dt.datetime]:
    """When she became a member: her `signup_date` attribute's day, else her first signup event; None: not yet."""
    day = _as_date(st.attributes.get("signup_date"))
    if day is not None:
        return _dt.datetime(day.year, day.month, day.day)
    return st.enrolled


def counts_from(prog, st) -> Optional[_dt.datetime]:
    """The first moment from which her events count: her signup less the pre-signup window; None: none counts."""
    joined = member_from(st)
    if joined is None:
        return None
    amount, unit = prog.enrolment
    return sub_duration(joined, amount, unit) if amount else joined


def not_counted(prog, st, t: _dt.datetime) -> Optional[str]:
    """Why an event at `t` does not count for her (None: it counts). Only under `members join at signup`."""
    start = counts_from(prog, st)
    if start is None:
        return NOT_A_MEMBER
    return BEFORE_SIGNUP if t < start else None


def order_not_counted(prog, st, now: _dt.datetime) -> bool:
    """Whether a return of an order she does not have (bought before she counted, or never) is not counted. Under
    a returns window only while the window reaches back to when her events began to count: past that, an order
    that counted may have been let go (windows.prune), and such a return is refused as outside the window, by
    `check_return`, whatever memory still holds (so results never depend on when memory was released)."""
    if prog.return_window is None:
        return True
    from loyalty.runtime.windows import return_cutoff

    start, cutoff = counts_from(prog, st), return_cutoff(prog, now)
    return start is None or cutoff is None or start >= cutoff


def join(st, t: _dt.datetime) -> None:
    """A signup event: she is a member from her first one (a later signup changes nothing)."""
    if st.enrolled is None:
        st.enrolled = t


def skipped(ev, reason: str) -> Effect:
    """The effect of an event that does not count: nothing else happens."""
    return Effect("not_counted", ev.time, order=getattr(ev, "order", None), reason=reason, event=ev.id)


def _enrols_by_scenario(sim_plan) -> bool:
    scenario = getattr(sim_plan, "scenario", None)
    return scenario is not None and (scenario.enrolment_share is not None or scenario.enrolment_column is not None)


class Enrolment(ProgramMechanic):
    """The kernel runs enrolment (`VectorEnrolment`) in every program: an event that does not count is, on its
    timeline, at the member's clock (`VectorEnrolment.clock_times`), so time passing does nothing there."""

    name = "enrolment"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        return None


# ---------------------------------------------------------------------------------------------- the kernel's step

_NEVER_US = (1 << 63) - 1  # counts from: never


class VectorEnrolment:
    """The vectorised step (simulate/vector/kernel.py), made only when the program has the clause or the
    scenario an enrolment: per member whether she never joins and the moment (µs) her events count from, as
    `counts_from` and the simulator's `_enrolment` (simulate/engine.py) give them."""

    def __init__(self, kern):
        import numpy as np

        from loyalty.runtime.arrays import SIGNUP, add_duration
        from loyalty.simulate.scenario import enrols_by_assumption, member_joins

        prog, plan = kern.prog, kern.plan
        self.clause = prog.enrolment is not None
        nmem = kern.nmem
        by_assumption = enrols_by_assumption(plan.scenario)
        if by_assumption:
            attrs = kern.member_attributes
            self.never = ~np.array([member_joins(plan.scenario, name, dict(a.others) if a is not None else None)
                                    for name, a in zip(kern.member_names, attrs)], dtype=bool).reshape(nmem)
            enrolled = kern.e_time[kern.m_evstart].copy()  # a member chosen joins at her first event
        else:
            self.never = np.zeros(nmem, dtype=bool)
            enrolled = np.full(nmem, _NEVER_US, dtype=np.int64)  # her first signup row
            sig = np.flatnonzero(kern.e_type == SIGNUP)
            if len(sig):
                mem = kern.e_mem[sig]
                first = np.concatenate(([True], mem[1:] != mem[:-1]))
                enrolled[mem[first]] = kern.e_time[sig[first]]
        joined = enrolled
        if self.clause:  # her signup_date attribute wins (member_from)
            joined = enrolled.copy()
            for m, a in enumerate(kern.member_attributes):
                if a is not None and a.signup_date is not None:
                    day = a.signup_date
                    joined[m] = (_dt.datetime(day.year, day.month, day.day) - _dt.datetime(1970, 1, 1)) \
                        // _dt.timedelta(microseconds=1)
        known = joined != _NEVER_US
        self.members = int((known & ~self.never).sum())  # `enrolled_members`; the others are `non_members`
        self.counts_from = np.full(nmem, _NEVER_US, dtype=np.int64)
        if not self.clause:  # under the scenario alone a member chosen counts from her first event
            self.counts_from[:] = np.iinfo(np.int64).min
        else:
            amount, unit = prog.enrolment
            self.counts_from[known] = add_duration(joined[known], -amount, unit) if amount else joined[known]
        self.counts_from[self.never] = _NEVER_US

    def counted(self, kern):
        """Per event, whether it counts: a member event at or after her moment; any event of a customer who
        never joins does not (the scalar replay leaves her out)."""
        from loyalty.runtime.arrays import CUSTOM, PURCHASE, REFERRAL, REFERRAL_QUALIFIED, REFERRED, VISIT, is_one_of

        # MEMBER_EVENTS as the kernel's codes: the referral pass's `referred` and `referral_qualified` too
        member_event = is_one_of(kern.e_type, [PURCHASE, VISIT, CUSTOM, REFERRAL, REFERRED, REFERRAL_QUALIFIED])
        ok = ~member_event | (kern.e_time >= self.counts_from[kern.e_mem])
        return ok & ~self.never[kern.e_mem]

    def accept_never_joined(self, kern) -> None:
        """A customer who never joins has nothing refused: the scalar replay counts every event of hers."""
        import numpy as np

        out = np.flatnonzero(self.never[kern.e_mem] & ~kern.e_valid)
        kern.e_valid[out] = True
        for ev in out.tolist():
            kern.e_reason.pop(ev, None)

    def unknown_order_not_counted(self, kern, rets, found):
        """Per return, whether it is of an order she does not have and so not counted (`returns`) before the
        returns window weighs it (the plan asks `not_counted` before `check_return`)."""
        from loyalty.runtime.mechanics.returns import vector_outside_window

        gone = found < 0
        if self.clause and kern.prog.return_window is not None:  # order_not_counted: the window reaches back
            start = self.counts_from[kern.e_mem[rets]]
            never = start == _NEVER_US
            reaches = never.copy()
            reaches[~never] = ~vector_outside_window(kern.prog, kern.e_real[rets[~never]], start[~never])
            return gone & (reaches | self.never[kern.e_mem[rets]])
        return gone & (self.clause | self.never[kern.e_mem[rets]])

    def returns(self, kern, rets, found):
        """Returns of an order she does not have (not bought, or bought before she counted), under the clause,
        and every return of a customer who never joins: not counted, neither refused nor taking back."""
        gone = self.unknown_order_not_counted(kern, rets, found)
        kern.e_counted[rets[gone]] = False
        found = found.copy()
        found[gone] = -1
        return found

    def clock_times(self, kern, counted=None):
        """Per event, the moment the kernel's timeline has it at (the stateful steps' `e_time`): its own for one
        that counts; for one that does not, her clock then, as the scalar plan leaves it (the moment of her
        last event before it that counts; before her first, that first one's, when time passing finds nothing
        to do yet; none at all: the end of the history, the scalar replay's last tick). So time passes only at
        what counts. `counted`: per event (default `kern.e_counted`); times from `kern.e_real` (the events' own)."""
        import numpy as np

        t = getattr(kern, "e_real", kern.e_time)
        if counted is None:
            counted = kern.e_counted
        if counted.all():
            return t
        n = len(t)
        at = np.arange(n)
        prev = np.maximum.accumulate(np.where(counted, at, -1))
        nxt = np.minimum.accumulate(np.where(counted, at, n)[::-1])[::-1]
        mem = kern.e_mem
        has_prev = (prev >= 0) & (mem[np.maximum(prev, 0)] == mem)
        has_next = (nxt < n) & (mem[np.minimum(nxt, n - 1)] == mem)
        clock = np.where(has_prev, t[np.maximum(prev, 0)],
                         np.where(has_next, t[np.minimum(nxt, n - 1)], kern.end_us))
        return np.where(counted, t, clock)

    def aggregate(self, kern, counts: dict) -> None:
        """The report's enrolment counts, as MemberAccumulator.not_counted and the replay's member count."""
        from loyalty.runtime.arrays import PURCHASE, RETURN

        off = kern.e_valid & ~kern.e_counted
        bought = off & (kern.e_type == PURCHASE)
        back = off & (kern.e_type == RETURN)
        if bought.any():
            counts["non_member_orders"] = counts.get("non_member_orders", 0) + int(bought.sum())
        if bought.any() or back.any():
            counts["non_member_revenue"] = (counts.get("non_member_revenue", 0) + int(kern.e_total[bought].sum())
                                            - int(kern.e_total[back].sum()))
        # the `not_counted` effects, one per event the plan saw and left out (a customer who never joins by the
        # scenario's choice is not replayed at all: none)
        effects = int((off & ~self.never[kern.e_mem]).sum())
        if effects:
            counts["effects_not_counted"] = counts.get("effects_not_counted", 0) + effects
        if self.members:
            counts["enrolled_members"] = counts.get("enrolled_members", 0) + self.members
        if kern.nmem - self.members:
            counts["non_members"] = counts.get("non_members", 0) + kern.nmem - self.members


def vector_enrolment(kern) -> Optional[VectorEnrolment]:
    """The kernel's enrolment step, or None when everyone is a member from her first event."""
    if kern.prog.enrolment is None and not _enrols_by_scenario(kern.plan):
        return None
    return VectorEnrolment(kern)
