"""Caps (per member, per period) and budgets (program-wide): how much of what a rule gives it may give.

Every mechanic that gives something asks `limit` first when its rule has caps or a budget; a
budget is claimed from the caller's ledger (`runtime/ledger.py`). The simulation replays
budgets exactly in passes (`simulate/budgets.py`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.mechanics.stock import take_stock
from loyalty.runtime.timeutil import period_key


def limit(prog, st, r, amount: int, ev, ledger, out, kind, money=False, all_or_nothing=False,
          stock: Optional[str] = None) -> Optional[int]:
    """How much of `amount` the rule may give after its caps and budget, and for a reward (`stock`, its name)
    after its stock (mechanics/stock.py, claimed last: a cap or budget that refuses leaves the stock
    untouched); says so when truncated. None when nothing may be given (a `times` cap is used up, an
    all-or-nothing claim failed, the stock is gone)."""
    if not r.limits and r.budget is None:
        if stock is not None and not take_stock(prog, st, r, stock, ev, ledger, out):
            return None
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
        unit = "points" if money else r.budget_unit  # money claimed from a money budget is money already
        claim = budget_claim(granted, unit, kind)
        got = ledger.claim(r.budget, claim, ev.time, st.member_id, ev.id)
        if got < claim:
            got_units = budget_units(got, unit, kind)
            if all_or_nothing:
                got_units = 0
            out.append(Effect("budget_reached", ev.time, r.name, r.line, r.column, scope=r.budget,
                              point_kind=kind.name if kind else None, truncated=granted - got_units, event=ev.id))
            granted = got_units
            if granted <= 0:
                return None
    if stock is not None and not take_stock(prog, st, r, stock, ev, ledger, out):
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
        """The kernel runs budgets on points per spend and their multipliers (`vector_budgets`, at the tier
        each member holds); every other budget needs the scalar replay's passes."""
        if not program.budgets:
            return None
        for r in program.rules:
            if r.budget is not None and (r.action not in BUDGET_ACTIONS or r.limits):
                return f"rule {r.name!r}: a budget on {r.action} (or with a cap) needs the two-pass scalar replay"
        return None


# the rules whose budgets the kernel claims from (vector_budgets): the parts of points per spend
BUDGET_ACTIONS = ("earn_per_spend", "multiplier")


def budget_claim(amount, unit: str, kind):
    """What `amount` points claim from a budget in `unit` (`limit`): the points, or their cost in money rounded
    up (0 for a kind without a cost). Ints or int64 arrays alike."""
    if unit == "money":
        cost = kind.cost if kind else None
        return -((-amount * cost[0]) // cost[1]) if cost else amount * 0
    return amount


def budget_units(got, unit: str, kind):
    """The points a granted claim of `got` pays for (`limit`, when a budget cut the claim). Ints or int64
    arrays alike."""
    if unit == "money":
        return (got * kind.cost[1]) // kind.cost[0] if kind.cost and kind.cost[0] else got * 0
    return got


def vector_budgets(kern, slots, known: dict) -> None:
    """The vectorised budget claims (for the kernel `kern`, simulate/vector/kernel.py), as `limit` and the
    simulation's CutoffLedger (simulate/budgets.py) make them: each earning part of a budgeted source with
    points claims its budget, in service order (time, member id, the member's claim count); a budget whose
    cutoff is `known` grants in full before it, what was left at it, nothing after; the others grant in full
    and their claims go to `kern.claims` for the next pass. What is cut is a budget_reached (budget table),
    and the part's points become what the grant pays for (`kern.ptab`, before the lockstep reads it).
    `slots`: the budgeted earning slots, in the order the scalar plan claims them within an event."""
    import numpy as np

    from loyalty.runtime.arrays import fits

    prog = kern.prog
    ns = len(slots)
    if not ns:  # budgets only on rules that earn no points per purchase (a discount's, a fixed earn's)
        return
    # each event's points by the tier the member holds at it (the kernel's `tier_guess`, settled by passes;
    # without tiers every event reads row 0)
    row, col = kern.tier_guess + 1, np.arange(kern.nev)
    pts = np.stack([kern.ptab[sl.skey][row, col] for sl in slots], axis=1).reshape(-1)
    has = pts > 0
    at = np.flatnonzero(has)  # claims in replay order: event by event, the slots in order
    if not len(at):
        return
    ev, j, amount = at // ns, at % ns, pts[at]
    mem = kern.e_mem[ev]
    first = np.concatenate(([True], mem[1:] != mem[:-1]))
    pos = np.arange(len(at))
    seq = pos - np.maximum.accumulate(np.where(first, pos, 0))
    t = kern.e_time[ev]
    names = np.array(kern.member_names, dtype=object)
    got_pts = amount.copy()
    for jj, sl in enumerate(slots):
        src = prog.source(sl.skey)
        kind = prog.kinds[src.point_kind]
        mine = np.flatnonzero(j == jj)
        if not len(mine):
            continue
        a = amount[mine]
        if src.budget_unit == "money" and kind.cost and not fits(int(a.max()), kind.cost[0]):
            from loyalty.runtime.arrays import Unsupported

            raise Unsupported("budget claims too large for 64-bit arithmetic")
        claim = budget_claim(a, src.budget_unit, kind)
        cutoff = known.get(src.budget)
        if cutoff is None:
            kern.claims.extend(zip(t[mine].tolist(), names[mem[mine]].tolist(), seq[mine].tolist(),
                                   [src.budget] * len(mine), claim.tolist()))
            continue
        (ct, cm, cs), left = cutoff
        tm, sm, nm = t[mine], seq[mine], names[mem[mine]]
        same_t, same_m = tm == ct, nm == cm
        before = (tm < ct) | (same_t & ((nm < cm) | (same_m & (sm < cs))))
        here = same_t & same_m & (sm == cs)
        got = np.where(before, claim, np.where(here, np.minimum(claim, left), 0))
        cut = got < claim
        units = np.where(cut, budget_units(got, src.budget_unit, kind), a)
        got_pts[mine] = units
        if cut.any():
            kern.budget_cut.append((src.budget, int(cut.sum()), int((a - units)[cut].sum())))
    for jj, sl in enumerate(slots):
        mine = j == jj
        kern.ptab[sl.skey][row[ev[mine]], ev[mine]] = got_pts[mine]

