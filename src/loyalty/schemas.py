"""The files people write and the report they read, as pydantic models: one definition per file format.

- `Assumptions`: the simulation's scenario file (`loyalty simulate --scenario FILE`, docs/simulate.md).
- `ScenarioTestFile`: a program's scenario tests, `<program>.test.yaml` (`loyalty test`, docs/scenarios.md).
- `Report`: the simulation's JSON report (`loyalty simulate --format json`, format `loyalty-simulation/1`).

Both are closed: an unknown key is an error (a typo never falls back to a default), and every value has a
precise type. Names that only the program knows (point kinds, rewards, items) are checked when validation is
given the program's names as context (`program_names`). `loyalty.yamlio` reads the files (refusing aliases,
merge keys, duplicate keys) and turns validation errors into messages with the file, line and column.

`assumptions_schema()`, `test_file_schema()` and `report_schema()` give each format's JSON Schema;
`loyalty schema NAME` prints them (`SCHEMAS`).
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, ConfigDict, Discriminator, Field, RootModel, Strict, StrictInt,
                      StrictStr, Tag, ValidationInfo)
from pydantic_core import PydanticCustomError

from loyalty.simulate.history import COLUMN_ALIASES, DELIMITER_NAMES
from loyalty.simulate.scenario import REDEMPTION_POLICIES

MAX_NUMBER_DIGITS = 28  # digits of a number, counting zeros after the point: decimal arithmetic keeps 28


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _known(context_key: str, what: str, plural: str):
    """A name the program must have, when validation is given the program's names (`program_names`)."""

    def check(name: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get(context_key)
        if known is not None and name not in known:
            raise PydanticCustomError("unknown_name", "'{name}' is not {what}",
                                      {"what": what, "name": name, "known": sorted(known), "plural": plural})
        return name

    return AfterValidator(check)


def _between(low: int, high: int):
    def check(value: Decimal) -> Decimal:
        if not low <= value <= high:
            raise PydanticCustomError("out_of_range", "must be between {low} and {high}", {"low": low, "high": high})
        return value

    return AfterValidator(check)


def _delimiter(text: str) -> str:
    if len(text) != 1 and text not in DELIMITER_NAMES:
        raise PydanticCustomError("delimiter", "must be one character or one of: {names} (found '{found}')",
                                  {"names": ", ".join(DELIMITER_NAMES), "found": text})
    return text


Text = Annotated[StrictStr, Field(min_length=1)]
Number = Annotated[Decimal, Field(max_digits=MAX_NUMBER_DIGITS, allow_inf_nan=False)]
Cost = Annotated[Decimal, Field(ge=0, max_digits=MAX_NUMBER_DIGITS, allow_inf_nan=False)]
Share = Annotated[Decimal, Field(max_digits=MAX_NUMBER_DIGITS, allow_inf_nan=False,
                                 json_schema_extra={"minimum": 0, "maximum": 1}), _between(0, 1)]
PointKindName = Annotated[str, _known("point_kinds", "a point kind of the program", "the program's point kinds")]
RewardName = Annotated[str, _known("rewards", "a reward of the program", "the program's rewards")]
RedeemableRewardName = Annotated[Text, _known("redeemable", "a reward that points can buy in the program",
                                              "rewards that points can buy")]
ItemName = Annotated[str, _known("items", "an item of the program's catalog", "the program's catalog items")]
ColumnName = Literal[tuple(COLUMN_ALIASES)]  # type: ignore[valid-type]


# ------------------------------------------------------------------ the simulation's scenario file


class Redemption(_Closed):
    """Which simulated members redeem their points, and for what."""

    policy: Literal[REDEMPTION_POLICIES] = Field(  # type: ignore[valid-type]
        "asap", description="asap: every member redeems as soon as the balance allows; share: a share of members "
                            "(chosen by a seeded hash of the member id); none: nobody. Giving `share` implies share.")
    reward: RedeemableRewardName = Field(None, description="default: each point kind's cheapest reward")
    share: Share = Field(Decimal(1), description="the share of members who redeem, 0 to 1")


class Breakage(_Closed):
    points: Share = Field(Decimal(0), description="share of outstanding points expected never to be redeemed")
    gift_cards: Share = Field(Decimal(0), description="share of gift-card face value expected never to be used")


class Customers(_Closed):
    """How the customer measures are taken (docs/simulate.md, "Customer measures")."""

    lapse_after_days: Annotated[StrictInt, Field(ge=1, le=36500)] = Field(
        None, description="days without an order after which a customer counts as lapsed (default: from the data)")


def _enrolment_share(text: str) -> Decimal:
    """`40%`: the share of customers who join, 0% to 100%."""
    t = text.strip()
    try:
        value = Decimal(t[:-1].strip()) if t.endswith("%") and len(t) <= 12 else None
    except ArithmeticError:
        value = None
    if value is None or not value.is_finite() or not 0 <= value <= 100:
        raise PydanticCustomError("enrolment", "must be a percentage from 0% to 100%, such as 40%, or "
                                  "a mapping `column: <attributes column>` (found '{found}')", {"found": t[:40]})
    return value / 100


class EnrolmentColumn(_Closed):
    """Who is a member, from a column of the customer attributes (`--attributes`)."""

    column: Text = Field(description="an attributes column: true, yes or 1 is a member; false, no, 0 or empty not")


class GoalGradient(_Closed):
    """Members order more often while they are near a reward (Kivetz, Urminsky and Zheng 2006)."""

    factor: Annotated[Decimal, Field(gt=0, le=100, max_digits=MAX_NUMBER_DIGITS, allow_inf_nan=False)] = Field(
        description="how many times as often a member orders while near her next reward (1: no effect)")
    within: Share = Field(Decimal("0.2"), description="near: her points are at least (1 - within) of the price")


class WinBack(_Closed):
    """A win-back offer: some of the members the model counts as gone at the end of the history come back."""

    share: Share = Field(description="the share of them who come back at the start of the forecast, 0 to 1")


class Behaviour(_Closed):
    """Behaviour the forecast's model does not contain; each is off unless given (docs/simulate.md)."""

    goal_gradient: Optional[GoalGradient] = None
    win_back: Optional[WinBack] = None


class Assumptions(_Closed):
    """The simulation's scenario file: assumptions a history does not contain. Every key is optional."""

    model_config = ConfigDict(extra="forbid", title="loyalty simulation scenario (assumptions)")

    seed: Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)] = Field(
        0, description="draws and the choice of redeeming members")
    redemption: Optional[Redemption] = None
    breakage: Optional[Breakage] = None
    cost_per_point: Optional[dict[PointKindName, Cost]] = Field(
        None, description="point kind -> what one point costs (program currency); default: the program's")
    item_costs: Optional[dict[ItemName, Cost]] = Field(
        None, description="catalog item -> unit cost; overrides (or supplies) the catalog's")
    reward_costs: Optional[dict[RewardName, Cost]] = Field(
        None, description="reward -> what it costs us; overrides the program's")
    columns: Optional[dict[ColumnName, Text]] = Field(
        None, description="the history's column names, like --columns (the command line wins)")
    time_format: Text = Field(None, description="strftime format of the time column (default: ISO 8601)")
    delimiter: Annotated[Text, AfterValidator(_delimiter)] = Field(
        None, description="CSV field delimiter: one character, or tab, comma, semicolon, pipe")
    customers: Optional[Customers] = None
    behaviour: Optional[Behaviour] = Field(None, description="assumptions about behaviour, for --forecast")
    enrolment: Union[Annotated[StrictStr, AfterValidator(_enrolment_share), Field(
        json_schema_extra={"pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*%\s*$", "examples": ["40%"]})],
        EnrolmentColumn, None] = Field(
        None, description="for a history without signups: `40%` of customers join (chosen by a seeded hash of the "
                          "customer id), or {column: is_member} from the attributes; the others are not members and "
                          "earn nothing (docs/simulate.md, \"Enrolment\")")


