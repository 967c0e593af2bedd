"""The typed syntax tree of a .loyalty program.

Every node is a frozen, slotted class carrying the `Span` it came from. Spans do not
take part in equality, so two programs that differ only in layout (or a program
and its formatted text) compare equal. Nothing after the parser sees Lark trees.

The node classes mirror the grammar (grammar/loyalty.lark) one to one; the
language reference (docs/language.md) says what each one means.

`@frozen_node` below does for a node class what `@dataclass(frozen=True, slots=True)`
would (fields from the annotations, in order: positional or keyword in `__init__`, `span`
keyword-only; `__eq__`/`__hash__` over the fields, `__repr__`, `__match_args__`, frozen
attributes raising `dataclasses.FrozenInstanceError`, pickling and copying), with one set of
generic methods on `Node` instead of methods generated per class: generating them for the
99 classes took ~0.09 s of every process that loads a program, this takes ~0.005 s.
`Node.children` reads the per-class tuple of field names.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import FrozenInstanceError
from decimal import Decimal
from operator import attrgetter
from typing import Any, Callable, Iterator, Literal, Optional, Union

from loyalty.spans import NO_SPAN, Span


_MISSING = object()


class _FieldSpec:
    __slots__ = ("default", "compare")

    def __init__(self, default: Any, compare: bool) -> None:
        self.default = default
        self.compare = compare


def field(*, default: Any, compare: bool = True) -> Any:
    """A field's default, and whether it takes part in equality (like `dataclasses.field`)."""
    return _FieldSpec(default, compare)


def _no_key(node: "Node") -> tuple:
    return ()


def _key_of(names: tuple[str, ...]) -> Callable[["Node"], tuple]:
    """The values compared and hashed: a tuple whatever the number of fields, as a dataclass's."""
    if not names:
        return _no_key
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda node: (get(node),)
    return attrgetter(*names)


class Node:
    """The base of every node: the generic methods that `@frozen_node` relies on."""

    __slots__ = ("span",)
    span: Span  # where the node was written (declared for type checkers: every node has one)
    __match_args__: tuple[str, ...] = ()
    _node_fields: tuple[str, ...] = ()  # init order, positional; `span` is keyword-only and apart
    _node_defaults: dict[str, Any] = {}
    _node_compared: tuple[str, ...] = ()  # the fields that take part in equality and hashing
    _node_key: Callable[["Node"], tuple] = staticmethod(_no_key)  # their values

    def __init__(self, *args: Any, span: Span = NO_SPAN, **kwargs: Any) -> None:
        cls = type(self)
        names = cls._node_fields
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}.__init__() takes {len(names) + 1} positional arguments "
                            f"but {len(args) + 1} were given")
        set_ = object.__setattr__
        for name, value in zip(names, args):
            set_(self, name, value)
        if len(args) < len(names) or kwargs:
            for name in kwargs:
                if name not in names:
                    raise TypeError(f"{cls.__name__}.__init__() got an unexpected keyword argument {name!r}")
            for name in names[len(args):]:
                if name in kwargs:
                    value = kwargs.pop(name)
                elif name in cls._node_defaults:
                    value = cls._node_defaults[name]
                else:
                    raise TypeError(f"{cls.__name__}.__init__() missing required argument: {name!r}")
                set_(self, name, value)
            for name in kwargs:
                raise TypeError(f"{cls.__name__}.__init__() got multiple values for argument {name!r}")
        set_(self, "span", span)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = self._node_key
            return key(self) == key(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._node_key(self))

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._node_fields)
        return f"{self.__class__.__qualname__}({parts})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, name) for name in self._node_fields) + (self.span,)

    def __setstate__(self, state: tuple) -> None:
        set_ = object.__setattr__
        for name, value in zip(self._node_fields + ("span",), state):
            set_(self, name, value)

    def children(self) -> Iterator["Node"]:
        """The direct child nodes, in source order (one generic walker serves every pass)."""
        for name in self._node_fields:
            value = getattr(self, name)
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


