"""Effects: what applying an event did, each naming the rule behind it.

An `Effect` is a small immutable record (a named tuple); money is in integer
minor units of the program currency and points are integers. `to_json`
renders money as a decimal string in the program currency.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, NamedTuple, Optional

# every effect kind, in the order the evaluator can produce them for one event
EFFECT_KINDS = (
    "duplicate_ignored",  # the event id was seen before; nothing changed
    "not_counted",  # under `members join at signup`, an event she did not make as a member (reason); nothing changed
    "points_available",  # pending points matured
    "points_expired",
    "tier_changed",
    "points_adjusted",  # an adjustment event (mechanics/adjustments.py): points (signed) and its reason
    "tier_adjusted",  # an adjustment set the tier (tier_from, tier_to, reason)
    "punches_adjusted",  # an adjustment set or added to a punch card (rule; points: the count in the cycle)
    "fee_paid",  # a fee event paid a tier's fee (mechanics/fees.py): amount, tier_to; revenue, not cost
    "code_used",  # a purchase used a code (mechanics/codes.py); scope code:<code>
    "code_refused",  # a purchase carried a code it could not use, and why (reason)
    "discount_applied",  # amount off this order
    "discount_not_applied",  # a discount that lost a stacking contest (mechanics/stacking.py): its worth in amount,
    # the winner in scope, why in reason
    "points_earned",  # pending=True when they mature later
    "points_redeemed",
    "points_clawed_back",  # by a return (pending=True when taken from pending points)
    "reward_issued",  # face value and cost to the business
    "gift_not_given",  # a gift that lost a stacking contest (mechanics/stacking.py): its reward, its worth in amount,
    # the winner in scope, why in reason
    "reward_taken_back",
    "reward_used",  # an offer with a lifetime used on a purchase within it
    "reward_lapsed",  # an offer with a lifetime not used by its end: it costs nothing
    "referral_qualified",  # a referred member's purchase qualified the referrer's rule; `scope` is the referrer
    "draw_entries",
    "cap_reached",  # a per-member cap truncated a rule, by `truncated`
    "budget_reached",  # a program-wide budget truncated a rule, by `truncated`
    "stock_out",  # a rule would have given a reward whose stock is gone (mechanics/stock.py)
    "redemption_refused",  # not enough points, or no such reward
)

_FIELDS = (
    "kind", "time", "rule", "line", "column", "point_kind", "points", "amount", "cost", "reward", "tier_from",
    "tier_to", "pending", "truncated", "order", "entries", "draw", "scope", "reason", "event",
)


class _EffectFields(NamedTuple):
    """The fields of an Effect, typed (the same named tuple as collections.namedtuple(_FIELDS) makes)."""

    kind: str
    time: _dt.datetime
    rule: Optional[str] = None
    line: int = 0
    column: int = 0
    point_kind: Optional[str] = None
    points: Optional[int] = None
    amount: Optional[int] = None
    cost: Optional[int] = None
    reward: Optional[str] = None
    tier_from: Optional[str] = None
    tier_to: Optional[str] = None
    pending: Optional[bool] = None
    truncated: Optional[int] = None
    order: Optional[str] = None
    entries: Optional[int] = None
    draw: Optional[str] = None
    scope: Optional[str] = None
    reason: Optional[str] = None
    event: Optional[str] = None


assert _EffectFields._fields == _FIELDS


class Effect(_EffectFields):
    """One thing an event did. A tuple of the 20 fields above (most None for any one kind), immutable: a
    state copy and the caller may share it. Built as a tuple (one step, not 20 attribute stores) because
    `program.apply` makes two or three per purchase; the hot paths build it with `tuple.__new__(Effect, values)`.

    Fields: `kind`, `time`; `rule` (the rule, tier, point kind or draw declaration that produced it) and
    its source `line` and `column`; `amount` and `cost` in minor units (a discount, a reward's face value,
    what a reward costs the business); `event`, the id of the event that caused it; the rest by kind."""

    __slots__ = ()

    # an Effect equals only another Effect (not a plain tuple of the same values)
    def __eq__(self, other: object) -> bool:
        return type(other) is Effect and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = tuple.__hash__

    def fields(self) -> dict[str, Any]:
        """The fields that are set (a compact dict, ints in minor units)."""
        out: dict[str, Any] = {}
        for name in _FIELDS:
            v = getattr(self, name)
            if v is None or (name in ("line", "column") and v == 0):
                continue
            out[name] = v
        return out

    def to_json(self, exponent: int) -> dict[str, Any]:
        out = self.fields()
        out["time"] = self.time.isoformat()
        for name in ("amount", "cost"):
            if name in out:
                out[name] = str(minor_to_decimal(out[name], exponent))
        return out

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields().items() if k != "kind")
        return f"Effect({self.kind}: {inner})"

    def explain(self, exponent: int = 2, currency: str = "") -> str:
        """One sentence a support agent can read to a customer."""
        where = f' (rule "{self.rule}", line {self.line})' if self.rule and self.line else (
            f' ("{self.rule}")' if self.rule else "")
        def money(v: int) -> str:
            return f"{minor_to_decimal(v, exponent)} {currency}".strip()

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
        elif k == "reward_used":
            s = f"offer {self.reward} used on order {self.order}"
        elif k == "reward_lapsed":
            s = f"offer {self.reward} lapsed unused (costs nothing)"
        elif k == "discount_applied":
            s = f"{money(self.amount or 0)} off order {self.order}"
        elif k == "discount_not_applied":
            s = f"{money(self.amount or 0)} off order {self.order} not applied: \"{self.scope}\" won ({self.reason})"
        elif k == "gift_not_given":
            s = f"reward {self.reward} not given on order {self.order}: \"{self.scope}\" won ({self.reason})"
        elif k == "tier_changed":
            s = f"tier changed from {self.tier_from or 'none'} to {self.tier_to or 'none'}"
        elif k == "draw_entries":
            s = f"{self.entries} entries in draw {self.draw}"
        elif k in ("cap_reached", "budget_reached"):
            # without a point kind the rule gives money (a discount, a reward's cost): `truncated` is minor units
            held = f"{self.truncated} {self.point_kind}" if self.point_kind else money(self.truncated or 0)
            s = f"{k.replace('_', ' ')}: {held} not given"
        elif k == "points_adjusted":
            s = f"{self.points:+d} {self.point_kind} adjusted: {self.reason}"
        elif k == "tier_adjusted":
            s = f"tier set from {self.tier_from or 'none'} to {self.tier_to or 'none'}: {self.reason}"
        elif k == "punches_adjusted":
            s = f"punch count set to {self.points}: {self.reason}"
        elif k == "fee_paid":
            s = f"paid the {self.tier_to} fee of {money(self.amount or 0)}"
        elif k == "code_used":
            s = f"code {(self.scope or '')[5:]} used"
        elif k == "code_refused":
            s = f"code {(self.scope or '')[5:]} not used: {self.reason}"
        elif k == "stock_out":
            s = f"reward {self.reward} not given: none left in stock"
        elif k == "redemption_refused":
            s = f"redemption of {self.reward} refused: {self.reason}"
        elif k == "referral_qualified":
            s = f"qualifies the referral by {self.scope} (for the referrer)"
        elif k == "not_counted":  # under `members join at signup` (mechanics/enrolment.py)
            s = f"not counted: {self.reason}"
        else:
            s = k.replace("_", " ")
        return s + where


def minor_to_decimal(value: int, exponent: int) -> Decimal:
    return Decimal(value).scaleb(-exponent) if exponent else Decimal(value)