def program_names(prog) -> dict[str, list[str]]:
    """The names a scenario file may refer to, from a compiled program (validation context)."""
    return {
        "point_kinds": [k.name for k in prog.kinds],
        "rewards": sorted(prog.rewards),
        "redeemable": sorted(prog.redeem),
        "items": sorted(prog.doc.get("items", {})),
    }


# ------------------------------------------------------------------ scenario tests (.test.yaml)


class MemberAttributes(BaseModel):
    """What the program may know about a member (other keys are kept and passed on)."""

    model_config = ConfigDict(extra="allow")
    segments: list[StrictStr] = []
    birthday: Optional[_dt.date] = None


class ScenarioMember(_Closed):
    id: Text = Field("m1", description="the member id")
    attributes: MemberAttributes = Field(default_factory=MemberAttributes)


class ScenarioEvent(BaseModel):
    """An event as `program.apply` takes it (`{purchase: {...}}`, docs/embedding.md): its fields are checked
    by the program when the scenario runs, so a scenario can expect an event to be rejected (`error`)."""

    model_config = ConfigDict(extra="allow")
    error: Union[Text, Literal[True]] = Field(
        None, description="the event must be rejected: naming this field (e.g. lines.0.amount), or true: any")


Points = Union[StrictInt, Annotated[Decimal, Strict()]]


