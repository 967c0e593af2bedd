"""Scenario item_costs and reward_costs change the costs in the report; computed by hand."""

import json

from click.testing import CliRunner

from loyalty.cli import cli

SHOP = """
program "Bakery" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2025-01-01
}
points "points" {
}
catalog {
  category "food"
  item "bun" in category "food" costing 8 NOK
  item "cake" in category "food" costing 20 NOK
}
reward "free bun" is a free "bun"
reward "free cake" is a free "cake" costing 25 NOK
redeem 10 points for "free bun"
redeem 30 points for "free cake"
rule "1 point per 10 NOK" {
  earn 1 point per 10 NOK
}
"""

# A spends 250 NOK in one order: 25 points. Redeeming "free bun" (10 points) as soon as possible: 2 buns,
# 5 points left.
HISTORY = "member,time,amount,order\nA,2025-01-10T10:00,250,o1\n"


def simulate(tmp_path, scenario: str) -> dict:
    (tmp_path / "p.loyalty").write_text(SHOP)
    (tmp_path / "h.csv").write_text(HISTORY)
    (tmp_path / "s.yaml").write_text(scenario)
    r = CliRunner().invoke(cli, ["simulate", str(tmp_path / "p.loyalty"), str(tmp_path / "h.csv"),
                                  "--scenario", str(tmp_path / "s.yaml"), "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def reward(report: dict, name: str) -> dict:
    return next(r for r in report["by_reward"] if r["reward"] == name)


def test_without_scenario_costs_a_free_item_costs_its_catalog_unit_cost(tmp_path):
    report = simulate(tmp_path, "redemption: {reward: free bun}\n")
    assert reward(report, "free bun")["given"] == 2
    assert reward(report, "free bun")["cost"] == "16.00"  # 2 x 8 NOK
    assert report["assumptions"]["reward_costs_used"]["free bun"] == {"cost": "8.00", "from": "program"}


def test_scenario_item_cost_sets_a_free_item_rewards_cost(tmp_path):
    report = simulate(tmp_path, "redemption: {reward: free bun}\nitem_costs: {bun: 9.50}\n")
    assert reward(report, "free bun")["cost"] == "19.00"  # 2 x 9.50 NOK
    assert report["headline"]["reward_cost"] == "19.00"
    used = report["assumptions"]["reward_costs_used"]
    assert used["free bun"] == {"cost": "9.50", "from": "scenario item_costs (bun)"}
    # a reward with its own `costing` keeps it: the item's unit cost does not reach it
    assert used["free cake"] == {"cost": "25.00", "from": "program"}
    assert report["assumptions"]["item_costs"] == {"bun": "9.50"}


def test_scenario_reward_cost_overrides_the_program(tmp_path):
    report = simulate(tmp_path, "redemption: {reward: free bun}\nitem_costs: {bun: 9.50}\n"
                                "reward_costs: {free bun: 7.25}\n")
    assert reward(report, "free bun")["cost"] == "14.50"  # 2 x 7.25 NOK: the reward's cost beats the item's
    assert report["headline"]["total_cost"] == "14.50"  # no cost per point: no liability for the 5 left
    assert report["assumptions"]["reward_costs_used"]["free bun"] == {"cost": "7.25", "from": "scenario reward_costs"}


def test_scenario_reward_cost_finer_than_the_currency_stays_exact(tmp_path):
    report = simulate(tmp_path, "redemption: {reward: free bun}\nreward_costs: {free bun: 0.125}\n")
    assert reward(report, "free bun")["cost"] == "0.25"  # 2 x 0.125 NOK, exact


def test_unknown_names_in_scenario_costs_are_errors(tmp_path):
    for scenario, name in (("reward_costs: {free muffin: 3}\n", "free muffin"), ("item_costs: {muffin: 3}\n", "muffin")):
        (tmp_path / "p.loyalty").write_text(SHOP)
        (tmp_path / "h.csv").write_text(HISTORY)
        (tmp_path / "s.yaml").write_text(scenario)
        r = CliRunner().invoke(cli, ["simulate", str(tmp_path / "p.loyalty"), str(tmp_path / "h.csv"),
                                      "--scenario", str(tmp_path / "s.yaml")])
        assert r.exit_code == 1 and repr(name) in r.output and "Traceback" not in r.output


def test_scenario_item_cost_applies_to_a_program_compiled_from_text_too(tmp_path):
    # the cost rules read only the compiled program: no side table filled by loading from a file
    from loyalty.compiler import compile_program
    from loyalty.simulate.engine import make_plan, program_info
    from loyalty.simulate.history import ReadOptions, read_history
    from loyalty.simulate.scenario import parse_scenario
    from loyalty.syntax.parser import parse

    prog = compile_program(parse(SHOP, "p.loyalty"), "p.loyalty")
    (tmp_path / "h.csv").write_text(HISTORY)
    scenario = parse_scenario("redemption: {reward: free bun}\nitem_costs: {bun: 9.50}\n")
    plan = make_plan(prog, program_info(prog, "p.loyalty"), scenario, read_history(tmp_path / "h.csv", ReadOptions()))
    assert plan.reward_costs["free bun"] == 950  # minor units: the scenario's 9.50 NOK, not the catalog's 8
