"""Adjustments (runtime/mechanics/adjustments.py): an event, and a history row, that sets or adds to a member's
points, tier or punch count with a reason; reported apart from what the rules cost."""

from __future__ import annotations

import json

import pytest

import loyalty
from loyalty.runtime.internal import EventError

PROGRAM = """program "wash club" {
  currency NOK
}

points "points" {
  cost 0.01 NOK each
  expire 1 year after earning
}

catalog {
  category "wash"
  item "wash" in category "wash" costing 20 NOK
}

reward "mug" is a gift "mug"
redeem 1000 points for "mug"

rule "base" {
  earn 1 point per 10 NOK
}

rule "card" {
  every 6th "wash" is free
}

tiers by spend {
  tier "silver" from 1000 NOK
  tier "gold" from 5000 NOK
}
"""


@pytest.fixture(scope="module")
def program():
    return loyalty.compile_source(PROGRAM)


def adjustment(n: int, **fields) -> dict:
    return {"type": "adjustment", "time": f"2025-01-{n:02d}T09:00", "id": f"a{n}", "reason": "opening balance",
            **fields}


def wash(n: int, amount: str = "100") -> dict:
    return {"type": "purchase", "time": f"2025-01-{n:02d}T10:00", "order": f"o{n}",
            "lines": [{"item": "wash", "amount": amount}]}


def test_an_opening_balance_tier_and_card_carry_over_from_an_old_card(program):
    s = program.new_member("a")
    s, out = program.apply(s, adjustment(1, points=1200))
    assert [(e.kind, e.point_kind, e.points, e.reason, e.rule) for e in out] == [
        ("points_adjusted", "points", 1200, "opening balance", None)]
    s, out = program.apply(s, adjustment(2, tier="gold"))
    assert [(e.kind, e.tier_from, e.tier_to) for e in out] == [("tier_adjusted", None, "gold")]
    s, out = program.apply(s, adjustment(3, punches=5, rule="card", set=True))
    assert [(e.kind, e.rule, e.points) for e in out] == [("punches_adjusted", "card", 5)]
    # the 6th wash: the card's 6th unit is free; nothing paid, no points
    s, out = program.apply(s, wash(4))
    assert [(e.kind, e.amount) for e in out] == [("discount_applied", 10000)]
    assert s.summary() == {"member_id": "a", "balances": {"points": 1200}, "pending": {"points": 0}, "tier": "gold",
                           "punches": {"card": 0}, "rewards": {}}
    # adjusted points are not points earned, and expire as the kind's points do: a year after the adjustment
    assert s.totals() == {"earned": 0, "redeemed": 0, "expired": 0, "clawed_back": 0, "adjusted": 1200}
    s, out = program.apply(s, {"type": "tick", "time": "2026-01-01T09:00"})
    assert [(e.kind, e.points) for e in out] == [("points_expired", 1200)]
    assert json.loads(s.to_json())["kinds"][0]["adjusted"] == 1200


def test_setting_a_balance_adds_or_takes_the_difference_and_a_goodwill_credit_adds(program):
    s = program.new_member("b")
    s, _ = program.apply(s, wash(1, "500"))  # 50 points
    s, out = program.apply(s, adjustment(2, points=30, reason="goodwill"))
    assert [(e.kind, e.points, e.reason) for e in out] == [("points_adjusted", 30, "goodwill")]
    s, out = program.apply(s, adjustment(3, points=20, set=True, reason="correction"))
    assert [(e.kind, e.points) for e in out] == [("points_adjusted", -60)]
    assert s.balance() == 20
    s, out = program.apply(s, adjustment(4, points=20, set=True, reason="no change"))
    assert out == []
    # the state, saved and loaded, is the same
    assert program.state_from_json(s.to_json()) == s


@pytest.mark.parametrize("fields, field, words", [
    ({"points": 5, "tier": "gold"}, "", "exactly one of points, tier and punches"),
    ({}, "", "exactly one of points, tier and punches"),
    ({"tier": "platinum"}, "tier", "'platinum' is not a tier"),
    ({"points": 0}, "points", "add 1 point or more"),
    ({"points": -1, "set": True}, "points", "a balance is 0 or more"),
    ({"points": 5, "point_kind": "stars"}, "point_kind", "'stars' is not a point kind"),
    ({"punches": 6, "rule": "card", "set": True}, "punches", "0 to 5, not 6"),
    ({"punches": 2, "rule": "base"}, "rule", "'base' is not a punch-card rule"),
    ({"punches": 2}, "rule", "the punch-card rule"),
    ({"points": 5, "reason": ""}, "reason", "at least 1 character"),
])
def test_an_adjustment_the_program_cannot_apply_is_refused_naming_the_field(program, fields, field, words):
    s = program.new_member("c")
    with pytest.raises(EventError) as err:
        program.apply(s, adjustment(1, **fields))
    assert err.value.field == field and words in str(err.value)


