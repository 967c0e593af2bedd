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


def _valid(report):
    Report.model_validate(report)
    jsonschema.validate(report, schema("report"))


def test_a_forecast_report_with_intervals_is_valid_and_its_sections_are_typed():
    pytest.importorskip("scipy")
    result = invoke("simulate", REPO / "examples/programs/coffee_stars.loyalty", REPO / "examples/histories/coffee_stars.csv",
                    "--forecast", "2", "months", "--forecast-runs", "2", "--intervals", "90", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["forecast"] and report["intervals"] and report["customers"]["cohorts"]
    _valid(report)
    printed = schema("report")
    month = report["forecast"]["by_month"][0]
    for broken in ({**month, "cost": {**month["cost"], "median": 6.6}},  # money as a float
                   {**month, "orders": {**month["orders"], "median": "26"}},  # a count as text
                   {**month, "surprise": 1}):  # a figure the model does not know
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**report, "forecast": {**report["forecast"], "by_month": [broken]}}, printed)
    totals = {k: v for k, v in report["forecast"]["total"].items() if k != "liability_at_end"}
    with pytest.raises(jsonschema.ValidationError):  # a missing figure
        jsonschema.validate({**report, "forecast": {**report["forecast"], "total": totals}}, printed)


def test_customer_measures_with_enrolment_are_valid_and_closed(tmp_path):
    (tmp_path / "p.loyalty").write_text((REPO / "examples/programs/coffee_stars.loyalty").read_text(encoding="utf-8"),
                                        encoding="utf-8")
    (tmp_path / "a.csv").write_text("member,signup_date\nM01,2025-03-01\nM02,2025-01-01\n", encoding="utf-8")
    result = invoke("simulate", tmp_path / "p.loyalty", REPO / "examples/histories/coffee_stars.csv",
                    "--attributes", tmp_path / "a.csv", "--format", "json")
    report = json.loads(result.stdout)
    enrolment = report["customers"]["enrolment"]
    # every member has a signup row; M01's signup_date (1 March) makes her earlier orders the rest's
    assert enrolment["enrolled"]["customers"] == 20 and enrolment["not_enrolled"]["customers"] == 1
    _valid(report)
    printed = schema("report")
    customers = report["customers"]
    for broken in ({**customers, "average_order_value": 5.84},  # money as a float
                   {**customers, "by_month": [{**customers["by_month"][0], "churn": "0.1"}]},  # an unknown key
                   {**customers, "cohorts": [{**customers["cohorts"][0], "retention": [1.0]}]},  # a share as a float
                   {**customers, "enrolment": {"enrolled": enrolment["enrolled"]}}):  # a missing segment
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**report, "customers": broken}, printed)
