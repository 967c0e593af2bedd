"""A compiled document edited by hand, with its identity recomputed, is refused for what it means, not only for
its shape: a `ProgramFormatError` naming the field, never a raw exception (ZeroDivisionError, RecursionError) or
a program that gives 300 NOK off a 60 NOK order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loyalty
from loyalty.runtime.program import ProgramFormatError, program_identity

ROOT = Path(__file__).resolve().parent.parent
CAR_WASH = ROOT / "examples" / "programs" / "car_wash.loyalty"
MEANING = ('program "p" {\n  currency NOK\n}\npoints "points" {\n  cost 0.01 NOK each\n}\n'
           'catalog {\n  category "washes"\n  item "wash" in category "washes"\n}\n'
           'reward "free wash" is a free "wash"\nredeem 100 points for "free wash"\n'
           'tiers by points earned in the calendar year {\n  tier "silver" from 100 points {\n    earn 2x points\n  }\n'
           '  tier "gold" from 500 points {\n    get 5% off\n  }\n}\n'
           'rule "punch" {\n  every 6th item in category "washes" is free\n}\n'
           'rule "earn" {\n  earn 1 point per 10 NOK\n  budget 1000 points\n}\n'
           'rule "more" {\n  earn 2x points\n  for tier "gold"\n  when order total >= 100 NOK and not first purchase\n}\n'
           'rule "off" {\n  get 10% off\n}\n')


def _doc() -> dict:
    return json.loads(loyalty.compile_source(MEANING).to_json())


def _rule(doc: dict, name: str) -> dict:
    return next(r for r in doc["rules"] if r["name"] == name)


def _refusal(change) -> str:
    doc = _doc()
    change(doc)
    doc["identity"] = program_identity(doc)  # a consistent document: only its meaning is wrong
    with pytest.raises(ProgramFormatError) as err:
        loyalty.load_compiled(json.dumps(doc))
    return str(err.value)


def _nest(depth: int) -> dict:
    e = {"op": "first_purchase"}
    for _ in range(depth):
        e = {"op": "not", "arg": e}
    return e


TAMPERED = {
    "punch cycle 0": (lambda d: _rule(d, "punch")["action"].update(cycle=0), "rules[0].action.cycle"),
    "punch free past the cycle": (lambda d: _rule(d, "punch")["action"].update(free=7), "rules[0].action.free"),
    "500 percent off": (lambda d: _rule(d, "off")["action"].update(percent="500"), "rules[3].action.percent"),
    "negative percent": (lambda d: _rule(d, "off")["action"].update(percent="-5"), "rules[3].action.percent"),
    "a tier discount of 150 percent": (lambda d: d["tiers"]["tiers"][1].update(discount_percent="150"),
                                       "tiers.tiers[1].discount_percent"),
    "per 0 NOK": (lambda d: _rule(d, "earn")["action"].update(per_minor=0), "rules[1].action.per_minor"),
    "a rate of 1E+999999": (lambda d: _rule(d, "earn")["action"].update(points="1E+999999"),
                            "rules[1].action.points"),
    "conditions nested 100 deep": (lambda d: _rule(d, "more")["conditions"].append({"kind": "expr", "expr": _nest(100)}),
                                   "rules[2].conditions"),
    "an unknown point kind": (lambda d: _rule(d, "earn")["action"].update(point_kind="miles"),
                              "rules[1].action.point_kind"),
    "a multiplier of an unknown kind": (lambda d: d["tiers"]["tiers"][0]["multipliers"][0].update(point_kind="miles"),
                                        "tiers.tiers[0].multipliers[0].point_kind"),
    "redeeming an unknown reward": (lambda d: d["redeem"][0].update(reward="car"), "redeem[0].reward"),
    "a condition on an unknown tier": (lambda d: _rule(d, "more")["conditions"][0].update(names=["platinum"]),
                                       "rules[2].conditions[0].names[0]"),
    "tier thresholds not increasing": (lambda d: d["tiers"]["tiers"][1].update(threshold=100),
                                       "tiers.tiers[1].threshold"),
    "a tier metric that does not exist": (lambda d: d["tiers"].update(metric=7), "tiers.metric"),
    "a budget that does not exist": (lambda d: d["budgets"].clear(), "rules[1].budget.key"),
    "a weekday 9": (lambda d: _rule(d, "off")["conditions"].append({"kind": "weekdays", "days": [9]}),
                    "rules[3].conditions[0].days[0]"),
    "an hour 25": (lambda d: _rule(d, "off")["conditions"].append({"kind": "hours", "from": [25, 0], "to": [1, 0]}),
                   "rules[3].conditions[0].from[0]"),
    "a duplicate rule name": (lambda d: _rule(d, "off").update(name="earn"), "rules[3].name"),
    "a rounding mode that does not exist": (lambda d: d["point_kinds"][0].update(rounding="sideways"),
                                            "point_kinds[0].rounding"),
    "exponent 40": (lambda d: d.update(exponent=40), "exponent"),
    "a machine time zone": (lambda d: d.update(timezone="localtime"), "timezone"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_a_tampered_document_is_refused_naming_the_field(case):
    change, path = TAMPERED[case]
    message = _refusal(change)
    assert message.startswith("malformed compiled program: ") and path in message, message


@pytest.mark.parametrize("depth", [500, 5000, 100_000])
def test_conditions_nested_past_what_python_can_walk_are_refused(depth):
    doc = _doc()
    _rule(doc, "more")["conditions"].append({"kind": "expr", "expr": "HERE"})
    doc["identity"] = program_identity(doc)  # of the shallow document: the depth is refused before the identity
    text = json.dumps(doc).replace('"HERE"', '{"op": "not", "arg": ' * depth + '{"op": "first_purchase"}' + "}" * depth)
    with pytest.raises(ProgramFormatError, match="nested"):
        loyalty.load_compiled(text)


def test_every_example_program_passes_the_meaning_check():
    for path in sorted((ROOT / "examples" / "programs").glob("*.loyalty")):
        loyalty.load_compiled(loyalty.load(path).to_json())


def test_json_too_deep_to_read_is_a_format_error():
    with pytest.raises(ProgramFormatError):
        loyalty.load_compiled("[" * 200_000 + "]" * 200_000)


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path, value


ODD = [0, -1, 1, 7, 10**30, -(10**30), "0", "-1", "1E+999999", "1E-999999", "500", "", "localtime", None]


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_any_changed_value_is_refused_clearly_or_runs(data):
    """Change one value anywhere (identity recomputed): load_compiled refuses it with ProgramFormatError, or the
    program loads and applies a purchase, a visit and a tick without a raw exception."""
    base = json.loads(loyalty.load(CAR_WASH).to_json()) if data.draw(st.booleans()) else _doc()
    leaves = [p for p, _ in _leaves(base) if p[0] not in ("identity", "format")]
    path = data.draw(st.sampled_from(leaves))
    target = base
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(st.sampled_from(ODD))
    base["identity"] = program_identity(base)
    try:
        program = loyalty.load_compiled(json.dumps(base))
    except ProgramFormatError:
        return
    ledger = program.new_budget_ledger()
    state = program.new_member("m1")
    for event in ({"purchase": {"time": "2025-03-01T10:00", "order": "o1",
                                "lines": [{"item": "basic wash", "amount": "60"}, {"item": "wash", "amount": "60"}]}},
                  {"visit": {"id": "v1", "time": "2025-03-02T10:00"}}, {"tick": {"time": "2026-03-02T10:00"}}):
        state, effects = program.apply(state, event, ledger)
        for e in effects:
            if e.kind == "discount_applied":
                assert 0 <= e.amount <= 12000
    program.state_from_json(state.to_json())
