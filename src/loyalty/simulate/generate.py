"""Synthetic, realistic purchase histories for trying programs and for benchmarks.

Realistic where it matters to a loyalty program: a few members buy often and
most rarely (log-normal frequencies; or, with `skew`, a heavy tail: Zipf's law
over members, see `member_activity`), sales follow the seasons and the week,
orders have several lines, some orders come back, members mostly shop in their
home store. Seeded: the same options give the same file, byte for byte.

How it scales (docs/scale.md): every member gets a quota of rows up front (a
multinomial draw over her activity, so the total is exactly `rows`); members
are then generated in chunks of about CHUNK_ROWS rows with numpy, each chunk
from its own seed, so memory does not grow with `rows`. A chunk's orders form
one stream of rows cut at member boundaries (an order that crosses a boundary
is two orders, one each side). Output is in time order (chunks sorted by time
go to a temporary file; time windows of every chunk are merged and written) or,
with `grouped`, member by member (each member's rows in time order), written
as soon as a chunk is made. Both orders hold the same rows.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import tempfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable, Optional, TextIO

HEADER = ("member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel")

# rows per generated chunk and per written window: bounds memory whatever `rows` is
CHUNK_ROWS = 250_000


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
    grouped: bool = False  # each member's rows together (in time order), members in order
    skew: Optional[float] = None  # Zipf exponent of member activity (heavy-tailed); None: log-normal activity
    # codes purchases may carry (a program's, runtime/mechanics/codes.py): with any, a `codes` column, and about
    # `code_rate` of the orders carry one of them; without, the file is as it always was
    codes: tuple[str, ...] = ()
    code_rate: float = 0.1
    # this share of members brings points from an old card: an adjustment row just before her signup (with it,
    # `adjust` and `reason` columns; without, the file is as it always was)
    opening_balances: float = 0.0
    # a referral row names the new member (its item column) and comes at her signup, for two-sided referral
    # programs; its own random stream, so the other rows are the same bytes with or without it
    name_referred: bool = False
    # enrolment (runtime/mechanics/enrolment.py): this share of members signs up 1 to 90 days after her first
    # purchase, and this share never signs up (no signup row); a stream of its own, so without them the file is
    # as it always was
    late_signups: float = 0.0
    never_join: float = 0.0
    # a program's paid tiers (runtime/mechanics/fees.py): with any, about `fee_rate` of the members pay one of
    # them (a fee row, the tier in its item column) just before their first purchase; without, the file is as
    # it always was
    paid_tiers: tuple[str, ...] = ()
    fee_rate: float = 0.1
    extra: dict = field(default_factory=dict)


# sales by month (Jan..Dec) and weekday (Mon..Sun): a summer bump and a December peak
_MONTH_WEIGHTS = (0.8, 0.75, 0.9, 0.95, 1.0, 1.1, 1.2, 1.15, 0.95, 0.95, 1.05, 1.4)
_WEEKDAY_WEIGHTS = (0.85, 0.9, 0.95, 1.0, 1.2, 1.35, 0.75)
_HOUR_WEIGHTS = {h: w for h, w in zip(range(8, 22), (2, 4, 5, 6, 8, 7, 6, 6, 7, 8, 8, 6, 4, 2))}
_CHANNEL_WEIGHTS = (6, 2, 2)
_LINES_RATE = 1.2  # lines of an order: 1 + an exponential draw of this rate, rounded down
_SINGLE_UNIT = 0.85  # share of lines of one unit (else 2 or 3)
_HOME_STORE = 0.8  # share of a member's orders in her home store
_SIGNUP, _REFERRAL, _PURCHASE, _RETURN, _ADJUSTMENT, _FEE = 0, 1, 2, 3, 4, 5
_OPENING_STEP, _OPENING_STEPS = 50, 40  # an opening balance: 50 to 2,000 points, in steps of 50
_MINUTES_A_DAY = 1440

# one generated row, as numbers; text is made only when a window is written
_ROW = [("t", "i8"), ("member", "i8"), ("order", "i8"), ("pos", "i2"), ("kind", "i1"), ("item", "i4"),
        ("qty", "i1"), ("store", "i4"), ("channel", "i4"), ("code", "i4"), ("value", "i8"), ("referred", "i8")]


def price_from_cost(cost: Decimal, minor_units: int) -> Decimal:
    """A shelf price for a catalog item that costs us `cost`: about three times cost, rounded up
    to a round figure the way shops price things."""
    raw = cost * 3
    step = Decimal(1) if raw >= 20 else (Decimal("0.5") if minor_units else Decimal(1))
    return (raw / step).to_integral_value(rounding="ROUND_CEILING") * step


def _seed(seed: int) -> int:
    return seed % (1 << 64)  # numpy seeds are non-negative; any int the command takes maps to one


MAX_SKEW = 10.0


def member_activity(rng, n: int, skew: Optional[float]):
    """Each member's expected share of the rows (weights, not normalised).

    Default (`skew` None): log-normal (sigma 1.1); the busiest 1% of members hold about 13% of the rows.
    With `skew` s (0 < s <= MAX_SKEW): Zipf's law. The members are put in a random order fixed by the seed
    (so the busiest is not always M1) and the member of rank r (1 = busiest) gets weight r**-s, so the
    busiest k of n members hold H(k, s) / H(n, s) of the rows in expectation, H(k, s) = sum of r**-s for
    r = 1..k (`zipf_share`). The busiest 1% of members (at least one) hold more as s or n grows: at s = 1,
    39% with 1,000 members; at s = 1.2, 57% with 1,000 members, 71% with 5,000 (the benchmarks' 100,000-row
    skewed history), 83% with 50,000; so with s >= 1.2 and at least 1,000 members, more than half the rows.
    Rows are then drawn around these shares (a multinomial draw: within a percent or so of them once there
    are thousands of rows), so members far down the tail may have no rows at all, and are not in the file."""
    import numpy as np

    if skew is None:
        return rng.lognormal(0.0, 1.1, n)
    if not (0 < skew <= MAX_SKEW):  # also refuses NaN
        raise ValueError(f"skew must be a number above 0 and at most {MAX_SKEW:g}, not {skew!r}")
    rank = rng.permutation(n) + 1
    return rank.astype(np.float64) ** -float(skew)


def zipf_share(k: int, n: int, skew: float) -> float:
    """The expected share of rows of the busiest `k` of `n` members under `skew` (see `member_activity`)."""
    import numpy as np

    w = np.arange(1, n + 1, dtype=np.float64) ** -float(skew)
    return float(w[:k].sum() / w.sum())


class _Plan:
    """What every chunk shares: members' quotas, home stores, referral flags, and the weights."""

    def __init__(self, options: GenerateOptions):
        import numpy as np

        self.options = options
        rng = np.random.default_rng([_seed(options.seed), 0])
        n = options.members or max(1, options.rows // 20)
        self.n_members = n
        activity = member_activity(rng, n, options.skew)  # a few members buy often, most rarely
        self.quota = rng.multinomial(options.rows, activity / activity.sum()).astype(np.int64)
        n_stores = len(options.stores)
        self.home = rng.integers(0, n_stores, n) if n_stores else np.full(n, -1)
        # a referral needs room: the signup, the referral and at least one purchase line
        self.refers = (rng.random(n) < options.referral_rate) & (self.quota >= 3)
        # an opening balance too (drawn last, and only when asked: other files keep their bytes)
        self.opens = np.zeros(n, bool)
        if options.opening_balances:
            self.opens = (rng.random(n) < options.opening_balances) & (self.quota - self.refers >= 2)
        # who joins late and who never (a stream of its own, drawn only when asked: other files keep their bytes);
        # a member who never joins has an order row in place of her signup row, so the file keeps its row count
        self.never, self.late, self.later = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.int64)
        if options.late_signups or options.never_join:
            enrol = np.random.default_rng([_seed(options.seed), 0, 3])
            u = enrol.random(n)
            self.never = u < options.never_join
            self.late = ~self.never & (u < options.never_join + options.late_signups)
            self.later = (1 + enrol.integers(0, 90, n)) * _MINUTES_A_DAY
        # a fee payment too (drawn after, and only for a program with paid tiers)
        self.pays = np.zeros(n, bool)
        if options.paid_tiers:
            self.pays = (rng.random(n) < options.fee_rate) & (self.quota - self.refers - self.opens >= 2)
        days = max(1, options.days)
        self.day_p = _normalised([_MONTH_WEIGHTS[d.month - 1] * _WEEKDAY_WEIGHTS[d.weekday()]
                                  for d in (options.start + _dt.timedelta(days=k) for k in range(days))])
        self.hours = np.array(list(_HOUR_WEIGHTS), np.int64)
        self.hour_p = _normalised(list(_HOUR_WEIGHTS.values()))
        self.channel_p = _normalised(_CHANNEL_WEIGHTS[: len(options.channels)]) if options.channels else None
        catalog = options.catalog or DEFAULT_CATALOG
        self.n_items = len(catalog)
        self.item_p = _normalised([1 / (i + 1) for i in range(len(catalog))])  # Zipf-like: first items most popular
        # chunks of whole members, about CHUNK_ROWS rows each (a single busier member is one chunk)
        ends = np.cumsum(self.quota)
        cuts, begin = [], 0
        while begin < n:
            target = (ends[begin - 1] if begin else 0) + CHUNK_ROWS
            end = int(np.searchsorted(ends, target, side="left")) + 1
            end = min(max(end, begin + 1), n)
            cuts.append((begin, end))
            begin = end
        self.chunks = cuts


