"""One pydantic model per YAML file format (loyalty/schemas.py), and the JSON Schema of each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loyalty.schemas import Assumptions, ScenarioTestFile, assumptions_schema, test_file_schema
from loyalty.yamlio import read_yaml, validate

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "programs"


def test_the_schemas_are_json_and_closed():
    for schema in (assumptions_schema(), test_file_schema()):
        json.dumps(schema)  # plain JSON
        closed = [d for d in [schema, *schema.get("$defs", {}).values()] if d.get("type") == "object"
                  and "properties" in d]
        assert closed, schema
        # every model is closed except an event's own fields, which the program checks when the scenario runs
        assert all(d.get("additionalProperties") is False for d in closed if d["title"] not in
                   ("ScenarioEvent", "MemberAttributes")), [d["title"] for d in closed]
    props = assumptions_schema()["properties"]
    assert set(props) == set(Assumptions.model_fields)
    assert "cost_per_point" in props and props["seed"]["default"] == 0


def test_the_test_file_schema_takes_a_list_or_a_mapping_of_scenarios():
    schema = test_file_schema()
    shapes = schema.get("oneOf") or schema.get("anyOf")
    assert shapes and len(shapes) == 2, schema


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.test.yaml")), ids=lambda p: p.name)
def test_every_example_scenario_file_fits_its_model(path):
    assert validate(read_yaml(path), ScenarioTestFile).scenarios