class ExpectedState(_Closed):
    """The member's state after the events; only the keys given are checked (a kind, rule or reward not
    listed in a mapping is not checked; one listed and absent counts as 0)."""

    balance: dict[str, Points] = Field(None, description="point kind -> available points")
    balances: dict[str, Points] = Field(None, description="the same as balance")
    pending: dict[str, Points] = Field(None, description="point kind -> points not yet available")
    tier: Optional[StrictStr] = Field(None, description="the tier's name; null: no tier")
    punches: dict[str, StrictInt] = Field(None, description="punch-card rule -> units counted in the current cycle")
    rewards: dict[str, StrictInt] = Field(None, description="reward -> how many the member holds")
    goals: dict[str, Points] = Field(None, description="goal or streak rule -> progress at the last event (visits "
                                     "or purchases counted, amount spent, or periods in a row)")


EffectPattern = dict[str, Any]  # effect field -> the value it must have (docs/scenarios.md)


class Expect(_Closed):
    effects: Optional[list[EffectPattern]] = Field(None, description="every effect, in order")
    contains: Optional[list[EffectPattern]] = Field(None, description="these effects, in order, among others")
    state: Optional[ExpectedState] = None


class ScenarioTest(_Closed):
    name: Text = Field(None, description="default: `scenario at line N`")
    member: Optional[ScenarioMember] = None
    events: list[ScenarioEvent] = Field(description="applied in order; may be empty")
    expect: Optional[Expect] = None


class ScenarioTestList(_Closed):
    scenarios: list[ScenarioTest] = Field(min_length=1)


def _shape(value: Any) -> Optional[str]:
    return "list" if isinstance(value, list) else "mapping" if isinstance(value, dict) else None


class ScenarioTestFile(RootModel):
    """A program's scenario tests: a list of scenarios, or a mapping with `scenarios:` and the list."""

    model_config = ConfigDict(title="loyalty scenario tests (.test.yaml)")
    root: Annotated[Union[Annotated[list[ScenarioTest], Field(min_length=1), Tag("list")],
                          Annotated[ScenarioTestList, Tag("mapping")]], Discriminator(_shape)]

    @property
    def scenarios(self) -> list[ScenarioTest]:
        return self.root if isinstance(self.root, list) else self.root.scenarios


# ------------------------------------------------------------------ JSON Schemas


def assumptions_schema() -> dict:
    """The JSON Schema of the simulation's scenario (assumptions) file."""
    return Assumptions.model_json_schema()


def test_file_schema() -> dict:
    """The JSON Schema of a `.test.yaml` scenario-tests file."""
    return ScenarioTestFile.model_json_schema()


