"""The scenario file: the assumptions a history does not contain.

Every field has a documented default (docs/simulate.md); the report lists the
assumptions it used. The file is read by loyalty/yamlio.py (numbers are exact
decimals: a YAML `0.1` is the decimal 0.1, not a float) and checked with its
pydantic model, `loyalty.schemas.Assumptions`: unknown keys are errors, so a typo
never silently falls back to a default, and so are point kinds, rewards and items
the program does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional, Sequence

from loyalty.simulate.errors import InputError

REDEMPTION_POLICIES = ("asap", "share", "none")


class ScenarioError(InputError):
    """A scenario (assumptions) file that cannot be used."""


@dataclass(frozen=True)
class Scenario:
    seed: int = 0
    # asap: every member redeems as soon as the balance allows; share: only a share of members
    # (chosen from a hash of the seed and the member id) do; none: nobody (worst-case liability)
    redemption_policy: str = "asap"
    redemption_reward: Optional[str] = None  # None: each point kind's cheapest reward
    redemption_share: Decimal = Decimal(1)
    points_breakage: Decimal = Decimal(0)  # share of outstanding points expected never to be redeemed
    gift_card_breakage: Decimal = Decimal(0)  # share of gift-card face value expected never to be used
    cost_per_point: dict[str, Decimal] = field(default_factory=dict)  # point kind -> cost (program currency)
    item_costs: dict[str, Decimal] = field(default_factory=dict)  # item -> unit cost, where the catalog has none
    reward_costs: dict[str, Decimal] = field(default_factory=dict)  # reward -> cost, overriding the program
    # how to read the history (the command line overrides these)
    columns: dict[str, str] = field(default_factory=dict)
    time_format: Optional[str] = None
    delimiter: Optional[str] = None
    source: str = "defaults"  # where the scenario came from, for the report
    # customer measures: days without an order after which a customer counts as lapsed (None: from the data)
    lapse_after_days: Optional[int] = None
    # behaviour assumptions for --forecast (forecast/run.py), off when None
    goal_gradient_factor: Optional[Decimal] = None
    goal_gradient_within: Decimal = Decimal("0.2")
    win_back_share: Optional[Decimal] = None
    # enrolment (docs/simulate.md, "Enrolment"): the share of customers who join, or the attributes column that
    # says who is a member; both None: the program and the history decide
    enrolment_share: Optional[Decimal] = None
    enrolment_column: Optional[str] = None

    def assumptions(self) -> dict[str, Any]:
        """What the report prints under "assumptions": plain JSON-ready values."""
        return {
            "scenario": self.source,
            "seed": self.seed,
            "redemption": {
                "policy": self.redemption_policy,
                "reward": self.redemption_reward or "(each point kind's cheapest reward)",
                "share": str(self.redemption_share),
            },
            "points_breakage": str(self.points_breakage),
            "gift_card_breakage": str(self.gift_card_breakage),
            "cost_per_point": {k: str(v) for k, v in sorted(self.cost_per_point.items())},
            "item_costs": {k: str(v) for k, v in sorted(self.item_costs.items())},
            "reward_costs": {k: str(v) for k, v in sorted(self.reward_costs.items())},
            "lapse_after_days": self.lapse_after_days,
            "behaviour": {
                "goal_gradient": None if self.goal_gradient_factor is None else {
                    "factor": str(self.goal_gradient_factor), "within": str(self.goal_gradient_within)},
                "win_back": None if self.win_back_share is None else {"share": str(self.win_back_share)},
            },
            # only when the scenario says, so other reports read as before
            **({"enrolment": {"share": str(self.enrolment_share)}} if self.enrolment_share is not None else
               {"enrolment": {"column": self.enrolment_column}} if self.enrolment_column is not None else {}),
        }

    def with_overrides(self, **changes: Any) -> "Scenario":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _error(err) -> ScenarioError:
    """A yamlio.YamlFileError as a ScenarioError: every problem located, each with its hint."""
    located = [p.located() for p in err.problems]
    return ScenarioError(*located[0], also=located[1:])


def parse_scenario(text: str, source: str = "<scenario>", program=None) -> Scenario:
    """A scenario from YAML text, checked against `program` (a CompiledProgram) when given: its point kinds,
    rewards and catalog items are the names the file may use."""
    from loyalty.yamlio import YamlFileError, parse_yaml

    try:
        return _scenario(parse_yaml(text, source), program)
    except YamlFileError as err:
        raise _error(err) from None


def load_scenario(path: str | Path, program=None) -> Scenario:
    """Read a scenario file with the shared strict YAML reader (loyalty/yamlio.py: no aliases, merge keys or
    duplicate keys; UTF-8 only) and check it with its pydantic model (loyalty/schemas.py, `Assumptions`)."""
    from loyalty.yamlio import YamlFileError, read_yaml

    try:
        return _scenario(read_yaml(path), program)
    except YamlFileError as err:
        raise _error(err) from None


def _scenario(doc, program) -> Scenario:
    """The validated file as a Scenario. pydantic (imported here) runs only when there is a scenario file."""
    from loyalty.schemas import Assumptions, program_names
    from loyalty.yamlio import validate

    m = validate(doc, Assumptions, program_names(program) if program is not None else None,
                 data={} if doc.data is None else doc.data)
    changes: dict[str, Any] = {"source": doc.file, "seed": m.seed}
    if m.redemption is not None:
        given = m.redemption.model_fields_set
        changes["redemption_reward"] = m.redemption.reward
        changes["redemption_share"] = m.redemption.share
        if "policy" in given:
            changes["redemption_policy"] = m.redemption.policy
        elif "share" in given:
            changes["redemption_policy"] = "share"  # giving a share implies the share policy
    if m.breakage is not None:
        changes["points_breakage"] = m.breakage.points
        changes["gift_card_breakage"] = m.breakage.gift_cards
    for key in ("cost_per_point", "item_costs", "reward_costs", "columns"):
        changes[key] = dict(getattr(m, key) or {})
    changes["time_format"], changes["delimiter"] = m.time_format, m.delimiter
    if m.behaviour is not None and m.behaviour.goal_gradient is not None:
        changes["goal_gradient_factor"] = m.behaviour.goal_gradient.factor
        changes["goal_gradient_within"] = m.behaviour.goal_gradient.within
    if m.behaviour is not None and m.behaviour.win_back is not None:
        changes["win_back_share"] = m.behaviour.win_back.share
    if m.customers is not None:
        changes["lapse_after_days"] = m.customers.lapse_after_days
    if isinstance(m.enrolment, Decimal):
        changes["enrolment_share"] = m.enrolment
    elif m.enrolment is not None:
        changes["enrolment_column"] = m.enrolment.column
    return replace(Scenario(), **changes)


def member_redeems(scenario: Scenario, member: str) -> bool:
    """Whether this member redeems under the scenario: decided from a seeded hash of the member
    id alone, so it does not depend on which other members are simulated with it."""
    every = _every_member_redeems(scenario)
    if every is not None:
        return every
    return Decimal(stable_hash(scenario.seed, "redeem", member)) < scenario.redemption_share * (1 << 64)


def members_redeem(scenario: Scenario, members: list) -> list[bool]:
    """`member_redeems` of each member; without a hash where the policy decides for everyone."""
    every = _every_member_redeems(scenario)
    if every is not None:
        return [every] * len(members)
    return [member_redeems(scenario, m) for m in members]


def _every_member_redeems(scenario: Scenario) -> Optional[bool]:
    """Whether every member redeems (True), none does (False), or a hash of each decides (None)."""
    if scenario.redemption_policy == "none":
        return False
    if scenario.redemption_policy == "asap" or scenario.redemption_share >= 1:
        return True
    return None


def enrols_by_assumption(scenario: Scenario) -> bool:
    """Whether the scenario, not the history, says who is a member."""
    return scenario.enrolment_share is not None or scenario.enrolment_column is not None


def member_joins(scenario: Scenario, member: str, columns: Optional[dict]) -> bool:
    """Under the scenario's enrolment: whether this customer is a member. A share is decided from a seeded hash
    of the customer id alone (as `member_redeems`); a column from her attributes' value (`columns`: the extra
    attribute columns, lower-cased names). Call only when `enrols_by_assumption`."""
    if scenario.enrolment_share is not None:
        return Decimal(stable_hash(scenario.seed, "enrol", member)) < scenario.enrolment_share * (1 << 64)
    column = scenario.enrolment_column or ""
    value = ((columns or {}).get(column.lower()) or "").strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0", ""):
        return False
    raise ScenarioError(f"the scenario's enrolment column {scenario.enrolment_column!r} has {value[:40]!r} for "
                        f"customer {member!r}", hint="write true, yes or 1 for a member; false, no, 0 or nothing "
                        "for a customer who is not")


def stable_hash(*parts: object) -> int:
    """A 64-bit hash that is the same on every machine and run (Python's hash() is salted)."""
    return stable_hashes(parts[:-1], parts[-1:])[0]


def stable_hashes(first: Sequence[object], lasts: Sequence[object]) -> list[int]:
    """`stable_hash(*first, last)` for each of `lasts`, the text of `first` joined once (a draw period hashes
    every entrant with the same first parts)."""
    import hashlib

    import numpy as np

    text = "".join(str(p) + "\x1f" for p in first)
    if len(lasts) < 8:  # (a few, as `stable_hash` per member: the copies and the array below cost more than they save)
        return [int.from_bytes(hashlib.blake2b((text + str(last)).encode("utf-8"), digest_size=8).digest(), "big")
                for last in lasts]
    # the hash state after the joined text, copied per last part (half the cost of hashing the whole text each
    # time: every_mechanic's draws hash ~650k entrants at 1M rows), the digests read as big-endian 64-bit at once
    copy = hashlib.blake2b(text.encode("utf-8"), digest_size=8).copy
    digests: list[bytes] = []
    keep = digests.append
    for last in lasts:
        h = copy()
        h.update(str(last).encode("utf-8"))
        keep(h.digest())
    return np.frombuffer(b"".join(digests), dtype=">u8").tolist()
