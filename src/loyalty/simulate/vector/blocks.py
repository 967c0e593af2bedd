"""Small exact building blocks on int64 numpy arrays (no floats for money or points).

Each mirrors a scalar function of the evaluator (`runtime.evaluator.div_round`,
`half_even`, `_cycle_count`) or is a segmented scan (one segment per member).
Callers check magnitudes first (`fits`): int64 arithmetic must not overflow.
"""

from __future__ import annotations

import numpy as np

INT_LIMIT = 1 << 62  # headroom below 2**63: a product we form must stay under this


def fits(*bounds: int) -> bool:
    """Whether a product of non-negative bounds (Python ints, exact) stays under INT_LIMIT."""
    p = 1
    for b in bounds:
        p *= max(int(b), 1)
    return p < INT_LIMIT


def div_round(n: np.ndarray, d, mode: str) -> np.ndarray:
    """n / d (d > 0) rounded by `mode`: down | up | half even | half up, toward -inf/+inf for down/up."""
    n = np.asarray(n, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    q, r = np.divmod(n, d)
    if mode == "down":
        return q
    nonzero = r != 0
    if mode == "up":
        return q + nonzero
    twice = 2 * r
    if mode == "half up":
        up = twice >= d
    else:
        up = (twice > d) | ((twice == d) & (q % 2 == 1))
    return q + (nonzero & up)


def half_even(n, d) -> np.ndarray:
    return div_round(n, d, "half even")


def cycle_count(n: np.ndarray, cycle: int, free: int) -> np.ndarray:
    """How many of units 1..n fall in the last `free` places of their cycle."""
    n = np.asarray(n, dtype=np.int64)
    return (n // cycle) * free + np.maximum(0, n % cycle - (cycle - free))


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
