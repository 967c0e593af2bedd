"""Small exact building blocks on int64 numpy arrays (no floats for money or points), for the mechanics'
vectorised steps (`runtime/mechanics/*.py`, `vector_*`) and the kernel that runs them (`simulate/vector/`).

The formulas are the mechanics' own (`runtime/formulas.py`, written once for ints and arrays alike),
here over int64 arrays; the rest are segmented scans (one segment per member).
Callers check magnitudes first (`fits`): int64 arithmetic must not overflow. Only the vectorised paths
import this module (and numpy): `program.apply` never does.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from loyalty.runtime import formulas

# the kernel's event type codes (a history's rows, as simulate/vector/kernel.py encodes them)
TYPES = ("purchase", "return", "visit", "signup", "referral", "redemption", "custom")
PURCHASE, RETURN, VISIT, SIGNUP, REFERRAL, REDEMPTION, CUSTOM = range(len(TYPES))
# the events the simulation's referral pass adds to members' replays (simulate/referrals.py), after TYPES
ADDED_TYPES = ("referred", "referral_qualified")
REFERRED, REFERRAL_QUALIFIED = range(len(TYPES), len(TYPES) + len(ADDED_TYPES))
ADDED = (REFERRED, REFERRAL_QUALIFIED)  # no rows of the history: left out of its event counts
# the kernel's own events, not the history's: points a timer credits between events (win-back, moments)
TIMER = len(TYPES) + len(ADDED_TYPES)
ADJUSTMENT = TIMER + 1  # an adjustment row (runtime/mechanics/adjustments.py): no rule fires on it
FEE = ADJUSTMENT + 1  # a fee row (runtime/mechanics/fees.py): a paid tier's period, no rule fires on it

INT_LIMIT = 1 << 62  # headroom below 2**63: a product we form must stay under this


class Unsupported(Exception):
    """The vectorised kernel cannot replay this input exactly (numbers too large for int64, a condition it
    does not evaluate): the caller replays it on the scalar plan instead."""


def fits(*bounds: int) -> bool:
    """Whether a product of non-negative bounds (Python ints, exact) stays under INT_LIMIT."""
    p = 1
    for b in bounds:
        p *= max(int(b), 1)
    return p < INT_LIMIT


def div_round(n, d, mode: str) -> np.ndarray:
    """`formulas.div_round` over int64 arrays."""
    return formulas.div_round(np.asarray(n, dtype=np.int64), np.asarray(d, dtype=np.int64), mode)


def half_even(n, d) -> np.ndarray:
    """`formulas.half_even` over int64 arrays."""
    return formulas.half_even(np.asarray(n, dtype=np.int64), np.asarray(d, dtype=np.int64))


def cycle_count(n, cycle: int, free: int) -> np.ndarray:
    """`formulas.cycle_count` over int64 arrays."""
    return formulas.cycle_count(np.asarray(n, dtype=np.int64), cycle, free)


def segment_ids(starts: np.ndarray, n: int) -> np.ndarray:
    """For segments starting at `starts` (sorted, first is 0) over n positions: each position's segment."""
    seg = np.zeros(n, dtype=np.int64)
    if len(starts) > 1:
        seg[starts[1:]] = 1
    return np.cumsum(seg)


