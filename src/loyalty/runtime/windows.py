"""Bounded state: how long returns and late (or resent) events are accepted, and what the state keeps for it
(docs/semantics.md, "What the state keeps, and for how long").

A program may declare `returns accepted within 90 days` and `late events accepted within 7 days`. Every
moment below is measured back from `now`, the member's latest event (her clock, or the event being applied
when it is later):

- an event more than the late-events window before the member's clock is refused (`EventError` on `time`),
  so an event id older than that window can never be met again: the state forgets it;
- a return of an order bought more than the returns window before `now` is refused (`EventError` on
  `order`), and a purchase may then reuse the order id: the state forgets the order's record;
- a windowed tier metric is only ever read over windows that start at or after its *horizon* (the late-events
  window, then the metric's own window or calendar period, back from the clock), so the contributions before
  the horizon are kept as one sum, exactly.

Whether something is forgotten is decided by these moments alone (`fresh_*`), never by when memory happened
to be released (`prune`), so a state saved and loaded between any two events gives the same results; its JSON
form (`state.state_to_doc`) writes only what is still within the windows.
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from loyalty.runtime.timeutil import period_start, sub_duration
from loyalty.runtime.state import log_kept


def late_cutoff(prog, clock: Optional[_dt.datetime]) -> Optional[_dt.datetime]:
    """Events (and the ids of events) before this moment are refused (forgotten); None: none is."""
    w = prog.late_window
    return sub_duration(clock, w[0], w[1]) if w is not None and clock is not None else None


def return_cutoff(prog, now: Optional[_dt.datetime]) -> Optional[_dt.datetime]:
    """Orders bought before this moment can no longer be returned (their records are forgotten)."""
    w = prog.return_window
    return sub_duration(now, w[0], w[1]) if w is not None and now is not None else None


def metric_zones(prog, metric, clock: Optional[_dt.datetime]) -> tuple:
    """(horizon, merge_until) of a windowed `metric` (both None: everything is kept).

    Reads happen at moments no earlier than the late-events cutoff L (an event, a return, a review at a period
    end after the clock), over the metric's window back from there. So the contributions before the *horizon*
    (L less the rolling window; the start of L's calendar period) are never read again: one sum suffices. A
    calendar window read at a moment after L starts either at the horizon or at a later period start, which is
    after L: the contributions from the horizon to L are always read together or not at all, so they are one
    sum too (`merge_until` = L). A rolling window's start moves with each read: its contributions from the
    horizon on are kept one by one (per-day buckets would blur the window's edge by up to a day)."""
    lo = late_cutoff(prog, clock)
    if lo is None or metric.window == "lifetime":
        return None, None
    if metric.window == "rolling":
        return sub_duration(lo, metric.amount, metric.unit), None
    return period_start(lo, metric.period), lo


def too_late(prog, st, ev) -> Optional[str]:
    """Why the event is refused as too late (None: it is not). A tick is never refused: it changes nothing."""
    cutoff = late_cutoff(prog, st.clock)
    if cutoff is None or ev.time >= cutoff or ev.type == "tick":
        return None
    amount, unit = prog.late_window
    return (f"{ev.time.isoformat(sep=' ')} is more than {_duration(amount, unit)} before the member's latest event "
            f"({st.clock.isoformat(sep=' ')}); the program accepts late events within {_duration(amount, unit)}")


def return_window_text(prog) -> str:
    return _duration(*prog.return_window)


def _duration(amount: int, unit: str) -> str:
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def prune(prog, st) -> None:
    """Let go of what the windows no longer need (after the clock moved). Memory only: results never depend
    on it (see the module's docstring)."""
    clock = st.clock
    cutoff = late_cutoff(prog, clock)
    if cutoff is not None:
        st.seen_levels, st.seen_oldest = log_kept(st.seen_levels, st.seen_oldest, cutoff, _itself)
        for m in prog.metrics:
            if m.window != "lifetime":
                st.metrics[m.index].compact(*metric_zones(prog, m, clock))
    cutoff = return_cutoff(prog, clock)
    if cutoff is not None:
        st.orders_levels, st.orders_oldest = log_kept(st.orders_levels, st.orders_oldest, cutoff, _order_time)


def _itself(t):
    return t


def _order_time(o):
    return o.time
