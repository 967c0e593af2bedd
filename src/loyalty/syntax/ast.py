"""The typed syntax tree of a .loyalty program.

Every node is a frozen dataclass carrying the `Span` it came from. Spans do not
take part in equality, so two programs that differ only in layout (or a program
and its formatted text) compare equal. Nothing after the parser sees Lark trees.

The node classes mirror the grammar (grammar/loyalty.lark) one to one; the
language reference (docs/language.md) says what each one means.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Iterator, Literal, Optional, Union

from loyalty.spans import NO_SPAN, Span


@dataclass(frozen=True, slots=True)
class Node:
    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)

    def children(self) -> Iterator["Node"]:
        """The direct child nodes, in source order (one generic walker serves every pass)."""
        for f in fields(self):
            if f.name == "span":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item

    def walk(self) -> Iterator["Node"]:
        """This node and all its descendants, depth first, without recursion."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children())))


# ---------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Text(Node):
    """A user-written name or string, e.g. the `"latte"` in `on "latte"`."""

    value: str


@dataclass(frozen=True, slots=True)
class Money(Node):
    amount: Decimal
    currency: str  # ISO 4217 code as written, e.g. "NOK"


@dataclass(frozen=True, slots=True)
class PointsAmount(Node):
    amount: Decimal
    unit: str  # the point kind as written: "stars", "star", "points"


@dataclass(frozen=True, slots=True)
class Count(Node):
    value: Decimal


@dataclass(frozen=True, slots=True)
class Percent(Node):
    value: Decimal  # 5 for "5%"


@dataclass(frozen=True, slots=True)
class Multiplier(Node):
    value: Decimal  # 1.5 for "1.5x"


DurationUnit = Literal["day", "week", "month", "year"]
Period = Literal["day", "week", "month", "quarter", "year"]


@dataclass(frozen=True, slots=True)
class Duration(Node):
    amount: Decimal
    unit: DurationUnit  # singular; the formatter writes the plural when needed


@dataclass(frozen=True, slots=True)
class DateValue(Node):
    value: Optional[_dt.date]  # None when the text is not a real date (the checker reports it)
    text: str


@dataclass(frozen=True, slots=True)
class TimeOfDay(Node):
    hour: int
    minute: int


@dataclass(frozen=True, slots=True)
class Ordinal(Node):
    value: int  # 6 for "6th"


Quantity = Union[Money, PointsAmount, Count, Percent]


# ---------------------------------------------------------------- program settings


@dataclass(frozen=True, slots=True)
class CurrencySetting(Node):
    code: str


@dataclass(frozen=True, slots=True)
class TimezoneSetting(Node):
    name: Text


@dataclass(frozen=True, slots=True)
class RunsSetting(Node):
    start: DateValue
    end: Optional[DateValue]


@dataclass(frozen=True, slots=True)
class RewardsOnReturnSetting(Node):
    taken_back: bool


ProgramSetting = Union[CurrencySetting, TimezoneSetting, RunsSetting, RewardsOnReturnSetting]


@dataclass(frozen=True, slots=True)
class ProgramDecl(Node):
    name: Text
    settings: tuple[ProgramSetting, ...]


# ---------------------------------------------------------------- point kinds


@dataclass(frozen=True, slots=True)
class PointCost(Node):
    money: Money


@dataclass(frozen=True, slots=True)
class ExpireAfterEarning(Node):
    duration: Duration


@dataclass(frozen=True, slots=True)
class ExpireAfterInactivity(Node):
    duration: Duration


@dataclass(frozen=True, slots=True)
class ExpireAtPeriodEnd(Node):
    period: Period
    next: bool  # "at the end of the next calendar year"


@dataclass(frozen=True, slots=True)
class PendingSetting(Node):
    duration: Duration


RoundingMode = Literal["down", "up", "half even", "half up"]
RoundingScope = Literal["order", "line"]


@dataclass(frozen=True, slots=True)
class RoundingSetting(Node):
    mode: RoundingMode
    scope: RoundingScope


BalancePolicyKind = Literal["negative", "zero", "pending_only"]


