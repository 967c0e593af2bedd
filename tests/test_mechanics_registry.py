"""Every compiled action has exactly one mechanic, the generated programs exercise every one, and a plan
refuses (when the program is loaded) what no mechanic runs: nothing is ever a silent no-op
(runtime/mechanics/registry.py, runtime/plan.py)."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings

import loyalty
from loyalty.runtime.mechanics import MODIFIER, PURCHASE_PHASES, RULE_MECHANICS, PlanError
from loyalty.runtime.plan import Plan
from loyalty.runtime.program import CompiledProgram, ProgramFormatError
from loyalty.runtime.schema import ACTION
from loyalty.syntax.formatter import format_program
from strategies import valid_programs

# the action types a compiled program may hold: the registered mechanics' (runtime/schema.py takes its action
# formats from them); "none" only stands in a program compiled with errors
COMPILED_ACTIONS = sorted(RULE_MECHANICS)

PROGRAM = """
program "Registry" {
  currency NOK
  timezone "Europe/Oslo"
}
catalog {
  item "coffee" in category "drinks" costing 10 NOK
}
points "stars" {
  cost 0.10 NOK each
}
reward "50 off" is 50 NOK off the next order
redeem 100 stars for "50 off"
rule "stars" {
  earn 1 stars per 10 NOK
}
"""


def test_every_mechanic_brings_its_compiled_format():
    compiled = loyalty.compile_source(PROGRAM, "registry.loyalty").compiled
    loyalty.load_compiled(compiled.to_json())  # the shape check fills ACTION from the registry
    assert sorted(a for a in ACTION.cases if a != "none") == COMPILED_ACTIONS
    for action, mechanic in RULE_MECHANICS.items():
        assert action in mechanic.actions and mechanic.name
        assert ACTION.cases[action].required == {"type": "str", **{k: v for k, v in mechanic.action_fields.items()
                                                                   if not k.endswith("?")}}


def test_a_document_whose_action_fields_do_not_fit_the_mechanic_is_refused():
    doc = copy.deepcopy(loyalty.compile_source(PROGRAM, "registry.loyalty").compiled.doc)
    doc["rules"][0]["action"] = {"type": "discount_each", "amount_minor": 0}
    with pytest.raises(ProgramFormatError, match=r"rules\[0\]\.action\.amount_minor"):
        loyalty.load_compiled(json.dumps(_with_identity(doc)))
    doc["rules"][0]["action"] = {"type": "discount_each"}
    with pytest.raises(ProgramFormatError, match="amount_minor"):
        loyalty.load_compiled(json.dumps(_with_identity(doc)))


def test_every_mechanic_says_which_purchase_phase_runs_it():
    program = loyalty.compile_source(PROGRAM, "registry.loyalty").compiled
    rule = program.rules[0]
    for mechanic in RULE_MECHANICS.values():
        assert mechanic.purchase_phase(rule) in PURCHASE_PHASES + (MODIFIER, None)


def _with_identity(doc: dict) -> dict:
    from loyalty.runtime.program import program_identity

    doc["identity"] = program_identity(doc)
    return doc


def _with_action(action: dict, trigger=None) -> CompiledProgram:
    doc = copy.deepcopy(loyalty.compile_source(PROGRAM, "registry.loyalty").compiled.doc)
    doc["rules"][0]["action"] = action
    if trigger is not None:
        doc["rules"][0]["trigger"] = trigger
    return CompiledProgram(doc)


def test_an_action_no_mechanic_runs_is_refused_when_the_plan_is_built():
    program = _with_action({"type": "none"})
    for specialise in (True, False):
        with pytest.raises(PlanError, match=r"rule 'stars' has action 'none', which no mechanic runs"):
            Plan(program, specialise)
    assert issubclass(PlanError, ProgramFormatError)  # loading such a program says the document is bad


def test_a_trigger_the_mechanic_cannot_fire_on_is_refused():
    program = _with_action({"type": "discount", "percent": "10"}, trigger={"type": "signup"})
    with pytest.raises(PlanError, match="the discount mechanic cannot fire on signup"):
        Plan(program)


def test_a_compiled_document_with_an_unknown_action_does_not_load():
    doc = copy.deepcopy(loyalty.compile_source(PROGRAM, "registry.loyalty").compiled.doc)
    doc["rules"][0]["action"] = {"type": "none"}
    with pytest.raises(ProgramFormatError):
        loyalty.Program(CompiledProgram(doc))


SEEN: set = set()


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=valid_programs())
def _collect_actions(program):
    compiled = loyalty.compile_source(format_program(program), "generated.loyalty").compiled
    SEEN.update(r.action for r in compiled.rules)
    Plan(compiled)  # every generated program plans, on both paths
    Plan(compiled, specialise=False)


def test_generated_programs_exercise_every_mechanic():
    SEEN.clear()
    _collect_actions()
    assert sorted(SEEN) == COMPILED_ACTIONS
