"""What every program pays after the replay, made cheaper without changing a result (docs/performance.md
"After the replay for the cheap programs (wip-post2)"): results merged once (`SimResult.merge_many`) rather than
two at a time, and the spend passes' discounts under stacking (mechanics/discount.py) reusing the worth stacking
weighed (the kernel against the scalar plan: tests/test_vector_kernel.py)."""

from __future__ import annotations

import heapq
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.simulate.result import DrawKey, MemberRow, SimResult

NUMBERS = st.one_of(st.integers(-10**6, 10**6),
                    st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False, allow_infinity=False))


@st.composite
def results(draw, members: list) -> SimResult:
    """A partial result over `members` (sorted), with counters, cells, histograms, draw keys, budgets, claims."""
    r = SimResult()
    for name in draw(st.lists(st.sampled_from(["orders", "revenue", "events", "refunded"]), max_size=4)):
        r.count(name, draw(NUMBERS))
    for table, key, column in draw(st.lists(st.tuples(st.sampled_from(["month", "rule", "store"]),
                                                      st.sampled_from(["2025-01", "a", "b\x1fc"]),
                                                      st.sampled_from(["cost", "orders"])), max_size=8)):
        r.add(table, key, column, draw(NUMBERS))
    for name in draw(st.lists(st.sampled_from(["gaps", "values"]), max_size=2)):
        for v in draw(st.lists(st.integers(-5, 40), max_size=6)):
            r.observe(name, v)
    for period in draw(st.lists(st.sampled_from(["d|2025-01", "d|2025-02"]), max_size=2, unique=True)):
        winners = 2  # every part of one run draws the same number of winners for a period
        for m in members:
            if draw(st.booleans()):
                r.offer_draw(period, winners, DrawKey(draw(st.floats(-50, 0, allow_nan=False)), m))
    for budget in draw(st.lists(st.sampled_from(["b1", "b2"]), max_size=2)):
        r.ran_out(budget, draw(st.sampled_from(["2025-01-02T00:00:00", "2025-03-01T10:00:00"])))
    r.members = [MemberRow(m, 1, 100, 5, 0, 5, 0, 0, Decimal("1.5"), "") for m in members]
    r.claims = sorted(draw(st.lists(st.tuples(st.integers(0, 9), st.sampled_from(members or ["x"])), max_size=3)))
    return r


@st.composite
def disjoint_parts(draw):
    """2 to 5 results over disjoint sets of members: ranges in order, or interleaved (a Dask partition's)."""
    names = sorted(draw(st.lists(st.text("abcdef", min_size=1, max_size=3), unique=True, max_size=12)))
    k = draw(st.integers(2, 5))
    if draw(st.booleans()):  # each part a range of members, in order
        cuts = sorted(draw(st.lists(st.integers(0, len(names)), min_size=k - 1, max_size=k - 1)))
        groups = [names[a:b] for a, b in zip([0] + cuts, cuts + [len(names)])]
    else:
        owner = draw(st.lists(st.integers(0, k - 1), min_size=len(names), max_size=len(names)))
        groups = [[n for n, o in zip(names, owner) if o == i] for i in range(k)]
    return [draw(results(g)) for g in groups]


def _cell_order(r: SimResult) -> list:
    return list(r.counts), list(r.cells), {n: list(h) for n, h in r.histograms.items()}


@settings(max_examples=150, deadline=None)
@given(parts=disjoint_parts())
def test_merging_many_at_once_is_merging_two_at_a_time(parts):
    """`merge_many` leaves what merging the parts two by two leaves, left to right or as a tree: the same
    figures (exact sums of ints and Decimals), members in id order, each period's best draw keys, the earliest
    moment each budget ran out, the claims sorted; and the cells in the order they were first made (the
    report reads some tables in that order)."""
    left = parts[0]
    for p in parts[1:]:
        left = left.merge(p)
    level = list(parts)
    while len(level) > 1:
        level = [level[i].merge(level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    many = SimResult.merge_many(parts)
    assert many.canonical() == left.canonical() == level[0].canonical()
    assert _cell_order(many) == _cell_order(left) == _cell_order(level[0])
    assert many.members == sorted(m for p in parts for m in p.members)
    for name, value in many.counts.items():
        assert value == sum(p.counts.get(name, 0) for p in parts)
    for cell, value in many.cells.items():
        assert value == sum(p.cells.get(cell, 0) for p in parts)
    for period, keys in many.draw_keys.items():
        every = [k for p in parts for k in p.draw_keys.get(period, [])]
        assert keys == heapq.nlargest(many.draw_winners[period], every)
    for p in parts:  # the parts are left as they were
        assert p.members == sorted(p.members)


@settings(max_examples=200, deadline=None)
@given(keys=st.one_of(st.lists(st.integers(-3, 40), max_size=60),  # dictionary codes, -1 for none: a table
                      st.lists(st.integers(-2**62, 2**62), max_size=30)))  # spread out: np.unique itself
def test_distinct_inverse_is_np_unique_with_its_inverse(keys):
    import numpy as np

    from loyalty.runtime.arrays import distinct_inverse

    keys = np.array(keys, dtype=np.int64)
    uniq, inverse = distinct_inverse(keys)
    want_uniq, want_inverse = np.unique(keys, return_inverse=True)
    assert uniq.tolist() == want_uniq.tolist()
    assert inverse.tolist() == want_inverse.reshape(-1).tolist()
    assert uniq.dtype == np.int64 and inverse.dtype == np.int64
