"""Program parameters: `params { "name" = value }`, `param "name"` where a literal stands, `--set`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from loyalty.cli import cli
from loyalty.compiler import compile_document
from loyalty.frontend import check_text
from loyalty.syntax import ast
from loyalty.syntax.formatter import format_program
from loyalty.syntax.params import ParamError, parse_assignment, parse_value, substitute, with_values
from loyalty.syntax.parser import parse
from strategies import valid_programs

ROOT = Path(__file__).resolve().parents[1]
CAR_WASH = str(ROOT / "examples/programs/car_wash.loyalty")
CAR_WASH_CSV = str(ROOT / "examples/histories/car_wash.csv")

HEAD = 'program "Club" {\n  currency NOK\n}\npoints "points" {\n  cost 0.01 NOK each\n}\n'


def diagnostics(text: str) -> list[str]:
    """The diagnostics of a parameter test; LOY314 (the small programs here earn points nothing redeems) is not
    what they are about."""
    checked = check_text(text, "p.loyalty")
    return [f"{d.code} {d.span.line}:{d.span.column} {d.message} | {d.hint}" for d in checked.diagnostics
            if d.code != "LOY314"]


def test_a_parameter_compiles_exactly_as_the_literal_it_stands_for():
    literal = HEAD + 'rule "card" {\n  every 6th item is free\n}\ntiers by points earned {\n  tier "gold" from 5000 points\n}\n'
    with_params = (HEAD + 'params {\n  "punch every" = 6th\n  "gold from" = 5000 points\n}\n'
                   'rule "card" {\n  every param "punch every" item is free\n}\n'
                   'tiers by points earned {\n  tier "gold" from param "gold from"\n}\n')
    assert diagnostics(with_params) == []
    a, b = compile_document(parse(literal)), compile_document(parse(with_params))
    assert a["identity"] == b["identity"]
    assert b["rules"][0]["action"]["cycle"] == 6 and b["tiers"]["tiers"][0]["threshold"] == 5000
    other = compile_document(with_values(parse(with_params), {"punch every": parse_value("8th")}))
    assert other["identity"] != b["identity"] and other["rules"][0]["action"]["cycle"] == 8


def test_a_multiplier_parameter_after_earn_is_a_multiplier():
    text = HEAD + 'params {\n  "boost" = 1.5x\n}\nrule "base" {\n  earn 1 point per 10 NOK\n}\nrule "b" {\n  earn param "boost"\n}\n'
    literal = HEAD + 'rule "base" {\n  earn 1 point per 10 NOK\n}\nrule "b" {\n  earn 1.5x\n}\n'
    assert diagnostics(text) == []
    assert compile_document(parse(text))["identity"] == compile_document(parse(literal))["identity"]
    named_unit = text.replace('earn param "boost"\n', 'earn param "boost" points\n')
    assert format_program(parse(named_unit)).count('earn param "boost" points') == 1
    assert compile_document(parse(named_unit))["identity"] == compile_document(parse(literal.replace("1.5x", "1.5x points")))["identity"]


def test_a_value_of_the_wrong_kind_for_its_place_is_an_error_at_the_reference():
    text = HEAD + 'params {\n  "gold from" = 5000 points\n}\nrule "card" {\n  every param "gold from" item is free\n}\n'
    (only,) = diagnostics(text)
    assert only.startswith('LOY201 11:9 parameter "gold from" is a points amount (5000 points), but an ordinal is expected')
    assert "declared on line 8" in only


def test_units_are_checked_where_the_value_stands_and_the_hint_names_the_parameter():
    text = HEAD + 'params {\n  "price" = 49 USD\n}\nrule "r" {\n  earn 1 point per param "price"\n}\n'
    (only,) = diagnostics(text)
    assert only.startswith("LOY202 11:20 49 USD is not in the program's currency, NOK")
    assert 'the value is parameter "price" = 49 USD (line 8)' in only
    tiers = HEAD + 'params {\n  "gold from" = 500 NOK\n}\ntiers by points earned {\n  tier "gold" from param "gold from"\n}\n'
    assert [d.split(" ")[0] for d in diagnostics(tiers)] == ["LOY305"]


def test_unknown_unused_and_twice_declared_parameters():
    text = HEAD + 'params {\n  "punch every" = 6th\n  "spare" = 3\n  "spare" = 4\n}\nrule "card" {\n  every param "punch evry" item is free\n}\n'
    found = diagnostics(text)
    assert any(d.startswith('LOY101 13:9 unknown parameter "punch evry" | did you mean "punch every"?') for d in found)
    assert any(d.startswith('LOY102 10:3 parameter "spare" is declared twice') for d in found)
    assert any(d.startswith('LOY318 8:3 parameter "punch every" is never used') for d in found)
    warning_only = HEAD + 'params {\n  "spare" = 3\n}\n'
    checked = check_text(warning_only)
    assert checked.ok and [d.code for d in checked.diagnostics] == ["LOY318"]


def test_values_from_outside_are_read_as_the_program_reads_literals():
    assert parse_value("3000 points") == ast.PointsAmount(__import__("decimal").Decimal(3000), "points")
    assert isinstance(parse_value(" 8th "), ast.Ordinal) and parse_value("8th").value == 8
    assert isinstance(parse_value("12.5%"), ast.Percent) and isinstance(parse_value("6 months"), ast.Duration)
    assert isinstance(parse_value("1.5x"), ast.Multiplier) and isinstance(parse_value("49.50 NOK"), ast.Money)
    assert parse_assignment("gold from = 3000 points")[0] == "gold from"
    for bad in ("", "eight", '5 } rule "x" { give "y" }', "5 points \"x\" = 6", "5 # comment", "3000\npoints"):
        with pytest.raises(ParamError):
            parse_value(bad)
    with pytest.raises(ParamError):
        parse_assignment("no equals sign")


def test_setting_a_value_checks_the_name_and_the_unit():
    program = parse(HEAD + 'params {\n  "gold from" = 5000 points\n  "price" = 49 NOK\n}\n')
    assert with_values(program, {"gold from": parse_value("1 point")})  # the singular names the same kind
    for name, value, words in (("gold", "3000 points", 'did you mean "gold from"?'),
                               ("gold from", "3000 NOK", "give a value like 5000 points"),
                               ("price", "49 USD", "give a value like 49 NOK"),
                               ("gold from", "3000 stars", "give a value like 5000 points")):
        with pytest.raises(ParamError) as err:
            with_values(program, {name: parse_value(value)})
        assert err.value.hint == words


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(valid_programs())
def test_writing_each_parameter_value_in_its_place_compiles_to_the_same_program(program):
    resolved = substitute(program).program
    assert resolved is not None
    inlined = parse(format_program(resolved))
    assert not any(isinstance(n, (ast.ParamRef, ast.ParamsDecl)) for n in inlined.walk())
    assert compile_document(parse(format_program(program)))["identity"] == compile_document(inlined)["identity"]


# ------------------------------------------------------------------ the command line


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_simulate_with_set_equals_simulating_the_edited_program(tmp_path):
    edited = tmp_path / "car_wash.loyalty"
    edited.write_text(Path(CAR_WASH).read_text(encoding="utf-8").replace('"punch every" = 6th', '"punch every" = 8th'),
                      encoding="utf-8")
    by_set = json.loads(invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--set", "punch every=8th", "--format", "json").stdout)
    by_edit = json.loads(invoke("simulate", str(edited), CAR_WASH_CSV, "--format", "json").stdout)
    default = json.loads(invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--format", "json").stdout)
    for report in (by_set, by_edit, default):
        report["program"].pop("file")
    assert by_set == by_edit != default


@pytest.mark.parametrize("setting, words", [
    ("punch evry=8th", 'the program has no parameter "punch evry"'),
    ("punch every=8 NOK", 'parameter "punch every" is an ordinal (6th), so 8 NOK cannot be its value'),
    ("punch every=eight", "'eight' is not a value"),
    ("punch every", "is not NAME=VALUE"),
])
def test_a_bad_set_is_exit_1_with_a_clear_message(setting, words):
    for command in (("simulate", CAR_WASH, CAR_WASH_CSV), ("compile", CAR_WASH)):
        r = CliRunner().invoke(cli, [*command, "--set", setting])
        assert r.exit_code == 1 and words in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_set_value_the_program_refuses_is_a_located_diagnostic():
    r = CliRunner().invoke(cli, ["simulate", CAR_WASH, CAR_WASH_CSV, "--set", "punch every=0th"])
    assert r.exit_code == 1 and "car_wash.loyalty:27:9: error[LOY204]" in r.stderr
    assert 'the value is parameter "punch every" = 0th' in r.stderr


def test_compile_with_set_changes_the_compiled_program_and_its_identity():
    default = json.loads(invoke("compile", CAR_WASH).stdout)
    seventh = json.loads(invoke("compile", CAR_WASH, "--set", "punch every=7th").stdout)
    assert default["rules"][0]["action"]["cycle"] == 6 and seventh["rules"][0]["action"]["cycle"] == 7
    assert default["identity"] != seventh["identity"]


def test_explain_with_set_replays_the_member_under_the_set_value():
    default = invoke("explain", CAR_WASH, CAR_WASH_CSV, "--member", "M05").stdout
    every_2nd = invoke("explain", CAR_WASH, CAR_WASH_CSV, "--member", "M05", "--set", "punch every=2nd").stdout
    assert every_2nd.count(" off order ") > default.count(" off order ") > 0


def test_generate_prices_items_whose_cost_is_a_parameter(tmp_path):
    program = tmp_path / "p.loyalty"
    program.write_text('params {\n  "cost" = 35 NOK\n}\nprogram "x" {\n  currency NOK\n}\n'
                       'catalog {\n  item "wash" in category "w" costing param "cost"\n}\nrule "r" {\n  get 5% off\n}\n',
                       encoding="utf-8")
    r = invoke("generate", "--rows", "50", "--program", str(program))
    assert r.exit_code == 0 and "wash" in r.stdout
