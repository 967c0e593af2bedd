"""Goals, challenges and streaks: a rule with the trigger `after 3 visits in a calendar month`, `after 500 NOK
spent within 30 days` or `after a purchase in 4 consecutive weeks` fires when the member reaches it
(docs/semantics.md, "Goals and streaks").

It is a trigger, not an action: the rule's action (fixed points or a reward) is run by its own mechanic's
`fire`, as on signup. Each purchase (and, for visits, each visit event) that the rule's conditions select
adds to the member's progress (`MemberState.goals`, rule index -> progress), after the purchase's own
rewards and before tier progress; the event that reaches the goal fires the rule, at its moment.

- In a calendar period: what falls in the period counts; once reached the goal waits for the next period
  (a goal per period). Progress of an earlier period counts for nothing.
- Within a rolling window `within N days`: what falls on the day of the event and the N-1 days before it
  counts (a week is 7 days, a month or year the calendar's); once reached, counting starts afresh.
- A streak: a calendar period counts when something falls in it; N periods in a row fire the rule, and the
  next streak starts with the next period.
- `on different days`: at most one a day counts.

Nothing here waits for time to pass: progress is judged at the member's events, by their moments. A late
event (earlier than one counted) counts only within the calendar period counted now, or within the rolling
window of the latest moment counted; a streak never goes back to an earlier period. A return
takes its share of what was paid back from a spend goal's progress while the order still counts towards it
(a goal already reached is not taken back); visits and streaks keep the purchase.

Progress is immutable tuples (a state copy shares them):
- a goal: (period start or None, reached, ((moment, amount, order id or None), ...));
- a streak: (start of the last period counted, periods in a row)."""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from loyalty.runtime.mechanics.context import preds_ok
from loyalty.runtime.mechanics.registry import PlanError, ProgramMechanic
from loyalty.runtime.timeutil import ALWAYS, add_duration, duration_words, period_start

GOAL, STREAK = "goal", "streak"
TRIGGERS = (GOAL, STREAK)


class GoalPlan:
    """A goal or streak rule, its compiled trigger read once."""

    __slots__ = ("rule", "streak", "counts", "target", "different_days", "period", "amount", "unit")

    def __init__(self, rule):
        t = rule.trigger_doc
        self.rule = rule
        self.streak = rule.trigger == STREAK
        self.counts = t["counts"]  # "visits" (purchases and visit events), "purchases" or "spend"
        if self.streak:
            self.target, self.different_days, self.period = t["n"], False, t["period"]
            self.amount = self.unit = None
        else:
            w = t["window"]
            self.target, self.different_days = t["target"], t["different_days"]
            self.period = w.get("period")  # None for a rolling window
            self.amount, self.unit = w.get("amount"), w.get("unit")


def goal_rules(prog, mechanics) -> tuple:
    """The program's goal and streak rules; a rule whose mechanic cannot fire on its own is a PlanError."""
    out = []
    for r in prog.rules:
        if r.trigger in TRIGGERS:
            if not hasattr(mechanics[r.index], "fire"):
                raise PlanError(f"rule {r.name!r}: the {mechanics[r.index].name} mechanic cannot fire when a goal "
                                "is reached")
            out.append(GoalPlan(r))
    return tuple(out)


def _day_start(t: _dt.datetime) -> _dt.datetime:
    return _dt.datetime(t.year, t.month, t.day)


def window_start(g: GoalPlan, t: _dt.datetime) -> _dt.datetime:
    """The first moment that counts towards the goal at moment t: the start of its calendar period, or of
    the first of the rolling window's days (the day of t is the window's last)."""
    if g.period is not None:
        return period_start(t, g.period)
    first = add_duration(_day_start(t), -g.amount, g.unit)
    return ALWAYS if first == ALWAYS else first + _dt.timedelta(days=1)


def _have(g: GoalPlan, entries) -> int:
    if g.different_days:
        return len({e[0].date() for e in entries})
    return sum(e[1] for e in entries)