def frozen_node(cls: type) -> type:
    """The node class with its annotated fields as slots and its per-class field tables (the class
    is made once more with `__slots__`, as `dataclass(slots=True)` does)."""
    base = cls.__mro__[1]
    own = tuple(vars(cls).get("__annotations__", {}))
    names = base._node_fields + own
    defaults = dict(base._node_defaults)
    uncompared = {name for name in base._node_fields if name not in base._node_compared}
    ns = dict(vars(cls))
    for name in own:
        given = ns.pop(name, _MISSING)
        if isinstance(given, _FieldSpec):
            defaults[name] = given.default
            if not given.compare:
                uncompared.add(name)
        elif given is not _MISSING:
            defaults[name] = given
        elif defaults:
            raise TypeError(f"non-default field {name!r} follows a field with a default in {cls.__name__}")
    compared = tuple(name for name in names if name not in uncompared)
    ns.pop("__dict__", None)
    ns.pop("__weakref__", None)
    ns["__slots__"] = own
    ns["__qualname__"] = cls.__qualname__
    ns.update(_node_fields=names, _node_defaults=defaults, _node_compared=compared,
              _node_key=staticmethod(_key_of(compared)), __match_args__=names)
    return type(cls)(cls.__name__, cls.__bases__, ns)


# ---------------------------------------------------------------- values


@frozen_node
class Text(Node):
    """A user-written name or string, e.g. the `"latte"` in `on "latte"`."""

    value: str


@frozen_node
class Money(Node):
    amount: Decimal
    currency: str  # ISO 4217 code as written, e.g. "NOK"


@frozen_node
class PointsAmount(Node):
    amount: Decimal
    unit: str  # the point kind as written: "stars", "star", "points"


@frozen_node
class Count(Node):
    value: Decimal


@frozen_node
class Percent(Node):
    value: Decimal  # 5 for "5%"


@frozen_node
class Multiplier(Node):
    value: Decimal  # 1.5 for "1.5x"


DurationUnit = Literal["day", "week", "month", "year"]
Period = Literal["day", "week", "month", "quarter", "year"]


@frozen_node
class Duration(Node):
    amount: Decimal
    unit: DurationUnit  # singular; the formatter writes the plural when needed


@frozen_node
class DateValue(Node):
    value: Optional[_dt.date]  # None when the text is not a real date (the checker reports it)
    text: str


@frozen_node
class TimeOfDay(Node):
    hour: int
    minute: int


@frozen_node
class Ordinal(Node):
    value: int  # 6 for "6th"


Quantity = Union[Money, PointsAmount, Count, Percent]


# ---------------------------------------------------------------- parameters


@frozen_node
class ParamRef(Node):
    """`param "punch every"`: the parameter's value, standing where a literal would. The checker and the
    compiler see the value in its place (syntax/params.py substitutes it); the formatter prints the reference."""

    name: Text


ParamValue = Union[Money, PointsAmount, Count, Duration, Percent, Multiplier, Ordinal]


@frozen_node
class ParamDecl(Node):
    """`"gold from" = 5000 points`, inside `params { ... }`."""

    name: Text
    value: ParamValue


@frozen_node
class ParamsDecl(Node):
    params: tuple[ParamDecl, ...]


# ---------------------------------------------------------------- program settings


@frozen_node
class CurrencySetting(Node):
    code: str


@frozen_node
class TimezoneSetting(Node):
    name: Text


@frozen_node
class RunsSetting(Node):
    start: DateValue
    end: Optional[DateValue]


@frozen_node
class RewardsOnReturnSetting(Node):
    taken_back: bool


@frozen_node
class AcceptanceWindow(Node):
    """`returns accepted within 90 days` (what = "returns") or `late events accepted within 7 days`
    (what = "late events"): how long the state keeps what returns and resends need (docs/semantics.md)."""

    what: str
    duration: Duration


@frozen_node
class MembersJoinAtSignup(Node):
    """`members join at signup`: membership starts at the member's signup (runtime/mechanics/enrolment.py)."""


@frozen_node
class PreSignupWindow(Node):
    """`purchases up to 30 days before signup count`: how long before her signup a purchase still counts."""

    duration: Duration


@frozen_node
class StackingSetting(Node):
    """`at most one discount per order` (policy "one per order"), `at most one discount per line` ("one per
    line") or `discounts stack` (policy "stack"): what
    happens when several discounts apply to one order, unless a rule says (runtime/mechanics/stacking.py)."""

    policy: str


