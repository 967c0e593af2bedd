"""Peer: the reference program as a plain Python per-member loop (the standard library only).

What a developer writes without a rules engine or a dataframe: read the CSV, group
rows by member, walk each member's events in time order keeping a FIFO list of point
batches. Tuned the plain way: amounts parsed once per distinct text, times kept as ISO
text (which orders as time does; an expiry is the date 365 days on, same time of day),
no sort when the file is already in time order, the per-item bookkeeping an order needs
for returns built only at its first return, and the cycle collector off. It implements the semantics of benchmarks/README.md ("The reference program
by hand") exactly, including debt after a return, so it doubles as a slow, obvious
cross-check of the vectorised peers.

    python benchmarks/peers/python_loop.py HISTORY.csv      # prints the totals as JSON
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import json
import sys
from collections import deque

CYCLE = 6  # every 6th wash is free
WASHES = "washes"
GOLD_FROM = 5000  # lifetime points earned, less points clawed back
EXPIRY = dt.timedelta(days=365)


def half_even(n: int, d: int) -> int:
    q, r = divmod(n, d)
    twice = 2 * r
    return q + 1 if twice > d or (twice == d and q % 2 == 1) else q


def minor(text: str) -> int:
    """'105.50' -> 10550, exactly (no float)."""
    whole, _, frac = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or "0")) * 100 + int((frac + "00")[:2]))


def read(path: str) -> tuple[dict, str, bool]:
    """Purchase and return rows by member, in file order: (time, is purchase, order, item, is a wash,
    quantity, amount in minor units); the last timestamp; whether the file is in time order."""
    by_member: dict[str, list] = {}
    end = ""
    in_time_order = True
    cents: dict[str, int] = {}  # amounts repeat (a few dozen prices): parse each text once
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for member, time, typ, order, item, category, qty, amount, _store, _channel in reader:
            if time >= end:
                end = time
            else:
                in_time_order = False
            if typ == "purchase" or typ == "return":
                c = cents.get(amount)
                if c is None:
                    c = cents[amount] = minor(amount)
                rows = by_member.get(member)
                if rows is None:
                    rows = by_member[member] = []
                rows.append((time, typ == "purchase", order, item, category == WASHES, int(qty), c))
    return by_member, end, in_time_order


def member_events(rows: list) -> list:
    """Rows of one member (in time order, ties in file order) to events (time, is purchase, order, lines):
    purchases grouped by order id, returns by order id and time."""
    events, at = [], {}
    for time, buy, order, item, wash, qty, amount in rows:
        key = order if buy else (order, time)
        event = at.get(key)
        if event is None:
            event = at[key] = (time, buy, order, [])
            events.append(event)
        event[3].append((item, wash, qty, amount))
    return events


def run(path: str) -> dict:
    by_member, end, in_time_order = read(path)
    expiry_date: dict[str, str] = {}  # "2024-03-01" -> "2025-03-01": 365 days later, same time of day
    tot = [0] * 6
    for rows in by_member.values():
        if not in_time_order:
            rows.sort(key=lambda r: r[0])  # stable: ties stay in file order
        replay_member(member_events(rows), end, expiry_date, tot)
    names = ["free_washes", "free_wash_value", "points_issued", "points_clawed_back", "points_expired",
             "gold_members_at_end"]
    return finish(dict(zip(names, tot)))


def expires(time: str, expiry_date: dict) -> str:
    """The moment points earned at `time` expire, as the same ISO text (which orders as time does)."""
    day = time[:10]
    later = expiry_date.get(day)
    if later is None:
        later = expiry_date[day] = (dt.date.fromisoformat(day) + EXPIRY).isoformat()
    return later + time[10:]


def replay_member(events: list, end: str, expiry_date: dict, tot: list) -> None:
    """One member's events through the program, adding to the totals (free washes, their value, points
    issued, clawed back, expired, members in gold)."""
    free = value = issued = clawed_back = expired = 0
    punches = 0  # washes counted (a return takes its washes off the count)
    given = 0  # free washes given so far: a return never lets the same free wash be earned twice
    metric = 0  # lifetime earned less clawed back: what the tier looks at
    debt = 0
    batches: deque = deque()  # [expires at, points left], oldest first
    orders: dict[str, list] = {}  # order id -> [lines, (base, tier) points, return state (at the first return)]
    for time, buy, order, lines in events:
        while batches and batches[0][0] <= time:  # expiry before the event at the same moment
            expired += batches.popleft()[1]
        if buy:
            gold = metric >= GOLD_FROM  # the tier before this purchase
            paid = 0
            for _item, wash, q, amount in lines:
                if wash:
                    punches += q
                    k = punches // CYCLE - given
                    if k > 0:
                        given += k
                        d = half_even(amount * k, q)
                        free += k
                        value += d
                        amount -= d
                paid += amount
            pts = paid * 2 // 100 if gold else paid // 100
            if pts > 0:
                pay = min(debt, pts)
                debt -= pay
                if pts > pay:
                    batches.append([expires(time, expiry_date), pts - pay])
                issued += pts
                metric += pts
            base = max(paid // 100, 0)  # the earning rule's points; the rest is the tier's (docs/semantics.md)
            orders[order] = [lines, (base, max(pts, 0) - base), None]
            continue
        o = orders.get(order)
        if o is None:
            raise SystemExit(f"return of unknown order {order}")
        if o[2] is None:  # the order's first return: per item quantity, gross, quantity returned
            items: dict[str, list] = {}
            gross = units = wash_gross = 0
            for item, wash, q, amount in o[0]:
                rec = items.setdefault(item, [0, 0, 0])
                rec[0] += q
                rec[1] += amount
                gross += amount
                if wash:
                    units += q
                    wash_gross += amount
            o[2] = dict(items=items, gross=gross, units=units, wash_gross=wash_gross, returned=0, clawed=0,
                        units_back=0, wash_returned=0)
        st = o[2]
        r_amount = 0
        for item, wash, q, _amount in lines:
            rec = st["items"].get(item)
            if rec is None:
                raise SystemExit(f"return of {item!r}, not bought in order {order}")
            before = half_even(rec[1] * rec[2], rec[0])
            rec[2] += q
            r = half_even(rec[1] * rec[2], rec[0]) - before
            r_amount += r
            if wash:
                st["wash_returned"] += r
        st["returned"] += r_amount
        R, G = st["returned"], st["gross"]
        # each source (the earning rule, the tier) gives back its own share, rounded on its own
        share = sum(o[1]) if G == 0 or R >= G else sum(half_even(p * R, G) for p in o[1])
        claw = share - st["clawed"]
        if claw > 0:
            st["clawed"] += claw
            left = claw
            while left and batches:  # oldest points first
                take = min(left, batches[0][1])
                batches[0][1] -= take
                left -= take
                if not batches[0][1]:
                    batches.popleft()
            debt += left  # the balance may go negative
            clawed_back += claw
            metric -= claw
        # the punch card's share is by its own (wash) lines, unless the whole order is back
        wg, wr = st["wash_gross"], st["wash_returned"]
        units_back = st["units"] if R >= G or wr >= wg else half_even(st["units"] * wr, wg)
        back = units_back - st["units_back"]
        if back > 0:
            st["units_back"] += back
            punches = max(0, punches - back)
    while batches and batches[0][0] <= end:
        expired += batches.popleft()[1]
    for i, x in enumerate((free, value, issued, clawed_back, expired, 1 if metric >= GOLD_FROM else 0)):
        tot[i] += x


def finish(tot: dict) -> dict:
    """Totals as printed: points outstanding, money as a decimal string."""
    out = dict(tot)
    out["points_outstanding"] = out["points_issued"] - out["points_clawed_back"] - out["points_expired"]
    v = int(out["free_wash_value"])
    out["free_wash_value"] = f"{v // 100}.{v % 100:02d}"
    return {k: (int(v) if not isinstance(v, str) else v) for k, v in sorted(out.items())}


if __name__ == "__main__":
    gc.disable()  # millions of small tuples and lists, no cycles: the cycle collector would only rescan them
    print(json.dumps(run(sys.argv[1]), sort_keys=True))
