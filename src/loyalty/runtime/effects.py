"""Effects: what applying an event did, each naming the rule behind it.

An `Effect` is a small immutable-by-convention record with slots; money is in
integer minor units of the program currency and points are integers. `to_json`
renders money as a decimal string in the program currency.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Optional

# every effect kind, in the order the evaluator can produce them for one event
EFFECT_KINDS = (
    "duplicate_ignored",  # the event id was seen before; nothing changed
    "points_available",  # pending points matured
    "points_expired",
    "tier_changed",
    "discount_applied",  # amount off this order
    "points_earned",  # pending=True when they mature later
    "points_redeemed",
    "points_clawed_back",  # by a return (pending=True when taken from pending points)
    "reward_issued",  # face value and cost to the business
    "reward_taken_back",
    "draw_entries",
    "cap_reached",  # a per-member cap truncated a rule, by `truncated`
    "budget_reached",  # a program-wide budget truncated a rule, by `truncated`
    "redemption_refused",  # not enough points, or no such reward
)

_FIELDS = (
    "kind", "time", "rule", "line", "column", "point_kind", "points", "amount", "cost", "reward", "tier_from",
    "tier_to", "pending", "truncated", "order", "entries", "draw", "scope", "reason", "event",
)


class Effect:
    __slots__ = _FIELDS

    def __init__(self, kind: str, time: _dt.datetime, rule: Optional[str] = None, line: int = 0, column: int = 0,
                 point_kind: Optional[str] = None, points: Optional[int] = None, amount: Optional[int] = None,
                 cost: Optional[int] = None, reward: Optional[str] = None, tier_from: Optional[str] = None,
                 tier_to: Optional[str] = None, pending: Optional[bool] = None, truncated: Optional[int] = None,
                 order: Optional[str] = None, entries: Optional[int] = None, draw: Optional[str] = None,
                 scope: Optional[str] = None, reason: Optional[str] = None, event: Optional[str] = None):
        self.kind = kind
        self.time = time
        self.rule = rule  # the rule (or tier / point kind / draw declaration) that produced it
        self.line = line  # its source position
        self.column = column
        self.point_kind = point_kind
        self.points = points
        self.amount = amount  # minor units: discount amount, reward face value
        self.cost = cost  # minor units: what a reward costs the business
        self.reward = reward
        self.tier_from = tier_from
        self.tier_to = tier_to
        self.pending = pending
        self.truncated = truncated
        self.order = order
        self.entries = entries
        self.draw = draw
        self.scope = scope
        self.reason = reason
        self.event = event  # id of the event that caused it

    def fields(self) -> dict:
        """The fields that are set (a compact dict, ints in minor units)."""
        out = {}
        for name in _FIELDS:
            v = getattr(self, name)
            if v is None or (name in ("line", "column") and v == 0):
                continue
            out[name] = v
        return out

    def to_json(self, exponent: int) -> dict:
        out = self.fields()
        out["time"] = self.time.isoformat()
        for name in ("amount", "cost"):
            if name in out:
                out[name] = str(minor_to_decimal(out[name], exponent))
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, Effect) and all(getattr(self, n) == getattr(other, n) for n in _FIELDS)

    def __hash__(self):
        return hash(tuple(getattr(self, n) for n in _FIELDS))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields().items() if k != "kind")
        return f"Effect({self.kind}: {inner})"

    def explain(self, exponent: int = 2, currency: str = "") -> str:
        """One sentence a support agent can read to a customer."""
        where = f' (rule "{self.rule}", line {self.line})' if self.rule and self.line else (
            f' ("{self.rule}")' if self.rule else "")
        money = (lambda v: f"{minor_to_decimal(v, exponent)} {currency}".strip())
        k = self.kind
        if k == "points_earned":
            s = f"earned {self.points} {self.point_kind}" + (" (pending)" if self.pending else "")
        elif k == "points_available":
            s = f"{self.points} pending {self.point_kind} became available"
        elif k == "points_expired":
            s = f"{self.points} {self.point_kind} expired"
        elif k == "points_redeemed":
            s = f"redeemed {self.points} {self.point_kind} for {self.reward}"
        elif k == "points_clawed_back":
            s = f"{self.points} {self.point_kind} taken back by a return of order {self.order}"
        elif k == "reward_issued":
            s = f"reward {self.reward} issued (face value {money(self.amount or 0)}, costs {money(self.cost or 0)})"
        elif k == "reward_taken_back":
            s = f"reward {self.reward} taken back"
        elif k == "discount_applied":
            s = f"{money(self.amount or 0)} off order {self.order}"
        elif k == "tier_changed":
            s = f"tier changed from {self.tier_from or 'none'} to {self.tier_to or 'none'}"
        elif k == "draw_entries":
            s = f"{self.entries} entries in draw {self.draw}"
        elif k in ("cap_reached", "budget_reached"):
            s = f"{k.replace('_', ' ')}: {self.truncated} {self.point_kind or 'minor units'} not given"
        elif k == "redemption_refused":
            s = f"redemption of {self.reward} refused: {self.reason}"
        else:
            s = k.replace("_", " ")
        return s + where


def minor_to_decimal(value: int, exponent: int) -> Decimal:
    return Decimal(value).scaleb(-exponent) if exponent else Decimal(value)
