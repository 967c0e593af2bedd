"""Moments without a purchase: rules with the trigger `on each birthday`, `on each membership anniversary`
or `on reaching tier "gold"` fire at that moment, on the calendar, with no purchase needed
(docs/semantics.md, "Moments").

Birthdays and anniversaries are yearly moments (the start of the day, on the program's clock) that time
passing reaches: before the member's next event and at the simulation's end-of-history tick, in time order
with lapses (`winback.py`) and the other timers. Only moments after the member's first event count (she is
not given the birthdays before she joined). A member's anniversary is of her `signup_date` attribute, else
of the day of her first `signup` event (`MemberState.joined`). Reaching a tier fires when an upgrade takes
her into the tier or past it, at the upgrade's moment."""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from loyalty.runtime.mechanics.registry import PlanError, ProgramMechanic
from loyalty.runtime.mechanics.winback import fire_at, fire_lapse, next_lapse, timer_vector_reason

YEARLY = ("birthday", "anniversary")
TIER_REACHED = "tier_reached"


def moment_rules(prog, mechanics) -> tuple[tuple, tuple]:
    """(the yearly rules, the tier-reached rules); a rule whose mechanic cannot fire without a purchase is a
    PlanError."""
    yearly = tuple(r for r in prog.rules if r.trigger in YEARLY)
    reached = tuple(r for r in prog.rules if r.trigger == TIER_REACHED)
    for r in yearly + reached:
        if not hasattr(mechanics[r.index], "fire"):
            raise PlanError(f"rule {r.name!r}: the {mechanics[r.index].name} mechanic cannot fire on {r.trigger}")
    return yearly, reached


def _as_date(v) -> Optional[_dt.date]:
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    if isinstance(v, str):
        try:
            return _dt.date.fromisoformat(v)
        except ValueError:
            return None
    return None


def joined(st) -> Optional[_dt.date]:
    """The day the member joined: her `signup_date` attribute, else the day of her first signup event."""
    return _as_date(st.attributes.get("signup_date")) or st.joined


def _yearly_after(day: _dt.date, after: _dt.datetime) -> _dt.datetime:
    """The first start of the day (month, day) strictly after `after`; 29 February is 28 February in other
    years."""
    for year in range(after.year, after.year + 2):
        d = day.day
        if day.month == 2 and d == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
            d = 28
        if year > _dt.MAXYEAR:
            break
        m = _dt.datetime(year, day.month, d)
        if m > after:
            return m
    return _dt.datetime.max  # past the calendar's end: never


def next_moment(rule, st) -> Optional[_dt.datetime]:
    """When rule's next yearly moment comes for this member, after her clock; None when it has none."""
    if st.clock is None:
        return None
    if rule.trigger == "birthday":
        if st.birthday is None:
            return None
        return _yearly_after(st.birthday, st.clock)
    day = joined(st)
    if day is None:
        return None
    # the first anniversary is a year after the day she joined
    return _yearly_after(day, max(st.clock, _dt.datetime.combine(day, _dt.time())))


def fire_timers(plan, st, T, ledger, out, advance) -> None:
    """Every lapse and yearly moment up to T, in time order (a lapse first at one moment; rules in source
    order), each with time brought to its moment first. A tier its points reach fires its rules at that
    moment, so an offer one gives lives from there (and may lapse before her event at T)."""
    yearly = plan.yearly
    while True:
        start = len(out)
        lapse = next_lapse(st) if st.lapses else None
        moment = None
        if yearly and st.clock is not None:
            for r in yearly:
                m = next_moment(r, st)
                if m is not None and (moment is None or m < moment):
                    moment = m
        if lapse is not None and lapse[0] <= T and (moment is None or lapse[0] <= moment):
            fire_lapse(plan, st, lapse[0], lapse[1], ledger, out, advance)
            if plan.tier_reached and len(out) > start:
                fire_tier_reached(plan, st, out, start, ledger)
            continue
        if moment is None or moment > T or moment == _dt.datetime.max:
            return
        due = [r for r in yearly if next_moment(r, st) == moment]
        if moment > st.clock:
            advance(plan.prog, st, moment, out)
            st.clock = moment
        for r in due:
            fire_at(plan, st, r, moment, ledger, out)
        if plan.tier_reached and len(out) > start:
            fire_tier_reached(plan, st, out, start, ledger)


def fire_tier_reached(plan, st, out, start: int, ledger) -> None:
    """Upgrades among out[start:] fire the rules of each tier reached (passed into or through), at their moment."""
    names = plan.prog.tiers.names
    for e in out[start:]:
        if e.kind != "tier_changed" or e.tier_to is None:
            continue
        old = names[e.tier_from] if e.tier_from is not None else -1
        new = names[e.tier_to]
        if new <= old:
            continue
        for r in plan.tier_reached:
            if old < names[r.trigger_name] <= new:
                fire_at(plan, st, r, e.time, ledger, out)


