"""`loyalty sweep`: every combination of parameter values, each run as `simulate --set` runs it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.simulate.errors import InputError
from loyalty.simulate.sweep import combinations, parse_grid

ROOT = Path(__file__).resolve().parents[1]
CAR_WASH = str(ROOT / "examples/programs/car_wash.loyalty")
CAR_WASH_CSV = str(ROOT / "examples/histories/car_wash.csv")
COFFEE = str(ROOT / "examples/programs/coffee_stars.loyalty")
COFFEE_CSV = str(ROOT / "examples/histories/coffee_stars.csv")


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _two_parameter_coffee(tmp_path) -> str:
    """The coffee program with its star rate as a second parameter."""
    text = Path(COFFEE).read_text(encoding="utf-8")
    assert "earn 1 star per 1 USD" in text
    text = text.replace("earn 1 star per 1 USD", 'earn param "rate" per 1 USD', 1)
    text = text.replace('  "gold from" = 500 stars\n', '  "gold from" = 500 stars\n  "rate" = 1 star\n')
    path = tmp_path / "coffee.loyalty"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _json(text: str) -> str:
    return json.dumps(json.loads(text), indent=2, sort_keys=True)


def test_each_run_of_a_sweep_equals_simulate_with_set_byte_for_byte(tmp_path):
    program = _two_parameter_coffee(tmp_path)
    out = invoke("sweep", program, COFFEE_CSV, "--grid", "gold from=300 stars,500 stars",
                 "--grid", "rate=1 star..2 stars by 1 star", "--format", "json", "--jobs", "1", "--intervals", "90")
    doc = json.loads(out.stdout)
    assert doc["parameters"] == ["gold from", "rate"]
    assert [r["parameters"] for r in doc["runs"]] == [
        {"gold from": "300 stars", "rate": "1 star"}, {"gold from": "300 stars", "rate": "2 stars"},
        {"gold from": "500 stars", "rate": "1 star"}, {"gold from": "500 stars", "rate": "2 stars"}]
    for run in doc["runs"]:
        sets = [a for k, v in run["parameters"].items() for a in ("--set", f"{k}={v}")]
        alone = json.loads(invoke("simulate", program, COFFEE_CSV, *sets, "--format", "json", "--intervals", "90").stdout)
        for section in ("headline", "by_reward", "by_tier", "intervals"):
            assert json.dumps(run[section], indent=2, sort_keys=True) == json.dumps(alone[section], indent=2, sort_keys=True)
    costs = {tuple(r["parameters"].values()): r["headline"]["total_cost"] for r in doc["runs"]}
    assert len(set(costs.values())) == 4  # every parameter moves the cost


def test_workers_give_the_same_document_as_one_process(monkeypatch):
    import loyalty.simulate.sweep as sweep

    monkeypatch.setattr(sweep, "POOL_MIN_RUN_SECONDS", 0.0)  # these runs are short: use workers all the same
    args = ("sweep", CAR_WASH, CAR_WASH_CSV, "--grid", "punch every=4th..9th", "--format", "json")
    one, two = invoke(*args, "--jobs", "1").stdout, invoke(*args, "--jobs", "2").stdout
    assert one == two
    assert [r["parameters"]["punch every"] for r in json.loads(one)["runs"]] == ["4th", "5th", "6th", "7th", "8th", "9th"]


def test_tables_and_chart(tmp_path):
    csv_path, parquet_path, svg_path = tmp_path / "s.csv", tmp_path / "s.parquet", tmp_path / "c.svg"
    args = ("sweep", COFFEE, COFFEE_CSV, "--grid", "gold from=100 stars,500 stars", "--jobs", "1")
    text = invoke(*args, "--out", str(csv_path), "--chart", str(svg_path)).stdout
    assert "reaching tier gold" in text and "100 stars" in text
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    doc = json.loads(invoke(*args, "--format", "json").stdout)
    assert [r["param:gold from"] for r in rows] == ["100 stars", "500 stars"]
    assert [r["total_cost"] for r in rows] == [run["headline"]["total_cost"] for run in doc["runs"]]
    assert int(rows[0]["tier:gold"]) > int(rows[1]["tier:gold"])
    invoke(*args, "--out", str(parquet_path))
    import pyarrow.parquet as pq
    from decimal import Decimal

    table = pq.read_table(parquet_path).to_pydict()
    assert table["total_cost"] == [Decimal(r["total_cost"]) for r in rows]
    import xml.etree.ElementTree as ET

    svg = ET.parse(svg_path).getroot()
    assert svg.tag.endswith("svg") and "gold from" in svg_path.read_text(encoding="utf-8")


def test_grids_are_read_as_literals():
    assert [v.value for v in parse_grid("punch every=4th..6th").values] == [4, 5, 6]
    assert [str(v.amount) for v in parse_grid("gold from=3000 points, 5000 points").values] == ["3000", "5000"]
    assert [str(v.amount) for v in parse_grid("price=10 NOK..11 NOK by 0.5 NOK").values] == ["10", "10.5", "11.0"]
    assert len(combinations([parse_grid("a=1..4"), parse_grid("b=1st,2nd")])) == 8
    for bad in ("punch every", "punch every=6th..4th", "gold from=3000 points..5000 points", "x=4th..6",
                "x=1..2000", "x=eight"):
        with pytest.raises(InputError):
            parse_grid(bad)
    with pytest.raises(InputError):
        combinations([parse_grid("a=1..40"), parse_grid("b=1..40")])


@pytest.mark.parametrize("grid, words", [
    ("punch evry=4th,5th", 'the program has no parameter "punch evry"'),
    ("punch every=4 NOK,5 NOK", 'parameter "punch every" is an ordinal (6th), so 4 NOK cannot be its value'),
    ("punch every=0th,1st", "the program does not hold with punch every=0th"),
])
def test_a_bad_grid_is_exit_1_before_any_run(grid, words):
    r = CliRunner().invoke(cli, ["sweep", CAR_WASH, CAR_WASH_CSV, "--grid", grid])
    assert r.exit_code == 1 and words in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_set_fixes_the_other_parameters_and_may_not_also_be_swept(tmp_path):
    program = _two_parameter_coffee(tmp_path)
    swept = json.loads(invoke("sweep", program, COFFEE_CSV, "--grid", "gold from=300 stars,500 stars",
                              "--set", "rate=2 stars", "--format", "json", "--jobs", "1").stdout)
    alone = json.loads(invoke("simulate", program, COFFEE_CSV, "--set", "rate=2 stars", "--set", "gold from=500 stars",
                              "--format", "json").stdout)
    assert swept["runs"][1]["headline"] == alone["headline"]
    r = CliRunner().invoke(cli, ["sweep", program, COFFEE_CSV, "--grid", "rate=1 star,2 stars", "--set", "rate=2 stars"])
    assert r.exit_code == 2 and 'parameter "rate" is both --set and --grid' in r.stderr
