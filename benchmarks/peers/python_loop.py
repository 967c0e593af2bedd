"""Peer: the reference program as a plain Python per-member loop (the standard library only).

What a developer writes without a rules engine or a dataframe: read the CSV, group
rows by member, walk each member's events in time order keeping a FIFO list of point
batches. It implements the semantics of benchmarks/README.md ("The reference program
by hand") exactly, including debt after a return, so it doubles as a slow, obvious
cross-check of the vectorised peers.

    python benchmarks/peers/python_loop.py HISTORY.csv      # prints the totals as JSON
"""

from __future__ import annotations

import csv
import datetime as dt
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


def member_events(rows: list) -> list:
    """Rows of one member (sorted by time, then file order) to events: purchases grouped by order id,
    returns by order id and time."""
    events, at = [], {}
    for time, _, typ, order, item, category, qty, amount in rows:
        if typ == "purchase":
            key = ("p", order)
        elif typ == "return":
            key = ("r", order, time)
        else:
            continue  # signups and referrals change nothing in the reference program
        i = at.get(key)
        if i is None:
            at[key] = len(events)
            events.append((typ, time, order, []))
            i = len(events) - 1
        events[i][3].append((item, category, qty, amount))
    return events


def run(path: str) -> dict:
    by_member: dict[str, list] = {}
    end = ""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for n, (member, time, typ, order, item, category, qty, amount, _store, _channel) in enumerate(reader):
            if time > end:
                end = time
            if typ in ("purchase", "return"):
                by_member.setdefault(member, []).append(
                    (time, n, typ, order, item, category, int(qty), minor(amount)))
    end_t = dt.datetime.fromisoformat(end)
    tot = dict(free_washes=0, free_wash_value=0, points_issued=0, points_clawed_back=0, points_expired=0,
               gold_members_at_end=0)
    for rows in by_member.values():
        replay_member(rows, end_t, tot)
    return finish(tot)


def replay_member(rows: list, end_t: dt.datetime, tot: dict) -> None:
    """One member's purchase and return rows (time text, row number, type, order, item, category, quantity,
    amount in minor units) through the program, adding to the totals."""
    if True:
        rows.sort(key=lambda r: (r[0], r[1]))
        punches = 0  # washes counted (a return takes its washes off the count)
        given = 0  # free washes given so far: a return never lets the same free wash be earned twice
        metric = 0  # lifetime earned less clawed back: what the tier looks at
        debt = 0
        batches: deque = deque()  # [expires_at, amount], oldest first
        orders: dict[str, dict] = {}
        for typ, time, order, lines in member_events(rows):
            t = dt.datetime.fromisoformat(time)
            while batches and batches[0][0] <= t:  # expiry before the event at the same moment
                tot["points_expired"] += batches.popleft()[1]
            if typ == "purchase":
                gold = metric >= GOLD_FROM  # the tier before this purchase
                paid = gross = units = wash_gross = 0
                items: dict[str, list] = {}
                for item, category, q, amount in lines:
                    gross += amount
                    d = 0
                    if category == WASHES:
                        k = max(0, (punches + q) // CYCLE - given)
                        given += k
                        punches += q
                        units += q
                        wash_gross += amount
                        if k:
                            d = half_even(amount * k, q)
                            tot["free_washes"] += k
                            tot["free_wash_value"] += d
                    paid += amount - d
                    rec = items.setdefault(item, [0, 0, 0])  # quantity, gross, quantity returned
                    rec[0] += q
                    rec[1] += amount
                pts = paid * (2 if gold else 1) // 100
                if pts > 0:
                    pay = min(debt, pts)
                    debt -= pay
                    if pts - pay:
                        batches.append([t + EXPIRY, pts - pay])
                    tot["points_issued"] += pts
                    metric += pts
                orders[order] = dict(gross=gross, pts=max(pts, 0), units=units, items=items, returned=0, clawed=0,
                                     units_back=0, wash_gross=wash_gross, wash_returned=0)
            else:
                o = orders.get(order)
                if o is None:
                    raise SystemExit(f"return of unknown order {order}")
                r_amount = 0
                for item, category, q, _amount in lines:
                    rec = o["items"][item]
                    before = half_even(rec[1] * rec[2], rec[0])
                    rec[2] += q
                    r = half_even(rec[1] * rec[2], rec[0]) - before
                    r_amount += r
                    if category == WASHES:
                        o["wash_returned"] += r
                o["returned"] += r_amount
                R, G = o["returned"], o["gross"]

                def share(total: int) -> int:
                    return total if G == 0 or R >= G else half_even(total * R, G)

                claw = share(o["pts"]) - o["clawed"]
                if claw > 0:
                    o["clawed"] += claw
                    left = claw
                    while left and batches:  # oldest points first
                        take = min(left, batches[0][1])
                        batches[0][1] -= take
                        left -= take
                        if not batches[0][1]:
                            batches.popleft()
                    debt += left  # the balance may go negative
                    tot["points_clawed_back"] += claw
                    metric -= claw
                # the punch card's share is by its own (wash) lines, unless the whole order is back
                wg, wr = o["wash_gross"], o["wash_returned"]
                units_back = o["units"] if R >= G or wr >= wg else half_even(o["units"] * wr, wg)
                back = units_back - o["units_back"]
                if back > 0:
                    o["units_back"] += back
                    punches = max(0, punches - back)
        while batches and batches[0][0] <= end_t:
            tot["points_expired"] += batches.popleft()[1]
        if metric >= GOLD_FROM:
            tot["gold_members_at_end"] += 1


def finish(tot: dict) -> dict:
    """Totals as printed: points outstanding, money as a decimal string."""
    out = dict(tot)
    out["points_outstanding"] = out["points_issued"] - out["points_clawed_back"] - out["points_expired"]
    v = int(out["free_wash_value"])
    out["free_wash_value"] = f"{v // 100}.{v % 100:02d}"
    return {k: (int(v) if not isinstance(v, str) else v) for k, v in sorted(out.items())}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1]), sort_keys=True))
