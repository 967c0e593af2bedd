"""What every mechanic's step looks at: the condition context of one event and the rule tests shared by all.

No mechanic of its own lives here; these are the questions each step asks of its rule (do its
conditions hold, does the program run now, which lines do its item filters select)."""

from __future__ import annotations

import datetime as _dt
from typing import Optional


class Ctx:
    """What conditions look at while one event is evaluated."""

    __slots__ = ("t", "st", "store", "channel", "lines", "gross", "items", "first", "spend_before")

    def __init__(self, t, st, store=None, channel=None, lines=(), gross=0, items=0, first=False, spend_before=None):
        self.t = t
        self.st = st
        self.store = store
        self.channel = channel
        self.lines = lines
        self.gross = gross
        self.items = items
        self.first = first
        # the member's net spend before this event (a purchase passes it before its own is added)
        self.spend_before = st.spend if spend_before is None else spend_before


def running(prog, t: _dt.datetime) -> bool:
    """Whether the program runs at moment t (`runs from ... to ...`)."""
    return (prog.runs_from is None or t >= prog.runs_from) and (prog.runs_to is None or t < prog.runs_to)


def preds_ok(r, ctx) -> bool:
    for p in r.preds:
        if not p(ctx):
            return False
    return True


def order_has_line(r, lines) -> bool:
    if not r.filters:
        return True
    return any(r.line_matches(ln[0], ln[1]) for ln in lines)


def matching(r, lines) -> list:
    """The working lines the rule's item filters select (`Rule.line_matches`), in order."""
    filters = r.filters
    if not filters:
        return lines
    out = []
    for ln in lines:
        item, cat = ln[0], ln[1]
        for items, cats in filters:
            if items is not None and item not in items and cat not in cats:
                break
        else:
            out.append(ln)
    return out


# conditions that depend only on the event (its time, store, channel) and on what is known of the member before
# her first event (segments, birthday): the vectorised kernel evaluates them as one mask per rule or draw,
# computed up front; so does `for tier`, on the tiers settled by passes (kernel.Kernel.run); any other condition
# needs the member's state
EVENT_CONDITIONS = ("dates", "weekdays", "hours", "stores", "channels", "segments", "birthday", "birthday_month",
                    "tiers")


# `when` expressions the kernel evaluates: their parts depend only on the event's lines and total, or on
# counts the history's order gives (the member's first purchase; her visits, which nothing takes back), or
# on her spend before the event, which the kernel settles before anything that reads it (_settle_spend)
EVENT_EXPRESSIONS = ("and", "or", "not", "first_purchase", "has_item", "has_category")
EVENT_MEASURES = ("order_total", "order_items", "visits", "lifetime_spend")
STATE_MEASURES = ("balance",)  # read in the kernel's lockstep (balance_conditions)


def _event_only(e: dict, state: tuple = ()) -> bool:
    op = e["op"]
    if op in ("and", "or"):
        return all(_event_only(a, state) for a in e["args"])
    if op == "not":
        return _event_only(e["arg"], state)
    if op == "cmp":
        return e["measure"] in EVENT_MEASURES or e["measure"] in state
    return op in EVENT_EXPRESSIONS


# the actions whose vectorised steps run after the kernel has settled the members' spend, so their conditions
# may read it (the punch cards' and staged earning's matches, points per visit included, are read by the returns
# before: `reads_spend_too_early`)
SPEND_READERS = ("discount", "discount_each", "discount_order", "fixed_price", "discount_scale", "give", "earn_fixed", "earn_per_event")


def reads_spend_too_early(doc: dict, action: Optional[str]) -> bool:
    """Whether the kernel would read a rule's `when lifetime spend` before it has settled the spend: an action
    not in SPEND_READERS, or points per visit (earned by the staged tables, whose matches the returns read)."""
    return action not in SPEND_READERS or (action == "earn_per_event" and doc["action"].get("event") == "visit")


def reads_measure(e: dict, measure: str) -> bool:
    """Whether a `when` expression compares `measure` somewhere."""
    if e["op"] in ("and", "or"):
        return any(reads_measure(a, measure) for a in e["args"])
    if e["op"] == "not":
        return reads_measure(e["arg"], measure)
    return e["op"] == "cmp" and e["measure"] == measure


def reads_lifetime_spend(doc: dict) -> bool:
    """Whether a compiled rule or draw has a `when lifetime spend` condition."""
    return any(c.get("kind") == "expr" and reads_measure(c["expr"], "lifetime_spend") for c in doc.get("conditions", ()))


def balance_conditions(doc: dict) -> list:
    """A compiled rule's `when` expressions that compare a point balance: the kernel evaluates them in its
    lockstep, where the balances are (its other conditions are masks computed up front)."""
    return [c["expr"] for c in doc.get("conditions", ()) if c.get("kind") == "expr" and reads_measure(c["expr"], "balance")]


# the actions whose conditions may compare a balance in the kernel: a gift on a purchase without a counting
# trigger (a counted rule would count by the balance; points that depend on a balance would feed it)
BALANCE_READERS = ("give",)


def condition_vector_reason(doc: dict, what: str) -> Optional[str]:
    """Why the kernel cannot evaluate the conditions of a compiled rule or draw (`doc`), or None."""
    action = doc.get("action", {}).get("type")
    if reads_lifetime_spend(doc) and action is not None and reads_spend_too_early(doc, action):
        return f"{what} {doc['name']!r} ({action}) has a condition on the lifetime spend: not vectorised yet"
    balance = balance_conditions(doc)
    if balance and (action not in BALANCE_READERS or doc.get("trigger")):
        return f"{what} {doc['name']!r} ({action}) has a condition on a balance: not vectorised yet"
    for c in doc.get("conditions", ()):
        if c.get("kind") == "expr" and _event_only(c["expr"], STATE_MEASURES if c["expr"] in balance else ()):
            continue
        if c.get("kind") not in EVENT_CONDITIONS:
            return f"{what} {doc['name']!r} has a {c.get('kind')!r} condition: not vectorised yet"
    return None


def due(st, t) -> None:
    """The member's next timer is at `t` at the latest."""
    if st.due is not None and t < st.due:
        st.due = t
