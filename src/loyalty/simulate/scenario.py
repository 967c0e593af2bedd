"""The scenario file: the assumptions a history does not contain.

Every field has a documented default (docs/simulate.md); the report lists the
assumptions it used. Numbers are read as exact decimals (a YAML `0.1` is the
decimal 0.1, not a float). Unknown keys are errors, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Optional

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
        }

    def with_overrides(self, **changes: Any) -> "Scenario":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_TOP_KEYS = {"seed", "redemption", "breakage", "cost_per_point", "item_costs", "reward_costs", "columns",
             "time_format", "delimiter"}


def _decimal(value: Any, where: str, low: Optional[Decimal] = None, high: Optional[Decimal] = None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise ScenarioError(f"{where}: expected a number, found {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ScenarioError(f"{where}: expected a number, found {value!r}") from None
    if not number.is_finite():
        raise ScenarioError(f"{where}: expected a number, found {value!r}")
    if low is not None and number < low or high is not None and number > high:
        raise ScenarioError(f"{where}: must be between {low} and {high} (found {number})")
    return number


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a mapping of names to values, found {type(value).__name__}")
    return value


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ScenarioError(f"{where}unknown key {key!r}", hint="known keys: " + ", ".join(sorted(allowed)))


def _error(err) -> ScenarioError:
    """A yamlio.YamlFileError as a ScenarioError: its first problem, located, with its hint."""
    message, hint = err.problems[0].located()
    return ScenarioError(message, hint)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    from loyalty.yamlio import YamlFileError, parse_yaml

    try:
        data = parse_yaml(text, source).data
    except YamlFileError as err:
        raise _error(err) from None
    return _scenario(data, source)


def _scenario(data: Any, source: str) -> Scenario:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping of settings at the top level")
    _check_keys(data, _TOP_KEYS, f"{source}: ")
    changes: dict[str, Any] = {"source": source}
    if "seed" in data:
        if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
            raise ScenarioError(f"{source}: seed: expected a whole number, found {data['seed']!r}")
        changes["seed"] = data["seed"]
    redemption = _mapping(data.get("redemption"), f"{source}: redemption")
    _check_keys(redemption, {"policy", "reward", "share"}, f"{source}: redemption: ")
    if "policy" in redemption:
        if redemption["policy"] not in REDEMPTION_POLICIES:
            raise ScenarioError(f"{source}: redemption.policy: unknown policy {redemption['policy']!r}",
                                hint="one of: " + ", ".join(REDEMPTION_POLICIES))
        changes["redemption_policy"] = redemption["policy"]
    if "reward" in redemption:
        if not isinstance(redemption["reward"], str):
            raise ScenarioError(f"{source}: redemption.reward: expected the name of a reward")
        changes["redemption_reward"] = redemption["reward"]
    if "share" in redemption:
        changes["redemption_share"] = _decimal(redemption["share"], f"{source}: redemption.share", Decimal(0), Decimal(1))
        changes.setdefault("redemption_policy", "share")
    breakage = _mapping(data.get("breakage"), f"{source}: breakage")
    _check_keys(breakage, {"points", "gift_cards"}, f"{source}: breakage: ")
    if "points" in breakage:
        changes["points_breakage"] = _decimal(breakage["points"], f"{source}: breakage.points", Decimal(0), Decimal(1))
    if "gift_cards" in breakage:
        changes["gift_card_breakage"] = _decimal(breakage["gift_cards"], f"{source}: breakage.gift_cards",
                                                 Decimal(0), Decimal(1))
    for key in ("cost_per_point", "item_costs", "reward_costs"):
        values = _mapping(data.get(key), f"{source}: {key}")
        changes[key] = {str(k): _decimal(v, f"{source}: {key}.{k}", Decimal(0)) for k, v in values.items()}
    columns = _mapping(data.get("columns"), f"{source}: columns")
    changes["columns"] = {str(k): str(v) for k, v in columns.items()}
    for key in ("time_format", "delimiter"):
        if key in data:
            if not isinstance(data[key], str) or not data[key]:
                raise ScenarioError(f"{source}: {key}: expected text")
            changes[key] = data[key]
    return replace(Scenario(), **changes)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file with the shared strict YAML reader (loyalty/yamlio.py: no aliases, merge keys or
    duplicate keys; UTF-8 only)."""
    from loyalty.yamlio import YamlFileError, read_yaml

    try:
        data = read_yaml(path).data
    except YamlFileError as err:
        raise _error(err) from None
    return _scenario(data, str(path))


def member_redeems(scenario: Scenario, member: str) -> bool:
    """Whether this member redeems under the scenario: decided from a seeded hash of the member
    id alone, so it does not depend on which other members are simulated with it."""
    if scenario.redemption_policy == "none":
        return False
    if scenario.redemption_policy == "asap" or scenario.redemption_share >= 1:
        return True
    return Decimal(stable_hash(scenario.seed, "redeem", member)) < scenario.redemption_share * (1 << 64)


def stable_hash(*parts: object) -> int:
    """A 64-bit hash that is the same on every machine and run (Python's hash() is salted)."""
    import hashlib

    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
