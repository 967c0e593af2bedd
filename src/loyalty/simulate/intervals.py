"""Uncertainty intervals of the headline figures: a bootstrap over members.

A history is one sample of members. Resampling its members with replacement (as many as there are, the
same member possibly several times) and adding up their figures gives the totals another sample of the
same kind of members could have given; the spread of those totals over many resamples is the figure's
uncertainty. The interval is the percentile interval of the resampled totals, shifted so that it is
centred as the exact headline figure is: headline + (resampled quantile - sum of the members' figures).
The part of a figure no member causes (draw prizes, breakage assumptions) moves it but adds no spread.

Member figures are integer minor units (a member's points at their cost are rounded to the minor unit
for the resampling only); the arithmetic is int64 numpy. The resamples are drawn from one seeded
generator, so a seed gives the same intervals on every machine. docs/simulate.md, "Intervals", says what
the method assumes and where it is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Optional, Sequence

import numpy as np

RESAMPLES = 1000
BATCH_CELLS = 4_000_000  # member draws per batch: bounds memory at ~32 MB of indices


@dataclass(frozen=True)
class Interval:
    low: Decimal
    high: Decimal


def resample_indices(n: int, resamples: int, seed: Optional[int]):
    """Batches of member indices, `resamples` rows of `n` each in all, from one seeded generator (None: 0)."""
    rng = np.random.default_rng(0 if seed is None else seed)
    batch = max(1, BATCH_CELLS // max(n, 1))
    done = 0
    while done < resamples:
        k = min(batch, resamples - done)
        yield rng.integers(0, n, size=(k, n))
        done += k


def resampled_sums(values: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """values: (figures, members) int64 -> (figures, resamples) int64, the totals of each resample."""
    values = np.asarray(values, dtype=np.int64)
    if values.ndim == 1:
        values = values[None, :]
    n = values.shape[1]
    out = np.zeros((values.shape[0], resamples), dtype=np.int64)
    if n == 0:
        return out
    at = 0
    for idx in resample_indices(n, resamples, seed):
        out[:, at:at + len(idx)] = values[:, idx].sum(axis=2)
        at += len(idx)
    return out


def percentile_bounds(sums: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
    """The (100 - level) / 2 and (100 + level) / 2 percentiles of each row, as values the resamples took."""
    tail = (100 - level) / 200
    low = np.quantile(sums, tail, axis=-1, method="inverted_cdf")
    high = np.quantile(sums, 1 - tail, axis=-1, method="inverted_cdf")
    return low.astype(np.int64), high.astype(np.int64)


def total_interval(member_values: np.ndarray, headline_minor: Decimal, level: int, seed: int,
                   resamples: int = RESAMPLES) -> Interval:
    """The interval of a total: the headline (minor units) plus the resampled spread of the members' sum."""
    sums = resampled_sums(member_values, resamples, seed)[0]
    low, high = percentile_bounds(sums, level)
    observed = int(np.asarray(member_values, dtype=np.int64).sum())
    return Interval(headline_minor + (int(low) - observed), headline_minor + (int(high) - observed))


def to_minor(values: Sequence) -> np.ndarray:
    """Member figures (ints or Decimals, minor units) as int64, rounded half-even to the minor unit."""
    return np.fromiter((int(v) if isinstance(v, int) else int(Decimal(v).to_integral_value(ROUND_HALF_EVEN))
                        for v in values), dtype=np.int64, count=len(values))


# ------------------------------------------------------------------ the report's figures

METHOD = "bootstrap over members: percentile interval of the resampled totals, shifted to the headline figure"

# headline figure -> the member figure it adds up (MemberRow fields, or one computed from them)
MONEY_FIGURES = {
    "revenue": lambda m: m.revenue,
    "discounts": lambda m: m.discount,
    "liability_end": lambda m: m.liability,
    "realized_cost": lambda m: m.cost - m.liability,
    "total_cost": lambda m: m.cost,
}
COUNT_FIGURES = {
    "orders": lambda m: m.orders,
    "points_issued": lambda m: m.points_earned,
}


def _minor(text: str, exponent: int) -> Decimal:
    return Decimal(text).scaleb(exponent)