def _normalised(weights):
    import numpy as np

    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def _random_times(rng, plan: _Plan, size: int):
    """Minutes since the first day's midnight: a day by season and weekday, an hour by time of day."""
    day = rng.choice(len(plan.day_p), size=size, p=plan.day_p)
    hour = plan.hours[rng.choice(len(plan.hours), size=size, p=plan.hour_p)]
    return day * _MINUTES_A_DAY + hour * 60 + rng.integers(0, 60, size)


def _chunk(plan: _Plan, index: int, first_order: int):
    """The rows of one chunk of members (unsorted), and the number of orders it used."""
    import numpy as np

    options = plan.options
    begin, end = plan.chunks[index]
    rng = np.random.default_rng([_seed(options.seed), 1 + index])
    quota = plan.quota[begin:end]
    present = quota > 0
    refers = plan.refers[begin:end]
    opens = plan.opens[begin:end]
    never = plan.never[begin:end]
    pays = plan.pays[begin:end]
    # rows of orders, after the signup, the referral, the opening balance and the fee
    stream = np.where(present, quota - 1 - refers - opens - pays + never, 0)
    total = int(stream.sum())

    # orders: distinct items (sorted), a unit count per line, maybe a return; drawn until they cover `total` rows
    parts = [tuple(np.zeros(0, np.int64) for _ in range(5))]
    covered = 0
    while covered < total:
        size = max(16, int((total - covered) / 1.3) + 16)
        n_lines = np.minimum(1 + np.floor(rng.exponential(1 / _LINES_RATE, size)).astype(np.int64), plan.n_items)
        owner = np.repeat(np.arange(size), n_lines)
        drawn = rng.choice(plan.n_items, size=len(owner), p=plan.item_p)
        keys = np.unique(owner * plan.n_items + drawn)  # distinct items per order, in item order
        items, orders_of = keys % plan.n_items, keys // plan.n_items
        lines = np.bincount(orders_of, minlength=size)
        qty = np.where(rng.random(len(items)) < _SINGLE_UNIT, 1, 2 + rng.integers(0, 2, len(items)))
        returns = rng.random(size) < options.return_rate
        which = (rng.random(size) * lines).astype(np.int64)  # the line that comes back
        parts.append((lines, items, qty, returns, which))
        covered += int((lines + returns).sum())
    lines = np.concatenate([p[0] for p in parts])
    items = np.concatenate([p[1] for p in parts])
    qty = np.concatenate([p[2] for p in parts])
    returns = np.concatenate([p[3] for p in parts])
    which = np.concatenate([p[4] for p in parts])
    line_start = np.concatenate([[0], np.cumsum(lines)[:-1]])
    rows_of = lines + returns

    # the stream of rows, cut at member boundaries: a (member, order) pair is one order of that member
    order_of = np.repeat(np.arange(len(lines)), rows_of)[:total]
    k = np.arange(total) - np.repeat(np.concatenate([[0], np.cumsum(rows_of)[:-1]]), rows_of)[:total]
    member_of = np.searchsorted(np.cumsum(stream), np.arange(total), side="right")
    new_piece = np.ones(total, bool)
    if total:
        new_piece[1:] = (order_of[1:] != order_of[:-1]) | (member_of[1:] != member_of[:-1])
    piece = np.cumsum(new_piece) - 1
    n_pieces = int(piece[-1]) + 1 if total else 0
    piece_start = np.flatnonzero(new_piece)
    piece_size = np.diff(np.append(piece_start, total))
    whole = (k[piece_start] == 0) & (piece_size == rows_of[order_of[piece_start]])
    is_return_slot = k == lines[order_of]
    is_return = is_return_slot & whole[piece]
    # a return copies one of the order's lines; the return slot of a cut order is a line of its first item
    slot = np.where(is_return, which[order_of], np.where(is_return_slot, 0, k))
    flat = line_start[order_of] + slot

    piece_member = member_of[piece_start]
    piece_time = _random_times(rng, plan, n_pieces)
    n_stores = len(options.stores)
    if n_stores:
        away = rng.integers(0, n_stores, n_pieces)
        piece_store = np.where(rng.random(n_pieces) < _HOME_STORE, plan.home[begin + piece_member], away)
    else:
        piece_store = np.full(n_pieces, -1)
    piece_channel = (rng.choice(len(options.channels), size=n_pieces, p=plan.channel_p) if options.channels
                     else np.full(n_pieces, -1))
    # order ids follow time within a chunk
    rank = np.empty(n_pieces, np.int64)
    rank[np.lexsort((piece_member, piece_time))] = np.arange(n_pieces)
    back = (1 + rng.integers(0, 20, total)) * _MINUTES_A_DAY + rng.integers(0, 6, total) * 60

    order_rows = np.zeros(total, _ROW)
    order_rows["t"] = piece_time[piece] + np.where(is_return, back, 0)
    order_rows["member"] = begin + piece_member[piece]
    order_rows["order"] = first_order + 1 + rank[piece]
    order_rows["pos"] = 2 + k
    order_rows["kind"] = np.where(is_return, _RETURN, _PURCHASE)
    order_rows["item"] = items[flat]
    order_rows["qty"] = qty[flat]
    order_rows["store"] = piece_store[piece]
    order_rows["channel"] = piece_channel[piece]

    # a member signs up just before her first purchase (any time, if she buys nothing), and refers a friend
    # some weeks later
    members = np.flatnonzero(present)
    first = _random_times(rng, plan, len(quota))
    if n_pieces:
        buyers = np.unique(piece_member)
        first[buyers] = np.minimum.reduceat(piece_time, np.searchsorted(piece_member, buyers))
    referrers = np.flatnonzero(refers)
    later = (1 + rng.integers(0, 60, len(quota))) * _MINUTES_A_DAY
    referral_t = first[referrers] + later[referrers]
    referred = np.full(len(referrers), -1, np.int64)
    if options.name_referred and len(referrers) and len(members):
        _name_referred(np.random.default_rng([_seed(options.seed), 0, 2, index]), first, members, referrers,
                       referral_t, referred)
    extra = np.zeros(len(members) + len(referrers), _ROW)
    extra["t"] = np.concatenate([first[members] - 5, referral_t])
    extra["referred"] = np.concatenate([np.full(len(members), -1), np.where(referred >= 0, begin + referred, -1)])
    extra["member"] = begin + np.concatenate([members, referrers])
    extra["pos"] = np.concatenate([np.zeros(len(members)), np.ones(len(referrers))])
    extra["kind"] = np.concatenate([np.full(len(members), _SIGNUP), np.full(len(referrers), _REFERRAL)])
    for name in ("item", "store", "channel", "code"):
        extra[name] = -1
    if never.any() or plan.late.any():
        extra = _enrol_later(plan, begin, end, extra, members)
    if opens.any():  # opening balances: an adjustment 10 minutes before the signup
        openers = np.flatnonzero(opens)
        opening = np.zeros(len(openers), _ROW)
        opening["t"] = first[openers] - 10
        opening["member"] = begin + openers
        opening["kind"] = _ADJUSTMENT
        opening["value"] = _OPENING_STEP * (1 + rng.integers(0, _OPENING_STEPS, len(openers)))
        for name in ("item", "store", "channel", "code"):
            opening[name] = -1
        extra = np.concatenate([extra, opening])
    if pays.any():  # paid tiers: a fee 3 minutes before the first purchase, the tier drawn on a stream of its own
        payers = np.flatnonzero(pays)
        fee = np.zeros(len(payers), _ROW)
        fee["t"] = first[payers] - 3
        fee["member"] = begin + payers
        fee["kind"] = _FEE
        fee["value"] = np.random.default_rng([_seed(options.seed), 0, 3, index]).integers(
            0, len(options.paid_tiers), len(payers))
        for name in ("item", "store", "channel", "code"):
            fee[name] = -1
        extra = np.concatenate([extra, fee])
    # codes last, so that a program without codes draws what it always drew: an order carries one now and then
    order_rows["code"] = -1
    if options.codes:
        carries = rng.random(n_pieces) < options.code_rate
        piece_code = np.where(carries, rng.integers(0, len(options.codes), n_pieces), -1)
        order_rows["code"] = np.where(is_return, -1, piece_code[piece])
    return np.concatenate([extra, order_rows]), n_pieces