def count_event(plan, st, ev, ctx, paid: int, purchase: bool, ledger, out) -> None:
    """A purchase (paying `paid`) or a visit at ev.time: each goal it counts towards moves on, and those it
    reaches fire their rule."""
    t = ev.time
    for g in plan.goals:
        if g.counts != "visits" and not purchase:
            continue
        r = g.rule
        if r.preds and not preds_ok(r, ctx):
            continue
        if g.streak:
            if _streak_step(g, st, t):
                plan.mechanics[r.index].fire(plan, st, r, ev, ledger, out, None, 1)
            continue
        amount = paid if g.counts == "spend" else 1
        if amount <= 0:
            continue
        if _goal_step(g, st, t, amount, ev.order if purchase else None):
            plan.mechanics[r.index].fire(plan, st, r, ev, ledger, out, None, 1)


def _put_goal(st, i: int, got: tuple) -> None:
    """Goal i's progress is now `got`: the map is replaced, never changed in place (state copies share it)."""
    st.goals = {**st.goals, i: got}


def _goal_step(g: GoalPlan, st, t, amount: int, order) -> bool:
    """Adds one event to a goal's progress; True when it reaches the goal."""
    i = g.rule.index
    got = st.goals.get(i)
    if g.period is not None:
        start = window_start(g, t)
        if got is not None and start < got[0]:
            return False  # a late event of a period before the one counted now: that period is over
        if got is None or got[0] != start:
            got = (start, False, ())
        if got[1]:
            return False  # reached in this period: the next period starts afresh
        entries = got[2]
    else:
        # judged as of the latest moment counted (a late event does not move the window back)
        start = window_start(g, max(t, got[2][-1][0]) if got is not None and got[2] else t)
        entries = tuple(e for e in got[2] if e[0] >= start) if got is not None else ()
        if t < start:
            _put_goal(st, i, (None, False, entries))
            return False  # a late event before the window
    if g.different_days and any(e[0].date() == t.date() for e in entries):
        _put_goal(st, i, (got[0] if g.period is not None else None, False, entries))
        return False  # this day counts already
    entries = tuple(sorted(entries + ((t, amount, order),), key=lambda e: e[0]))  # in time order (late events)
    if _have(g, entries) >= g.target:
        _put_goal(st, i, (start, True, ()) if g.period is not None else (None, False, ()))
        return True
    _put_goal(st, i, (start if g.period is not None else None, False, entries))
    return False


def _streak_step(g: GoalPlan, st, t) -> bool:
    """Counts the period of t in a streak; True when it makes the streak long enough."""
    i = g.rule.index
    start = period_start(t, g.period)
    got = st.goals.get(i)
    if got is not None and start <= got[0]:
        return False  # this period counts already (or, for a late event, one before it)
    run = got[1] + 1 if got is not None and got[0] == period_start(start - _dt.timedelta(days=1), g.period) else 1
    if run >= g.target:
        _put_goal(st, i, (start, 0))  # the next streak starts with the next period
        return True
    _put_goal(st, i, (start, run))
    return False


def take_back(prog, st, order: str, paid_back: int) -> None:
    """A return of `paid_back` from `order`: taken from the spend goals' progress the order still counts in."""
    for i, got in list(st.goals.items()):
        r = prog.rules[i]
        if r.trigger != GOAL or r.trigger_doc["counts"] != "spend":
            continue
        entries = got[2]
        if any(e[2] == order for e in entries):
            _put_goal(st, i, (got[0], got[1], tuple((m, max(a - paid_back, 0), o) if o == order else (m, a, o)
                                                    for m, a, o in entries)))


# ---------------------------------------------------------------- what the member sees