_DAY_US = 86_400_000_000


def _yearly_moments(month, day, after, end_us, years):
    """Vectorised `_yearly_after`, every time: per (month, day) (0: none), each start of that day in `years`
    strictly after `after` and at or before `end_us` (29 February is 28 February in other years), as (the
    position in the inputs, the moment in µs)."""
    import numpy as np

    pos, moments = [], []
    has = np.flatnonzero(month > 0)
    for year in years:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        d = day[has] - ((month[has] == 2) & (day[has] == 29) & (not leap))
        first = np.datetime64(f"{year:04d}-01", "M") + (month[has] - 1)
        us = (first.astype("datetime64[D]") + (d - 1)).astype(np.int64) * _DAY_US
        keep = (us > after[has]) & (us <= end_us)
        pos.append(has[keep])
        moments.append(us[keep])
    if not pos:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pos, moments = np.concatenate(pos), np.concatenate(moments)
    o = np.lexsort((moments, pos))
    return pos[o], moments[o]


def vector_yearly(kern, r, lapses=None):
    """The vectorised yearly moments of rule r (`on each birthday`, `on each membership anniversary`), for the
    kernel `kern`: the (member, moment) of each that fires, as `fire_timers` fires them: after the member's
    first accepted event (her clock), at or before the end of the history, while the program runs. The
    anniversary counts from her `signup_date` attribute (after that day), else from her first signup event
    (after it: `joined` is known from then). `lapses`: the (member, moment) of every lapse that fires: a
    yearly moment at the very moment of one is passed over, as `fire_timers` passes it (the lapse brings her
    clock there first, and the next moment is looked for strictly after the clock)."""
    import numpy as np

    from loyalty.runtime.arrays import SIGNUP

    nmem = kern.nmem
    valid = np.flatnonzero(kern.e_valid)
    first = np.full(nmem, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, kern.e_mem[valid], kern.e_time[valid])
    after = first.copy()
    if r.trigger == "birthday":
        month, day = kern.member_birthdays
    else:
        month, day = np.zeros(nmem, np.int64), np.zeros(nmem, np.int64)
        for i, a in enumerate(kern.member_attributes):
            d = _as_date(a.signup_date) if a is not None else None
            if d is not None:
                month[i], day[i] = d.month, d.day
                after[i] = max(after[i], (d - _dt.date(1970, 1, 1)).days * _DAY_US)
        signups = valid[kern.e_type[valid] == SIGNUP]
        joined = np.full(nmem, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(joined, kern.e_mem[signups], kern.e_time[signups])
        by_event = (month == 0) & (joined < np.iinfo(np.int64).max)
        jd = (joined[by_event] // _DAY_US).astype("datetime64[D]")
        jm = jd.astype("datetime64[M]")
        month[by_event] = jm.astype(np.int64) % 12 + 1
        day[by_event] = (jd - jm.astype("datetime64[D]")).astype(np.int64) + 1
        after[by_event] = joined[by_event]
    seen = first < np.iinfo(np.int64).max
    if not seen.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=int(first[seen].min()))
    hi = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=int(kern.end_us))
    mem, moment = _yearly_moments(np.where(seen, month, 0), day, after, kern.end_us,
                                  range(lo.year, min(hi.year, _dt.MAXYEAR) + 1))
    keep = kern.moment_running(moment)
    if lapses is not None and len(lapses[0]) and keep.any():
        l_mem, l_at = lapses
        midnight = l_at % _DAY_US == 0  # yearly moments are starts of days
        taken = l_mem[midnight] * 10**6 + l_at[midnight] // _DAY_US
        keep &= ~np.isin(mem * 10**6 + moment // _DAY_US, taken)
    return mem[keep], moment[keep]


def vector_tier_reached(kern, r, moment, t_from, t_to):
    """The vectorised `fire_tier_reached` for rule r, for the kernel `kern`: of the tier changes (at `moment`,
    from, to; -1 for no tier), which take the member into r's tier or past it while the program runs (a mask)."""
    rank = kern.prog.tiers.names[r.trigger_name]
    return (t_from < rank) & (rank <= t_to) & kern.moment_running(moment)


class Moments(ProgramMechanic):
    """Moments fire on the calendar between a member's events: the kernel fires those that give a reward
    (`vector_yearly`, `vector_tier_reached`, then the kernel's `_timer_gives`); points at a moment it declines."""

    name = "moments without a purchase"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for r in program.rules:
            if r.trigger in YEARLY or r.trigger == TIER_REACHED:
                what = {"birthday": "on each birthday", "anniversary": "on each membership anniversary"}.get(
                    r.trigger, f"on reaching tier {r.trigger_name!r}")
                why = timer_vector_reason(r, what)
                if why is not None:
                    return why
        return None
