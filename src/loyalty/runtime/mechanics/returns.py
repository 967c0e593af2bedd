"""Returns: a whole order, some of its lines, or an amount. Each mechanic's share of the order is taken
back: the points each rule (and multiplier source) gave (`points.claw`), punch-card units
(`punch.punches_back`), spend and tier progress, a rule's own spend counter, and rewards when the program
takes them back on a whole return. A share is by the rule's own lines when the returns name lines, else
by amount (`formulas.share`)."""

from __future__ import annotations

from loyalty.runtime.effects import Effect
from loyalty.runtime.formulas import half_even, share
from loyalty.runtime.internal import EventError
from loyalty.runtime.mechanics.goals import take_back as goals_take_back
from loyalty.runtime.mechanics.metrics import add_metric
from loyalty.runtime.mechanics.offers import take_back_offer, vector_offers_back
from loyalty.runtime.mechanics.points import claw
from loyalty.runtime.mechanics.punch import punches_back
from loyalty.runtime.mechanics.tiers import tier_after_return


def check_return(st, ev, cutoff=None, prog=None) -> None:
    """Refuse (before anything changes) a return of an unknown order, item, or more than is left; under a
    returns window (`cutoff`, runtime/windows.py), of an order bought before the cutoff, with the same words
    whether or not its record is still in memory."""
    o = st.order(ev.order)
    if cutoff is not None and (o is None or o.time < cutoff):
        from loyalty.runtime.windows import return_window_text

        raise EventError("order", f"member {st.member_id!r} has no purchase with order id {ev.order!r} within the "
                                  f"return window (the program accepts returns within {return_window_text(prog)})")
    if o is None:
        raise EventError("order", f"member {st.member_id!r} has no purchase with order id {ev.order!r}")
    if ev.ret_lines is not None:
        wanted: dict[str, int] = {}
        for i, (item, q) in enumerate(ev.ret_lines):
            rec = o.lines.get(item)
            if rec is None:
                raise EventError(f"lines.{i}.item", f"order {ev.order!r} has no item {item!r}")
            wanted[item] = wanted.get(item, 0) + q
            if rec[2] + wanted[item] > rec[0]:
                raise EventError(f"lines.{i}.quantity", f"returns {rec[2] + wanted[item]} of {item!r} but the order "
                                 f"had {rec[0]}")
    elif ev.ret_amount is not None:
        if o.returned + ev.ret_amount > o.gross:
            raise EventError("amount", f"returns more than is left of order {ev.order!r}")
    elif o.returned >= o.gross and o.gross > 0:
        raise EventError("order", f"order {ev.order!r} was already returned in full")