def progress(g: GoalPlan, st, t: _dt.datetime) -> dict:
    """The member's progress towards goal g at moment t: {"rule", "have", "target", "counts", "reached"}
    (reached: the goal of this calendar period is met already, and `have` is its target; a streak's `have` is
    its periods in a row)."""
    got = st.goals.get(g.rule.index)
    have, reached = 0, False
    if got is not None:
        if g.streak:
            start = period_start(t, g.period)
            if got[0] == start or got[0] == period_start(start - _dt.timedelta(days=1), g.period):
                have = got[1]
        else:
            start = window_start(g, t)
            if g.period is None or got[0] == start:
                reached = got[1]
                have = g.target if reached else _have(g, tuple(e for e in got[2] if e[0] >= start))
    return {"rule": g.rule.name, "have": have, "target": g.target, "counts": g.counts, "reached": reached}


def progress_words(g: GoalPlan, p: dict, money) -> str:
    """One line for `loyalty explain`: `3 of 5 visits on different days in this calendar month`."""
    if g.streak:
        unit = g.period + ("s" if g.target != 1 else "")
        what = f"{p['have']} of {g.target} {unit} in a row with a {g.counts[:-1]}"
    else:
        if g.counts == "spend":
            what = f"{money(p['have'])} of {money(g.target)} spent"
        else:
            what = f"{p['have']} of {g.target} {g.counts}" + (" on different days" if g.different_days else "")
        if g.period is not None:
            what += f" in this calendar {g.period}" + (" (reached)" if p["reached"] else "")
        else:
            what += f" within {duration_words(g.amount, g.unit)}"
    return f'goal "{g.rule.name}": {what}'


# ---------------------------------------------------------------- vectorised


def vector_fires(kern, r):
    """The vectorised step (for the kernel `kern`, simulate/vector/kernel.py): per event, 1 where the goal or
    streak rule r is reached (the rule's action then fires there, as `count_event` fires it), else 0.

    The kernel's events are each member's in time order, so no event is late, and the scalar steps reduce to:
    - a calendar goal: a running sum per (member, period) of what counts (1, what was paid, or 1 for the first
      counted event of a day), less what a return of a counted order of the same period pays back
      (`take_back`; a return in a later period finds the progress reset); the first event of the period whose
      sum reaches the target fires;
    - a streak: the first counted event of each period; periods in a row form runs, and every target-th
      period of a run fires (`_streak_step` starts the next streak with the next period);
    - a rolling window: the sum restarts after each firing, so each firing depends on the one before:
      a pass over the counted events (and returns of counted orders), member by member (`_rolling`)."""
    import numpy as np

    from loyalty.runtime.arrays import PURCHASE, VISIT, period_code, segmented_cumsum

    g = GoalPlan(r)
    running = kern.e_running
    counted = (kern.e_type == PURCHASE) & running
    if g.counts == "visits":
        counted |= (kern.e_type == VISIT) & running
    counted &= kern._event_ok(r)
    if g.counts == "spend":
        amount = np.where(counted, kern.e_paid, 0)
        counted &= amount > 0  # nothing paid: nothing to count (`count_event`)
    else:
        amount = counted.astype(np.int64)
    e_mem = kern.e_mem
    if g.streak or g.period is not None:
        code = period_code(kern.e_time, g.period)
        new = np.ones(kern.nev, dtype=bool)
        new[1:] = (e_mem[1:] != e_mem[:-1]) | (code[1:] != code[:-1])  # a (member, period) group starts
        gstart = np.flatnonzero(new)
        gid = np.cumsum(new) - 1
    if g.streak:
        return _vector_streak(g, counted, code, gid, e_mem)
    if g.period is None:
        return _rolling(kern, g, counted, amount)
    if g.different_days:  # only the first counted event of each (member, day) of the period counts
        amount = _first_of_day(kern, counted).astype(np.int64)
    if g.counts == "spend":
        back, order_ev = _paid_back(kern, counted)
        same = order_ev >= 0
        same[same] = gid[order_ev[same]] == gid[same]  # a return in the order's period still finds its entry
        amount = amount - np.where(same, back, 0)
    progress = segmented_cumsum(amount, gid, gstart)
    hit = counted & (progress >= g.target)
    return (hit & (segmented_cumsum(hit.astype(np.int64), gid, gstart) == 1)).astype(np.int64)


