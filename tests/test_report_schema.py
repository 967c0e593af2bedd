"""JSON Schemas: generated from the pydantic models that validate each format, printed by `loyalty schema`,
and checked against real outputs."""

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.schemas import Report, SCHEMAS

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (REPO / "examples/histories").glob("*.csv"))


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def schema(name):
    result = invoke("schema", name)
    assert result.exit_code == 0
    return json.loads(result.stdout)


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_report_is_valid_under_the_model_and_the_printed_schema(example):
    result = invoke("simulate", REPO / f"examples/programs/{example}.loyalty",
                    REPO / f"examples/histories/{example}.csv", "--format", "json")
    report = json.loads(result.stdout)
    Report.model_validate(report)
    jsonschema.validate(report, schema("report"))


def test_the_report_schema_refuses_what_is_not_a_report():
    report = json.loads(invoke("simulate", REPO / "examples/programs/coffee_stars.loyalty",
                               REPO / "examples/histories/coffee_stars.csv", "--format", "json").stdout)
    printed = schema("report")
    for broken in ({**report, "headline": {**report["headline"], "total_cost": 125.84}},  # money as a float
                   {**report, "surprise": 1},  # an unknown section
                   {k: v for k, v in report.items() if k != "coverage"}):  # a missing section
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, printed)


def test_the_scenario_and_test_file_schemas_accept_the_shipped_examples():
    import yaml

    printed = schema("scenarios")
    for path in sorted((REPO / "examples/programs").glob("*.test.yaml")):
        # as JSON sees the file: YAML's dates and times are text there
        document = json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))
        jsonschema.validate(document, printed)
    jsonschema.validate({"seed": 1, "redemption": {"policy": "share", "share": 0.6}, "breakage": {"points": 0.15}},
                        schema("assumptions"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"breakge": {}}, schema("assumptions"))


def test_each_name_prints_its_models_schema_and_an_unknown_name_is_a_usage_error():
    for name, make in SCHEMAS.items():
        assert schema(name) == make()
    result = invoke("schema", "reports")
    assert result.exit_code == 2
    assert "no schema named 'reports'" in result.stderr and "report, assumptions, scenarios" in result.stderr
