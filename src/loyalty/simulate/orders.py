"""One member's rows to that member's events, in time order.

A history row is a line of an order. Purchase rows with the same order id form
one order; without an order id, the member's purchase rows at the same timestamp
do. Return rows group the same way, and their order id names the purchase they
return. Every other row (visit, signup, referral, redemption, custom) is one event.

Events are plain tuples (`SimEvent`), not pydantic objects: this is the hot path.
"""

from __future__ import annotations

import datetime as _dt
from typing import NamedTuple, Optional

from loyalty.simulate.history import History


class Line(NamedTuple):
    item: Optional[str]
    category: Optional[str]
    quantity: int
    amount: int  # minor units paid for the whole line


class SimEvent(NamedTuple):
    kind: str  # purchase, return, visit, signup, referral, redemption, custom
    time: _dt.datetime
    order_id: Optional[str]  # for a return: the order it returns
    event_id: Optional[str]
    store: Optional[str]
    channel: Optional[str]
    lines: tuple[Line, ...]  # purchase and return only
    name: Optional[str]  # redemption: the reward; custom: the action
    row: int  # first history row of the event, for messages

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


_GROUPED = ("purchase", "return")


def member_events(h: History, start: int, end: int) -> list[SimEvent]:
    """The events of the member whose rows are h[start:end] (rows already sorted by time)."""
    events: list[SimEvent] = []
    open_groups: dict[tuple, int] = {}  # group key -> index in events
    lines: dict[int, list[Line]] = {}
    kinds, times, orders = h.type, h.time, h.order
    for i in range(start, end):
        kind = kinds[i]
        line = Line(h.item[i], h.category[i], h.quantity[i], h.amount[i])
        if kind in _GROUPED:
            order_id = orders[i]
            # lines of one purchase share its order id; a return also by its time (two returns of one order differ)
            key = (kind, order_id) if order_id is not None and kind == "purchase" else (kind, order_id, times[i])
            at = open_groups.get(key)
            if at is not None:
                lines[at].append(line)
                continue
            open_groups[key] = len(events)
            lines[len(events)] = [line]
            events.append(SimEvent(kind, times[i], order_id, h.event[i], h.store[i], h.channel[i], (), None, h.row[i]))
        else:
            name = h.item[i] if kind in ("redemption", "custom") else None
            events.append(SimEvent(kind, times[i], orders[i], h.event[i], h.store[i], h.channel[i], (), name, h.row[i]))
    for at, ls in lines.items():
        events[at] = events[at]._replace(lines=tuple(ls))
    return events