test_file_schema.__test__ = False  # type: ignore[attr-defined]  # pytest: a function, not a test


# ------------------------------------------------------------------ the simulation's report

# exact decimals written as text: money in the program currency ("12.50", "-3.00", "0.125"), shares ("0.1523")
DecimalText = Annotated[StrictStr, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$")]
Share = Optional[DecimalText]  # null when the base is zero
Count = Annotated[StrictInt, Field(ge=0)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReportProgram(_Row):
    name: str
    file: str
    currency: str


class ReportHistory(_Row):
    file: str
    rows: Count
    skipped_rows: Count
    skipped_by_reason: dict[str, Count]
    skipped_examples: list[str]
    first: Optional[str]
    last: Optional[str]


class RedemptionAssumption(_Row):
    policy: Literal["asap", "share", "none"]
    reward: str
    share: DecimalText


class RewardCostUsed(_Row):
    cost: DecimalText
    from_: str = Field(alias="from")


class EnrolmentShown(_Row):
    share: Optional[DecimalText] = None  # `enrolment: 40%`
    column: Optional[str] = None  # `enrolment: {column: is_member}`


class EnrolmentReport(_Row):
    """Members against customers who never joined, when the program or the scenario says who joins."""

    members: Count
    non_members: Count
    member_orders: Count  # the orders that counted (a member's, from her signup less the pre-signup window)
    non_member_orders: Count
    member_revenue: DecimalText
    non_member_revenue: DecimalText
    cost_share_of_member_revenue: Optional[Share]  # the program's cost, all members', over their revenue


class ReportAssumptions(_Row):
    scenario: str
    seed: int
    redemption: RedemptionAssumption
    points_breakage: DecimalText
    gift_card_breakage: DecimalText
    cost_per_point: dict[str, DecimalText]
    item_costs: dict[str, DecimalText]
    reward_costs: dict[str, DecimalText]
    reward_costs_used: dict[str, RewardCostUsed]
    kernel: Optional[Literal["vector", "python"]] = None
    kernel_why: Optional[str] = None
    lapse_after_days: Optional[StrictInt] = None  # the customer measures' lapse gap, when the analyst set one
    behaviour: Optional[BehaviourShown] = None  # the forecast's behaviour assumptions (Behaviour above)
    enrolment: Optional[EnrolmentShown] = None  # the scenario's enrolment, when it has one


class Headline(_Row):
    members: Count
    purchasing_members: Count
    orders: Count
    returns: Count
    revenue: DecimalText
    discounts: DecimalText
    reward_cost: DecimalText
    perk_cost: DecimalText
    draw_prizes: DecimalText
    realized_cost: DecimalText
    liability_end: DecimalText
    total_cost: DecimalText
    cost_share_of_revenue: Share
    points_issued: int
    redemption_rate: Share
    breakage: Share
    simulated_redemptions: Count
    duplicates_ignored: Count


class RuleRow(_Row):
    rule: str
    kind: Literal["rule", "perks", "draw", "liability"]
    line: Optional[int]
    points_issued: int
    points_clawed_back: int
    rewards: int
    discount: DecimalText
    reward_cost: DecimalText
    points_value: DecimalText
    cost: DecimalText
    share_of_revenue: Share


class RewardRow(_Row):
    reward: str
    kind: str
    given: Count
    taken_back: Count
    members: Count
    share_of_members: Share
    points_spent: int
    face_value: DecimalText
    cost: DecimalText
    # an offer with a lifetime (`valid for`): of those given, used on a purchase and lapsed unused (absent for
    # other rewards)
    redeemed: Optional[Count] = None
    lapsed: Optional[Count] = None


class TierRow(_Row):
    tier: str
    members_reached: Count
    share_reached: Share
    members_at_end: Count
    perk_cost: DecimalText


class FeeTierRow(_Row):
    """A paid tier (runtime/mechanics/fees.py): its fees, and what its own benefits cost less them."""
    tier: str
    fee: DecimalText  # per period
    period: str
    payments: Count
    members: Count  # members who paid it at least once
    revenue: DecimalText
    benefit_cost: DecimalText  # its discount, its multipliers' points (valued as in by_rule), its perks
    net_cost: DecimalText  # benefit_cost - revenue: negative when the fees pay for more than the tier gives


class FeeMonthRow(_Row):
    month: str
    payments: Count
    revenue: DecimalText


class FeesReport(_Row):
    """Fee revenue of paid tiers, apart from what the rules cost (docs/simulate.md, "Paid tiers")."""
    revenue: DecimalText
    by_tier: list[FeeTierRow]
    by_month: list[FeeMonthRow]


class TierMoves(_Row):
    upgrades: Count
    downgrades: Count


class PointsRow(_Row):
    kind: str
    issued: int
    redeemed: int
    expired: int
    clawed_back: int
    outstanding: int
    cost_per_point: DecimalText
    redemption_rate: Share
    breakage: Share
    liability: DecimalText
    adjusted: Optional[int] = None  # points adjustments added (or took), when any (runtime/mechanics/adjustments.py)


class AdjustmentRow(_Row):
    reason: str
    point_kind: Optional[str]  # None: a tier or punch-card adjustment
    adjustments: Count
    members: Count
    points_added: Count
    points_removed: Count
    value: DecimalText  # the net points at the kind's cost per point
    tiers_set: Count
    punch_cards_set: Count


class MonthRow(_Row):
    month: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$")]
    orders: Count
    revenue: DecimalText
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_clawed_back: int
    points_outstanding: int
    rewards: int
    cost: DecimalText
    cumulative_cost: DecimalText
    liability: DecimalText
    total_cost_to_date: DecimalText  # cumulative cost and the month's liability: ends at the headline's total
    cost_by_type: dict[str, DecimalText]  # the month's cost by the headline's cost types
    cost_by_rule: dict[str, DecimalText]  # the month's cost by rule (and redemptions, perks, draws)


class StoreRow(_Row):
    store: str
    region: Optional[str]
    orders: Count
    revenue: DecimalText
    members: Count
    points_issued: int
    points_redeemed: int
    discount_cost: DecimalText
    reward_cost: DecimalText
    perk_cost: DecimalText
    draw_prizes: DecimalText
    cost: DecimalText
    share_of_revenue: Share


class RegionRow(_Row):
    region: str
    stores: Count
    orders: Count
    revenue: DecimalText
    members: Count
    points_issued: int
    points_redeemed: int
    cost: DecimalText
    share_of_revenue: Share


class FirstReward(_Row):
    members: Count
    median_days: Optional[int]
    mean_days: Optional[DecimalText]


class CapRow(_Row):
    rule: str
    times: Count
    truncated: int


class BudgetRow(_Row):
    budget: str
    limit: Optional[str]
    times: Count
    truncated: int
    ran_out: Optional[str]


class StockRow(_Row):
    reward: str
    limit: Count
    given: Count
    refused: Count  # times a rule would have given it after the stock ran out
    ran_out: Optional[str]


class CodeRow(_Row):
    code: str
    declared: bool  # false: a purchase carried a code the program does not declare
    limit: Optional[Count]  # its total uses (None: no total)
    used: Count
    already_used_by_this_member: Count
    no_rule_applies: Count
    no_uses_left: Count
    unknown_code: Count


class DrawRow(_Row):
    draw: str
    period: str
    entries: Count
    entrants: Count
    winners: list[str]
    paid: DecimalText


class RejectedRow(_Row):
    reason: str
    events: Count


class RefusedRow(_Row):
    reward: str
    reason: str
    count: Count


class UnknownName(_Row):
    kind: Literal["item", "category", "store", "channel", "action", "segment", "code"]
    name: str
    rows: Optional[Count] = None  # history rows naming it (members, for a segment of the attributes)
    members: Optional[Count] = None
    did_you_mean: Optional[str]


class CategoryMismatch(_Row):
    item: str
    row_category: str
    catalog_category: str
    rows: Count


class Unreached(_Row):
    kind: Literal["item", "store", "region", "rule", "tier"]
    name: str
    reason: str
    severity: Literal["warning", "note"]
    line: Optional[int] = None


class Finding(_Row):
    severity: Literal["warning", "note"]
    kind: str
    name: Optional[str]
    message: str


class Coverage(_Row):
    unknown: list[UnknownName]
    category_mismatches: list[CategoryMismatch]
    attributes_given: bool
    unreached: list[Unreached]
    findings: list[Finding]
    warnings: Count


MonthText = Annotated[StrictStr, Field(pattern=r"^[0-9]{4}-[0-9]{2}$")]


class CustomerMonth(_Row):
    """A month of the customer measures: activity with the lapse gap (simulate/measures.py)."""
    month: MonthText
    buyers: Count
    new: Count
    returned: Count
    lapsed: Count
    active_at_end: Count
    churn_rate: Share  # lapsed / active at the end of the month before; null in the first month


class Cohort(_Row):
    cohort: MonthText  # the signup month
    members: Count
    active: list[Count]  # members of the cohort with an order in its k-th month (0: the signup month)
    retention: list[DecimalText]  # active[k] / members


class DaysBetweenOrders(_Row):
    gaps: Count
    mean: Optional[DecimalText]
    median: Optional[Count]


class CustomerValue(_Row):
    total: DecimalText  # equals headline.revenue
    per_customer_mean: Optional[DecimalText]
    per_customer_median: Optional[DecimalText]
    top_tenth_share: Share


class SignupsOutside(_Row):
    before: Count
    after: Count


class ValueByTenure(_Row):
    months_since_signup: Count
    members: Count
    cumulative_value_per_member: Optional[DecimalText]


class EnrolmentSegment(_Row):
    customers: Count
    orders: Count
    revenue: DecimalText
    average_order_value: Optional[DecimalText]
    orders_per_customer: Optional[DecimalText]
    repeat_purchase_rate: Share
    value_per_customer: Optional[DecimalText]


class Enrolment(_Row):
    enrolled: EnrolmentSegment  # orders on or after the customer's signup date
    not_enrolled: EnrolmentSegment  # orders before it, and every order of a customer without one


class CustomerMeasures(_Row):
    """The report's `customers`: measures from the history alone (docs/simulate.md, "Customer measures")."""
    customers: Count
    orders: Count
    repeat_customers: Count
    repeat_purchase_rate: Share
    average_order_value: Optional[DecimalText]
    orders_per_customer: Optional[DecimalText]
    days_between_orders: DaysBetweenOrders
    value: CustomerValue
    lapse_after_days: Annotated[StrictInt, Field(ge=1)]
    lapse_after_from: StrictStr
    by_month: list[CustomerMonth]
    cohorts: list[Cohort]
    signups_outside_history: SignupsOutside
    value_by_months_since_signup: list[ValueByTenure]
    enrolment: Optional[Enrolment]  # null unless the attributes give signup dates


class GoalGradientShown(_Row):
    factor: DecimalText
    within: DecimalText


class WinBackShown(_Row):
    share: DecimalText


class BehaviourShown(_Row):
    """The forecast's behaviour assumptions as the report prints them (null: off)."""
    goal_gradient: Optional[GoalGradientShown]
    win_back: Optional[WinBackShown]


class CountSpread(_Row):
    """A whole-number figure across the forecast's runs: the median and the 90% interval (each one run's)."""
    median: StrictInt
    low: StrictInt
    high: StrictInt


class MoneySpread(_Row):
    median: DecimalText
    low: DecimalText
    high: DecimalText


class ForecastMonth(_Row):
    month: MonthText
    orders: CountSpread
    revenue: MoneySpread
    cost: MoneySpread
    rewards: CountSpread
    points_redeemed: CountSpread
    liability: MoneySpread  # at the month's end


class ForecastTotal(_Row):
    orders: CountSpread
    revenue: MoneySpread
    cost: MoneySpread
    rewards: CountSpread
    points_redeemed: CountSpread
    liability_at_end: MoneySpread


# the BG/NBD fit's parameters, four significant digits as text ("2.948", "0.0001048", "1.2e+05")
ParameterText = Annotated[StrictStr, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?$")]


class ForecastParameters(_Row):
    r: ParameterText
    alpha: ParameterText
    a: ParameterText
    b: ParameterText


class Forecast(_Row):
    """The report's `forecast`, with `--forecast N months` (docs/simulate.md, "Forecast"; loyalty/forecast)."""
    model: StrictStr
    parameters: ForecastParameters  # the fit on all customers; time in weeks
    customers_fitted: Count
    expected_alive_at_end: DecimalText
    months: Annotated[StrictInt, Field(ge=1, le=120)]
    from_: StrictStr = Field(alias="from")  # the history's end, ISO 8601
    to: StrictStr  # the horizon's last instant
    runs: Annotated[StrictInt, Field(ge=1)]
    seed: StrictInt
    interval: Literal["90%"]
    behaviour: BehaviourShown
    by_month: list[ForecastMonth]
    total: ForecastTotal


class CountBounds(_Row):
    low: StrictInt
    high: StrictInt


class MoneyBounds(_Row):  # money and shares: exact decimal text
    low: DecimalText
    high: DecimalText


class Intervals(_Row):
    """The report's `intervals`, with `--intervals LEVEL` (docs/simulate.md, "Intervals"; simulate/intervals.py)."""
    level: Annotated[StrictInt, Field(ge=1, le=99)]
    seed: StrictInt
    resamples: Annotated[StrictInt, Field(ge=1)]
    members: Count
    method: StrictStr
    headline: dict[str, Union[CountBounds, MoneyBounds]]  # a headline figure's name -> its interval


class Report(_Row):
    """The JSON report of `loyalty simulate --format json` (docs/simulate.md, "The report")."""

    format: Literal["loyalty-simulation/1"]
    loyalty_version: StrictStr  # the version of loyalty that wrote it (loyalty/versioning.py)
    program: ReportProgram
    history: ReportHistory
    assumptions: ReportAssumptions
    headline: Headline
    by_rule: list[RuleRow]
    by_reward: list[RewardRow]
    by_tier: list[TierRow]
    tier_moves: TierMoves
    tiers_by_month: list[dict[str, Union[StrictStr, StrictInt]]]  # month, and members in each tier
    points: list[PointsRow]
    by_month: list[MonthRow]
    by_store: list[StoreRow]
    by_region: list[RegionRow]
    time_to_first_reward: FirstReward
    caps: list[CapRow]
    budgets: list[BudgetRow]
    stock: list[StockRow] = []  # rewards `limited to` a number (runtime/mechanics/stock.py)
    codes: list[CodeRow] = []  # codes declared or carried (runtime/mechanics/codes.py)
    adjustments: list[AdjustmentRow] = []  # by reason and point kind (runtime/mechanics/adjustments.py)
    fees: Optional[FeesReport] = None  # programs with paid tiers only (runtime/mechanics/fees.py)
    draws: list[DrawRow]
    enrolment: Optional[EnrolmentReport] = None  # when the program or the scenario says who joins
    rejected_events: list[RejectedRow]
    redemptions_refused: list[RefusedRow]
    coverage: Coverage
    # with --intervals: each headline figure's bootstrap interval (docs/simulate.md, "Uncertainty")
    intervals: Optional[Intervals] = None
    # the customer measures (docs/simulate.md, "Customer measures"; simulate/measures.py), and with --forecast
    # the forecast (docs/simulate.md, "Forecast"; forecast/run.py)
    customers: CustomerMeasures
    forecast: Optional[Forecast] = None


def report_schema() -> dict:
    """The JSON Schema of the simulation's JSON report."""
    return Report.model_json_schema(by_alias=True)


# `loyalty schema NAME`: each format's JSON Schema
SCHEMAS = {"report": report_schema, "assumptions": assumptions_schema, "scenarios": test_file_schema}
