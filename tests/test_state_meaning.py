"""A saved state is checked against the program that loads it: a state that would crash `apply` later (a tier
that does not exist, a clock with a UTC offset, a negative count, a batch of no rule) is refused when loaded,
with `StateMismatchError` naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import loyalty

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = loyalty.load(ROOT / "examples" / "programs" / "coffee_stars.loyalty")
PUNCH = loyalty.load(ROOT / "examples" / "programs" / "car_wash.loyalty")


def _saved(program=PROGRAM) -> dict:
    state = program.new_member("m1", {"birthday": "1990-04-02"})
    ledger = program.new_budget_ledger()
    state, _ = program.apply(state, {"purchase": {"time": "2025-03-01T10:00", "order": "o1",
                                                  "lines": [{"item": "latte", "amount": "4.50"}]}}, ledger)
    return json.loads(state.to_json())


CHANGES = {
    "tier 99": (lambda d: d.update(tier=99), "tier"),
    "grace target 7": (lambda d: d.update(grace_target=7), "grace_target"),
    "a clock with a UTC offset": (lambda d: d.update(clock="2025-03-01T10:00:00+05:00"), "clock"),
    "an order time with a UTC offset": (lambda d: d["orders"]["o1"].update(time="2025-03-01T10:00:00Z"),
                                        "orders['o1'].time"),
    "a batch time with a UTC offset": (lambda d: d["kinds"][0]["batches"][0].update(earned_at="2025-03-01T10:00Z"),
                                       "kinds[0].batches[0].earned_at"),
    "negative visits": (lambda d: d.update(visits=-3), "visits"),
    "negative debt": (lambda d: d["kinds"][0].update(debt=-5), "kinds[0].debt"),
    "a batch of no points": (lambda d: d["kinds"][0]["batches"][0].update(amount=0), "kinds[0].batches[0].amount"),
    "a batch of a rule that does not exist": (lambda d: d["kinds"][0]["batches"][0].update(rule=10**6),
                                              "kinds[0].batches[0].rule"),
    "a punch count of a rule that does not exist": (lambda d: d["punches"].update({"99": 1}), "punches[99]"),
    "a birthday that is not a date": (lambda d: d["attributes"].update(birthday="02/04/1990"), "attributes.birthday"),
    "a metric moment with an offset": (lambda d: d["metrics"][0].append(["2025-03-01T10:00:00+01:00", 5]),
                                       "metrics[0]"),
}


@pytest.mark.parametrize("case", sorted(CHANGES))
def test_a_state_the_program_cannot_run_is_refused_naming_the_field(case):
    change, path = CHANGES[case]
    doc = _saved()
    change(doc)
    with pytest.raises(loyalty.StateMismatchError) as err:
        PROGRAM.state_from_json(json.dumps(doc))
    assert path in str(err.value), str(err.value)


def test_a_punch_count_on_a_rule_that_is_not_a_punch_card_is_refused():
    doc = _saved(PROGRAM)
    not_punch = next(r.index for r in PROGRAM.compiled.rules if r.action != "punch")
    doc["punches"][str(not_punch)] = 3
    with pytest.raises(loyalty.StateMismatchError, match=f"punches\\[{not_punch}\\]"):
        PROGRAM.state_from_json(json.dumps(doc))


@pytest.mark.parametrize("program", [PROGRAM, PUNCH], ids=["coffee", "car wash"])
def test_a_real_state_still_loads(program):
    doc = _saved(program)
    assert json.loads(program.state_from_json(json.dumps(doc)).to_json()) == doc
