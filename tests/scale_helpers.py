"""What the tests of split runs (--jobs, --engine dask) share: the simulate command's JSON, and a program whose
two program-wide budgets both run out mid-way through a generated history."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from loyalty.cli import cli

BUDGETED = """program "budgeted" {
  currency NOK
}

points "points" {
  cost 0.10 NOK each
}

rule "base" {
  earn 1 point per 1 NOK
  budget 1000 points
}

rule "bonus once you have 100" {
  earn 50 points
  when points balance >= 100 points
  budget 10000 points
}
"""


def simulate_json(*args: str) -> str:
    result = CliRunner().invoke(cli, ["simulate", *args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def budgeted_inputs(directory: Path) -> tuple[str, str]:
    """The budgeted program and a generated history of 3,000 rows (60 members) written into `directory`."""
    program = directory / "p.loyalty"
    program.write_text(BUDGETED)
    history = directory / "h.csv"
    result = CliRunner().invoke(cli, ["generate", "--rows", "3000", "--members", "60", "--seed", "3",
                                      "-o", str(history)])
    assert result.exit_code == 0, result.output
    return str(program), str(history)
