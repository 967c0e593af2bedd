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
declines programs with the clause (`Enrolment.program_vector_reason`).
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


def join(st, t: _dt.datetime) -> None:
    """A signup event: she is a member from her first one (a later signup changes nothing)."""
    if st.enrolled is None:
        st.enrolled = t


def skipped(ev, reason: str) -> Effect:
    """The effect of an event that does not count: nothing else happens."""
    return Effect("not_counted", ev.time, order=getattr(ev, "order", None), reason=reason, event=ev.id)


class Enrolment(ProgramMechanic):
    """The vectorised kernel declines programs with `members join at signup`."""

    name = "enrolment"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        if program.enrolment is not None:
            return ("`members join at signup`: the vectorised kernel does not yet leave out the events before a "
                    "member's signup")
        scenario = getattr(sim_plan, "scenario", None)
        if scenario is not None and (scenario.enrolment_share is not None or scenario.enrolment_column is not None):
            return "the scenario's enrolment: the vectorised kernel does not yet leave out the customers who never join"
        return None