@frozen_node
class GiftStackingSetting(Node):
    """`at most one gift per order` (policy "one per order") or `gifts stack` (policy "stack"): what happens when
    several gift rules give a reward on one order, unless a rule says (runtime/mechanics/stacking.py)."""

    policy: str


ProgramSetting = Union[CurrencySetting, TimezoneSetting, RunsSetting, RewardsOnReturnSetting, AcceptanceWindow,
                       MembersJoinAtSignup, PreSignupWindow, StackingSetting, GiftStackingSetting]


@frozen_node
class ProgramDecl(Node):
    name: Text
    settings: tuple[ProgramSetting, ...]


# ---------------------------------------------------------------- point kinds


@frozen_node
class PointCost(Node):
    money: Money


@frozen_node
class ExpireAfterEarning(Node):
    duration: Duration


@frozen_node
class ExpireAfterInactivity(Node):
    duration: Duration


@frozen_node
class ExpireAtPeriodEnd(Node):
    period: Period
    next: bool  # "at the end of the next calendar year"


@frozen_node
class PendingSetting(Node):
    duration: Duration


RoundingMode = Literal["down", "up", "half even", "half up"]
RoundingScope = Literal["order", "line"]


@frozen_node
class RoundingSetting(Node):
    mode: RoundingMode
    scope: RoundingScope


BalancePolicyKind = Literal["negative", "zero", "pending_only"]


@frozen_node
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


@frozen_node
class PointsDecl(Node):
    name: Text
    settings: tuple[PointsSetting, ...]


# ---------------------------------------------------------------- catalog, segments, stores


@frozen_node
class CategoryDecl(Node):
    name: Text


@frozen_node
class ItemDecl(Node):
    name: Text
    category: Text
    cost: Optional[Money]


@frozen_node
class CatalogDecl(Node):
    entries: tuple[Union[CategoryDecl, ItemDecl], ...]


@frozen_node
class SegmentDecl(Node):
    name: Text


@frozen_node
class StoreDecl(Node):
    name: Text
    region: Optional[Text]


# ---------------------------------------------------------------- item selectors

SelectorKind = Literal["items", "any", "categories"]


@frozen_node
class ItemSelector(Node):
    """Which order lines a rule looks at: named items, items of categories, or any item."""

    kind: SelectorKind
    names: tuple[Text, ...]


# ---------------------------------------------------------------- rewards


@frozen_node
class FreeItemReward(Node):
    selector: ItemSelector


@frozen_node
class AmountOffReward(Node):
    money: Money


@frozen_node
class PercentOffReward(Node):
    percent: Percent


@frozen_node
class GiftCardReward(Node):
    face_value: Money
    partner: Optional[Text]  # another shop's card, e.g. a grocery voucher


@frozen_node
class GiftReward(Node):
    gift: Text


@frozen_node
class PerkReward(Node):
    pass


RewardKind = Union[FreeItemReward, AmountOffReward, PercentOffReward, GiftCardReward, GiftReward, PerkReward]


@frozen_node
class RewardDecl(Node):
    name: Text
    kind: RewardKind
    cost: Optional[Money]  # what the reward costs the business, when not its face value
    valid_for: Optional[Duration] = None  # an offer with a lifetime (docs/semantics.md, "Offers with a lifetime")
    valid_until: Optional[DateValue] = None  # ... or one usable up to and including a day
    stock: Optional[Count] = None  # `limited to 500`: how many rules may give in all, program-wide


@frozen_node
class RedeemDecl(Node):
    price: PointsAmount
    reward: Text


# ---------------------------------------------------------------- codes


@frozen_node
class CodeDecl(Node):
    """`code "SUMMER25" limited to 1000 uses`: a code a purchase may carry; once per member, `uses` in all."""

    code: Text
    uses: Optional[Count]


@frozen_node
class WithCode(Node):
    """`with code "SUMMER25"`: the rule applies to a purchase that carries the code (and uses it up)."""

    code: Text


# ---------------------------------------------------------------- rule actions