HISTORY = """member,time,type,order,item,amount,adjust,reason
a,2025-01-01 09:00,adjustment,,,,points +1200,opening balance
a,2025-01-01 09:00,adjustment,,,,tier =gold,opening balance
a,2025-01-01 09:01,adjustment,,card,,punches =5,opening balance
a,2025-01-02 10:00,purchase,o1,wash,100,,
b,2025-01-02 10:00,purchase,o2,wash,500,,
b,2025-01-05 10:00,adjustment,,points,,points +250,goodwill
b,2025-01-06 10:00,adjustment,,,,tier =platinum,a typo
"""


def test_a_history_s_adjustment_rows_are_reported_apart_from_the_rules(tmp_path):
    (tmp_path / "p.loyalty").write_text(PROGRAM, encoding="utf-8")
    (tmp_path / "h.csv").write_text(HISTORY, encoding="utf-8")
    prog = loyalty.load(tmp_path / "p.loyalty")
    python = loyalty.simulate(prog, str(tmp_path / "h.csv"), kernel="python").report
    vector = loyalty.simulate(prog, str(tmp_path / "h.csv"), kernel="vector").report
    for r in (python, vector):
        r["assumptions"].pop("kernel", None)
        r["assumptions"].pop("kernel_why", None)
    assert python == vector
    # a: 1200 opening points (kept, no purchase earns: the free 6th wash); b: 50 earned + 250 goodwill
    assert python["adjustments"] == [
        {"reason": "goodwill", "point_kind": "points", "adjustments": 1, "members": 1, "points_added": 250,
         "points_removed": 0, "value": "2.50", "tiers_set": 0, "punch_cards_set": 0},
        {"reason": "opening balance", "point_kind": None, "adjustments": 2, "members": 1, "points_added": 0,
         "points_removed": 0, "value": "0.00", "tiers_set": 1, "punch_cards_set": 1},
        {"reason": "opening balance", "point_kind": "points", "adjustments": 1, "members": 1, "points_added": 1200,
         "points_removed": 0, "value": "12.00", "tiers_set": 0, "punch_cards_set": 0}]
    [points] = python["points"]
    # a redeems a mug with her opening points (the default scenario redeems as soon as a balance allows)
    assert (points["issued"], points["adjusted"], points["redeemed"], points["outstanding"]) == (50, 1450, 1000, 500)
    # the rules cost what they gave: the free wash (its catalog cost, 20.00) and the 50 points earned
    assert {r["rule"]: r["cost"] for r in python["by_rule"] if r["kind"] == "rule"} == {
        "redeem for mug": "0.00", "base": "0.00", "card": "20.00"}
    assert python["rejected_events"] == [{"reason": "adjustment rejected by the program: tier", "events": 1}]
    # outstanding points, adjusted ones too, are the liability at the end
    assert python["headline"]["liability_end"] == "5.00"


@pytest.mark.parametrize("row, message", [
    ("a,2025-01-01,adjustment,,,,points 500,x", 'column "adjust": expected + or = after points'),
    ("a,2025-01-01,adjustment,,,,stars +5,x", 'column "adjust": expected points, tier or punches'),
    ("a,2025-01-01,adjustment,,,,points +1.5,x", "column \"adjust\": '1.5' is not a whole number of points"),
    ("a,2025-01-01,adjustment,,,,tier +gold,x", 'column "adjust": a tier is set, not added'),
    ("a,2025-01-01,adjustment,,,,points +5,", 'column "reason": an adjustment row needs its reason'),
    ("a,2025-01-01,adjustment,,,,,x", 'column "adjust": an adjustment row needs what it adjusts'),
    ("a,2025-01-01,purchase,o1,wash,100,points +5,x", 'column "adjust": only adjustment rows have an adjust'),
    ("a,2025-01-01,purchase,o1,wash,100,,why", 'column "reason": only adjustment rows have a reason'),
])
def test_a_malformed_adjustment_row_stops_at_its_row_and_column(tmp_path, row, message):
    from click.testing import CliRunner

    from loyalty.cli import cli

    (tmp_path / "p.loyalty").write_text(PROGRAM, encoding="utf-8")
    (tmp_path / "h.csv").write_text("member,time,type,order,item,amount,adjust,reason\n"
                                    "z,2025-01-01,purchase,o0,wash,10,,\n" + row + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", str(tmp_path / "p.loyalty"), str(tmp_path / "h.csv")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"h.csv:3: {message}" in result.output, result.output
    skipped = CliRunner().invoke(cli, ["simulate", str(tmp_path / "p.loyalty"), str(tmp_path / "h.csv"),
                                       "--on-bad-row", "skip", "--format", "json"])
    assert skipped.exit_code == 0
    assert json.loads(skipped.stdout)["history"]["skipped_rows"] == 1
