"""One member's rows to that member's events, in time order.

A history row is a line of an order. Purchase rows with the same order id form
one order; without an order id, the member's purchase rows at the same timestamp
do. Return rows group the same way (by order id and time), and their order id
names the purchase they return. Every other row (visit, signup, referral,
redemption, custom) is one event.

`event_groups` gives each event's rows; `EventBuilder` turns groups into the
evaluator's `Ev` objects straight from the history's column lists (the hot path:
no per-row objects). `member_events` gives readable `SimEvent`s for explain.
"""

from __future__ import annotations

import datetime as _dt
from bisect import bisect_left
from typing import NamedTuple, Optional, Sequence

from loyalty.runtime.internal import Ev
from loyalty.simulate.history import History, micros_to_datetime, parse_adjustment


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
    name: Optional[str]  # redemption: the reward; custom: the action; referral: the member referred; fee: the tier
    row: int  # first history row of the event, for messages

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


_GROUPED = ("purchase", "return")


def event_groups(h: History, start: int, end: int) -> list[Sequence[int]]:
    """The rows of each event of the member whose rows are h[start:end], in the order they happen."""
    return EventBuilder(h, {}).groups(start, end)


def _groups_by_key(h: History, start: int, end: int) -> list[Sequence[int]]:
    groups: list[list[int]] = []
    open_groups: dict[tuple, list[int]] = {}
    kinds, times, orders = h.type, h.column("time"), h.order
    for i in range(start, end):
        kind = kinds[i]
        if kind in _GROUPED:
            order_id = orders[i]
            # lines of one purchase share its order id; a return also by its time (two returns of one order differ)
            key = (kind, order_id) if order_id is not None and kind == "purchase" else (kind, order_id, times[i])
            group = open_groups.get(key)
            if group is not None:
                group.append(i)
                continue
            group = open_groups[key] = [i]
            groups.append(group)
        else:
            groups.append([i])
    return groups


class MemberEvents(NamedTuple):
    """One member's events for the evaluator, with what the report needs beside them."""

    evs: list[Ev]
    kinds: list[str]  # the history's type (custom, not the evaluator's action)
    totals: list[int]  # money of the event, minor units
    groups: list[Sequence[int]]  # the rows of each event
    stores: Sequence[str] = ()  # each event's store (its first row's; "" for none), for the by-store table