@frozen_node
class PunchFree(Node):
    """`every 6th "wash" is free`: every Nth unit counted is free (a cycle of N)."""

    ordinal: Ordinal
    selector: ItemSelector


@frozen_node
class PunchDiscount(Node):
    """`every 5th item in category "shoes" at 50% off`."""

    ordinal: Ordinal
    selector: ItemSelector
    percent: Percent


@frozen_node
class PaidThenFree(Node):
    """`1 free "wash" after every 6 paid`: a cycle of paid + free units (7 here, not 6)."""

    free: Count
    selector: ItemSelector
    paid: Count


@frozen_node
class EarnPerSpend(Node):
    points: PointsAmount
    per: Money


CountedEvent = Literal["referral", "visit"]


@frozen_node
class EarnPerEvent(Node):
    points: PointsAmount
    event: CountedEvent


@frozen_node
class EarnFixed(Node):
    """`earn 100 points` once per triggering event (signup, first purchase, an action...)."""

    points: PointsAmount


@frozen_node
class EarnMultiplier(Node):
    """`earn 2x points`: multiplies what the other rules earn on the same lines."""

    multiplier: Multiplier
    unit: Optional[str]


@frozen_node
class GiveReward(Node):
    reward: Text


@frozen_node
class Discount(Node):
    percent: Percent


@frozen_node
class DiscountEach(Node):
    """`get 10 NOK off each`: an amount off every unit of the lines the rule selects (points parse here only
    for the checker to refuse them, LOY201)."""

    amount: Union[Money, PointsAmount]


@frozen_node
class DiscountOrder(Node):
    """`get 50 NOK off orders over 500 NOK`: an amount off an order whose total is over a threshold."""

    amount: Union[Money, PointsAmount]
    over: Union[Money, PointsAmount]


@frozen_node
class FixedPrice(Node):
    """`"basic wash" costs 25 NOK`: members pay this price for each unit (never more than the list price)."""

    selector: ItemSelector
    price: Union[Money, PointsAmount]


@frozen_node
class BundleBuyGet(Node):
    """`buy 2 "coffee", get 1 free`: in each order, per full group of buy + free units, the cheapest free."""

    buy: Count
    selector: ItemSelector
    free: Count


@frozen_node
class BundlePriceOf(Node):
    """`3 "donut" for the price of 2`: the same bundle as `buy 2 "donut", get 1 free`, as shops also say it."""

    group: Count
    selector: ItemSelector
    paid: Count


WindowKind = Literal["lifetime", "rolling", "calendar"]


@frozen_node
class RollingWindow(Node):
    duration: Duration


@frozen_node
class CalendarWindow(Node):
    period: Period


MetricKind = Literal["spend", "visits", "earned"]


@frozen_node
class Metric(Node):
    """What tiers and discount scales measure: spend, visits or points earned, over a window."""

    kind: MetricKind
    unit: Optional[str]  # the point kind, for kind == "earned"
    lifetime: bool  # the word "lifetime" was written
    window: Optional[Union[RollingWindow, CalendarWindow]]


@frozen_node
class ScaleStep(Node):
    percent: Percent
    threshold: Quantity


@frozen_node
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
    DiscountEach,
    DiscountScale,
    DiscountOrder,
    FixedPrice,
    BundleBuyGet,
    BundlePriceOf,
]

# ---------------------------------------------------------------- triggers


@frozen_node
class OnSignup(Node):
    pass


@frozen_node
class OnFirstPurchase(Node):
    pass


@frozen_node
class OnAction(Node):
    name: Text


@frozen_node
class OnNthVisit(Node):
    ordinal: Ordinal


@frozen_node
class OnEachBirthday(Node):
    """`on each birthday`: at the start of the member's birthday, every year, with no purchase needed."""


@frozen_node
class OnEachAnniversary(Node):
    """`on each membership anniversary`: at the start of each anniversary of the day the member joined."""


@frozen_node
class OnReachingTier(Node):
    """`on reaching tier "gold"`: when the member moves up into the tier (or past it)."""

    tier: Text


@frozen_node
class OnNthPurchase(Node):
    ordinal: Ordinal


@frozen_node
class AfterEveryVisits(Node):
    count: Count


