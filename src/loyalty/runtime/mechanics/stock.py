"""Stock-limited rewards (`reward "Tote bag" is a gift "tote bag" limited to 500`): rules may give the reward at
most that many times in all, program-wide, first come first served; once the stock is gone a rule that would
give it gives nothing and says so (`stock_out`). Redemptions do not draw on it.

The stock is claimed like a budget, from the caller's ledger under the key `stock:<reward>` (the compiler
puts it among the program's budgets), so it is exact wherever budgets are: one `BudgetLedger` for `apply`,
and the simulation's passes (`simulate/budgets.py`) when a history is split across processes."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.registry import ProgramMechanic

PREFIX = "stock:"


def stock_key(reward: str) -> str:
    """The ledger key of a reward's stock."""
    return PREFIX + reward


def take_stock(prog, st, r, reward: str, ev, ledger, out) -> bool:
    """One unit of the reward's stock for rule `r` (True), or, when none is left, a `stock_out` and False.
    A reward without a stock always has one."""
    rw = prog.rewards[reward]
    if rw.stock is None:
        return True
    key = stock_key(reward)
    if ledger.claim(key, 1, ev.time, st.member_id, ev.id) >= 1:
        return True
    out.append(Effect("stock_out", ev.time, r.name, r.line, r.column, reward=reward, scope=key, truncated=1,
                      event=ev.id))
    return False


def claim_order(kern, units):
    """Claims of one unit each, in the kernel's replay order (event by event, then by column), from `units`
    (int64, events x columns, how many units each column claims at each event): per claim its event, its
    column, and its index among the member's claims (the `seq` of simulate/budgets.py's CutoffLedger, which
    only needs to keep one member's claims on one key in replay order)."""
    import numpy as np

    ncol = units.shape[1]
    flat = units.reshape(-1)
    at = np.repeat(np.arange(len(flat)), flat)
    ev, col = at // ncol, at % ncol
    mem = kern.e_mem[ev]
    first = np.concatenate(([True], mem[1:] != mem[:-1])) if len(at) else np.zeros(0, dtype=bool)
    pos = np.arange(len(at))
    seq = pos - np.maximum.accumulate(np.where(first, pos, 0)) if len(at) else pos
    return ev, col, seq


_EARLY_CLAIMS = 4096  # record_claims: how many of the earliest claims are tried before all of them


def record_claims(kern, key: str, ev, seq, amounts) -> None:
    """Record claims on the ledger key `key` (at events `ev`, member claim indexes `seq`, amounts asked), those
    that can place the key's cutoff (`claims_that_can_cut`), in `kern.claims` for the next budget pass
    (simulate/budgets.py), in service order (time, member id, seq): the order the pass's merge and cutoff search
    sort all claims in, so each key's claims arrive as one sorted run and those sorts only merge runs
    (store_load at 1M rows: 2 x 1M claims, their sort ~3.5 s of CPU when the kernel's event order left them
    unsorted). (member, seq) is unique among one key's claims, so this order is the claims' own (tuple) order.
    Only the claims up to the moment where these reach the limit are sorted (those after it come after the
    first claim that reaches it, in service order as in time)."""
    import numpy as np

    t = kern.e_time[ev]
    asked = np.asarray(amounts)
    limit = kern.prog.budgets.get(key)
    if limit is not None:
        # in time order: a moment by which these claims reach the limit (`claims_that_can_cut` in service order
        # below); a budget tends to run out early (store_load's within hours), so the earliest claims are
        # sorted first (found by a partition, O(n)), and all of them only when those do not reach it (nor
        # where an amount is negative: then no claim can cut)
        by_time = None
        if len(t) > _EARLY_CLAIMS and asked.min() >= 0:
            early = np.flatnonzero(t <= np.partition(t, _EARLY_CLAIMS)[_EARLY_CLAIMS])  # (with all ties)
            by_time = early[np.argsort(t[early])]
            reach = claims_that_can_cut(asked[by_time], limit)
            if reach == len(by_time):  # (not before the last of them: in time order, all claims)
                by_time = None
        if by_time is None:
            by_time = np.argsort(t)
            reach = claims_that_can_cut(asked[by_time], limit)
        if reach < len(asked):
            within = np.flatnonzero(t <= t[by_time[reach - 1]])
            ev, seq, t, asked = ev[within], seq[within], t[within], asked[within]
    mem = kern.e_mem[ev]
    # the members' ids in text order, among the members claiming
    present, at = np.unique(mem, return_inverse=True)
    names = kern.member_names
    text = [names[m] for m in present.tolist()]
    rank = np.empty(len(present), dtype=np.int64)
    rank[sorted(range(len(text)), key=text.__getitem__)] = np.arange(len(present))
    order = np.lexsort((seq, rank[at.reshape(-1)], t))
    asked = asked[order]
    order = order[:claims_that_can_cut(asked, limit)]
    kern.claims.extend(zip(t[order].tolist(), [text[i] for i in at.reshape(-1)[order].tolist()],
                           seq[order].tolist(), [key] * len(order), asked[:len(order)].tolist()))


