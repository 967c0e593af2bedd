"""Counting triggers: when a rule fires on a purchase or a visit (first purchase, the nth visit, every
nth visit, every X spent), and the counters of rules whose conditions choose what they count
(docs/semantics.md, "Triggers count what the conditions select")."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.context import order_has_line
from loyalty.runtime.program import COUNTING_TRIGGERS, Rule
from loyalty.runtime.state import NONE_YET


# `after every X spent` fires at most this many times on one event (docs/limits.md). A purchase passing more
# multiples of X (`after every 0.01 NOK spent` and a 2,000 NOK order: 200,000) gives this many, and a
# `cap_reached` effect with scope FIRINGS_SCOPE reports the rest (in the rule's unit); the spend is counted
# in full, so the rest is not carried over to later purchases.
MAX_FIRINGS_PER_EVENT = 10_000
FIRINGS_SCOPE = "firings per event"


def capped_fires(st, r: Rule, lines, order, ev, out, unit: int, kind=None) -> int:
    """`counting_fires`, at most MAX_FIRINGS_PER_EVENT; a firing over it is reported, `unit` each."""
    due = counting_fires(st, r, lines, order)
    if due > MAX_FIRINGS_PER_EVENT:
        out.append(Effect("cap_reached", ev.time, r.name, r.line, r.column, scope=FIRINGS_SCOPE,
                          point_kind=kind.name if kind else None, truncated=(due - MAX_FIRINGS_PER_EVENT) * unit,
                          event=ev.id))
        return MAX_FIRINGS_PER_EVENT
    return due


def can_apply_to_purchase(r) -> bool:
    """Whether `purchase_trigger_ok` can ever be true for the rule."""
    if r.trigger is None:
        return r.action != "earn_per_event" or r.event == "visit"
    return r.trigger in COUNTING_TRIGGERS


def purchase_trigger_ok(r: Rule, ctx) -> bool:
    """Whether the rule's trigger fires on this purchase (its conditions are checked apart). A counted rule's
    counter has already counted this purchase when its conditions and filters select it; when they do not,
    `preds_ok` or `order_has_line` refuses it anyway."""
    trig = r.trigger
    if trig is None:
        return r.action != "earn_per_event" or r.event == "visit"
    if r.counted and trig != "every_spend":
        n = ctx.st.counts.get(r.index, 0)
        if trig == "first_purchase":
            return n == 1 and order_has_line(r, ctx.lines)
        if trig in ("nth_visit", "nth_purchase"):  # a counted nth_purchase counts only purchases (no visit step)
            return n == r.trigger_n and order_has_line(r, ctx.lines)
        return n > 0 and n % r.trigger_n == 0 and order_has_line(r, ctx.lines)
    if trig == "first_purchase":
        return ctx.first
    if trig == "nth_visit":
        return ctx.st.visits == r.trigger_n
    if trig == "nth_purchase":
        return ctx.st.purchases == r.trigger_n
    if trig == "every_visits":
        return ctx.st.visits % r.trigger_n == 0
    if trig == "every_spend":
        return True
    return False


def visit_trigger_ok(r: Rule, st) -> bool:
    visits = st.counts.get(r.index, 0) if r.counted else st.visits
    if r.trigger == "nth_visit":
        return visits == r.trigger_n
    if r.trigger == "every_visits":
        return visits % r.trigger_n == 0
    return True


def counting_fires(st, r: Rule, lines=None, order=None) -> int:
    """How many new multiples of X the spend has reached (`after every X spent`): the member's net spend, or
    for a counted rule its own counter, which this purchase raises by what was paid on the rule's lines."""
    if r.counted:
        paid = sum(ln[4] for ln in lines if r.line_matches(ln[0], ln[1]))
        st.add_count(r.index, paid)
        if order.counted is NONE_YET:
            order.counted = {}
        order.counted[r.index] = order.counted.get(r.index, 0) + paid
        spent = st.counts[r.index]
    else:
        spent = st.spend
    fired = st.fired.get(r.index, 0)
    due = spent // r.trigger_n - fired
    if due > 0:
        st.fired = {**st.fired, r.index: fired + due}  # replaced: shared by state copies
        return due
    return 0


# ---------------------------------------------------------------- vectorised

# the triggers `vector_fires` computes, and `after every X spent` of a rule that counts the member's spend
# (`vector_firings`; a counted one keeps a counter of its own that returns take back a share of)
VECTOR_TRIGGERS = (None, "first_purchase", "nth_visit", "every_visits")
# triggers of their own mechanic, whose vectorised step says where the rule fires (`vector_firings`)
FIRED_VECTOR_TRIGGERS = ("goal", "streak",  # mechanics/goals.py
                         "referring", "referred", "referring_purchase", "referred_purchase")  # mechanics/referral.py
# ... of which those whose points are the member's, not an order's (a return does not take them back)
MEMBER_VECTOR_TRIGGERS = ("goal", "streak", "referring", "referred", "referring_purchase")


# the triggers a discount can have that the kernel runs (vector_discount_trigger) when the rule counts no purchases
# of its own (no conditions or item filters: `Rule.counted`)
DISCOUNT_VECTOR_TRIGGERS = ("first_purchase", "nth_purchase", "nth_visit", "every_visits")


