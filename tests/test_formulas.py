"""The mechanics' pure formulas (runtime/formulas.py) against definitions written from first principles
(exact fractions, a unit-by-unit count), on Python ints and on int64 arrays: the scalar plan and the
vectorised kernel both call these, so one right answer here is one right answer on every path."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.runtime.formulas import ROUNDING_MODES, cycle_count, div_round, half_even, share, split_negative
from loyalty.runtime import arrays as blocks


def rounded(n: int, d: int, mode: str) -> int:
    x = Fraction(n, d)
    if mode == "down":
        return math.floor(x)
    if mode == "up":
        return math.ceil(x)
    lo = math.floor(x)
    rest = x - lo
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and (mode == "half up" or lo % 2 == 1)):
        return lo + 1
    return lo


@settings(max_examples=300, deadline=None)
@given(n=st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=20), d=st.integers(1, 10**6),
       mode=st.sampled_from(ROUNDING_MODES))
def test_div_round_is_exact_rounding_on_ints_and_arrays(n, d, mode):
    want = [rounded(x, d, mode) for x in n]
    got_ints = [div_round(x, d, mode) for x in n]
    assert got_ints == want
    assert all(type(g) is int for g in got_ints)  # never a bool or a float
    assert blocks.div_round(np.array(n, dtype=np.int64), d, mode).tolist() == want
    assert [half_even(x, d) for x in n] == [rounded(x, d, "half even") for x in n]
    assert blocks.half_even(np.array(n, dtype=np.int64), d).tolist() == [rounded(x, d, "half even") for x in n]


@settings(max_examples=200, deadline=None)
@given(n=st.lists(st.integers(0, 2000), min_size=1, max_size=20), cycle=st.integers(1, 12), free=st.integers(1, 12))
def test_cycle_count_counts_the_last_places_of_each_cycle(n, cycle, free):
    free = min(free, cycle)

    def by_hand(units: int) -> int:  # unit u (1-based) is discounted when it is in the last `free` of its cycle
        return sum(1 for u in range(1, units + 1) if (u - 1) % cycle >= cycle - free)

    want = [by_hand(x) for x in n]
    assert [cycle_count(x, cycle, free) for x in n] == want
    assert blocks.cycle_count(np.array(n, dtype=np.int64), cycle, free).tolist() == want


@given(parts=st.lists(st.integers(-1000, 1000), min_size=1, max_size=6))
def test_split_negative_keeps_the_total_and_moves_negative_parts_back(parts):
    total = sum(parts)
    got = split_negative(list(parts))
    assert sum(got) == total
    # a negative part is left only when everything before it is used up
    for j, p in enumerate(got):
        if p < 0:
            assert all(q <= 0 for q in got[:j])


def test_split_negative_takes_from_the_latest_part_first():
    assert split_negative([10, 5, -7]) == [8, 0, 0]
    assert split_negative([10, -3]) == [7, 0]
    assert split_negative([2, -5]) == [0, -3]


@given(total=st.integers(0, 10**6), gross=st.integers(0, 10**5), upto=st.integers(0, 10**5))
def test_share_is_proportional_and_whole_at_the_gross_amount(total, gross, upto):
    got = share(total, upto, gross)
    if gross == 0 or upto >= gross:
        assert got == total
    else:
        assert got == rounded(total * upto, gross, "half even")


@settings(max_examples=300, deadline=None)
@given(year=st.integers(1960, 2030), month=st.integers(1, 12), day=st.integers(20, 31), span_days=st.integers(0, 12),
       n=st.integers(0, 300), months=st.integers(-30, 30), seed=st.integers(0, 2**32 - 1))
def test_months_added_day_by_day_are_the_calendars_moment_by_moment(year, month, day, span_days, n, months, seed):
    """Many moments over a few days near a month's end (the day table `arrays._add_months` uses when they are
    many), or few: the same as timeutil.add_duration on each, month ends clamped, at any time of day, before 1970
    too; by months and by years."""
    import calendar
    import datetime as dt

    from loyalty.runtime.timeutil import add_duration

    epoch = dt.datetime(1970, 1, 1)
    one = dt.timedelta(microseconds=1)
    first = dt.datetime(year, month, min(day, calendar.monthrange(year, month)[1]))
    rng = np.random.default_rng(seed)
    us = np.sort((first - epoch) // one + rng.integers(0, (span_days + 1) * 86_400_000_000, n))
    for unit in ("month", "year"):
        expected = [(add_duration(epoch + u * one, months, unit) - epoch) // one for u in us.tolist()]
        assert blocks.add_duration(us, months, unit).tolist() == expected, unit
        # the same by a table of days built once (a rolling tier window's start, arrays.duration_shift): over the
        # moments' days, over part of them (the others by add_duration), and over days before them
        if len(us):
            lo, hi = int(us[0]), int(us[-1])
            for table_lo, table_hi in ((lo, hi), (lo, (lo + hi) // 2), (lo - 10**12, lo - 10**11)):
                shift = blocks.duration_shift(months, unit, table_lo, table_hi)
                assert shift(us).tolist() == expected, (unit, table_lo, table_hi)


@settings(max_examples=200, deadline=None)
@given(year=st.integers(1960, 2030), month=st.integers(1, 12), day=st.integers(1, 31), span_days=st.integers(0, 400),
       n=st.integers(0, 200), period=st.sampled_from(["day", "week", "month", "quarter", "year"]),
       seed=st.integers(0, 2**32 - 1))
def test_period_starts_from_a_day_table_are_the_calendars(year, month, day, span_days, n, period, seed):
    """The next period's start of moments at any time of day (the tiers' reviews): arrays.next_period_start and
    the day table built once (arrays.period_starts; over the moments' days, part of them, days before them) give
    timeutil.next_period_start's answer for each moment."""
    import calendar
    import datetime as dt

    from loyalty.runtime.timeutil import next_period_start

    epoch = dt.datetime(1970, 1, 1)
    one = dt.timedelta(microseconds=1)
    first = dt.datetime(year, month, min(day, calendar.monthrange(year, month)[1]))
    rng = np.random.default_rng(seed)
    us = np.sort((first - epoch) // one + rng.integers(0, (span_days + 1) * 86_400_000_000, n))
    expected = [(next_period_start(epoch + u * one, period) - epoch) // one for u in us.tolist()]
    assert blocks.next_period_start(us, period).tolist() == expected
    if len(us):
        lo, hi = int(us[0]), int(us[-1])
        for table_lo, table_hi in ((lo, hi), (lo, (lo + hi) // 2), (lo - 10**12, lo - 10**11)):
            starts = blocks.period_starts(period, table_lo, table_hi)
            assert starts(us).tolist() == expected, (table_lo, table_hi)


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(0, 40), min_size=1, max_size=8), seed=st.integers(0, 2**32 - 1))
def test_segment_search_is_searchsorted_in_each_range(lengths, seed):
    """arrays.segment_search (the referral pass's rows: where a `referred` row goes, before the member's own rows
    of its moment, a `referral_qualified` one after them) against np.searchsorted on each range, both sides, keys
    before, among (ties) and after a range's values."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([np.sort(rng.integers(0, 20, k)) for k in lengths]).astype(np.int64)
    ends = np.cumsum(lengths)
    starts = ends - np.array(lengths)
    pick = rng.integers(0, len(lengths), 30)
    keys = rng.integers(-2, 23, 30).astype(np.int64)
    right = rng.integers(0, 2, 30).astype(bool)
    got = blocks.segment_search(values, starts[pick].astype(np.int64), ends[pick].astype(np.int64), keys, right)
    expected = [int(starts[p]) + int(np.searchsorted(values[starts[p]:ends[p]], k, "right" if r else "left"))
                for p, k, r in zip(pick.tolist(), keys.tolist(), right.tolist())]
    assert got.tolist() == expected
