"""Synthetic, realistic purchase histories for trying programs and for benchmarks.

Realistic where it matters to a loyalty program: a few members buy often and
most rarely (log-normal frequencies), sales follow the seasons and the week,
orders have several lines, some orders come back, members mostly shop in their
home store. Seeded: the same options give the same file, byte for byte.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate as _accumulate
from typing import Optional, TextIO

HEADER = ("member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel")


@dataclass(frozen=True)
class CatalogItem:
    name: str
    category: str
    price: Decimal  # what a member pays for one unit


DEFAULT_CATALOG = (
    CatalogItem("coffee", "drinks", Decimal("3.50")),
    CatalogItem("tea", "drinks", Decimal("2.80")),
    CatalogItem("sandwich", "food", Decimal("6.90")),
    CatalogItem("salad", "food", Decimal("8.40")),
    CatalogItem("cookie", "food", Decimal("1.90")),
    CatalogItem("mug", "merchandise", Decimal("12.00")),
)


@dataclass(frozen=True)
class GenerateOptions:
    rows: int = 1000
    seed: int = 0
    members: Optional[int] = None  # default: about one member per 20 rows
    start: _dt.date = _dt.date(2025, 1, 1)
    days: int = 365
    catalog: tuple[CatalogItem, ...] = DEFAULT_CATALOG
    stores: tuple[str, ...] = ("Store 1", "Store 2", "Store 3")
    channels: tuple[str, ...] = ("store", "web", "app")
    return_rate: float = 0.03  # share of orders that come back (partly)
    referral_rate: float = 0.05  # share of members who refer a friend
    minor_units: int = 2
    extra: dict = field(default_factory=dict)


# sales by month (Jan..Dec) and weekday (Mon..Sun): a summer bump and a December peak
_MONTH_WEIGHTS = (0.8, 0.75, 0.9, 0.95, 1.0, 1.1, 1.2, 1.15, 0.95, 0.95, 1.05, 1.4)
_WEEKDAY_WEIGHTS = (0.85, 0.9, 0.95, 1.0, 1.2, 1.35, 0.75)
_HOUR_WEIGHTS = {h: w for h, w in zip(range(8, 22), (2, 4, 5, 6, 8, 7, 6, 6, 7, 8, 8, 6, 4, 2))}


def price_from_cost(cost: Decimal, minor_units: int) -> Decimal:
    """A shelf price for a catalog item that costs us `cost`: about three times cost, rounded up
    to a round figure the way shops price things."""
    raw = cost * 3
    step = Decimal(1) if raw >= 20 else (Decimal("0.5") if minor_units else Decimal(1))
    return (raw / step).to_integral_value(rounding="ROUND_CEILING") * step


def generate(options: GenerateOptions, out: TextIO) -> int:
    """Write a history CSV to `out`; returns the number of data rows written (exactly options.rows)."""
    rng = random.Random(options.seed)
    n_members = options.members or max(1, options.rows // 20)
    width = len(str(n_members))
    quant = Decimal(1).scaleb(-options.minor_units)
    catalog = options.catalog or DEFAULT_CATALOG
    # popularity of items: Zipf-like, first items most popular
    item_weights = [1 / (i + 1) for i in range(len(catalog))]
    days = max(1, options.days)
    day_weights = []
    for d in range(days):
        date = options.start + _dt.timedelta(days=d)
        day_weights.append(_MONTH_WEIGHTS[date.month - 1] * _WEEKDAY_WEIGHTS[date.weekday()])
    hours, hour_weights = list(_HOUR_WEIGHTS), list(_HOUR_WEIGHTS.values())
    # a few members buy often, most rarely: log-normal activity
    activity = [math.exp(rng.gauss(0, 1.1)) for _ in range(n_members)]
    home = [rng.randrange(len(options.stores)) for _ in range(n_members)] if options.stores else []
    member_ids = [f"M{i + 1:0{width}d}" for i in range(n_members)]
    # cumulative weights: each draw is a bisection, not a pass over every member
    member_cum = list(_accumulate(activity))
    day_cum = list(_accumulate(day_weights))
    hour_cum = list(_accumulate(hour_weights))
    member_range, day_range = range(n_members), range(days)

    # per-item amounts for 1..3 units, formatted once
    amounts = [[str((item.price * q).quantize(quant, rounding=ROUND_HALF_UP)) for q in (1, 2, 3)] for item in catalog]
    item_cum = list(_accumulate(item_weights))
    dates = [options.start + _dt.timedelta(days=d) for d in range(days)]
    channel_cum = list(_accumulate((6, 2, 2)[: len(options.channels)]))
    n_stores = len(options.stores)
    rand, randrange, choices = rng.random, rng.randrange, rng.choices

    rows: list[list] = []
    first_seen: dict[int, _dt.datetime] = {}
    member_rows: dict[int, list[list]] = {}  # signup and referral rows, timed once the first purchase is known
    order_no = 0
    while len(rows) < options.rows:
        m = choices(member_range, cum_weights=member_cum)[0]
        day = choices(day_range, cum_weights=day_cum)[0]
        when = _dt.datetime.combine(dates[day], _dt.time(choices(hours, cum_weights=hour_cum)[0], randrange(60)))
        mid = member_ids[m]
        if m not in first_seen:
            first_seen[m] = when
            extra = [[mid, None, "signup", "", "", "", "", "", "", ""]]
            if rand() < options.referral_rate:
                extra.append([mid, None, "referral", "", "", "", "", "", "", ""])
            member_rows[m] = extra
            rows.extend(extra)
        elif when < first_seen[m]:
            first_seen[m] = when
        order_no += 1
        order_id = f"O{order_no:07d}"
        store = ""
        if n_stores:
            store = options.stores[home[m] if rand() < 0.8 else randrange(n_stores)]
        channel = choices(options.channels, cum_weights=channel_cum)[0] if options.channels else ""
        n_lines = min(1 + int(rng.expovariate(1.2)), len(catalog))
        picked = sorted(set(choices(range(len(catalog)), cum_weights=item_cum, k=n_lines)))
        lines = []
        for i in picked:
            item = catalog[i]
            qty = 1 if rand() < 0.85 else 2 + randrange(2)
            line = [mid, when, "purchase", order_id, item.name, item.category, str(qty), amounts[i][qty - 1],
                    store, channel]
            lines.append(line)
            rows.append(line)
        if rand() < options.return_rate:
            back = list(lines[randrange(len(lines))])
            back[1] = when + _dt.timedelta(days=1 + randrange(20), hours=randrange(6))
            back[2] = "return"
            rows.append(back)
    # a member signs up just before her first purchase, and refers a friend some weeks later
    for m, extra in member_rows.items():
        extra[0][1] = first_seen[m] - _dt.timedelta(minutes=5)
        if len(extra) > 1:
            extra[1][1] = first_seen[m] + _dt.timedelta(days=1 + randrange(60))
    rows = rows[: options.rows]
    rows.sort(key=lambda r: (r[1], r[0], r[3]))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for r in rows:
        r[1] = r[1].isoformat(timespec="minutes")
    writer.writerows(rows)
    return len(rows)


def generate_text(options: GenerateOptions) -> str:
    buffer = io.StringIO()
    generate(options, buffer)
    return buffer.getvalue()
