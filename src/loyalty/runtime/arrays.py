"""Small exact building blocks on int64 numpy arrays (no floats for money or points), for the mechanics'
vectorised steps (`runtime/mechanics/*.py`, `vector_*`) and the kernel that runs them (`simulate/vector/`).

The formulas are the mechanics' own (`runtime/formulas.py`, written once for ints and arrays alike),
here over int64 arrays; the rest are segmented scans (one segment per member).
Callers check magnitudes first (`fits`): int64 arithmetic must not overflow. Only the vectorised paths
import this module (and numpy): `program.apply` never does.
"""

from __future__ import annotations

import numpy as np

from loyalty.runtime import formulas

# the kernel's event type codes (a history's rows, as simulate/vector/kernel.py encodes them)
TYPES = ("purchase", "return", "visit", "signup", "referral", "redemption", "custom")
PURCHASE, RETURN, VISIT, SIGNUP, REFERRAL, REDEMPTION, CUSTOM = range(len(TYPES))

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
