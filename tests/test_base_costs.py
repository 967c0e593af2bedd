"""The kernel frame's cheaper formulations (issue 12, base costs) against the plain numpy they replace."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.runtime.arrays import distinct_sums
from loyalty.simulate.measures import _member_blocks_in_code_order

keys_and_values = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.one_of(st.integers(-5, 40), st.integers(-(1 << 40), 1 << 40)), min_size=n, max_size=n),
    st.lists(st.one_of(st.integers(-1000, 1000), st.integers(-(1 << 50), 1 << 50)), min_size=n, max_size=n)))


@settings(max_examples=200, deadline=None)
@given(keys_and_values)
def test_distinct_sums_is_unique_then_summed(kv):
    keys, values = np.array(kv[0], dtype=np.int64), np.array(kv[1], dtype=np.int64)
    uniq, counts = np.unique(keys, return_counts=True)
    got_keys, got_counts = distinct_sums(keys)
    assert got_keys.tolist() == uniq.tolist() and got_counts.tolist() == counts.tolist()
    got_keys, got_sums = distinct_sums(keys, values)
    expected = {}
    for k, v in zip(kv[0], kv[1]):
        expected[k] = expected.get(k, 0) + v  # Python ints: exact
    assert got_keys.tolist() == sorted(expected)
    assert got_sums.tolist() == [expected[k] for k in sorted(expected)]


def test_distinct_sums_of_nothing():
    keys, sums = distinct_sums(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert len(keys) == 0 and len(sums) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.lists(st.integers(0, 5), min_size=1, max_size=6)),
                min_size=1, max_size=10))
def test_member_blocks_in_code_order_is_the_lexsort(blocks):
    """Blocks of one member each, times as given: the block order is lexsort's whenever it answers, and it
    answers whenever each member is one block in time order."""
    member = np.array([m for m, times in blocks for _ in times], dtype=np.int64)
    time = np.array([t for _, times in blocks for t in times], dtype=np.int64)
    got = _member_blocks_in_code_order(member, time)
    one_block_each = len({m for m, _ in blocks}) == len(blocks) and not any(
        m == n for (m, _), (n, _) in zip(blocks, blocks[1:]))
    in_order = all(times == sorted(times) for _, times in blocks)
    if one_block_each and in_order:
        assert got is not None
    if got is not None:
        assert got.tolist() == np.lexsort((time, member)).tolist()
