"""Figures of a simulation report that must agree with each other, on every bundled history."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli

REPO = Path(__file__).resolve().parents[1]
HISTORIES = sorted((REPO / "examples" / "histories").glob("*.csv"))


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_costs_by_rule_add_up_to_the_total_cost(history: Path):
    program = REPO / "examples" / "programs" / f"{history.stem}.loyalty"
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--format", "json", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    summary = report["headline"]
    by_rule = sum(Decimal(row["cost"]) for row in report["by_rule"])
    assert by_rule == Decimal(summary["total_cost"])
    parts = ("discounts", "reward_cost", "perk_cost", "draw_prizes", "liability_end")
    assert sum(Decimal(summary[p]) for p in parts) == Decimal(summary["total_cost"])
