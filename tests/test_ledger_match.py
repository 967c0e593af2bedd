"""A budget ledger must be the program's: one that lacks a budget (or holds another limit) is refused, never a
budget that grants without limit."""

from __future__ import annotations

import json

import pytest

import loyalty
from loyalty.runtime.facade import apply_general
from loyalty.runtime.ledger import LedgerMismatchError

PROGRAM = ('program "p" {\n  currency NOK\n}\npoints "points" {\n  cost 1 NOK each\n}\n'
           'reward "gift" is a gift "tote bag" costing 100 NOK\n'
           'rule "welcome" {\n  give "gift"\n  on signup\n  budget 100 NOK\n}\n')
SIGNUP = {"signup": {"id": "s1", "time": "2025-03-01T10:00"}}


@pytest.fixture(scope="module")
def program():
    return loyalty.compile_source(PROGRAM)


def _ledger(limits: dict, used: dict | None = None) -> loyalty.BudgetLedger:
    return loyalty.BudgetLedger.from_json(json.dumps({"limits": limits, "used": used or {}}))


@pytest.mark.parametrize("apply", ["fast", "general"])
@pytest.mark.parametrize("case", ["a ledger without the budget", "an empty ledger", "another limit",
                                  "another program's budget"])
def test_a_ledger_that_does_not_match_the_programs_budgets_is_refused(program, apply, case):
    ledger = {"a ledger without the budget": _ledger({"rule:other": 100}),
              "an empty ledger": _ledger({}),
              "another limit": _ledger({"rule:welcome": 100_000}),
              "another program's budget": _ledger({"rule:welcome": 10_000, "rule:other": 5})}[case]
    run = program.apply if apply == "fast" else (lambda s, e, led: apply_general(program, s, e, led))
    with pytest.raises(LedgerMismatchError, match="rule:welcome"):
        run(program.new_member("m1"), SIGNUP, ledger)


def test_the_programs_own_ledger_grants_up_to_the_budget(program):
    ledger = program.new_budget_ledger()
    _, first = program.apply(program.new_member("m1"), SIGNUP, ledger)
    _, second = program.apply(program.new_member("m2"), SIGNUP, ledger)
    assert [e.kind for e in first] == ["reward_issued"]
    assert "reward_issued" not in [e.kind for e in second]
    again = loyalty.BudgetLedger.from_json(ledger.to_json())
    _, third = program.apply(program.new_member("m3"), SIGNUP, again)
    assert "reward_issued" not in [e.kind for e in third]


def test_loading_a_ledger_for_the_program_checks_it(program):
    ledger = program.new_budget_ledger()
    assert program.budget_ledger_from_json(ledger.to_json()).limits == {"rule:welcome": 10_000}
    with pytest.raises(LedgerMismatchError, match="rule:welcome"):
        program.budget_ledger_from_json(json.dumps({"limits": {}, "used": {}}))


@pytest.mark.parametrize("text", ["", "[]", '{"limits": {}}', '{"limits": {"a": "x"}, "used": {}}',
                                  '{"limits": {"a": 5}, "used": {"a": -1}}', '{"limits": {"a": 5}, "used": {"b": 1}}',
                                  '{"limits": {"a": true}, "used": {}}'])
def test_a_malformed_ledger_is_refused_clearly(text):
    with pytest.raises(LedgerMismatchError, match="budget ledger"):
        loyalty.BudgetLedger.from_json(text)