def _first_of_day(kern, counted):
    import numpy as np

    from loyalty.runtime.arrays import DAY_US

    idx = np.flatnonzero(counted)
    day = kern.e_time[idx] // DAY_US
    mem = kern.e_mem[idx]
    first = np.ones(len(idx), dtype=bool)
    first[1:] = (mem[1:] != mem[:-1]) | (day[1:] != day[:-1])
    out = np.zeros(kern.nev, dtype=bool)
    out[idx[first]] = True
    return out


def _paid_back(kern, counted):
    """Per return event, what it pays back of its order (what `returns.take_back` gives `take_back` here: the
    spend it takes back, kern.spend_deltas), and the order's event where that order is counted, else -1."""
    import numpy as np

    rets = (kern.ret_order_ev >= 0) & kern.e_valid
    order_ev = np.where(rets, kern.ret_order_ev, -1)
    order_ev[rets] = np.where(counted[order_ev[rets]], order_ev[rets], -1)
    return np.where(order_ev >= 0, -kern.spend_deltas, 0), order_ev


def _vector_streak(g: GoalPlan, counted, code, gid, e_mem):
    import numpy as np

    from loyalty.runtime.arrays import segmented_cumsum

    idx = np.flatnonzero(counted)
    first = np.ones(len(idx), dtype=bool)  # the first counted event of its (member, period)
    first[1:] = gid[idx[1:]] != gid[idx[:-1]]
    idx = idx[first]
    c, m = code[idx], e_mem[idx]
    step = {"day": 1, "week": 7, "month": 1, "quarter": 3, "year": 12}[g.period]  # arrays.period_code's units
    run_start = np.ones(len(idx), dtype=bool)
    run_start[1:] = (m[1:] != m[:-1]) | (c[1:] - c[:-1] != step)
    starts = np.flatnonzero(run_start)
    pos = segmented_cumsum(np.ones(len(idx), dtype=np.int64), np.cumsum(run_start) - 1, starts)
    out = np.zeros(len(counted), dtype=np.int64)
    out[idx[pos % g.target == 0]] = 1
    return out