def _text(minor: Decimal, exponent: int) -> str:
    return str(minor.scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN))


def headline_intervals(headline: dict, members: Sequence, exponent: int, level: int, seed: int,
                       resamples: int = RESAMPLES) -> dict:
    """Intervals of the headline's money figures, counts and cost share, from the member rows of the run. All
    figures are resampled with the same draws of members (one pass over the members per resample)."""
    figures = {**MONEY_FIGURES, **COUNT_FIGURES}
    values = np.vstack([to_minor([of(m) for m in members]) for of in figures.values()]) if members else \
        np.zeros((len(figures), 0), dtype=np.int64)
    sums = resampled_sums(values, resamples, seed)
    low, high = percentile_bounds(sums, level)
    observed = values.sum(axis=1)
    out: dict = {}
    for row, name in enumerate(figures):
        money = name in MONEY_FIGURES
        headline_minor = _minor(headline[name], exponent) if money else Decimal(headline[name])
        lo = headline_minor + (int(low[row]) - int(observed[row]))
        hi = headline_minor + (int(high[row]) - int(observed[row]))
        out[name] = {"low": _text(lo, exponent), "high": _text(hi, exponent)} if money else {"low": int(lo), "high": int(hi)}
    share = headline.get("cost_share_of_revenue")
    cost, revenue = list(figures).index("total_cost"), list(figures).index("revenue")
    ok = sums[revenue] != 0
    if share is not None and ok.any() and observed[revenue]:
        shares = sums[cost][ok] / sums[revenue][ok].astype(np.float64)
        tail = (100 - level) / 200
        q_low, q_high = np.quantile(shares, [tail, 1 - tail], method="inverted_cdf")
        shift = float(share) - float(observed[cost]) / float(observed[revenue])
        out["cost_share_of_revenue"] = {"low": f"{q_low + shift:.4f}", "high": f"{q_high + shift:.4f}"}
    return out


def intervals_section(headline: dict, members: Sequence, exponent: int, level: int, seed: int,
                      resamples: int = RESAMPLES) -> dict:
    """The report's `intervals` entry (docs/simulate.md, "Intervals")."""
    return {"level": level, "seed": 0 if seed is None else seed, "resamples": resamples, "members": len(members), "method": METHOD,
            "headline": headline_intervals(headline, members, exponent, level, seed, resamples)}


def difference_interval(old_members: Sequence, new_members: Sequence, exponent: int, level: int, seed: int,
                        headline_difference: Optional[Decimal] = None, resamples: int = RESAMPLES) -> dict:
    """The interval of the new program's total cost minus the old one's, paired by member: each resample takes
    the same members for both programs, so what the members have in common cancels out. The verdict says more
    or less only when the interval excludes zero."""
    old = {m.member: m.cost for m in old_members}
    new = {m.member: m.cost for m in new_members}
    ids = sorted(set(old) | set(new))
    diffs = to_minor([new.get(i, Decimal(0)) - old.get(i, Decimal(0)) for i in ids])
    # centred on the difference of the headline totals (minor units) when given
    observed = headline_difference if headline_difference is not None else Decimal(int(diffs.sum()))
    iv = total_interval(diffs, observed, level, seed, resamples)
    if iv.low > 0:
        verdict = "the new program costs more"
    elif iv.high < 0:
        verdict = "the new program costs less"
    else:
        verdict = "no clear difference: the interval holds zero"
    return {"level": level, "seed": 0 if seed is None else seed, "resamples": resamples, "members": len(ids), "method": METHOD,
            "cost_difference": _text(observed, exponent),
            "low": _text(iv.low, exponent), "high": _text(iv.high, exponent), "verdict": verdict}


def shown(value, interval: Optional[dict], level: int, write, unit: str = "") -> str:
    """`1,234.00 NOK (90%: 1,180.00-1,301.00)`: a figure, its unit, and its interval, numbers written by `write`."""
    if not interval:
        return f"{write(value)}{unit}"
    low, high = write(interval["low"]), write(interval["high"])
    between = " to " if low.startswith("-") or high.startswith("-") else "-"  # 1,180-1,301; -120 to 1,155
    return f"{write(value)}{unit} ({level}%: {low}{between}{high})"
