"""The Python API of the simulator: loyalty.simulate and loyalty.compare (docs/simulate.md, "From Python")."""

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from click.testing import CliRunner

import loyalty
from loyalty.cli import cli

REPO = Path(__file__).resolve().parents[1]
CAR_WASH = str(REPO / "examples/programs/car_wash.loyalty")
CAR_WASH_CSV = str(REPO / "examples/histories/car_wash.csv")
COFFEE = str(REPO / "examples/programs/coffee_stars.loyalty")
COFFEE_CSV = str(REPO / "examples/histories/coffee_stars.csv")
SENTINEL = "--- next block ---"


def cli_json(*args):
    result = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def python_section():
    text = (REPO / "docs/simulate.md").read_text(encoding="utf-8")
    start = text.index("## From Python")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def blocks(section):
    """The section's (python code, the text block after it or None) pairs."""
    found = re.findall(r"```(python|text)\n(.*?)```", section, re.S)
    out = []
    for i, (kind, body) in enumerate(found):
        if kind == "python":
            after = found[i + 1] if i + 1 < len(found) else None
            out.append((body, after[1] if after and after[0] == "text" else None))
    return out


def run_blocks(section):
    """Run the section's python blocks in order, in one fresh interpreter from the repository's root (as a
    reader of the docs would), and return each block's output."""
    code = f"\nprint({SENTINEL!r})\n".join(body for body, _ in blocks(section))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(SENTINEL + "\n")


def test_the_docs_python_section_runs_and_prints_what_it_shows():
    section = python_section()
    pairs = blocks(section)
    assert len(pairs) >= 4
    outputs = run_blocks(section)
    assert len(outputs) == len(pairs)
    for (code, shown), printed in zip(pairs, outputs):
        assert shown is not None, f"no output shown after:\n{code}"
        assert printed == shown, f"the block\n{code}\nprinted\n{printed}"


def test_to_json_is_the_commands_json_byte_for_byte():
    assert loyalty.simulate(CAR_WASH, CAR_WASH_CSV).to_json() == cli_json("simulate", CAR_WASH, CAR_WASH_CSV)
    scenario = REPO / "tests" / "_api_scenario.yaml"
    scenario.write_text("seed: 3\nbreakage: {points: 0.2}\n", encoding="utf-8")
    try:
        assert loyalty.simulate(COFFEE, COFFEE_CSV, assumptions=str(scenario)).to_json() == \
            cli_json("simulate", COFFEE, COFFEE_CSV, "--scenario", str(scenario))
        # a mapping of the same keys is the same scenario
        assert loyalty.simulate(COFFEE, COFFEE_CSV, assumptions={"seed": 3, "breakage": {"points": "0.2"}}
                                ).to_json().replace("<assumptions>", str(scenario)) == \
            cli_json("simulate", COFFEE, COFFEE_CSV, "--scenario", str(scenario))
    finally:
        scenario.unlink()
    assert loyalty.compare(CAR_WASH, CAR_WASH, CAR_WASH_CSV).to_json() == \
        cli_json("compare", CAR_WASH, CAR_WASH, CAR_WASH_CSV)


@pytest.mark.parametrize("make", [
    lambda df: df, lambda df: pl.from_pandas(df), lambda df: pa.Table.from_pandas(df, preserve_index=False),
])
def test_a_dataframe_or_arrow_table_is_a_history_like_the_file(make):
    frame = pd.read_csv(COFFEE_CSV, dtype=str, keep_default_na=False).replace({"": None})
    from_file = json.loads(loyalty.simulate(COFFEE, COFFEE_CSV).to_json())
    from_table = json.loads(loyalty.simulate(COFFEE, make(frame)).to_json())
    assert from_table["history"].pop("file").startswith("<history ")
    from_file["history"].pop("file")
    assert from_table == from_file


def test_money_is_decimal_in_pandas_and_decimal128_in_arrow_and_polars():
    sim = loyalty.simulate(COFFEE, COFFEE_CSV)
    assert isinstance(sim.total_cost, Decimal) and sim.total_cost == Decimal(json.loads(sim.to_json())
                                                                               ["headline"]["total_cost"])
    for name in sim.tables:
        frame = sim.to_pandas(name)
        assert not any(str(t).startswith("float") for t in frame.dtypes), name
        schema = sim.to_arrow(name).schema
        assert not any(pa.types.is_floating(f.type) for f in schema), name
        assert not any(t.is_float() for t in sim.to_polars(name).dtypes), name
    months = sim.to_pandas("by_month")
    assert all(isinstance(v, Decimal) for v in months["cost"])
    assert months["cost"].sum() == sim.realized_cost  # exact: the months add up to the headline
    assert sim.to_arrow("by_month").schema.field("cost").type == pa.decimal128(38, 2)
    assert sim.to_polars("by_member").schema["revenue"] == pl.Decimal(38, 2)
    assert sim.to_pandas("by_member")["revenue"].sum() == sim.revenue