def _rolling(kern, g: GoalPlan, counted, amount):
    """A rolling-window goal, member by member over the events that move it (`_goal_step`, in time order)."""
    import numpy as np

    from loyalty.runtime.arrays import DAY_US, add_duration

    spend = g.counts == "spend"
    if spend:
        back, order_ev = _paid_back(kern, counted)
        moving = counted | (order_ev >= 0)
    else:
        moving = counted
    idx = np.flatnonzero(moving)
    t = kern.e_time[idx]
    # window_start: the first of the window's days, the day of the event its last
    start_us = add_duration(t - t % DAY_US, -g.amount, g.unit) + DAY_US
    out = np.zeros(kern.nev, dtype=np.int64)
    # members whose moving events are in time order, goals without `on different days`: by searches
    # (_rolling_at_once) over their counted events, then the returns of counted orders checked against the
    # times reached (_delayed_by_returns); the others (times stepping back, a time reached that a return
    # delays) one by one
    mem_a = kern.e_mem[idx]
    slow = np.zeros(kern.nmem, dtype=bool)
    if g.different_days:
        slow[:] = True
    else:
        same = mem_a[1:] == mem_a[:-1]
        slow[mem_a[1:][same & (t[1:] < t[:-1])]] = True
        fast = ~slow[mem_a] & counted[idx]
        at_once = _rolling_at_once(idx[fast], mem_a[fast], t[fast], start_us[fast], amount[idx[fast]],
                                   g.target) if fast.any() else None
        if at_once is not None:
            rets = ~counted[idx] & ~slow[mem_a]
            loop_from = np.full(kern.nmem, -1, dtype=np.int64)  # a member on the loop: from this event on
            if rets.any():
                late, late_from = _delayed_by_returns(idx[fast], mem_a[fast], t[fast], start_us[fast], amount,
                                                      at_once, idx[rets], order_ev[idx[rets]], back[idx[rets]],
                                                      g.target)
                slow[late], loop_from[late] = True, late_from
                whose = kern.e_mem[at_once]
                at_once = at_once[~slow[whose] | (at_once < loop_from[whose])]
            out[at_once] = 1
            loop = slow[mem_a] & (idx >= loop_from[mem_a])
            idx, t, start_us, mem_a = idx[loop], t[loop], start_us[loop], mem_a[loop]
    start = start_us.tolist()
    mem = mem_a.tolist()
    counts = counted[idx].tolist()
    amounts = amount[idx].tolist()
    times = t.tolist()
    orders = order_ev[idx].tolist() if spend else []
    backs = back[idx].tolist() if spend else []
    fired = []
    target, days = g.target, g.different_days
    # the member's progress: entries [head:] of these lists (in time order), `total` their amounts
    e_time: list = []
    e_amount: list = []
    e_event: list = []
    head = total = 0
    member = None
    for n, ev in enumerate(idx.tolist()):
        if mem[n] != member:
            member, e_time, e_amount, e_event, head, total = mem[n], [], [], [], 0, 0
        if not counts[n]:  # a return of a counted order: takes its share from the order's entry, if still held
            o = orders[n]
            for j in range(head, len(e_event)):
                if e_event[j] == o:
                    left = max(e_amount[j] - backs[n], 0)
                    total -= e_amount[j] - left
                    e_amount[j] = left
            continue
        s = start[n]
        while head < len(e_time) and e_time[head] < s:  # out of the window
            total -= e_amount[head]
            head += 1
        t = times[n]
        if days and head < len(e_time) and e_time[-1] // DAY_US == t // DAY_US:
            continue  # this day counts already
        e_time.append(t)
        e_amount.append(amounts[n])
        e_event.append(ev)
        total += amounts[n]
        if total >= target:
            fired.append(ev)
            e_time, e_amount, e_event, head, total = [], [], [], 0, 0
    out[fired] = 1
    return out


def _rolling_at_once(ev, mem, t, start, amount, target: int):
    """The events where a rolling-window goal is reached, for members whose moving events (`ev`, in member and
    time order, their window's first moment `start`) are all counted, amounts >= 0: what `_rolling`'s loop
    finds, by searches. After a member reaches it at position f her entries start again from f + 1 (an epoch
    from E); at a position p the window holds her entries from max(E, L(p)), L(p) the first of hers at or after
    `start[p]` (L never decreases). Where L(p) >= E that is the plain rolling sum W(p), whatever E; before, the
    sum from E, which grows with p. So from E she is next reached at the first p in [E, B) whose sum from E
    reaches the target (B: the first p with L(p) >= E), else at the first p >= B where W(p) does: one search
    each, per member and time reached, for all members at once. None where (member, moment) does not pack into
    an int64, or every event reaches a target below 1."""
    import numpy as np

    from loyalty.runtime.arrays import member_time_keys

    n = len(ev)
    keys = None if target < 1 else member_time_keys(mem, t, mem, start)
    if keys is None:
        return None
    key, start_key = keys
    L = np.searchsorted(key, start_key, side="left")
    csum = np.concatenate(([0], np.cumsum(amount)))  # csum[p + 1] - csum[a]: amounts of positions a..p
    hit = csum[1:] - csum[L] >= target
    # the first position at or after each where the plain rolling sum reaches the target (n: none)
    next_hit = np.minimum.accumulate(np.where(hit, np.arange(n), n)[::-1])[::-1]
    next_hit = np.append(next_hit, n)
    first = np.flatnonzero(np.concatenate(([True], mem[1:] != mem[:-1])))
    end = np.append(first[1:], n)  # each member's positions: [first, end)
    E, stop, fired = first, end, []
    while len(E):
        B = np.searchsorted(L, E, side="left")
        p1 = np.searchsorted(csum[1:], csum[E] + target, side="left")  # the sum from E grows with p
        reached = np.where(p1 < np.minimum(B, stop), p1, next_hit[np.minimum(B, n)])
        if (reached < E).any():  # never with L in order (the caller's members): the loop decides, not a search
            return None
        ok = reached < stop
        fired.append(reached[ok])
        E, stop = reached[ok] + 1, stop[ok]
        more = E < stop
        E, stop = E[more], stop[more]
    return ev[np.concatenate(fired)] if fired else ev[:0]


