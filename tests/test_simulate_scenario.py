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


# ------------------------------------------------------------------ checked against the program, and located

from pathlib import Path  # noqa: E402

from click.testing import CliRunner  # noqa: E402

HOSTILE = Path(__file__).resolve().parent / "hostile" / "yaml"


def _program():
    from loyalty.simulate.run import load_program

    return load_program(str(HOSTILE / "program.loyalty"))  # point kind stars, reward free wash, item basic wash


def test_names_are_checked_against_the_program_with_a_suggestion():
    prog = _program()
    with pytest.raises(ScenarioError) as err:
        parse_scenario("seed: 1\ncost_per_point: {star: 0.02}\n", "s.yaml", prog)
    assert err.value.message == "s.yaml:2:18: cost_per_point: 'star' is not a point kind of the program"
    assert err.value.hint == "did you mean 'stars'? the program's point kinds: stars"
    s = parse_scenario("cost_per_point: {stars: 0.02}\nitem_costs: {basic wash: 30}\nreward_costs: {free wash: 31}\n"
                       "redemption: {reward: free wash}\n", "s.yaml", prog)
    assert s.cost_per_point == {"stars": Decimal("0.02")} and s.redemption_reward == "free wash"
    # without a program (an embedder's check of the file alone) any name is accepted
    assert parse_scenario("cost_per_point: {star: 0.02}").cost_per_point == {"star": Decimal("0.02")}


def test_a_scenario_made_in_code_with_a_point_kind_the_program_lacks_is_refused():
    # before, the cost was kept and a phantom kind "star" appeared in the report's liability table
    from loyalty.simulate.engine import SimulationError, make_plan, program_info
    from loyalty.simulate.run import read_inputs

    prog = _program()
    history = read_inputs(prog, str(HOSTILE / "history.csv"), None, None, None, None, "stop").history
    with pytest.raises(SimulationError, match="'star', which is not a point kind") as err:
        make_plan(prog, program_info(prog, "p.loyalty"), Scenario(cost_per_point={"star": Decimal(1)}), history)
    assert err.value.hint == "point kinds: stars"


@pytest.mark.parametrize("text, at, words", [
    ("columns: {membr: customer_id}\n", "1:11", "columns: unknown key 'membr'"),
    ("columns: {member: ''}\n", "1:19", "columns.member: must not be empty"),
    ("time_format: 5\n", "1:14", "time_format: expected text, found 5"),
    ("delimiter: ~\n", "1:12", "delimiter: expected text, found nothing (null)"),
    ("redemption:\n  share: -0.1\n", "2:10", "redemption.share: must be between 0 and 1 (found -0.1)"),
    ("item_costs: {bun: -1}\n", "1:19", "item_costs.bun: must be at least 0 (found -1)"),
    ("seed: true\n", "1:7", "seed: expected a whole number, found true"),
    ("seed: 99999999999999999999\n", "1:7", "seed: must be at most"),
    ("redemption: [asap]\n", "1:13", "redemption: expected a mapping, found a list"),
])
def test_shapes_are_refused_at_their_place(text, at, words):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "s.yaml")
    assert err.value.message.startswith(f"s.yaml:{at}: ") and words in err.value.message, err.value.message


def test_quoted_numbers_and_empty_sections_are_still_accepted():
    s = parse_scenario("cost_per_point: {stars: '0.04'}\nredemption:\nbreakage:\n")
    assert s.cost_per_point == {"stars": Decimal("0.04")} and s.redemption_policy == "asap"


def test_every_problem_of_the_file_is_printed_with_its_place(tmp_path):
    from loyalty.cli import cli

    scenario = tmp_path / "s.yaml"
    scenario.write_text("seed: x\nbreakage: {points: 2}\ncost_per_point: {star: 1}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", str(HOSTILE / "program.loyalty"), str(HOSTILE / "history.csv"),
                                      "--scenario", str(scenario), "--jobs", "1"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("loyalty: error:")]
    assert [e.split(": ")[2].rsplit(":", 2)[1:] for e in errors] == [["1", "7"], ["2", "20"], ["3", "18"]], errors
