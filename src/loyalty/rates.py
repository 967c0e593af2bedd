"""Effective reward rates: the one definition of the arithmetic behind them.

What share of a member's spend a mechanic gives back, and when points per visit are out of line with
points per spend. `loyalty describe` (loyalty/describe.py, on the compiled program) and the checker's
warning LOY315 (checker/checks.py, on the syntax tree) both compute through these functions, so the
rate a warning quotes is the rate `describe` prints. Plain exact arithmetic on `Fraction`s: this module
imports neither the syntax tree nor the runtime, so every stage may use it (docs/design.md).

Units: money is in the program's currency (not minor units); a rate is a share of spend (1/100 is 1%).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Optional, Union

Number = Union[int, Decimal, Fraction]

# The rule for "a typical order", used to compare points per visit with points per spend: an order of
# TYPICAL_ORDER_STEPS times the amount a per-spend rule gives its points for (`earn 1 point per 10 NOK`:
# 100 NOK). The amount a program earns "per" is the step its designer thinks in, so ten of them is an
# ordinary purchase, whatever the currency.
TYPICAL_ORDER_STEPS = 10
# Per-visit points are out of line when, on that typical order, they give at least this many times what
# the per-spend rule gives: the visit alone then outweighs the spend several times over.
OUT_OF_LINE_FACTOR = 2


def fraction(value: Number) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(value)


def punch_share(cycle: int, free: int, percent: Number = 100) -> Fraction:
    """The share of the covered items' list price a punch card gives back: `free` units of every `cycle`
    at `percent` off. Every 6th free: 1/6; 1 free after every 9 paid (a cycle of 10): 1/10; every 5th at
    50% off: 1/10."""
    return Fraction(free, cycle) * fraction(percent) / 100


def percent_share(percent: Number) -> Fraction:
    """A percentage off as a share: 5% -> 1/20."""
    return fraction(percent) / 100


def points_per_money(points: Number, per: Number) -> Fraction:
    """`earn 1 point per 10 NOK`: 1/10 point per NOK."""
    return fraction(points) / fraction(per)


def points_share(points: Number, per: Number, money_per_point: Number, factor: Number = 1) -> Fraction:
    """The share of spend given back by `earn <points> per <per>` when a point is worth `money_per_point`
    (to the member, or what it costs the business), times a multiplier `factor`: 1 point per 10 NOK at
    0.10 NOK = 1/100; at 2x, 1/50."""
    return points_per_money(points, per) * fraction(money_per_point) * fraction(factor)


def amount_share(amount: Number, order: Number) -> Fraction:
    """A fixed amount given on an order of `order`, as a share of it."""
    return fraction(amount) / fraction(order)


def typical_order(per: Number) -> Fraction:
    """The typical order the per-visit comparison uses: TYPICAL_ORDER_STEPS times `per`."""
    return TYPICAL_ORDER_STEPS * fraction(per)


@dataclass(frozen=True)
class VisitComparison:
    """Points per visit against a per-spend rule of the same point kind, on a typical order."""

    order: Fraction  # the typical order, in money
    visit_points: Fraction  # what one visit earns
    spend_points: Fraction  # what the per-spend rule earns on that order
    ratio: Fraction  # visit_points / spend_points

    @property
    def out_of_line(self) -> bool:
        return self.ratio >= OUT_OF_LINE_FACTOR

    def visit_share(self, money_per_point: Number) -> Fraction:
        """The visit's points as a share of the typical order, at `money_per_point`."""
        return self.visit_points * fraction(money_per_point) / self.order

    def spend_share(self, money_per_point: Number) -> Fraction:
        return self.spend_points * fraction(money_per_point) / self.order


def compare_visit_to_spend(visit_points: Number, spend_points: Number, spend_per: Number) -> VisitComparison:
    """`earn <visit_points> per visit` against `earn <spend_points> per <spend_per>` on a typical order."""
    order = typical_order(spend_per)
    on_order = points_per_money(spend_points, spend_per) * order
    return VisitComparison(order, fraction(visit_points), on_order, fraction(visit_points) / on_order)


def percent_text(share: Fraction, places: int = 2) -> str:
    """A share as a percentage with at most `places` decimals, rounded half even: 1/6 -> '16.67%', 1/100 ->
    '1%'."""
    return decimal_text(fraction(share) * 100, places) + "%"


def decimal_text(value: Fraction, places: int) -> str:
    """An exact value as a decimal string with at most `places` decimals (half even), trailing zeros kept
    to `places` only where the value needs them: 5/6 at 2 -> '0.83', 35 -> '35'. Exact at any magnitude
    (rounded from the fraction itself, not through a 28-digit Decimal division)."""
    scaled = round(fraction(value) * 10 ** places)  # Fraction rounds half to even
    sign, digits = ("-" if scaled < 0 else ""), str(abs(scaled))
    if places:
        digits = digits.rjust(places + 1, "0")
        digits = digits[:-places] + "." + digits[-places:]
        digits = digits.rstrip("0").rstrip(".")
    return sign + digits if digits != "0" else "0"


def ratio_text(value: Optional[Fraction]) -> str:
    """A ratio of rates for a message: 10 -> '10', 2.5 -> '2.5'."""
    return "?" if value is None else decimal_text(value, 1)
