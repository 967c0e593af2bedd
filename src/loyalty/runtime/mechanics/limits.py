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


class Budgets(ProgramMechanic):
    name = "budgets"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        if program.budgets:
            return "budgets (program-wide limits) need the two-pass scalar replay"
        return None