def take_back(prog, st, ev, ledger, out: list) -> None:
    o = st.order(ev.order).copy()  # copy on write: earlier states share the record (check_return found it)
    st.put_order(ev.order, o)
    t = ev.time
    if ev.ret_lines is not None:
        r_amount = 0
        for item, q in ev.ret_lines:
            rec = o.lines[item]
            before = half_even(rec[1] * rec[2], rec[0])
            rec[2] += q
            r_amount += half_even(rec[1] * rec[2], rec[0]) - before
    elif ev.ret_amount is not None:
        r_amount = ev.ret_amount
        o.by_amount = True
    else:
        r_amount = o.gross - o.returned
        for rec in o.lines.values():
            rec[2] = rec[0]
    prev = o.returned
    R = prev + r_amount
    o.returned = R
    G = o.gross
    whole = R >= G

    def rule_share(ri: int, total: int) -> int:
        """What a rule's points or punches carry of the return: by the rule's own lines when the
        returns so far name lines, else by the order's amount."""
        items = o.items.get(ri)
        if whole or o.by_amount or items is None:
            return share(total, R, G)
        g = sum(o.lines[i][1] for i in items)
        back = sum(half_even(o.lines[i][1] * o.lines[i][2], o.lines[i][0]) for i in items)
        return total if back >= g else (half_even(total * back, g) if g else 0)

    # points, per rule that earned them
    n = len(prog.rules)  # in rule order, each rule's multiplier sources after it (the order they were earned in)
    for ri, pts in sorted(o.points.items(), key=lambda kv: (kv[0] % n, kv[0] // n)):
        delta = rule_share(ri, pts) - o.clawed.get(ri, 0)
        if delta > 0:
            o.clawed[ri] = o.clawed.get(ri, 0) + delta
            claw(prog, st, prog.source(ri), delta, ev, out)
    punches_back(st, o, rule_share)
    # spend and tier progress
    paid_back = share(o.paid, R, G) - share(o.paid, prev, G)
    if paid_back:
        st.spend -= paid_back
        add_metric(prog, st, "spend", -1, o.time, -paid_back)
        if st.goals:  # spend goals the order still counts towards
            goals_take_back(prog, st, ev.order, paid_back)
    for ri, counted in o.counted.items():  # a rule's own spend counter: the same share of what it counted
        back = share(counted, R, G) - share(counted, prev, G)
        if back:
            st.add_count(ri, -back)
    if whole and prog.rewards_taken_back:
        for ri, name in o.rewards:
            rule = prog.rules[ri]
            rw = prog.rewards[name]
            if rw.is_offer and not take_back_offer(st, name, ri):
                continue  # an offer already used or lapsed is not taken back (docs/semantics.md)
            st.add_rewards(name, -1)
            out.append(Effect("reward_taken_back", t, rule.name, rule.line, rule.column, reward=name, amount=rw.face,
                              cost=rw.cost, order=ev.order, event=ev.id))
        o.rewards = []
    if prog.tiers is not None:
        tier_after_return(prog, st, t, out)


# ---------------------------------------------------------------- vectorised


def vector_outside_window(prog, returned_at, bought_at):
    """The vectorised returns-window test of `check_return`: per return, whether the order (bought at
    `bought_at`, µs) was bought before the return window's cutoff back from `returned_at` (µs). The kernel
    replays each member's events in time order, so the return is the member's latest event: its moment is
    `now` (windows.return_cutoff)."""
    from loyalty.runtime.arrays import add_duration

    amount, unit = prog.return_window
    return bought_at < add_duration(returned_at, -amount, unit)


def vector_taken_back(kern) -> dict:
    """The vectorised step of the rewards a whole return takes back (`take_back`, for the kernel `kern`,
    simulate/vector/kernel.py): per give rule, per event, the rewards it takes back. The return that makes
    its order whole (the first such: `take_back` empties the order's rewards) takes back every reward
    the rule gave on that order's purchase (a count of them: `vector_gives`). A goal's, a streak's or a
    referral's gift is the member's, given with no order (`goals.count_event`, `referral`: only the new
    member's own qualifying purchase gives with its order), so no return takes it back."""
    import numpy as np

    from loyalty.runtime.mechanics.triggers import MEMBER_VECTOR_TRIGGERS

    kern.offers_taken_back = {}  # rule index -> per purchase event, how many of its offers were taken back
    if not kern.prog.rewards_taken_back or not kern.give_rules:
        return {}
    whole = np.flatnonzero(kern.e_valid & (kern.ret_order_ev >= 0) & (kern.ret_R >= kern.ret_G))
    bought = kern.ret_order_ev[whole]
    _, first = np.unique(bought, return_index=True)  # events in time order: the first whole return per order
    whole, bought = whole[first], bought[first]
    out = {}
    for r in kern.give_rules:
        if r.index not in kern.gives:  # fired by a timer: given on no order, so no return takes it back
            continue
        if r.trigger in MEMBER_VECTOR_TRIGGERS:  # the member's, not the order's
            continue
        back = np.zeros(kern.nev, dtype=np.int64)
        back[whole] = kern.gives[r.index][0][bought]
        rw = kern.prog.rewards[r.reward]
        if rw.is_offer:  # the newest offers held go back; one used or lapsed stays so (`take_back_offer`)
            back[whole], kern.offers_taken_back[r.index] = vector_offers_back(kern, rw, kern.gives[r.index][0],
                                                                              bought, whole)
        out[r.index] = back
    return out