def _enrol_later(plan: _Plan, begin: int, end: int, extra, members):
    """The first rows of `extra` are the signups of `members` (chunk positions), each just before her first
    purchase: a late joiner's moves 1 to 90 days later (not past the history's last day); the signup of one who
    never joins is dropped (`_chunk` gave her an order row in its place)."""
    import numpy as np

    n = len(members)
    late, never, later = plan.late[begin:end][members], plan.never[begin:end][members], plan.later[begin:end][members]
    last = max(1, plan.options.days) * _MINUTES_A_DAY - 1
    signups = extra[:n]
    signups["t"] = np.where(late, np.maximum(signups["t"], np.minimum(signups["t"] + later, last)), signups["t"])
    keep = np.ones(len(extra), bool)
    keep[:n] = ~never
    return extra[keep]


def _name_referred(rng, first, members, referrers, referral_t, referred) -> None:
    """Each referrer refers a member of her chunk who signs up after she does: the referral comes at the new
    member's signup (`referral_t`, `referred` filled in place; -1 where no member signs up later)."""
    import numpy as np

    signup = first[members] - 5
    by_time = np.argsort(signup, kind="stable")
    ordered = signup[by_time]
    for j, r in enumerate(referrers.tolist()):
        lo = int(np.searchsorted(ordered, first[r] - 5, side="right"))
        if lo >= len(ordered):
            continue
        pick = int(by_time[int(rng.integers(lo, len(ordered)))])
        friend = int(members[pick])
        if friend != r:
            referred[j] = friend
            referral_t[j] = signup[pick]