@dataclass(frozen=True, slots=True)
class BalancePolicy(Node):
    policy: BalancePolicyKind


PointsSetting = Union[
    PointCost,
    ExpireAfterEarning,
    ExpireAfterInactivity,
    ExpireAtPeriodEnd,
    PendingSetting,
    RoundingSetting,
    BalancePolicy,
]


@dataclass(frozen=True, slots=True)
class PointsDecl(Node):
    name: Text
    settings: tuple[PointsSetting, ...]


# ---------------------------------------------------------------- catalog, segments, stores


@dataclass(frozen=True, slots=True)
class CategoryDecl(Node):
    name: Text


@dataclass(frozen=True, slots=True)
class ItemDecl(Node):
    name: Text
    category: Text
    cost: Optional[Money]


@dataclass(frozen=True, slots=True)
class CatalogDecl(Node):
    entries: tuple[Union[CategoryDecl, ItemDecl], ...]


@dataclass(frozen=True, slots=True)
class SegmentDecl(Node):
    name: Text


@dataclass(frozen=True, slots=True)
class StoreDecl(Node):
    name: Text
    region: Optional[Text]


# ---------------------------------------------------------------- item selectors

SelectorKind = Literal["items", "any", "categories"]


@dataclass(frozen=True, slots=True)
class ItemSelector(Node):
    """Which order lines a rule looks at: named items, items of categories, or any item."""

    kind: SelectorKind
    names: tuple[Text, ...]


# ---------------------------------------------------------------- rewards


@dataclass(frozen=True, slots=True)
class FreeItemReward(Node):
    selector: ItemSelector


@dataclass(frozen=True, slots=True)
class AmountOffReward(Node):
    money: Money


@dataclass(frozen=True, slots=True)
class PercentOffReward(Node):
    percent: Percent


@dataclass(frozen=True, slots=True)
class GiftCardReward(Node):
    face_value: Money
    partner: Optional[Text]  # another shop's card, e.g. a grocery voucher


@dataclass(frozen=True, slots=True)
class GiftReward(Node):
    gift: Text


@dataclass(frozen=True, slots=True)
class PerkReward(Node):
    pass


RewardKind = Union[FreeItemReward, AmountOffReward, PercentOffReward, GiftCardReward, GiftReward, PerkReward]


@dataclass(frozen=True, slots=True)
class RewardDecl(Node):
    name: Text
    kind: RewardKind
    cost: Optional[Money]  # what the reward costs the business, when not its face value


@dataclass(frozen=True, slots=True)
class RedeemDecl(Node):
    price: PointsAmount
    reward: Text


# ---------------------------------------------------------------- rule actions


@dataclass(frozen=True, slots=True)
class PunchFree(Node):
    """`every 6th "wash" is free`: every Nth unit counted is free (a cycle of N)."""

    ordinal: Ordinal
    selector: ItemSelector


@dataclass(frozen=True, slots=True)
class PunchDiscount(Node):
    """`every 5th item in category "shoes" at 50% off`."""

    ordinal: Ordinal
    selector: ItemSelector
    percent: Percent


@dataclass(frozen=True, slots=True)
class PaidThenFree(Node):
    """`1 free "wash" after every 6 paid`: a cycle of paid + free units (7 here, not 6)."""

    free: Count
    selector: ItemSelector
    paid: Count


@dataclass(frozen=True, slots=True)
class EarnPerSpend(Node):
    points: PointsAmount
    per: Money


CountedEvent = Literal["referral", "visit"]


@dataclass(frozen=True, slots=True)
class EarnPerEvent(Node):
    points: PointsAmount
    event: CountedEvent


@dataclass(frozen=True, slots=True)
class EarnFixed(Node):
    """`earn 100 points` once per triggering event (signup, first purchase, an action...)."""

    points: PointsAmount


@dataclass(frozen=True, slots=True)
class EarnMultiplier(Node):
    """`earn 2x points`: multiplies what the other rules earn on the same lines."""

    multiplier: Multiplier
    unit: Optional[str]


@dataclass(frozen=True, slots=True)
class GiveReward(Node):
    reward: Text