@frozen_node
class AfterEverySpend(Node):
    money: Money


@frozen_node
class AfterInactivity(Node):
    """`after 90 days without a purchase`: win-back, once per lapse (docs/semantics.md, "Win-back")."""

    duration: Duration


@frozen_node
class GoalCount(Node):
    """`3 visits`, `5 purchases on different days`: what a goal counts (a visit event or a purchase is a visit)."""

    count: Count
    counted: Literal["visits", "purchases"]
    different_days: bool  # `on different days`: at most one a day counts


@frozen_node
class GoalSpend(Node):
    """`500 NOK spent`: a goal of the amount paid."""

    money: Money


@frozen_node
class GoalInCalendar(Node):
    """`in a calendar month`: the goal is reached within one calendar period, and starts afresh in the next."""

    period: Period


@frozen_node
class GoalWithin(Node):
    """`within 30 days`: the goal is reached by what falls in the last 30 days (the day itself included)."""

    duration: Duration


@frozen_node
class AfterGoal(Node):
    """`after 3 visits in a calendar month`, `after 500 NOK spent within 30 days`: a goal, fired when reached
    (docs/semantics.md, "Goals and streaks")."""

    target: Union[GoalCount, GoalSpend]
    window: Union[GoalInCalendar, GoalWithin]


@frozen_node
class AfterStreak(Node):
    """`after a purchase in 4 consecutive weeks`: a streak of calendar periods, each with a visit (or purchase)."""

    counted: Literal["visit", "purchase"]
    count: Count
    period: Period


@frozen_node
class QualifyingPurchase(Node):
    """`... spends at least 300 NOK within 30 days`: the new member's purchase that makes a referral count, of
    at least `money` (the order's amount before the program's discounts), within `duration` of being referred."""

    money: Money
    duration: Duration


@frozen_node
class OnReferring(Node):
    """`on referring a friend [who spends at least 300 NOK within 30 days]`: the referrer's side of a referral
    (docs/semantics.md, "Referral"). Without a qualifying purchase it fires on the referral itself."""

    qualifying: Optional[QualifyingPurchase] = None


@frozen_node
class OnReferred(Node):
    """`on being referred [and spending at least 300 NOK within 30 days]`: the new member's side of a referral.
    Without a qualifying purchase it fires when she is referred."""

    qualifying: Optional[QualifyingPurchase] = None


Trigger = Union[OnSignup, OnFirstPurchase, OnAction, OnNthVisit, AfterEveryVisits, AfterEverySpend, AfterInactivity,
                OnNthPurchase, OnEachBirthday, OnEachAnniversary, OnReachingTier, AfterGoal, AfterStreak,
                OnReferring, OnReferred]

# ---------------------------------------------------------------- conditions


@frozen_node
class DateWindow(Node):
    start: DateValue
    end: Optional[DateValue]


@frozen_node
class UntilDate(Node):
    end: DateValue


@frozen_node
class OnItems(Node):
    names: tuple[Text, ...]


@frozen_node
class OnCategories(Node):
    names: tuple[Text, ...]


Weekday = Literal[
    "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays", "weekdays", "weekends"
]


@frozen_node
class OnWeekdays(Node):
    days: tuple[Weekday, ...]


@frozen_node
class BetweenHours(Node):
    start: TimeOfDay
    end: TimeOfDay


@frozen_node
class ForSegments(Node):
    names: tuple[Text, ...]


@frozen_node
class ForTiers(Node):
    names: tuple[Text, ...]


@frozen_node
class InStores(Node):
    names: tuple[Text, ...]


@frozen_node
class InRegions(Node):
    names: tuple[Text, ...]


@frozen_node
class OnChannels(Node):
    names: tuple[Text, ...]


@frozen_node
class InBirthdayMonth(Node):
    pass


@frozen_node
class OnBirthday(Node):
    pass


# expressions (inside `when`)

MeasureKind = Literal["order_total", "order_items", "lifetime_spend", "visits", "balance"]


@frozen_node
class Measure(Node):
    kind: MeasureKind
    unit: Optional[str]  # point kind, for kind == "balance"