def _sort(rows, grouped: bool):
    import numpy as np

    primary = ("member", "t") if grouped else ("t", "member")
    keys = [rows[name] for name in reversed(primary + ("order", "pos"))]
    return rows[np.lexsort(keys)]


class _Formatter:
    """Numeric rows to CSV text (Arrow kernels over whole windows; values quoted as the csv module would)."""

    def __init__(self, plan: _Plan):
        import pyarrow as pa

        options = plan.options
        catalog = options.catalog or DEFAULT_CATALOG
        quant = Decimal(1).scaleb(-options.minor_units)
        width = len(str(plan.n_members))

        def texts(values):  # index -1 (no value) is the last entry, ""
            return pa.array([_csv_field(v) for v in values] + [""], pa.string())

        self.members = pa.array([f"M{i + 1:0{width}d}" for i in range(plan.n_members)], pa.string())
        self.kinds = pa.array(["signup", "referral", "purchase", "return", "adjustment", "fee"], pa.string())
        self.paid_tiers = texts(options.paid_tiers)
        self.adjusting = bool(options.opening_balances)
        self.items = texts([i.name for i in catalog])
        self.categories = texts([i.category for i in catalog])
        self.amounts = texts([str((i.price * q).quantize(quant, rounding=ROUND_HALF_UP))
                              for i in catalog for q in (1, 2, 3)])
        self.stores = texts(options.stores)
        self.channels = texts(options.channels)
        self.codes = texts(options.codes) if options.codes else None
        # times as day + minute of the day, each formatted once (returns and referrals come up to 80 days late)
        self.days = pa.array([(options.start + _dt.timedelta(days=d)).isoformat() + "T"
                              for d in range(max(1, options.days) + 81)], pa.string())
        self.minutes = pa.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(_MINUTES_A_DAY)], pa.string())

    def text(self, rows) -> str:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(rows):
            return ""

        def take(table, index):
            index = np.where(index < 0, len(table) - 1, index)
            return table.take(pa.array(index))

        day, minute = np.divmod(rows["t"], _MINUTES_A_DAY)
        times = pc.binary_join_element_wise(self.days.take(pa.array(day)), self.minutes.take(pa.array(minute)), "")
        no_order = pa.array((rows["kind"] <= _REFERRAL) | (rows["kind"] >= _ADJUSTMENT))
        order = pc.binary_join_element_wise(
            "O", pc.utf8_lpad(pa.array(rows["order"]).cast(pa.string()), width=7, padding="0"), "")
        qty = pa.array(rows["qty"].astype(np.int64)).cast(pa.string())
        amount_index = np.where(rows["item"] < 0, -1, rows["item"] * 3 + rows["qty"] - 1)
        # a referral naming the new member has her id in the item column
        named = pa.array((rows["kind"] == _REFERRAL) & (rows["referred"] >= 0))
        item = pc.if_else(named, take(self.members, np.where(rows["referred"] >= 0, rows["referred"], 0)),
                          take(self.items, rows["item"]))
        paying = rows["kind"] == _FEE  # a fee row has its tier in the item column
        if paying.any():
            item = pc.if_else(pa.array(paying), take(self.paid_tiers, np.where(paying, rows["value"], -1)), item)
        columns = [
            take(self.members, rows["member"]), times,
            take(self.kinds, rows["kind"].astype(np.int64)), pc.if_else(no_order, "", order),
            item, take(self.categories, rows["item"]),
            pc.if_else(no_order, "", qty), take(self.amounts, amount_index),
            take(self.stores, rows["store"]), take(self.channels, rows["channel"]),
        ]
        if self.codes is not None:
            columns.append(take(self.codes, rows["code"]))
        if self.adjusting:  # adjust and reason: an opening balance's points
            opening = pa.array(rows["kind"] == _ADJUSTMENT)
            points = pc.binary_join_element_wise("points +", pa.array(rows["value"]).cast(pa.string()), "")
            columns += [pc.if_else(opening, points, ""), pc.if_else(opening, "opening balance", "")]
        lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, ","), "\n", "")
        # the lines, one after another, are the string array's data buffer between its first and last offset
        offsets = np.frombuffer(lines.buffers()[1], np.int32, len(lines) + 1, lines.offset * 4)
        return lines.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]].decode("utf-8")