def segmented_cumsum(values: np.ndarray, seg: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Running sum of int64 `values`, restarting at each segment start."""
    cs = np.cumsum(values, dtype=np.int64)
    before = np.concatenate(([0], cs))[starts]  # the sum before each segment
    return cs - before[seg]


def segmented_cummax(values: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Running max of non-negative int64 `values`, restarting at each segment (segments in order)."""
    if not len(values):
        return values.astype(np.int64)
    big = int(values.max()) + 1
    if not fits(int(seg[-1]) + 1, big):
        raise OverflowError("segmented_cummax: values too large")
    shifted = seg * big + values
    return np.maximum.accumulate(shifted) - seg * big


def member_time_keys(mem: np.ndarray, t: np.ndarray, other_mem: np.ndarray, other_t: np.ndarray):
    """(member, time) pairs of two sets packed into one int64 each, on one scale so that the keys of both
    compare (and search) as the pairs do: member first, then time. None where they would not fit."""
    low = min(int(t.min()), int(other_t.min()))
    span = max(int(t.max()), int(other_t.max())) - low + 1
    if not fits(int(max(mem.max(), other_mem.max())) + 1, span):
        return None
    return mem * span + (t - low), other_mem * span + (other_t - low)


def segment_search(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, keys: np.ndarray, right: np.ndarray):
    """Per i, `lo[i] + np.searchsorted(values[lo[i]:hi[i]], keys[i], "right" if right[i] else "left")`, values
    sorted within each range: all at once by halving every range together (~log2 of the longest range's numpy
    calls, not a call per key)."""
    lo, hi = lo.copy(), hi.copy()
    last = len(values) - 1
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        v = values[np.minimum(mid, last)]
        after = (v < keys) | (right & (v == keys))  # the key goes after values[mid]
        lo = np.where(open_ & after, mid + 1, lo)
        hi = np.where(open_ & ~after, mid, hi)


def moments_in_earning_order(moments: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Per batch (an event, members in segments, events in time order), its moment (an expiry, the end of a
    pending time) or a later one of an earlier batch of the member's: never earlier than the one before it.
    `N months` after earning can go back (31 March 09:00 + 3 months is 30 June 09:00, before 30 March 10:00's
    30 June 10:00), only ever within one day."""
    if len(moments) < 2 or np.all((moments[1:] >= moments[:-1]) | (seg[1:] != seg[:-1])):
        return moments  # the usual case: nothing goes back
    lo = int(moments.min())
    if fits(int(seg[-1]) + 1, int(moments.max()) - lo + 1):  # (member, moment) packs: no sort (a group of members)
        return segmented_cummax(moments - lo, seg) + lo
    # (member, moment) would not pack into an int64 at µs: by the moments' ranks instead
    uniq, rank = np.unique(moments, return_inverse=True)
    return uniq[segmented_cummax(rank.reshape(-1).astype(np.int64), seg)]


# ---------------------------------------------------------------- calendar arithmetic on µs timestamps
# (the history's local wall times as µs since 1970-01-01, as the kernel holds them; timeutil's on datetimes)

DAY_US = 86_400_000_000
_MAX_US = (_dt.datetime.max - _dt.datetime(1970, 1, 1)) // _dt.timedelta(microseconds=1)
_PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _add_months(us: np.ndarray, months: int) -> np.ndarray:
    """timeutil.add_duration by calendar months on µs timestamps (the day clamps to the month's end). Moments
    of a few distinct days (a history's events: 1M of them over two years) are moved day by day, once per
    day of their span, the time of day added back: the calendar's casts cost ~20x a table lookup."""
    if len(us) > 64:
        day = us // DAY_US
        lo, hi = int(day.min()), int(day.max())
        if hi - lo < len(us) // 4:
            table = _add_months_each(np.arange(lo, hi + 1, dtype=np.int64) * DAY_US, months)
            return table[day - lo] + (us - day * DAY_US)
    return _add_months_each(us, months)


def _add_months_each(us: np.ndarray, months: int) -> np.ndarray:
    """`_add_months`, moment by moment."""
    t = us.astype("datetime64[us]")
    day0 = t.astype("datetime64[D]")
    month0 = t.astype("datetime64[M]")
    day = (day0 - month0.astype("datetime64[D]")).astype(np.int64)
    tod = (t - day0.astype("datetime64[us]")).astype(np.int64)
    target = month0 + months
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    out = target.astype("datetime64[D]") + np.minimum(day, length - 1)
    return out.astype("datetime64[us]").astype(np.int64) + tod


def add_duration(us: np.ndarray, amount: int, unit: str) -> np.ndarray:
    """timeutil.add_duration on µs timestamps (`amount` may be negative); Unsupported for a moment past
    9999-12-31 (the evaluator's NEVER) or before year 1 (its ALWAYS)."""
    if abs(amount) * (30 if unit == "month" else 365 if unit == "year" else 7 if unit == "week" else 1) > 10_000 * 366:
        raise Unsupported("a duration past the end of the calendar")
    if unit == "day":
        out = us + amount * DAY_US
    elif unit == "week":
        out = us + amount * 7 * DAY_US
    else:
        out = _add_months(us, amount if unit == "month" else amount * 12)
    if len(out) and int(out.max()) > _MAX_US:
        raise Unsupported("a moment past the end of the calendar")
    return out


class DayTable:
    """`fn(us)` asked again and again of a few moments between `lo` and `hi`, where `fn` depends on a moment's
    day alone (`time_of_day`: and keeps its time of day): from a table of the days' results built once, as
    `_add_months` does for many moments (the calendar's casts cost ~30-100 µs a call, however few the moments);
    moments outside the table, and a table `fn` refuses (a day past the calendar), by `fn` itself."""

    def __init__(self, fn, lo: int, hi: int, time_of_day: bool, tabled: bool = True):
        self.fn, self.time_of_day = fn, time_of_day
        self.first, self.table = 0, None
        first, last = lo // DAY_US, hi // DAY_US
        if tabled and 0 <= last - first < 100_000:
            try:
                self.table = fn(np.arange(first, last + 1, dtype=np.int64) * DAY_US)
                self.first = first
            except Unsupported:  # (fn answers, or refuses, moment by moment)
                pass

    def __call__(self, us: np.ndarray) -> np.ndarray:
        table = self.table
        if table is not None and len(us):
            day = us // DAY_US
            i = day - self.first
            if int(i.min()) >= 0 and int(i.max()) < len(table):
                return table[i] + (us - day * DAY_US) if self.time_of_day else table[i]
        return self.fn(us)


def duration_shift(amount: int, unit: str, lo: int, hi: int) -> DayTable:
    """`add_duration(us, amount, unit)` of moments between `lo` and `hi` (a rolling tier window's start, at each
    lockstep step and review): by months or years from a day table (days and weeks: add_duration's own
    arithmetic, no calendar)."""
    return DayTable(lambda us: add_duration(us, amount, unit), lo, hi, True, unit in ("month", "year"))


def period_starts(period: str, lo: int, hi: int) -> DayTable:
    """`next_period_start(us, period)` of moments between `lo` and `hi` (the tiers' reviews, at each lockstep
    step): months, quarters and years from a day table (days and weeks: arithmetic, no calendar)."""
    return DayTable(lambda us: next_period_start(us, period), lo, hi, False, period in _PERIOD_MONTHS)


def period_code(us: np.ndarray, period: str) -> np.ndarray:
    """The calendar period containing each moment (timeutil.period_start's), as an int64 code that orders
    periods: the first day's number since 1970 for a day or a week (weeks start on Monday), the first
    month's number since 1970-01 for a month, quarter or year."""
    if period in ("day", "week"):
        day = us // DAY_US
        return day if period == "day" else day - (day + 3) % 7  # 1970-01-01 was a Thursday
    month = us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    return month - month % _PERIOD_MONTHS[period]


def next_period_start(us: np.ndarray, period: str) -> np.ndarray:
    """timeutil.next_period_start on µs timestamps: the first moment of the period after each one's."""
    code = period_code(us, period)
    if period in ("day", "week"):
        return (code + (1 if period == "day" else 7)) * DAY_US
    start = (code + _PERIOD_MONTHS[period]).astype("datetime64[M]").astype("datetime64[us]").astype(np.int64)
    if len(start) and int(start.max()) > _MAX_US:
        raise Unsupported("a moment past the end of the calendar")
    return start


def is_one_of(values: np.ndarray, codes) -> np.ndarray:
    """np.isin(values, codes) for a few codes (event types, tiers, weekdays): an equality per code, ~100x faster
    than numpy 2.4's isin on 150,000 events."""
    out = np.zeros(len(values), dtype=bool)
    for code in codes:
        out |= values == code
    return out


def row_sums(table: np.ndarray) -> np.ndarray:
    """`table.sum(axis=1)` of a 2-D int64 array of a few columns (an event's rule slots), added column by column:
    numpy's reduction along a row of 2-5 entries costs 5-40x as much (1M events, docs/performance.md)."""
    out = table[:, 0].copy()
    for j in range(1, table.shape[1]):
        out += table[:, j]
    return out


def row_any(table: np.ndarray) -> np.ndarray:
    """`table.any(axis=1)` of a 2-D bool array of a few columns, column by column (as `row_sums`)."""
    out = table[:, 0].copy()
    for j in range(1, table.shape[1]):
        out |= table[:, j]
    return out


def distinct_inverse(keys) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) of int64 `keys`: the distinct keys ascending, and each key's index
    among them. Keys over a small range (dictionary codes) are ranked through a table, without a sort."""
    keys = np.asarray(keys, dtype=np.int64)
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int64)
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo > max(4 * len(keys), 1 << 12):
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, inverse.reshape(-1)
    offset = keys - lo
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[offset] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present) + lo, rank[offset]


def distinct_sums(keys, values=None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct int64 `keys` in ascending order, with how many times each occurs or, given `values`, the
    exact int64 sum of its values (np.unique's result, summed). Keys spread over a small range (months, days)
    are counted with bincount, which needs no sort; float64 bincount sums are exact while every partial sum
    stays below 2**53 (bounded by the sum of magnitudes), else the sums are added as integers."""
    keys = np.asarray(keys, dtype=np.int64)
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int64)
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo <= max(4 * len(keys), 1 << 12):
        offset = keys - lo
        counts = np.bincount(offset)
        present = np.flatnonzero(counts)
        if values is None:
            return present + lo, counts[present]
        values = np.asarray(values, dtype=np.int64)
        if int(np.abs(values).max()) * len(values) < (1 << 53):
            sums = np.bincount(offset, weights=values).astype(np.int64)
        else:
            sums = np.zeros(len(counts), dtype=np.int64)
            np.add.at(sums, offset, values)
        return present + lo, sums[present]
    if values is None:
        return np.unique(keys, return_counts=True)
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.zeros(len(uniq), dtype=np.int64)
    np.add.at(sums, inverse, np.asarray(values, dtype=np.int64))
    return uniq, sums
