"""The YAML files people write, as pydantic models: one definition per file format.

- `Assumptions`: the simulation's scenario file (`loyalty simulate --scenario FILE`, docs/simulate.md).
- `ScenarioTestFile`: a program's scenario tests, `<program>.test.yaml` (`loyalty test`, docs/embedding.md).

Both are closed: an unknown key is an error (a typo never falls back to a default), and every value has a
precise type. Names that only the program knows (point kinds, rewards, items) are checked when validation is
given the program's names as context (`program_names`). `loyalty.yamlio` reads the files (refusing aliases,
merge keys, duplicate keys) and turns validation errors into messages with the file, line and column.

`assumptions_schema()` and `test_file_schema()` give each format's JSON Schema.
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


EffectPattern = dict[str, Any]  # effect field -> the value it must have (docs/embedding.md)


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
