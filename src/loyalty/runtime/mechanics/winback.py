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
    lapses = st.lapses = dict(st.lapses)  # replaced, never changed in place: state copies share it
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
    st.lapses = {i: t for i, t in st.lapses.items() if i != index}  # replaced: state copies share it
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


# the timers whose points the kernel credits at events of its own (kernel._with_timer_points); points on reaching
# a tier depend on the lockstep's own tiers, so they are not known before it
POINT_TIMERS = ("inactivity", "birthday", "anniversary")


def timer_vector_reason(r, what: str) -> Optional[str]:
    """Why the kernel cannot run a rule a timer fires (a lapse, a yearly moment, a tier reached), or None: a
    `give` with no conditions, caps or budget (its firings change no state the lockstep keeps: the kernel's
    `_timer_gives`), or fixed points on a lapse or a yearly moment with at most a cap of its own (credited at
    events of the kernel's own at those moments: `_with_timer_points`)."""
    from loyalty.runtime.mechanics.limits import own_cap_vector_reason

    if r.preds:
        return (f"rule {r.name!r} ({what}) has conditions; the vectorised kernel runs moments without a purchase "
                "only unconditional yet")
    if r.action == "earn_fixed" and r.trigger in POINT_TIMERS:
        return own_cap_vector_reason(r, ("times", "points"))
    if r.action != "give":
        return (f"rule {r.name!r} ({what}) gives {r.action} at a moment without a purchase; the vectorised kernel "
                "runs only gifts and fixed points (not on reaching a tier) at such moments yet")
    if r.limits or r.budget is not None:
        return (f"rule {r.name!r} ({what}) has a cap or a budget; the vectorised kernel runs only uncapped gifts "
                "at moments without a purchase yet")
    return None


def vector_firing_events(kern, mem, moment):
    """Per timer moment of member `mem` (µs), the kernel event it fires before: her first accepted event at or
    after it (time passing runs as an event's first step; a refused one changes nothing), -1 for the end of
    the history. Its store books the timer's effects (the scalar engine's `acc.store`)."""
    import numpy as np

    out = np.full(len(mem), -1, dtype=np.int64)
    counted = getattr(kern, "e_counted", None)  # (enrolment: an event that does not count moves no clock)
    valid = np.flatnonzero(kern.e_valid if counted is None else kern.e_valid & counted)
    if not len(mem) or not len(valid):
        return out
    at = _firing_events_sorted(kern, mem, moment, valid)
    if at is not None:
        return at
    # events and moments in one order: by member, by time, a moment before an event at the same time
    m = np.concatenate((kern.e_mem[valid], mem))
    t = np.concatenate((kern.e_time[valid], moment))
    is_ev = np.concatenate((np.ones(len(valid), dtype=np.int64), np.zeros(len(mem), dtype=np.int64)))
    o = np.lexsort((is_ev, t, m))
    pos = np.where(is_ev[o] == 1, np.arange(len(o)), len(o))
    nxt = np.minimum.accumulate(pos[::-1])[::-1]  # per place, the next event's place (len: none)
    at = np.empty(len(o), dtype=np.int64)
    at[o] = np.arange(len(o))
    k = nxt[at[len(valid):]]
    kc = np.minimum(k, len(o) - 1)
    ok = (k < len(o)) & (m[o[kc]] == mem)
    out[ok] = valid[o[kc[ok]]]
    return out


def _firing_events_sorted(kern, mem, moment, valid):
    """`vector_firing_events` by a search, where the accepted events are in (member, time) order already (the
    kernel's order but where a member's wall times step back at a DST fall-back) and (member, moment) packs
    into one int64: the first event whose (member, time) is at or after the moment's, the first of equal ones
    in the kernel's order, as the sort's place (a moment before an event at its time). Else None."""
    import numpy as np

    from loyalty.runtime.arrays import member_time_keys

    ev_mem = kern.e_mem[valid]
    keys = member_time_keys(ev_mem, kern.e_time[valid], mem, moment)
    if keys is None:
        return None
    ev_key, moment_key = keys
    if (ev_key[1:] < ev_key[:-1]).any():
        return None
    k = np.searchsorted(ev_key, moment_key, side="left")
    kc = np.minimum(k, len(valid) - 1)
    ok = (k < len(valid)) & (ev_mem[kc] == mem)
    return np.where(ok, valid[kc], -1)


def vector_lapses(kern, r, running_only: bool = True):
    """The vectorised lapse timer of win-back rule r, for the kernel `kern` (simulate/vector/kernel.py): the
    (member, moment) of each lapse that fires, in member order. Each running purchase starts a lapse of the
    rule's duration (`start_lapses`); it fires when no running purchase comes before its end and the end is at
    or before the end of the history (the scalar's last tick), while the program runs (`fire_at`; with
    `running_only` False, whether it runs or not: each brings her clock to its moment all the same)."""
    import numpy as np

    from loyalty.runtime.arrays import PURCHASE, add_duration as add_us

    bought = np.flatnonzero(kern.e_valid & (kern.e_type == PURCHASE) & kern.e_running)
    mem, t = kern.e_mem[bought], kern.e_time[bought]
    deadline = add_us(t, *lapse_duration(r))
    last = np.ones(len(bought), dtype=bool)
    if len(bought) > 1:
        last[:-1] = mem[1:] != mem[:-1]
    nxt = np.empty(len(bought), dtype=np.int64)
    nxt[:-1] = t[1:] if len(bought) > 1 else nxt[:-1]
    # a purchase at the very moment of the end comes after the timers: the lapse fires first
    fires = np.where(last, deadline <= kern.end_us, nxt >= deadline) if len(bought) else last
    if running_only:
        fires &= kern.moment_running(deadline)
    return mem[fires], deadline[fires]


def vector_all_lapses(kern):
    """Every lapse of every win-back rule that comes (member, moment), running or not (`vector_lapses`)."""
    import numpy as np

    found = [vector_lapses(kern, r, running_only=False) for r in kern.prog.rules if r.trigger == TRIGGER]
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate([m for m, _ in found]), np.concatenate([t for _, t in found])


class WinBack(ProgramMechanic):
    """Win-back's lapses are per-member timers between events and at the history's end: the kernel fires those
    that give a reward (`vector_lapses`, then the kernel's `_timer_gives`); points at a lapse it declines."""

    name = "win-back"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for r in program.rules:
            if r.trigger == TRIGGER:
                amount, unit = lapse_duration(r)
                why = timer_vector_reason(r, f"after {duration_words(amount, unit)} without a purchase")
                if why is not None:
                    return why
        return None