@dataclass(frozen=True, slots=True)
class Discount(Node):
    percent: Percent


WindowKind = Literal["lifetime", "rolling", "calendar"]


@dataclass(frozen=True, slots=True)
class RollingWindow(Node):
    duration: Duration


@dataclass(frozen=True, slots=True)
class CalendarWindow(Node):
    period: Period


MetricKind = Literal["spend", "visits", "earned"]


@dataclass(frozen=True, slots=True)
class Metric(Node):
    """What tiers and discount scales measure: spend, visits or points earned, over a window."""

    kind: MetricKind
    unit: Optional[str]  # the point kind, for kind == "earned"
    lifetime: bool  # the word "lifetime" was written
    window: Optional[Union[RollingWindow, CalendarWindow]]


@dataclass(frozen=True, slots=True)
class ScaleStep(Node):
    percent: Percent
    threshold: Quantity


@dataclass(frozen=True, slots=True)
class DiscountScale(Node):
    metric: Metric
    steps: tuple[ScaleStep, ...]


Action = Union[
    PunchFree,
    PunchDiscount,
    PaidThenFree,
    EarnPerSpend,
    EarnPerEvent,
    EarnFixed,
    EarnMultiplier,
    GiveReward,
    Discount,
    DiscountScale,
]

# ---------------------------------------------------------------- triggers


@dataclass(frozen=True, slots=True)
class OnSignup(Node):
    pass


@dataclass(frozen=True, slots=True)
class OnFirstPurchase(Node):
    pass


@dataclass(frozen=True, slots=True)
class OnAction(Node):
    name: Text


@dataclass(frozen=True, slots=True)
class OnNthVisit(Node):
    ordinal: Ordinal


@dataclass(frozen=True, slots=True)
class AfterEveryVisits(Node):
    count: Count


@dataclass(frozen=True, slots=True)
class AfterEverySpend(Node):
    money: Money


Trigger = Union[OnSignup, OnFirstPurchase, OnAction, OnNthVisit, AfterEveryVisits, AfterEverySpend]

# ---------------------------------------------------------------- conditions


@dataclass(frozen=True, slots=True)
class DateWindow(Node):
    start: DateValue
    end: Optional[DateValue]


@dataclass(frozen=True, slots=True)
class UntilDate(Node):
    end: DateValue


@dataclass(frozen=True, slots=True)
class OnItems(Node):
    names: tuple[Text, ...]


@dataclass(frozen=True, slots=True)
class OnCategories(Node):
    names: tuple[Text, ...]


Weekday = Literal[
    "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays", "weekdays", "weekends"
]


@dataclass(frozen=True, slots=True)
class OnWeekdays(Node):
    days: tuple[Weekday, ...]


@dataclass(frozen=True, slots=True)
class BetweenHours(Node):
    start: TimeOfDay
    end: TimeOfDay


@dataclass(frozen=True, slots=True)
class ForSegments(Node):
    names: tuple[Text, ...]


@dataclass(frozen=True, slots=True)
class ForTiers(Node):
    names: tuple[Text, ...]


@dataclass(frozen=True, slots=True)
class InStores(Node):
    names: tuple[Text, ...]


@dataclass(frozen=True, slots=True)
class InRegions(Node):
    names: tuple[Text, ...]


@dataclass(frozen=True, slots=True)
class OnChannels(Node):
    names: tuple[Text, ...]


@dataclass(frozen=True, slots=True)
class InBirthdayMonth(Node):
    pass


@dataclass(frozen=True, slots=True)
class OnBirthday(Node):
    pass


# expressions (inside `when`)

MeasureKind = Literal["order_total", "order_items", "lifetime_spend", "visits", "balance"]


@dataclass(frozen=True, slots=True)
class Measure(Node):
    kind: MeasureKind
    unit: Optional[str]  # point kind, for kind == "balance"


@dataclass(frozen=True, slots=True)
class Comparison(Node):
    measure: Measure
    op: Literal[">=", "<=", "!=", ">", "<", "="]
    value: Quantity


@dataclass(frozen=True, slots=True)
class HasItem(Node):
    name: Text


