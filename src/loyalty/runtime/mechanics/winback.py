"""Win-back: a rule with the trigger `after 90 days without a purchase` fires once per lapse, at the moment
the member has gone that long since her last purchase, whether or not she ever comes back
(docs/semantics.md, "Win-back").

It is a trigger, not an action: the rule's action (fixed points or a reward) is run by its own mechanic's
`fire`, as on signup. Each purchase (while the program runs) sets the rule's lapse deadline in the member's
state (`MemberState.lapses`, rule index -> moment); time passing (`moments.fire_timers`, called by the plan
before each event and by the end-of-history tick) fires every deadline it reaches, in time order, with the points
and tiers brought to that moment first, and clears it: the next lapse starts with the next purchase."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.mechanics.context import Ctx, due, preds_ok, running
from loyalty.runtime.mechanics.registry import PlanError, ProgramMechanic
from loyalty.runtime.mechanics.tiers import tier_upgrade
from loyalty.runtime.timeutil import NEVER, add_duration, duration_words

TRIGGER = "inactivity"


class LapseEvent:
    """The event a timer fires a rule on (a lapse, a birthday, a tier reached): a moment, with no id, order or
    store (what `fire` reads of an event)."""

    __slots__ = ("time",)
    type = "lapse"
    id = None
    order = None
    store = None
    channel = None
    name = None

    def __init__(self, time):
        self.time = time


def winback_rules(prog, mechanics) -> tuple:
    """The program's win-back rules; a rule whose mechanic cannot fire without a purchase is a PlanError."""
    rules = tuple(r for r in prog.rules if r.trigger == TRIGGER)
    for r in rules:
        if not hasattr(mechanics[r.index], "fire"):
            raise PlanError(f"rule {r.name!r}: the {mechanics[r.index].name} mechanic cannot fire on a lapse "
                            "(`after ... without a purchase`)")
    return rules


def lapse_duration(rule) -> tuple[int, str]:
    trig = rule.trigger_doc
    return trig["amount"], trig["unit"]


def start_lapses(rules, st, t) -> None:
    """A purchase at t: each win-back rule's lapse now ends its duration after t (a later purchase moves it)."""
    lapses = st.lapses
    for r in rules:
        amount, unit = lapse_duration(r)
        deadline = add_duration(t, amount, unit)
        if deadline == NEVER:  # past the calendar's end: this lapse never comes (and is not kept)
            lapses.pop(r.index, None)
            continue
        lapses[r.index] = deadline
        due(st, deadline)


def next_lapse(st) -> Optional[tuple]:
    """The earliest (deadline, rule index) of the member's open lapses, or None."""
    if not st.lapses:
        return None
    return min((t, i) for i, t in st.lapses.items())


def fire_lapse(plan, st, deadline, index: int, ledger, out, advance) -> None:
    """Rule `index`'s lapse ends at `deadline`: time is brought there, the rule fires if it may, the lapse is over."""
    prog = plan.prog
    del st.lapses[index]
    if st.clock is None or deadline > st.clock:
        advance(prog, st, deadline, out)
        st.clock = deadline
    fire_at(plan, st, prog.rules[index], deadline, ledger, out)


def fire_at(plan, st, r, moment, ledger, out) -> None:
    """A timer fires rule r at `moment`: while the program runs and its conditions hold then."""
    prog = plan.prog
    if running(prog, moment) and preds_ok(r, Ctx(moment, st)):
        plan.mechanics[r.index].fire(plan, st, r, LapseEvent(moment), ledger, out, None, 1)
        tier_upgrade(prog, st, moment, out)


class WinBack(ProgramMechanic):
    """The vectorised kernel declines win-back: its lapses are per-member timers that fire between events and
    at the history's end, which the kernel's lockstep over events does not model yet."""

    name = "win-back"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for r in program.rules:
            if r.trigger == TRIGGER:
                amount, unit = lapse_duration(r)
                return (f"rule {r.name!r} (after {duration_words(amount, unit)} without a purchase) "
                        "fires on a member's lapse timer, between her events; the vectorised kernel does not "
                        "run timers that fire rules yet")
        return None
