"""The compiled-program loader checks the whole document: every field named when it does not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import loyalty
from loyalty.runtime.program import ProgramFormatError, program_identity

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "programs").glob("*.loyalty"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_program_loads_back_from_its_json(path):
    text = loyalty.load(str(path)).to_json()
    again = loyalty.load_compiled(text)
    assert again.to_json() == text
    assert again.identity == json.loads(text)["identity"]


def _doc() -> dict:
    return json.loads(loyalty.load(str(ROOT / "examples" / "programs" / "coffee_stars.loyalty")).to_json())


def _refusal(change) -> str:
    doc = _doc()
    change(doc)
    doc["identity"] = program_identity(doc)  # only the shape is wrong, not the identity
    with pytest.raises(ProgramFormatError) as err:
        loyalty.load_compiled(json.dumps(doc))
    return str(err.value)


def test_the_message_names_the_field_and_the_problem():
    assert "rules[0].hook: unknown field" in _refusal(lambda d: d["rules"][0].update(hook=1))
    assert "exponent: expected a whole number, found '2'" in _refusal(lambda d: d.update(exponent="2"))
    assert "exponent: expected a whole number, found True" in _refusal(lambda d: d.update(exponent=True))
    assert "rules[0].action.type: expected one of" in _refusal(lambda d: d["rules"][0]["action"].update(type="x"))
    assert "currency: missing field" in _refusal(lambda d: d.pop("currency"))
    assert "point_kinds[0].cost_minor: expected a decimal number as text" in _refusal(
        lambda d: d["point_kinds"][0].update(cost_minor="NaN"))


def test_a_stale_identity_is_refused_with_what_to_do():
    doc = _doc()
    doc["name"] = "Other"
    with pytest.raises(ProgramFormatError, match="identity.*does not match.*compile the program again"):
        loyalty.load_compiled(json.dumps(doc))