@dataclass(frozen=True, slots=True)
class HasCategory(Node):
    name: Text


@dataclass(frozen=True, slots=True)
class IsFirstPurchase(Node):
    pass


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: "Expr"


@dataclass(frozen=True, slots=True)
class And(Node):
    operands: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    operands: tuple["Expr", ...]


Expr = Union[Comparison, HasItem, HasCategory, IsFirstPurchase, Not, And, Or]


@dataclass(frozen=True, slots=True)
class When(Node):
    expr: Expr


Condition = Union[
    DateWindow,
    UntilDate,
    OnItems,
    OnCategories,
    OnWeekdays,
    BetweenHours,
    ForSegments,
    ForTiers,
    InStores,
    InRegions,
    OnChannels,
    InBirthdayMonth,
    OnBirthday,
    When,
]

# ---------------------------------------------------------------- limits


@dataclass(frozen=True, slots=True)
class CapOnce(Node):
    pass


@dataclass(frozen=True, slots=True)
class CapTimes(Node):
    count: Count


@dataclass(frozen=True, slots=True)
class Cap(Node):
    """`at most 1000 points per member per month`: a per-member limit, optionally per period."""

    amount: Union[CapOnce, CapTimes, PointsAmount, Money]
    period: Optional[Period]


@dataclass(frozen=True, slots=True)
class Budget(Node):
    """`budget 50000 NOK`: a program-wide limit shared by all members."""

    amount: Union[Money, PointsAmount]


Limit = Union[Cap, Budget]
Clause = Union[Action, Trigger, Condition, Limit]


@dataclass(frozen=True, slots=True)
class RuleDecl(Node):
    name: Text
    clauses: tuple[Clause, ...]


@dataclass(frozen=True, slots=True)
class CampaignDecl(Node):
    """A named group of rules sharing conditions (dates, stores...) and limits (a budget)."""

    name: Text
    clauses: tuple[Union[Condition, Limit, RuleDecl], ...]


# ---------------------------------------------------------------- tiers


@dataclass(frozen=True, slots=True)
class BenefitMultiplier(Node):
    multiplier: Multiplier
    unit: Optional[str]


@dataclass(frozen=True, slots=True)
class BenefitDiscount(Node):
    percent: Percent


@dataclass(frozen=True, slots=True)
class BenefitPerk(Node):
    name: Text
    cost_per_order: Optional[Money]


Benefit = Union[BenefitMultiplier, BenefitDiscount, BenefitPerk]


@dataclass(frozen=True, slots=True)
class TierDecl(Node):
    name: Text
    threshold: Quantity
    benefits: tuple[Benefit, ...]


@dataclass(frozen=True, slots=True)
class Downgrade(Node):
    period: Period
    grace: Optional[Duration]


@dataclass(frozen=True, slots=True)
class TiersDecl(Node):
    metric: Metric
    tiers: tuple[TierDecl, ...]
    downgrade: Optional[Downgrade]


# ---------------------------------------------------------------- draws


@dataclass(frozen=True, slots=True)
class DrawSchedule(Node):
    period: Period


@dataclass(frozen=True, slots=True)
class DrawPrize(Node):
    money: Money


@dataclass(frozen=True, slots=True)
class DrawWinners(Node):
    count: Count


@dataclass(frozen=True, slots=True)
class DrawRate(Node):
    entries: Count
    per: Money


@dataclass(frozen=True, slots=True)
class DrawDecl(Node):
    name: Text
    clauses: tuple[Union[DrawSchedule, DrawPrize, DrawWinners, DrawRate, Condition], ...]


Declaration = Union[
    ProgramDecl,
    PointsDecl,
    CatalogDecl,
    SegmentDecl,
    StoreDecl,
    RewardDecl,
    RedeemDecl,
    RuleDecl,
    CampaignDecl,
    TiersDecl,
    DrawDecl,
]


@dataclass(frozen=True, slots=True)
class Comment(Node):
    text: str  # including the leading "#"


@dataclass(frozen=True, slots=True)
class Program(Node):
    """A whole .loyalty file."""

    declarations: tuple[Declaration, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
