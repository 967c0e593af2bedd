"""The scenario file: exact decimals, documented defaults, clear errors for typos and bad values."""

from decimal import Decimal

import pytest

from loyalty.simulate.scenario import Scenario, ScenarioError, member_redeems, parse_scenario


def test_defaults_are_listed_as_assumptions():
    s = parse_scenario("")
    assert s == Scenario(source="<scenario>")
    a = s.assumptions()
    assert a["redemption"]["policy"] == "asap" and a["points_breakage"] == "0"


def test_numbers_are_exact_decimals():
    s = parse_scenario("breakage: {points: 0.1, gift_cards: 0.25}\ncost_per_point: {stars: 0.04}\nseed: 3\n")
    assert s.points_breakage == Decimal("0.1") and s.cost_per_point == {"stars": Decimal("0.04")}
    assert s.seed == 3 and s.gift_card_breakage == Decimal("0.25")


def test_share_implies_the_share_policy():
    s = parse_scenario("redemption: {share: 0.5, reward: free drink}")
    assert s.redemption_policy == "share" and s.redemption_reward == "free drink"


@pytest.mark.parametrize("text, words", [
    ("redemtion: {policy: none}", "unknown key 'redemtion'"),
    ("redemption: {policy: sometimes}", "unknown policy"),
    ("breakage: {points: 1.5}", "between 0 and 1"),
    ("cost_per_point: {stars: lots}", "expected a number"),
    ("seed: [1]", "whole number"),
    ("a: [", "not valid YAML"),
])
def test_bad_scenarios_say_what_is_wrong(text, words):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "s.yaml")
    assert err.value.message.startswith("s.yaml") and words in err.value.message


def test_share_of_redeemers_is_deterministic_and_close_to_the_share():
    s = parse_scenario("seed: 5\nredemption: {share: 0.3}")
    members = [f"M{i}" for i in range(4000)]
    chosen = [m for m in members if member_redeems(s, m)]
    assert chosen == [m for m in members if member_redeems(s, m)]
    assert 0.27 < len(chosen) / len(members) < 0.33
    assert not member_redeems(parse_scenario("redemption: {policy: none}"), "M1")