@frozen_node
class Comparison(Node):
    measure: Measure
    op: Literal[">=", "<=", "!=", ">", "<", "="]
    value: Quantity


@frozen_node
class HasItem(Node):
    name: Text


@frozen_node
class HasCategory(Node):
    name: Text


@frozen_node
class IsFirstPurchase(Node):
    pass


@frozen_node
class Not(Node):
    operand: "Expr"


@frozen_node
class And(Node):
    operands: tuple["Expr", ...]


@frozen_node
class Or(Node):
    operands: tuple["Expr", ...]


Expr = Union[Comparison, HasItem, HasCategory, IsFirstPurchase, Not, And, Or]


@frozen_node
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


@frozen_node
class CapOnce(Node):
    pass


@frozen_node
class CapTimes(Node):
    count: Count


@frozen_node
class Cap(Node):
    """`at most 1000 points per member per month`: a per-member limit, optionally per period."""

    amount: Union[CapOnce, CapTimes, PointsAmount, Money]
    period: Optional[Period]


@frozen_node
class Budget(Node):
    """`budget 50000 NOK`: a program-wide limit shared by all members."""

    amount: Union[Money, PointsAmount]


Limit = Union[Cap, Budget]


# ---------------------------------------------------------------- stacking (runtime/mechanics/stacking.py)


@frozen_node
class Exclusive(Node):
    """`exclusive`: the rule's discount combines with no other; where it applies, one discount wins the order."""


@frozen_node
class Priority(Node):
    """`priority 1`: discounts with a priority do not combine; the lowest number that applies wins."""

    rank: Count


@frozen_node
class BestOf(Node):
    """`best of`, in a campaign: at most one of the campaign's discounts per order."""


StackingClause = Union[Exclusive, Priority]
Clause = Union[Action, Trigger, Condition, Limit, WithCode, StackingClause]


@frozen_node
class RuleDecl(Node):
    name: Text
    clauses: tuple[Clause, ...]


@frozen_node
class CampaignDecl(Node):
    """A named group of rules sharing conditions (dates, stores...) and limits (a budget)."""

    name: Text
    clauses: tuple[Union[Condition, Limit, RuleDecl, WithCode, StackingClause, BestOf], ...]


# ---------------------------------------------------------------- tiers


@frozen_node
class BenefitMultiplier(Node):
    multiplier: Multiplier
    unit: Optional[str]


@frozen_node
class BenefitDiscount(Node):
    percent: Percent


@frozen_node
class BenefitPerk(Node):
    name: Text
    cost_per_order: Optional[Money]


@frozen_node
class BenefitFee(Node):
    """`fee 99 NOK per year`: paying it puts the member in the tier for one period (runtime/mechanics/fees.py)."""
    money: Money
    period: Period


Benefit = Union[BenefitMultiplier, BenefitDiscount, BenefitPerk, BenefitFee]


@frozen_node
class TierDecl(Node):
    name: Text
    threshold: Quantity
    benefits: tuple[Benefit, ...]


@frozen_node
class Downgrade(Node):
    period: Period
    grace: Optional[Duration]


@frozen_node
class TiersDecl(Node):
    metric: Metric
    tiers: tuple[TierDecl, ...]
    downgrade: Optional[Downgrade]


# ---------------------------------------------------------------- draws


@frozen_node
class DrawSchedule(Node):
    period: Period


@frozen_node
class DrawPrize(Node):
    money: Money


@frozen_node
class DrawWinners(Node):
    count: Count


@frozen_node
class DrawRate(Node):
    entries: Count
    per: Money


@frozen_node
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
    ParamsDecl,
    CodeDecl,
]


@frozen_node
class Comment(Node):
    text: str  # including the leading "#"


@frozen_node
class Program(Node):
    """A whole .loyalty file."""

    declarations: tuple[Declaration, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)


# clauses whose node the parser builds from their parts alone (each part already an AST node, in the order the
# grammar rule of the class's name in snake case gives them): a new clause of that kind needs no parser code
BUILT_FROM_PARTS = (DiscountEach, DiscountOrder, FixedPrice, AfterInactivity, AfterGoal, GoalSpend, GoalWithin,
                    QualifyingPurchase)