def claims_that_can_cut(asked, limit) -> int:
    """How many of one key's claims (amounts `asked`, in service order) the next pass needs: those up to the first
    at which these claims alone reach the key's `limit` (asking more than nothing), all when they never do.
    simulate/budgets.py `find_cutoffs` puts the key's cutoff at the first claim of all the pass's claims (every
    group's) that asks more than nothing and brings what they asked to the limit; with no amount negative, all
    claims ask at least what these ask up to any of these, so the cutoff is at or before that first one, and
    the claims after it are after the cutoff, where `find_cutoffs` reads nothing (nor `FirstPassScout`, which
    only asks whether the claims reach each limit). store_load at 1M rows: its two budgets run out within the
    first hours, so ~1M claims a pass become a few dozen per group of rows."""
    import numpy as np

    n = len(asked)
    if limit is None or not n or asked.min() < 0:
        return n
    reached = np.flatnonzero((np.cumsum(asked) >= limit) & (asked > 0))
    return int(reached[0]) + 1 if len(reached) else n


def grant_in_service_order(kern, key: str, ev, seq):
    """Per claim of one unit on the ledger key `key` (events `ev`, member claim indexes `seq`), whether it is
    granted, as simulate/budgets.py's CutoffLedger grants it: with the key's cutoff known, the claims before it
    and at it (what was left there is at least the one unit), none after; else every claim. Every claim is
    recorded in `kern.claims` for the next pass (simulate/budgets.py)."""
    import numpy as np

    cutoff = kern.known.get(key)
    record_claims(kern, key, ev, seq, np.ones(len(ev), dtype=np.int64))
    if cutoff is None:
        return np.ones(len(ev), dtype=bool)
    position, left = cutoff
    before, here = before_or_at(kern, kern.e_time[ev], kern.e_mem[ev], seq, position)
    return before | (here & (left >= 1))


def before_or_at(kern, t, mem, seq, position):
    """Per claim (at times `t`, of the kernel's members `mem`, member claim indexes `seq`), whether it comes
    before the claim at `position` (time, member id, seq) in service order, and whether it is that claim. Member
    ids are compared (as text) only where the times tie."""
    import numpy as np

    ct, cm, cs = position
    before = t < ct
    here = np.zeros(len(t), dtype=bool)
    tie = np.flatnonzero(t == ct)
    if len(tie):
        names = kern.member_names
        text = [names[m] for m in mem[tie].tolist()]
        lt = np.array([n < cm for n in text], dtype=bool)
        same = np.array([n == cm for n in text], dtype=bool)
        before[tie] = lt | (same & (seq[tie] < cs))
        here[tie] = same & (seq[tie] == cs)
    return before, here


def service_rank(r) -> tuple:
    """Where rule r's claims come among one event's claims in the scalar plan: the event's own rules first (a
    purchase's give phase, a visit's steps, by rule), then goals and streaks (`goals.count_event`, after the
    purchase's or visit's own rewards), then the new member's referral gift (`referral.on_purchase`, last)."""
    from loyalty.runtime.mechanics.goals import TRIGGERS as GOAL_TRIGGERS
    from loyalty.runtime.mechanics.triggers import FIRED_VECTOR_TRIGGERS

    if r.trigger in GOAL_TRIGGERS:
        return (1, r.index)
    return (2, r.index) if r.trigger in FIRED_VECTOR_TRIGGERS else (0, r.index)


def vector_stock(kern) -> None:
    """The vectorised stock (for the kernel `kern`, simulate/vector/kernel.py), as `take_stock` claims it: each
    unit a give rule gives of a reward with a stock claims one, in service order (the member's events in order,
    within an event the give rules in the scalar plan's order, `service_rank`); a unit refused
    is not given (`kern.gives`, in place) and is a `stock_out` (`kern.stock_out`: reward -> how many)."""
    import numpy as np

    prog = kern.prog
    for name, rw in prog.rewards.items():
        if rw.stock is None:
            continue
        rules = sorted((r for r in kern.give_rules if r.reward == name), key=service_rank)
        if not rules:
            continue
        units = np.stack([kern.gives[r.index][0] for r in rules], axis=1)
        ev, col, seq = claim_order(kern, units)
        if not len(ev):
            continue
        refused = ~grant_in_service_order(kern, stock_key(name), ev, seq)
        if not refused.any():
            continue
        kern.stock_out[name] = kern.stock_out.get(name, 0) + int(refused.sum())
        for j, r in enumerate(rules):
            given, capped = kern.gives[r.index]
            cut = np.bincount(ev[refused & (col == j)], minlength=len(given))
            kern.gives[r.index] = (given - cut, capped)


class Stock(ProgramMechanic):
    name = "stock"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        """The kernel claims stock for give rules (`vector_stock`) that have no cap or budget of their own to
        claim before it (limits.limit claims those first and refuses all or nothing)."""
        for r in program.rules:
            if r.action == "give" and program.rewards[r.reward].stock is not None and (r.limits or r.budget):
                return (f"rule {r.name!r} gives {r.reward!r}, which is limited to {program.rewards[r.reward].stock},"
                        " under a cap or budget of its own: not vectorised yet")
        return None