class EventBuilder:
    """Builds `Ev`s from a history's column lists; made once per history and program."""

    def __init__(self, h: History, catalog: dict[str, str]):
        self.h = h
        self.catalog = catalog
        self.starts, self.irregular = h.event_index()
        self.members = h.member
        self.kind, self.micros, self.order, self.event = h.type, h.column("time"), h.order, h.event
        self.item, self.category, self.quantity, self.amount = h.item, h.category, h.quantity, h.amount
        self.store, self.channel = h.store, h.channel
        # codes (separated by spaces) on purchase rows; a history without any reads none
        codes = h.table.column("codes")
        self.codes: Optional[list] = h.column("codes") if codes.null_count < len(codes) else None
        self._times: dict[int, _dt.datetime] = {}

    def time(self, row: int) -> _dt.datetime:
        us = self.micros[row]
        t = self._times.get(us)
        if t is None:
            t = self._times[us] = micros_to_datetime(us)
        return t

    def groups(self, start: int, end: int) -> list[Sequence[int]]:
        if start < end and self.members[start] not in self.irregular:
            starts = self.starts
            bounds = starts[bisect_left(starts, start):bisect_left(starts, end)] + [end]
            return [range(a, b) for a, b in zip(bounds, bounds[1:])]
        return _groups_by_key(self.h, start, end)

    def member(self, start: int, end: int) -> MemberEvents:
        groups = self.groups(start, end)
        evs: list[Ev] = []
        totals: list[int] = []
        kinds: list[str] = []
        kind_of, amount, item, category, quantity = self.kind, self.amount, self.item, self.category, self.quantity
        order_of, event_of, store_of, channel_of, micros = self.order, self.event, self.store, self.channel, self.micros
        catalog, times = self.catalog, self._times
        for g in groups:
            s = g[0]
            kind = kind_of[s]
            t = times.get(micros[s])
            if t is None:
                t = self.time(s)
            kinds.append(kind)
            if kind == "purchase":
                if len(g) == 1:
                    it = item[s] or ""
                    lines = ((it, category[s] or catalog.get(it), quantity[s], amount[s]),)
                    totals.append(amount[s])
                else:
                    lines = tuple((item[i] or "", category[i] or catalog.get(item[i] or ""), quantity[i], amount[i])
                                  for i in g)
                    totals.append(sum(ln[3] for ln in lines))
                order = order_of[s] or f"@{t.isoformat()}"
                codes = self.order_codes(g) if self.codes is not None else ()
                evs.append(Ev("purchase", event_of[s] or f"purchase:{order}", t, order, lines, store_of[s],
                              channel_of[s], codes=codes))
            elif kind == "return":
                total = sum(amount[i] for i in g)
                if all(item[i] for i in g):
                    evs.append(Ev("return", event_of[s], t, order=order_of[s],
                                  ret_lines=tuple((item[i], quantity[i]) for i in g)))
                else:
                    evs.append(Ev("return", event_of[s], t, order=order_of[s], ret_amount=total or None))
                totals.append(total)
            else:
                totals.append(0)
                if kind == "visit":
                    evs.append(Ev("visit", event_of[s], t, store=store_of[s]))
                elif kind == "redemption":
                    evs.append(Ev("redemption", event_of[s], t, reward=item[s] or ""))
                elif kind == "custom":
                    evs.append(Ev("action", event_of[s], t, name=item[s] or ""))
                elif kind == "adjustment":
                    evs.append(self.adjustment(s, t))
                elif kind == "fee":  # the paid tier in the item column (runtime/mechanics/fees.py)
                    evs.append(Ev("fee", event_of[s], t, name=item[s] or ""))
                else:
                    evs.append(Ev(kind, event_of[s], t))
        return MemberEvents(evs, kinds, totals, groups, [store_of[g[0]] or "" for g in groups])

    def adjustment(self, row: int, t) -> Ev:
        """An adjustment row's event: `adjust` says what and how much (history.parse_adjustment), `item` names
        the point kind (optional with one kind) or the punch-card rule, `reason` why."""
        h = self.h
        what, value, setting = parse_adjustment(h.column("adjust")[row])
        if what == "tier":
            adjust = ("tier", value or None, 0, True)
        else:
            adjust = (what, self.item[row] or None, int(value), setting)
        return Ev("adjustment", self.event[row], t, name=h.column("reason")[row], adjust=adjust)

    def order_codes(self, rows: Sequence[int]) -> tuple:
        """The codes of a purchase: those on any of its rows, each once, in the order written."""
        codes = self.codes
        assert codes is not None  # called only when the history has codes
        out: dict = {}
        for i in rows:
            if codes[i]:
                out.update(dict.fromkeys(codes[i].split()))
        return tuple(out)

    def readable(self, groups: list[Sequence[int]]) -> list[SimEvent]:
        """The events as `SimEvent`s (for explain and tests)."""
        h = self.h
        out = []
        for g in groups:
            s = g[0]
            kind = self.kind[s]
            lines = tuple(Line(self.item[i], self.category[i], self.quantity[i], self.amount[i]) for i in g) \
                if kind in _GROUPED else ()
            name = self.item[s] if kind in ("redemption", "custom", "referral", "fee") else None
            out.append(SimEvent(kind, self.time(s), self.order[s], self.event[s], self.store[s], self.channel[s],
                                lines, name, h.row[s]))
        return out


def member_events(h: History, start: int, end: int) -> list[SimEvent]:
    """The events of the member whose rows are h[start:end] (rows already sorted by time)."""
    return EventBuilder(h, {}).readable(event_groups(h, start, end))
