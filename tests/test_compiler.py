"""The compiler: names resolved, units converted and constants folded once; JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import loyalty
from loyalty.cli import cli
from loyalty.runtime.program import CompiledProgram, ProgramFormatError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "programs").glob("*.loyalty"))


def doc_of(text: str) -> dict:
    return json.loads(loyalty.load(text).to_json())


def test_money_is_minor_units_and_names_are_resolved():
    doc = doc_of('''program "p" {
  currency JPY
}
points "stars" {
  cost 0.5 JPY each
}
store "A" in region "north"
store "B" in region "south"
rule "r" {
  earn 2 star per 100 JPY
  in region "north"
}
''')
    assert doc["exponent"] == 0
    rule = doc["rules"][0]
    assert rule["action"] == {"type": "earn_per_spend", "point_kind": "stars", "points": "2", "per_minor": 100}
    assert rule["conditions"] == [{"kind": "stores", "names": ["A"]}]  # regions resolved to stores once
    assert doc["point_kinds"][0]["cost_minor"] == "0.5"


def test_campaign_conditions_and_budget_apply_to_its_rules():
    doc = doc_of('''program "p" {
  currency NOK
}
points "points"
campaign "summer" {
  from 2025-06-01 to 2025-08-31
  budget 5000 points
  rule "double" {
    earn 2 points per 10 NOK
  }
}
''')
    rule = doc["rules"][0]
    assert rule["campaign"] == "summer"
    assert {"kind": "dates", "from": "2025-06-01", "to": "2025-08-31"} in rule["conditions"]
    assert rule["budget"] == {"key": "campaign:summer", "unit": "points"}
    assert doc["budgets"] == {"campaign:summer": 5000}


def test_paid_then_free_compiles_to_a_cycle_of_paid_plus_free():
    doc = doc_of('program "p" {\n  currency NOK\n}\nrule "r" {\n  2 free "wash" after every 6 paid\n}\n')
    assert doc["rules"][0]["action"] == {"type": "punch", "cycle": 8, "free": 2, "percent": "100"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_compiles_and_round_trips(path):
    p = loyalty.load(path)
    again = CompiledProgram.from_json(p.to_json())
    assert again.to_json() == p.to_json() and again.identity == p.identity


def test_identity_ignores_the_file_name_but_not_the_meaning():
    text = 'program "p" {\n  currency NOK\n}\npoints "points"\nrule "r" {\n  earn 1 points per 10 NOK\n}\n'
    a = loyalty.compile_source(text, "a.loyalty")
    b = loyalty.compile_source(text, "b.loyalty")
    c = loyalty.compile_source(text.replace("10 NOK", "20 NOK"), "a.loyalty")
    assert a.identity == b.identity != c.identity


def test_bad_compiled_json_is_refused_clearly():
    with pytest.raises(ProgramFormatError):
        CompiledProgram.from_json("{}")
    with pytest.raises(ProgramFormatError):
        CompiledProgram.from_json("not json")
    with pytest.raises(ProgramFormatError):
        CompiledProgram.from_json('{"format": "loyalty-compiled/1"}')


def test_compile_command(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["compile", str(EXAMPLES[0]), "--json"])
    assert ok.exit_code == 0
    assert json.loads(ok.output)["format"] == "loyalty-compiled/1"
    bad = tmp_path / "bad.loyalty"
    bad.write_text('program "x" {\n  currency NOK\n}\nrule "a" {\n  earn 1 foo per 10 NOK\n}\n')
    res = runner.invoke(cli, ["compile", str(bad), "--json"])
    assert res.exit_code == 1 and "LOY103" in res.output
    assert runner.invoke(cli, ["compile", "--help"]).exit_code == 0
