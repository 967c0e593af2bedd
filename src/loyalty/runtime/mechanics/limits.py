"""Caps (per member, per period) and budgets (program-wide): how much of what a rule gives it may give.

Every mechanic that gives something asks `limit` first when its rule has caps or a budget; a
budget is claimed from the caller's ledger (`runtime/ledger.py`). The simulation replays
budgets exactly in passes (`simulate/budgets.py`)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.mechanics.stock import before_or_at, record_claims, take_stock
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
        so_far = used[1] if used is not None and used[0] == key else 0
        # replaced, never changed in place (the map and its [period key, used]): state copies share them
        st.caps = {**st.caps, c.scope: [key, so_far + (1 if c.unit == "times" else granted)]}
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


def budget_or_own_cap_vector_reason(r, units: tuple) -> Optional[str]:
    """None when the kernel can run the rule's limits: a budget alone (`vector_budgets`, where the rule's
    mechanic is in BUDGET_ACTIONS), or one cap of its own counting one of `units` (`own_cap_vector_reason`)."""
    return None if not r.limits else own_cap_vector_reason(r, units)


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
        from loyalty.runtime.mechanics.context import balance_conditions

        for r in program.rules:
            if r.budget is not None and (r.action not in BUDGET_ACTIONS or r.limits):
                return f"rule {r.name!r}: a budget on {r.action} (or with a cap) needs the two-pass scalar replay"
            if r.budget is not None and r.action == "give" and balance_conditions(program.doc["rules"][r.index]):
                return f"rule {r.name!r}: a budget on a gift with a condition on a point balance needs the " \
                       "two-pass scalar replay"
        return None


# the rules whose budgets the kernel claims from (vector_limits): the parts of points per spend, fixed earns, gifts
BUDGET_ACTIONS = ("earn_per_spend", "multiplier", "earn_fixed", "give")


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


class BudgetClaims:
    """One budgeted source's claims on the kernel's events, for `vector_budgets`: `times` claims at each event
    (int64 per event), each of `amount` (int64 per event: points, or for a reward its cost in money), made in
    the scalar plan's order within an event by `rank` (int64 per event). A reward (`kind` None) is claimed
    all or nothing, as `fire_give` asks `limit`. After `vector_budgets`: per event, what the claims were granted
    (`granted`, in points or rewards' cost) and how many were granted anything (`count`)."""

    __slots__ = ("source", "amount", "times", "rank", "kind", "granted", "count")

    def __init__(self, source, amount, times, rank, kind):
        self.source, self.amount, self.times, self.rank, self.kind = source, amount, times, rank, kind
        self.granted = self.count = None


def vector_budgets(kern, columns: list, known: dict) -> None:
    """The vectorised budget claims (for the kernel `kern`, simulate/vector/kernel.py), as `limit` and the
    simulation's CutoffLedger (simulate/budgets.py) make them: every claim of every budgeted source
    (`BudgetClaims`) in service order (time, member id, the member's claim count, the claims of one event in
    the scalar plan's order); a budget whose cutoff is `known` grants in full before it, what was left at it,
    nothing after (a reward: all or nothing); the others grant in full; every claim, as asked, goes to
    `kern.claims` for the next pass. What is cut is a budget_reached (`kern.budget_cut`: the budget table); each column's
    `granted` and `count` say what its claims got."""
    import numpy as np

    from loyalty.runtime.arrays import Unsupported, fits

    for c in columns:
        c.granted = np.zeros(kern.nev, dtype=np.int64)
        c.count = np.zeros(kern.nev, dtype=np.int64)
    evs, ranks, cols = [], [], []
    for ci, c in enumerate(columns):
        at = np.flatnonzero(c.times > 0)
        ev_c = np.repeat(at, c.times[at])  # a rule firing n times on an event claims n times
        evs.append(ev_c)
        ranks.append(c.rank[ev_c])
        cols.append(np.full(len(ev_c), ci, dtype=np.int64))
    if not columns or not sum(len(e) for e in evs):  # e.g. a budget on a rule no event earns by: no claim
        return
    ev, rank, col = np.concatenate(evs), np.concatenate(ranks), np.concatenate(cols)
    order = np.lexsort((np.arange(len(ev)), rank, ev))  # replay order: event by event, then the plan's order
    ev, col = ev[order], col[order]
    mem = kern.e_mem[ev]
    first = np.concatenate(([True], mem[1:] != mem[:-1]))
    pos = np.arange(len(ev))
    seq = pos - np.maximum.accumulate(np.where(first, pos, 0))
    t = kern.e_time[ev]
    asked: dict = {}  # budget -> its claims (events, member claim indexes, amounts asked) by column
    for ci, c in enumerate(columns):
        mine = np.flatnonzero(col == ci)
        if not len(mine):
            continue
        src, kind = c.source, c.kind
        a = c.amount[ev[mine]]
        unit = src.budget_unit if kind is not None else "points"  # a reward's cost is money already (`limit`)
        if unit == "money" and kind.cost and not fits(int(a.max()), kind.cost[0]):
            raise Unsupported("budget claims too large for 64-bit arithmetic")
        claim = budget_claim(a, unit, kind)
        cutoff = known.get(src.budget)
        # every claim, as asked, for the next pass (and to check a pass's guessed cutoffs, simulate/budgets.py):
        # recorded below, per budget (a campaign's rules share one)
        asked.setdefault(src.budget, []).append((ev[mine], seq[mine], claim))
        if cutoff is None:
            units = a
            cut = np.zeros(len(mine), dtype=bool)
        else:
            position, left = cutoff
            before, here = before_or_at(kern, t[mine], mem[mine], seq[mine], position)
            got = np.where(before, claim, np.where(here, np.minimum(claim, left), 0))
            cut = got < claim
            units = np.where(cut, budget_units(got, unit, kind) if kind is not None else 0, a)
            if cut.any():
                kern.budget_cut.append((src.budget, int(cut.sum()), int((a - units)[cut].sum())))
        np.add.at(c.granted, ev[mine], units)
        # a firing that got anything counts; a reward counts when its claim is granted whole, a free one too
        np.add.at(c.count, ev[mine], ((units > 0) | (~cut if kind is None else False)).astype(np.int64))
    for budget, parts in asked.items():
        record_claims(kern, budget, *(np.concatenate(p) for p in zip(*parts)))


def vector_limits(kern) -> None:
    """Caps and budgets on the kernel's earning parts, fixed earns and gifts (simulate/vector/kernel.py, before
    its lockstep), as `limit` makes them: first each earning source's cap of its own (`vector_part_caps`), then
    every budget's claims (`vector_budgets`), in the scalar plan's order within an event: a purchase's earning
    rules in rule order (each its base, its tier's and its multipliers' parts), then its gifts; a visit's,
    signup's or action's rules in rule order. What a budget grants becomes what the part, fixed earn or gift
    gives (`kern.ptab` at the tier each member holds, `kern.fixed`, `kern.gives`)."""
    import numpy as np

    from loyalty.runtime.arrays import PURCHASE

    prog = kern.prog
    if any(is_limited(prog.source(sl.skey)) and prog.source(sl.skey).limits for sl in kern.earn_slots):
        vector_part_caps(kern)
    if not prog.budgets:
        return
    width = 2 + len(kern.mults)  # an earning rule's parts: its base, its tier's, one per multiplier
    give_after = np.where(kern.e_type == PURCHASE, len(prog.rules) * width, 0)  # a purchase's gifts come last
    row, col = kern.tier_guess + 1, np.arange(kern.nev)
    columns, writes = [], []
    part: dict[int, int] = {}  # per earning rule, its parts so far
    for sl in kern.earn_slots:
        part[sl.rule.index] = part.get(sl.rule.index, -1) + 1
        src = prog.source(sl.skey)
        if src.budget is None:
            continue
        pts = kern.ptab[sl.skey][row, col]
        rank = np.full(kern.nev, sl.rule.index * width + part[sl.rule.index], dtype=np.int64)
        columns.append(BudgetClaims(src, pts, (pts > 0).astype(np.int64), rank, prog.kinds[src.point_kind]))
        writes.append(("part", sl))
    for r in kern.fixed_rules:
        if r.budget is None:
            continue
        times = kern.fixed[r.index] // r.points  # no cap of its own beside a budget (the reasons)
        columns.append(BudgetClaims(r, np.full(kern.nev, r.points, dtype=np.int64), times,
                                    np.full(kern.nev, r.index * width, dtype=np.int64), prog.kinds[r.point_kind]))
        writes.append(("fixed", r))
    for r in kern.give_rules:
        if r.budget is None:
            continue
        times = kern.gives[r.index][0]
        columns.append(BudgetClaims(r, np.full(kern.nev, prog.rewards[r.reward].cost, dtype=np.int64), times,
                                    give_after + r.index * width, None))
        writes.append(("give", r))
    vector_budgets(kern, columns, known=kern.known)
    for c, (what, x) in zip(columns, writes):
        if what == "part":
            has = c.times > 0
            kern.ptab[x.skey][row[has], col[has]] = c.granted[has]
        elif what == "fixed":
            kern.fixed[x.index] = c.granted
            kern.fixed_times[x.index] = c.count  # one points_earned per firing granted anything
        else:
            kern.gives[x.index] = (c.count, kern.gives[x.index][1])


def vector_part_caps(kern) -> None:
    """The vectorised `limit` for the caps of earning parts (a points-per-spend rule's base part, a multiplier's
    part of every rule it multiplies): one cap of the source's own (`own_cap_vector_reason`), counted per member
    and period over the claims in the scalar plan's order (the parts of one event by rule, then part). Applied
    to `kern.ptab` at the tier each member holds (`tier_guess`, settled by passes); what a cap refuses is a
    cap_reached (`kern.cap_cut`: the cap table)."""
    import numpy as np

    from loyalty.runtime.arrays import INT_LIMIT, segmented_cumsum

    prog = kern.prog
    row, col = kern.tier_guess + 1, np.arange(kern.nev)
    width = 2 + len(kern.mults)
    by_scope: dict = {}
    part: dict[int, int] = {}  # per earning rule, its parts so far
    for sl in kern.earn_slots:
        part[sl.rule.index] = part.get(sl.rule.index, -1) + 1
        src = prog.source(sl.skey)
        if src.limits:
            by_scope.setdefault(src.limits[0].scope, []).append((sl, src, sl.rule.index * width + part[sl.rule.index]))
    for slots in by_scope.values():
        cap = slots[0][1].limits[0]
        evs, ranks, which = [], [], []
        for k, (sl, _src, rank) in enumerate(slots):
            at = np.flatnonzero(kern.ptab[sl.skey][row, col] > 0)
            evs.append(at)
            ranks.append(np.full(len(at), rank, dtype=np.int64))
            which.append(np.full(len(at), k, dtype=np.int64))
        ev, rank, j = np.concatenate(evs), np.concatenate(ranks), np.concatenate(which)
        if not len(ev):
            continue
        order = np.lexsort((rank, ev))
        ev, j = ev[order], j[order]
        amount = np.empty(len(ev), dtype=np.int64)
        for jj, (sl, _src, _rank) in enumerate(slots):
            mine = j == jj
            amount[mine] = kern.ptab[sl.skey][row[ev[mine]], ev[mine]]
        period, _ = kern.period_starts(cap.period)
        key_mem, key_per = kern.e_mem[ev], period[ev]
        new = np.concatenate(([True], (key_mem[1:] != key_mem[:-1]) | (key_per[1:] != key_per[:-1])))
        starts = np.flatnonzero(new)
        group = np.cumsum(new) - 1
        room = min(cap.amount, INT_LIMIT)
        if cap.unit == "times":
            before = segmented_cumsum(np.ones(len(ev), dtype=np.int64), group, starts) - 1
            allowed = np.where(before < room, amount, 0)
        else:  # what the cap refuses does not count: the running total, clipped at the cap
            total = segmented_cumsum(amount, group, starts)
            allowed = np.minimum(total, room) - np.minimum(total - amount, room)
        refused = amount - allowed
        for jj, (sl, src, _rank) in enumerate(slots):
            mine = j == jj
            kern.ptab[sl.skey][row[ev[mine]], ev[mine]] = allowed[mine]
            cut = mine & (refused > 0)
            if cut.any():
                kern.cap_cut.append((src.name, int(cut.sum()), int(refused[cut].sum())))
