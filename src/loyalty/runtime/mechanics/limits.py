"""Caps (per member, per period) and budgets (program-wide): how much of what a rule gives it may give.

Every mechanic that gives something asks `limit` first when its rule has caps or a budget; a
budget is claimed from the caller's ledger (`runtime/ledger.py`). The simulation replays
budgets exactly in passes (`simulate/budgets.py`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.timeutil import period_key


def limit(prog, st, r, amount: int, ev, ledger, out, kind, money=False, all_or_nothing=False) -> Optional[int]:
    """How much of `amount` the rule may give after its caps and budget; says so when truncated.
    None when nothing may be given (a `times` cap is used up, or an all-or-nothing claim failed)."""
    if not r.limits and r.budget is None:
        return amount
    caps = _caps_of(r, "money" if money else "points", ev.time)
    granted = amount
    for c, key in caps:
        used = st.caps.get(c.scope)
        used_amount = used[1] if used is not None and used[0] == key else 0
        room = c.amount - used_amount
        want = 1 if c.unit == "times" else granted
        if want > room:
            allowed = 0 if c.unit == "times" else max(room, 0)
            if all_or_nothing:
                allowed = 0
            out.append(Effect("cap_reached", ev.time, r.name, r.line, r.column, scope=c.scope,
                              point_kind=kind.name if kind else None, truncated=granted - allowed, event=ev.id))
            granted = allowed
            if granted <= 0:
                return None
    if r.budget is not None:
        claim = granted
        if r.budget_unit == "money" and not money:
            cost = kind.cost if kind else None
            claim = -((-granted * cost[0]) // cost[1]) if cost else 0
        got = ledger.claim(r.budget, claim, ev.time, st.member_id, ev.id)
        if got < claim:
            if r.budget_unit == "money" and not money:
                got_units = (got * kind.cost[1]) // kind.cost[0] if kind.cost and kind.cost[0] else 0
            else:
                got_units = got
            if all_or_nothing:
                got_units = 0
            out.append(Effect("budget_reached", ev.time, r.name, r.line, r.column, scope=r.budget,
                              point_kind=kind.name if kind else None, truncated=granted - got_units, event=ev.id))
            granted = got_units
            if granted <= 0:
                return None
    for c, key in caps:
        used = st.caps.get(c.scope)  # read again: two caps of one rule share its scope's counter
        if used is None or used[0] != key:
            used = [key, 0]
            st.caps[c.scope] = used
        used[1] += 1 if c.unit == "times" else granted
    return granted


def _caps_of(r, unit: str, t) -> list:
    """(cap, the key of its period at t) of each cap of the rule that counts `unit` (points or money) or times."""
    return [(c, period_key(t, c.period)) for c in r.limits if c.unit == "times" or c.unit == unit]


def is_limited(r) -> bool:
    return bool(r.limits) or r.budget is not None


def rule_vector_reason(r) -> Optional[str]:
    """Why the kernel cannot run a rule's caps or budget, or None."""
    if is_limited(r):
        return f"rule {r.name!r} has a cap or budget: not vectorised yet"
    return None


def own_cap_vector_reason(r, units: tuple) -> Optional[str]:
    """None when the kernel can run the rule's limits with `vector_own_cap`: no budget and at most one cap,
    the rule's own, counting one of `units` ("times", "points", "money")."""
    own = f"rule:{r.name}"
    if r.budget is None and (not r.limits or (len(r.limits) == 1 and r.limits[0].unit in units
                                               and r.limits[0].scope == own)):
        return None
    return f"rule {r.name!r} has a cap or budget the kernel does not run (only one cap of its own, in " \
           f"{' or '.join(units)})"


def vector_own_cap(kern, r, amount):
    """The vectorised `limit` for a rule with one cap of its own (own_cap_vector_reason), for the kernel
    `kern` (simulate/vector/kernel.py): per event, what the rule gives of `amount` (int64, what it would
    give without the cap; one claim per event), and what the cap refuses (a `cap_reached`'s truncated
    amount, 0 where none). The cap's counter restarts each period of the member's: a `times` cap grants the
    first N claims, a points or money cap the running total up to the cap (what it refuses does not count)."""
    import numpy as np

    from loyalty.runtime.arrays import INT_LIMIT, segmented_cumsum

    granted, refused = amount.copy(), np.zeros(len(amount), dtype=np.int64)
    if not r.limits:
        return granted, refused
    cap = r.limits[0]
    idx = np.flatnonzero(amount > 0)
    if not len(idx):
        return granted, refused
    period, _ = kern.period_starts(cap.period)
    key_mem, key_per = kern.e_mem[idx], period[idx]
    new = np.concatenate(([True], (key_mem[1:] != key_mem[:-1]) | (key_per[1:] != key_per[:-1])))
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    room = min(cap.amount, INT_LIMIT)
    if cap.unit == "times":
        claims = np.ones(len(idx), dtype=np.int64)
        before = segmented_cumsum(claims, group, starts) - 1
        allowed = np.where(before < room, amount[idx], 0)
    else:
        values = amount[idx]
        total = segmented_cumsum(values, group, starts)
        allowed = np.minimum(total, room) - np.minimum(total - values, room)
    granted[idx] = allowed
    refused[idx] = amount[idx] - allowed
    return granted, refused


class Budgets(ProgramMechanic):
    name = "budgets"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        if program.budgets:
            return "budgets (program-wide limits) need the two-pass scalar replay"
        return None