def _delayed_by_returns(ev, mem, t, start, amount, fired, r_ev, r_order, r_back, target: int):
    """The members (of `ev`, counted events in member and time order, as `_rolling_at_once` takes them) at one
    of whose times reached `fired` a return of a counted order (events `r_ev`, orders `r_order`, paying back
    `r_back`) leaves the window's sum below the target, and for each the event from which the loop decides (the
    first after her time reached before that one, or her first). A return only lowers what the
    loop holds, so where it leaves every sum at a time reached still reaching the target, the times reached
    stand. A return takes from its order's entry while the order is held (after the time reached before it);
    its entry holds its amount less what the order's earlier returns took, never below 0; so it can lower only
    the next time reached after it, and only where its order is in that one's window (at or after both the
    time reached before and the window's first entry)."""
    import numpy as np

    from loyalty.runtime.arrays import member_time_keys, segmented_cumsum

    fired = np.sort(fired)
    key, start_key = member_time_keys(mem, t, mem, start)  # packs: _rolling_at_once found times reached
    L = np.searchsorted(key, start_key, side="left")  # each position's window: from its member's entry L
    csum = np.concatenate(([0], np.cumsum(amount[ev])))
    f = np.searchsorted(ev, fired)  # the positions reached, in order
    first = np.searchsorted(mem, mem[f], side="left")
    E = first.copy()  # where the entries start again: after the member's time reached before
    again = np.zeros(len(f), dtype=bool)
    again[1:] = mem[f[1:]] == mem[f[:-1]]
    E[1:][again[1:]] = f[:-1][again[1:]] + 1
    a = np.maximum(E, L[f])
    # what each return takes: its order's entry less what the order's earlier returns took (orders in order)
    o = np.lexsort((r_ev, r_order))
    r_ev, r_order, r_back = r_ev[o], r_order[o], r_back[o]
    new = np.ones(len(r_ev), dtype=bool)
    new[1:] = r_order[1:] != r_order[:-1]
    starts = np.flatnonzero(new)
    upto = segmented_cumsum(r_back, np.cumsum(new) - 1, starts)
    held = amount[r_order]
    took = np.minimum(held, upto) - np.minimum(held, upto - r_back)
    # the next time reached after each return, of the same member, with the order in its window
    k = np.searchsorted(fired, r_ev, side="right")
    ok = k < len(fired)
    ok[ok] = (mem[f[k[ok]]] == mem[np.searchsorted(ev, r_order[ok])]) & (r_order[ok] >= ev[a[k[ok]]])
    lowered = np.zeros(len(fired), dtype=np.int64)
    np.add.at(lowered, k[ok], took[ok])
    short = np.flatnonzero(csum[f + 1] - csum[a] - lowered < target)
    late, first_short = np.unique(mem[f[short]], return_index=True)
    # before the epoch of her first time reached that a return lowers, the times reached stand; from there (the
    # loop's entries start again there) the loop decides
    return late, ev[E[short[first_short]]]


class Goals(ProgramMechanic):
    """Goals and streaks on the vectorised kernel: `vector_fires` says where each rule is reached, and the rule's
    action mechanic (fixed points, give) fires there (`triggers.vector_firings`)."""

    name = "goals and streaks"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for r in program.rules:
            if r.trigger in TRIGGERS and r.action == "earn_fixed" and program.kinds[r.point_kind].pending:
                # the kernel's points on a purchase wait; a goal's are the member's, available at once (credit)
                return (f"rule {r.name!r} gives points that wait (pending) when a goal is reached: the vectorised "
                        "kernel does not run them yet")
        return None