def _csv_field(value: str) -> str:
    """One value as the csv module writes it in a row of several (quoted only when it must be)."""
    if value == "":
        return ""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([value])
    return buffer.getvalue()[:-1]


def generate(options: GenerateOptions, out: TextIO, progress: Optional[Callable[[str, int], None]] = None) -> int:
    """Write a history CSV to `out`; returns the number of data rows written (exactly options.rows).
    `progress(stage, rows)` as rows are done: "generating" (made and written, in --grouped order), or
    "making" then "writing" (in time order every chunk is made before the first row can be written: about
    a third of the time for making, the rest for writing)."""
    import numpy as np

    def done(stage: str, rows: int) -> None:
        if progress is not None:
            progress(stage, rows)

    plan = _Plan(options)
    formatter = _Formatter(plan)
    out.write(",".join(HEADER + (("codes",) if options.codes else ())
                       + (("adjust", "reason") if options.opening_balances else ())) + "\n")
    orders = 0
    if options.grouped or len(plan.chunks) == 1:
        for index in range(len(plan.chunks)):
            rows, used = _chunk(plan, index, orders)
            orders += used
            out.write(formatter.text(_sort(rows, options.grouped)))
            done("generating", len(rows))
        return options.rows
    # in time order: each chunk sorted by time into a temporary file, then time windows of all of them merged
    # (read back window by window, so only one window is in memory)
    windows = max(1, -(-options.rows // CHUNK_ROWS))
    bounds = np.linspace(0, max(1, options.days) * _MINUTES_A_DAY, windows + 1).astype(np.int64)[1:-1]
    record = np.dtype(_ROW).itemsize
    with tempfile.TemporaryDirectory(prefix="loyalty-generate-") as tmp:
        runs = []
        for index in range(len(plan.chunks)):
            rows, used = _chunk(plan, index, orders)
            orders += used
            rows = _sort(rows, grouped=False)
            path = Path(tmp) / f"chunk{index}.bin"
            rows.tofile(path)
            runs.append((path, [0, *np.searchsorted(rows["t"], bounds, side="left").tolist(), len(rows)]))
            done("making", len(rows))
            del rows
        for w in range(windows):
            pieces = [np.fromfile(path, _ROW, cuts[w + 1] - cuts[w], offset=cuts[w] * record)
                      for path, cuts in runs if cuts[w + 1] > cuts[w]]
            if pieces:
                window = np.concatenate(pieces)
                out.write(formatter.text(_sort(window, grouped=False)))
                done("writing", len(window))
    return options.rows


def generate_attributes(options: GenerateOptions, out: TextIO) -> int:
    """Write the members' attributes CSV (member, birthday) for `simulate --attributes`: a birthday for every
    member of the history the same options generate, so birthday rules are exercised. Its own random stream:
    the history's bytes do not depend on whether this is written. Returns the number of members."""
    import numpy as np

    n = options.members or max(1, options.rows // 20)
    width = len(str(n))
    rng = np.random.default_rng([_seed(options.seed), 0, 1])
    first, last = _dt.date(1950, 1, 1).toordinal(), _dt.date(2005, 12, 31).toordinal()
    days = rng.integers(first, last + 1, n)
    out.write("member,birthday\n")
    for i in range(n):
        out.write(f"M{i + 1:0{width}d},{_dt.date.fromordinal(int(days[i])).isoformat()}\n")
    return n


def generate_text(options: GenerateOptions) -> str:
    buffer = io.StringIO()
    generate(options, buffer)
    return buffer.getvalue()
