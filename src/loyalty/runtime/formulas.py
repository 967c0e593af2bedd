"""The pure formulas of the mechanics, each written once and imported by every path.

Each function takes Python ints or int64 numpy arrays alike (no branch on the values, only
on the rounding mode), so the scalar evaluation (`runtime/plan.py`) and the vectorised kernel
(`simulate/vector/`) compute the same thing with the same code. Exact integer arithmetic
only: no floats for money or points. Array callers check magnitudes first
(`runtime/arrays.fits`): int64 must not overflow.
"""

from __future__ import annotations

ROUNDING_MODES = ("down", "up", "half even", "half up")


def div_round(n, d, mode: str):
    """n / d (d > 0) rounded by `mode`: down | up | half even | half up. Down and up are toward -inf/+inf."""
    if mode == "down":  # the quotient alone: numpy divides by one divisor ~30x faster than its divmod does
        return n // d
    # up and half up by one floor division each (an array's temporaries: 2-3, not 5-6 of the remainder's)
    if mode == "up":
        return -(-n // d)
    if mode == "half up":  # floor(n/d + 1/2) = floor((2n + d) / 2d); with d odd, 2n + d is never a multiple of
        return (n + d // 2) // d  # 2d, so that is floor((2n + d - 1) / 2d) = floor((n + (d - 1) / 2) / d)
    q, r = _floor_divmod(n, d)
    twice = 2 * r
    return q + ((twice > d) | ((twice == d) & ((q & 1) == 1)))


def half_even(n, d):
    """n / d (d > 0) rounded half to even: how a share of money or points is rounded."""
    q, r = _floor_divmod(n, d)
    twice = 2 * r
    return q + ((twice > d) | ((twice == d) & ((q & 1) == 1)))  # (q & 1: q's parity, as q % 2, without a division)


def _floor_divmod(n, d):
    """divmod(n, d) for d > 0, ints or int64 arrays: numpy's divmod costs ~1.5-2x the instructions of a floor
    division and a multiply (200,000 entries, callgrind), and its `%` by 2 a division where `& 1` is a mask."""
    q = n // d
    return q, n - q * d


def cycle_count(n, cycle: int, free: int):
    """A punch card's discounted units among units 1..n: those in the last `free` places of their cycle."""
    over = n % cycle - (cycle - free)
    return (n // cycle) * free + over * (over > 0)


def tier_factor(tier, point_kind: int) -> tuple[int, int]:
    """(numerator, denominator) of a tier's multiplier for points of `point_kind`: the product of its
    multipliers that name the kind or every kind (-1); (1, 1) when it has none."""
    n, d = 1, 1
    for mk, mn, md in tier.multipliers:
        if mk == -1 or mk == point_kind:
            n, d = n * mn, d * md
    return n, d


def qualified_tier(thresholds, value):
    """The tier a metric's value qualifies for: the last index whose threshold it meets, -1 for none; `value`
    an int or an int64 array (the kernel's, for every member at once)."""
    best = -1
    for i, threshold in enumerate(thresholds):
        best = best + (value >= threshold) * (i - best)
    return best


def split_negative(parts: list) -> list:
    """Staged points (docs/semantics.md, "Multipliers"): a source below 1 has a negative part, taken from the
    parts before it, latest first, so no part is negative and the total stays. Changes `parts` in place."""
    for j in range(len(parts) - 1, 0, -1):
        i = j - 1
        while parts[j] < 0 and i >= 0:
            take = min(parts[i], -parts[j])
            parts[i] -= take
            parts[j] += take
            i -= 1
    return parts


def share(total, upto, gross):
    """The part of `total` that `upto` of an order's `gross` amount carries (a return's share), rounded half
    to even; all of it once `upto` reaches the gross amount, or when the order was free."""
    if gross == 0 or upto >= gross:
        return total
    return half_even(total * upto, gross)