def trigger_vector_reason(r: Rule) -> Optional[str]:
    """Why the kernel does not run a discount with a trigger (`on first purchase`, `on the 5th purchase`), or
    None (`vector_discount_trigger`)."""
    if r.trigger in DISCOUNT_VECTOR_TRIGGERS and not r.counted:
        return None
    what = "the first purchase" if r.trigger == "first_purchase" else f"purchase number {r.trigger_n}"
    return (f"rule {r.name!r} is a discount on {what} counting its own purchases (it has conditions or "
            "item filters): the vectorised discount step does not keep such counts yet")


def vector_discount_trigger(kern, r: Rule):
    """Per event of the kernel `kern`, whether a discount's trigger fires on it (`purchase_trigger_ok` of a rule
    that counts no purchases of its own): the member's running purchases (and visits, for `nth_visit` and
    `every_visits`) counted up to and with this one."""
    import numpy as np

    from loyalty.runtime.arrays import INT_LIMIT, PURCHASE, VISIT, segmented_cumsum

    purchase = (kern.e_type == PURCHASE) & kern.e_running
    if r.trigger is None:
        return purchase
    counted = purchase if r.trigger in ("first_purchase", "nth_purchase") else \
        purchase | ((kern.e_type == VISIT) & kern.e_running)
    c = segmented_cumsum(counted.astype(np.int64), kern.e_mem, kern.m_evstart)
    n = 1 if r.trigger == "first_purchase" else min(r.trigger_n or 0, INT_LIMIT)
    due = (c > 0) & (c % n == 0) if r.trigger == "every_visits" else c == n
    return purchase & due


def spend_trigger_vector_reason(r: Rule):
    """Why the kernel cannot run rule r's `after every X spent`, or None."""
    if r.counted:
        return f"rule {r.name!r} counts its own spend after every X spent: not vectorised yet"
    if r.limits:  # a budget claims once per firing (limits.vector_limits)
        return f"rule {r.name!r} fires after every X spent under a cap: not vectorised yet"
    return None


def vector_fires(kern, r: Rule):
    """Per event of the kernel `kern` (simulate/vector/kernel.py), whether rule r fires, as a purchase step
    with `order_has_line` and `purchase_trigger_ok`, and a visit step with `visit_trigger_ok`, decide it
    (r.trigger in VECTOR_TRIGGERS; its conditions included). Each count is a running count per member:
    visits are running purchases and visits; a counted rule's own count is the purchases its conditions
    and item filters select, and the visits its conditions select when it has no item filter."""
    import numpy as np

    from loyalty.runtime.arrays import INT_LIMIT, PURCHASE, VISIT, segmented_cumsum

    purchase = (kern.e_type == PURCHASE) & kern.e_running
    visit = (kern.e_type == VISIT) & kern.e_running
    cond = kern._event_ok(r)
    if r.filters:
        has_line = np.add.reduceat(kern._rows_where(r.line_matches).astype(np.int64), kern.e_start) > 0
    else:
        has_line = np.ones(kern.nev, dtype=bool)
    chosen = purchase & cond & has_line  # what a counted rule counts on purchases
    # a count is at most the member's events: a bound past int64 is never reached (and compares the same)
    trig, n = r.trigger, min(r.trigger_n or 0, INT_LIMIT)
    if trig is None:
        return chosen
    if trig == "first_purchase":
        if r.counted:
            return chosen & (segmented_cumsum(chosen.astype(np.int64), kern.e_mem, kern.m_evstart) == 1)
        return chosen & kern._expr_ok({"op": "first_purchase"})
    # nth or every n visits: on purchases and on visits
    if r.counted:
        counted = chosen | (visit & cond & (not r.filters))
    else:
        counted = purchase | visit
    c = segmented_cumsum(counted.astype(np.int64), kern.e_mem, kern.m_evstart)
    due = (c == n) if trig == "nth_visit" else ((c > 0) & (c % n == 0))
    return due & (chosen | (visit & cond & (not r.filters if r.counted else True)))


def vector_firings(kern, r: Rule):
    """Per event of the kernel `kern`, how many times rule r fires: `vector_fires` for the triggers it
    computes; for `after every X spent` (not counted: spend_trigger_vector_reason) `counting_fires` on every
    running purchase: the multiples of X the member's net spend after the purchase (`kern.spend_before` and
    the purchase's own) has reached, less those fired before (a running maximum: returns lower the spend,
    never what has fired). Over MAX_FIRINGS_PER_EVENT on one event the scalar plan reports a cap: the kernel
    declines."""
    import numpy as np

    from loyalty.runtime.arrays import PURCHASE, Unsupported, segmented_cummax

    if r.trigger in FIRED_VECTOR_TRIGGERS:
        from loyalty.runtime.mechanics import goals, referral

        return (goals if r.trigger in goals.TRIGGERS else referral).vector_fires(kern, r)
    if r.trigger != "every_spend":
        return vector_fires(kern, r).astype(np.int64)
    purchase = (kern.e_type == PURCHASE) & kern.e_running
    spent = kern.spend_before + kern.spend_deltas
    reached = np.where(purchase, np.maximum(np.floor_divide(spent, r.trigger_n), 0), 0)
    best = segmented_cummax(reached, kern.e_mem)
    fired = np.zeros(kern.nev, dtype=np.int64)
    fired[1:] = best[:-1]
    fired[kern.m_evstart] = 0
    due = np.where(purchase, np.maximum(reached - fired, 0), 0)
    if int(due.max(initial=0)) > MAX_FIRINGS_PER_EVENT:
        raise Unsupported(f"rule {r.name!r} fires more than {MAX_FIRINGS_PER_EVENT} times on one event")
    return due