def test_every_table_has_its_columns_even_without_rows():
    sim = loyalty.simulate(CAR_WASH, CAR_WASH_CSV)
    draws = sim.to_arrow("draws")
    assert draws.num_rows == 0 and draws.column_names == ["draw", "period", "entries", "entrants", "winners", "paid"]
    assert sim.to_pandas("draws").columns.tolist() == draws.column_names
    with pytest.raises(KeyError, match="the tables are: summary, by_rule"):
        sim.table("by_colour")


def test_errors_are_typed_and_located():
    frame = pd.read_csv(CAR_WASH_CSV, dtype=str)
    frame.loc[5, "time"] = "yesterday"
    with pytest.raises(loyalty.HistoryError) as err:
        loyalty.simulate(CAR_WASH, frame)
    assert (err.value.line, err.value.column) == (6, "time")
    with pytest.raises(loyalty.ScenarioError, match="unknown key 'breakge'"):
        loyalty.simulate(CAR_WASH, CAR_WASH_CSV, assumptions={"breakge": {"points": "0.1"}})
    with pytest.raises(loyalty.LoyaltyError):
        loyalty.simulate('program "x" {\n  currency NOK\n', CAR_WASH_CSV)
    with pytest.raises(loyalty.InputError, match="different currencies"):
        loyalty.compare(CAR_WASH, COFFEE, CAR_WASH_CSV)
    with pytest.raises(TypeError, match="history: expected a path"):
        loyalty.simulate(CAR_WASH, 42)
    mixed = pd.DataFrame({"member": ["a", "b"], "time": ["2025-01-01", "2025-01-02"], "amount": [1, "x"]})
    with pytest.raises(loyalty.HistoryError, match="cannot read the history table"):
        loyalty.simulate(CAR_WASH, mixed)


def test_strict_raises_coverage_error_with_every_warning():
    frame = pd.read_csv(CAR_WASH_CSV, dtype=str).replace({"item": {"basic wash": "Basic Wash"}})
    assert loyalty.simulate(CAR_WASH, frame).warnings
    with pytest.raises(loyalty.CoverageError) as err:
        loyalty.simulate(CAR_WASH, frame, strict=True)
    assert "did you mean 'basic wash'?" in err.value.warnings[0]
    with pytest.raises(loyalty.CoverageError) as err:
        loyalty.compare(CAR_WASH, CAR_WASH, frame, strict=True)
    assert [w.split(":")[0] for w in err.value.warnings] == ["old program", "new program"]


def test_a_loaded_program_and_program_text_are_programs_too():
    text = Path(CAR_WASH).read_text(encoding="utf-8")
    by_path = loyalty.simulate(CAR_WASH, CAR_WASH_CSV)
    assert loyalty.simulate(loyalty.load(CAR_WASH), CAR_WASH_CSV).total_cost == by_path.total_cost
    assert loyalty.simulate(text, CAR_WASH_CSV).report["program"]["file"] == "<string>"


def test_loyalty_simulate_stays_callable_once_the_simulator_is_imported():
    import loyalty.simulate.run  # noqa: F401  binds loyalty.simulate to the package

    assert loyalty.simulate(CAR_WASH, CAR_WASH_CSV).members == 20


def test_attributes_as_a_dataframe_are_the_attributes_file(tmp_path):
    (tmp_path / "cafe.loyalty").write_text(
        'program "Campus cafe" {\n  currency NOK\n  timezone "Europe/Oslo"\n  runs from 2025-01-01\n}\n'
        'segment "students"\nrule "student discount" {\n  get 10% off\n  for segment "students"\n}\n', encoding="utf-8")
    sales = pd.DataFrame({"member": ["M1", "M2"], "time": ["2025-01-02T10:00", "2025-01-03T10:00"],
                          "amount": ["100.00", "50.00"]})
    members = pd.DataFrame({"member": ["M1", "M2"], "segments": ["students", "staff"]})
    without = loyalty.simulate(tmp_path / "cafe.loyalty", sales)
    assert without.discounts == 0 and any("no member attributes given" in w for w in without.warnings)
    members.to_csv(tmp_path / "members.csv", index=False)
    by_file = loyalty.simulate(tmp_path / "cafe.loyalty", sales, attributes=tmp_path / "members.csv")
    by_table = loyalty.simulate(tmp_path / "cafe.loyalty", sales, attributes=members)
    assert by_table.discounts == by_file.discounts == Decimal("10.00") and not by_table.warnings
    # a segment the program does not use, and that is no near miss of one it does, is a note, not a warning
    assert [(f["severity"], f["name"]) for f in by_table.coverage["findings"]] == [("note", "staff")]
