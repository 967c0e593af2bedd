"""`loyalty test`: the example programs' scenario files pass; failures and bad files are reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli

PROGRAMS = Path(__file__).resolve().parents[1] / "examples" / "programs"
WITH_TESTS = sorted(p for p in PROGRAMS.glob("*.loyalty") if p.with_name(p.stem + ".test.yaml").exists())


def run(*args):
    return CliRunner().invoke(cli, ["test", *map(str, args)])


@pytest.mark.parametrize("program", WITH_TESTS, ids=lambda p: p.stem)
def test_example_scenarios_pass(program):
    result = run(program)
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def _write(tmp_path, yaml_text):
    prog = tmp_path / "shop.loyalty"
    prog.write_text('program "s" {\n  currency NOK\n}\npoints "points"\nrule "earn" {\n  earn 1 points per 10 NOK\n}\n')
    (tmp_path / "shop.test.yaml").write_text(yaml_text)
    return prog


def test_a_failing_scenario_shows_expected_and_actual_with_the_rule(tmp_path):
    prog = _write(tmp_path, """
- name: wrong on purpose
  events:
    - purchase: {time: 2025-03-01T10:00, order: o1, lines: [{item: x, category: c, amount: 100}]}
  expect:
    effects: [{kind: points_earned, points: 11}]
    state: {balance: {points: 11}}
""")
    result = run(prog)
    assert result.exit_code == 1
    assert "FAIL" in result.output and "wrong on purpose" in result.output
    assert "expected:" in result.output and "points_earned points=11" in result.output
    assert "actual:" in result.output and "points=10" in result.output
    assert 'rule "earn"' in result.output and "shop.loyalty:5" in result.output
    assert "state.balances.points: expected 11, got 10" in result.output


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    prog = _write(tmp_path, "- name: x\n  events: [\n")
    result = run(prog)
    assert result.exit_code == 1
    assert "shop.test.yaml:" in result.output


def test_missing_scenario_file_and_usage(tmp_path):
    prog = tmp_path / "lonely.loyalty"
    prog.write_text('program "s" {\n  currency NOK\n}\n')
    assert run(prog).exit_code == 1
    assert run(tmp_path / "nope.loyalty").exit_code == 2
    assert CliRunner().invoke(cli, ["test"]).exit_code == 2


def test_an_invalid_program_is_counted_as_not_runnable_not_as_a_failed_scenario(tmp_path):
    prog = tmp_path / "broken.loyalty"
    prog.write_text('program "x" { currency NOK }\nrule "a" { earn }\n', encoding="utf-8")
    (tmp_path / "broken.test.yaml").write_text("- name: x\n  events: []\n", encoding="utf-8")
    result = run(prog)
    assert result.exit_code == 1
    assert "0 passed, 0 failed, 1 could not run" in result.output


def test_every_shape_problem_of_a_scenario_file_is_listed_with_its_place_and_nothing_runs(tmp_path):
    prog = _write(tmp_path, """\
- name: fine
  events: []
- name: two mistakes
  member: m1
  events: 5
""")
    result = run(prog)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "0 passed, 0 failed, 1 could not run" in result.output
    test_file = tmp_path / "shop.test.yaml"
    assert f"ERROR {test_file}:4:11: 1.member: expected a mapping, found 'm1'" in result.output
    assert f"{test_file}:5:11: 1.events: expected a list, found 5" in result.output


def test_state_expectations_check_only_the_keys_given(tmp_path):
    prog = _write(tmp_path, """\
- name: ten points and no tier
  events:
    - purchase: {time: 2025-03-01T10:00, order: o1, lines: [{item: x, category: c, amount: 100.00}]}
  expect:
    state: {balance: {points: 10}, pending: {}, tier: null}
- name: the tier is checked when given
  events: []
  expect:
    state: {tier: gold}
""")
    result = run(prog)
    assert "PASS" in result.output and "ten points and no tier" in result.output
    assert "state.tier: expected 'gold', got None" in result.output
    assert "1 passed, 1 failed" in result.output


def test_an_event_may_be_written_in_the_tagged_form_and_expected_to_be_rejected(tmp_path):
    prog = _write(tmp_path, """\
- name: rejected
  events:
    - {error: lines.0.amount, type: purchase, time: 2025-03-01T10:00, order: o1, lines: [{item: x, amount: 1.005}]}
    - {error: true, purchase: {time: 2025-03-01T10:00, order: o2, lines: []}}
  expect: {effects: []}
""")
    result = run(prog)
    assert result.exit_code == 0, result.output
