"""Multipliers: each source's extra points are their own effect, limited by that source's caps and budget
(docs/semantics.md, "Multipliers"). Expected numbers are worked out by hand in the comments."""

from __future__ import annotations

from evaluator_helpers import buy, prog

CATALOG = '''catalog {
  category "washes"
  category "food"
  item "wash" in category "washes"
  item "bun" in category "food"
}
'''


def earned(effects):
    return [(e.rule, e.points) for e in effects if e.kind == "points_earned"]


def test_stages_rounded_like_the_kind_and_the_total_unchanged():
    p = prog('points "points"\n' + CATALOG + '''rule "earn" { earn 1 points per 3 NOK }
rule "double" { earn 2x points }
tiers by lifetime spend {
  tier "gold" from 0 NOK { earn 1.5x points }
}''')
    _, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    # 100 / 3 = 33.33 -> 33; gold first: 50 -> +17; then the double: 100 -> +50; 100 = round(33.33 x 3)
    assert earned(eff) == [("earn", 33), ("gold", 17), ("double", 50)]


def test_multiplier_cap_counts_the_extra_points():
    p = prog('points "points"\n' + CATALOG + '''rule "earn" { earn 1 points per 10 NOK }
rule "triple" {
  earn 3x points
  at most 30 points per member per month
}''')
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "200")))
    # base 20; the triple adds 40, 30 fit: 10 over the cap
    assert earned(eff) == [("earn", 20), ("triple", 30)]
    assert [(e.rule, e.truncated) for e in eff if e.kind == "cap_reached"] == [("triple", 10)]
    s, eff = p.apply(s, buy("o2", "2025-03-02T10:00", ("wash", 1, "100")))
    # the cap is used up this month: the base rule still gives its 10
    assert earned(eff) == [("earn", 10)]
    assert [e.truncated for e in eff if e.kind == "cap_reached"] == [20]
    assert s.balance() == 60


def test_money_budget_on_a_multiplier_claims_the_extra_points_at_their_cost():
    p = prog('points "points" { cost 0.10 NOK each }\n' + CATALOG + '''rule "earn" { earn 1 points per 10 NOK }
rule "double" {
  earn 2x points
  budget 5 NOK
}''')
    ledger = p.new_budget_ledger()
    a, eff = p.apply(p.new_member("a"), buy("o1", "2025-03-01T10:00", ("wash", 1, "300")), ledger)
    # base 30; the double adds 30 points = 3.00 NOK of the 5 NOK budget
    assert earned(eff) == [("earn", 30), ("double", 30)]
    b, eff = p.apply(p.new_member("b"), buy("o1", "2025-03-01T11:00", ("wash", 1, "300")), ledger)
    # 2.00 NOK left = 20 points of the 30
    assert earned(eff) == [("earn", 30), ("double", 20)]
    assert [(e.rule, e.scope, e.truncated) for e in eff if e.kind == "budget_reached"] == [
        ("double", "rule:double", 10)]
    assert ledger.used == {"rule:double": 500}


def test_the_earning_rules_own_cap_counts_its_base_points_only():
    p = prog('points "points"\n' + CATALOG + '''rule "earn" {
  earn 1 points per 10 NOK
  at most 10 points per member per month
}
tiers by lifetime spend {
  tier "gold" from 0 NOK { earn 2x points }
}''')
    _, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "200")))
    # base 20 -> 10 fit the rule's cap; gold's extra (stage 40 - 20 = 20) is gold's, not limited by it
    assert earned(eff) == [("earn", 10), ("gold", 20)]


def test_a_return_takes_each_sources_points_back_by_its_own_lines():
    p = prog('points "points"\n' + CATALOG + '''rule "earn" { earn 1 points per 10 NOK }
rule "double washes" {
  earn 2x points
  on category "washes"
}''')
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100"), ("bun", 1, "100")))
    assert earned(eff) == [("earn", 20), ("double washes", 10)]
    s, eff = p.apply(s, {"return": {"time": "2025-03-02T10:00", "order": "o1",
                                    "lines": [{"item": "bun", "quantity": 1}]}})
    # the bun is half the order: the base rule gives back 10; the double came from the wash only: 0
    assert [(e.rule, e.points) for e in eff if e.kind == "points_clawed_back"] == [("earn", 10)]
    s, eff = p.apply(s, {"return": {"time": "2025-03-03T10:00", "order": "o1"}})
    assert [(e.rule, e.points) for e in eff if e.kind == "points_clawed_back"] == [
        ("earn", 10), ("double washes", 10)]
    assert s.balance() == 0


def test_a_multiplier_below_one_takes_from_the_parts_before_it():
    p = prog('points "points"\n' + CATALOG + '''rule "earn" { earn 1 points per 10 NOK }
rule "double" { earn 2x points }
rule "half" { earn 0.5x points }''')
    _, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "30")))
    # base 3; x2 = 6 (+3); x0.5 = 3 (-3): the double's 3 are taken back, the total stays 3
    assert earned(eff) == [("earn", 3)]
    _, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "50")))
    # base 5; x2 = 10 (+5); x0.5 = 5 (-5)
    assert earned(eff) == [("earn", 5)]


def test_state_round_trip_keeps_the_sources_for_a_later_return():
    p = prog('points "points"\n' + CATALOG + '''rule "earn" { earn 1 points per 10 NOK }
tiers by lifetime spend {
  tier "gold" from 0 NOK { earn 2x points }
}''')
    s, _ = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    s = p.state_from_json(s.to_json())
    s, eff = p.apply(s, {"return": {"time": "2025-03-02T10:00", "order": "o1"}})
    assert [(e.rule, e.points) for e in eff if e.kind == "points_clawed_back"] == [("earn", 10), ("gold", 10)]


VISITS = 'points "points" { round up per order }\n' + CATALOG + '''rule "visit" { earn 10 points per visit }
rule "welcome" {
  earn 25 points
  on first purchase
}
rule "weekend" {
  earn 1.5x points
  on saturdays, sundays
}
rule "double washes" {
  earn 2x points
  on category "washes"
}
tiers by lifetime visits {
  tier "devotee" from 2 { earn 2x points }
}'''


def test_multipliers_multiply_points_per_visit_not_one_off_bonuses():
    p = prog(VISITS)
    # Saturday 2025-03-01: visit 10, the weekend's stage 15 (+5); the washes' multiplier covers lines, not visits;
    # the welcome bonus is never multiplied
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    assert earned(eff) == [("visit", 10), ("weekend", 5), ("welcome", 25)]
    # a visit event on Sunday: 10, the weekend's +5; this 2nd visit makes a devotee, from the next event on
    s, eff = p.apply(s, {"visit": {"time": "2025-03-02T10:00"}})
    assert earned(eff) == [("visit", 10), ("weekend", 5)]
    assert s.tier == "devotee"
    # Monday: no weekend; the devotee tier doubles: +10
    s, eff = p.apply(s, {"visit": {"time": "2025-03-03T10:00"}})
    assert earned(eff) == [("visit", 10), ("devotee", 10)]
    # Saturday: the tier first (stage 20, +10), then the weekend (stage 30, +10)
    s, eff = p.apply(s, {"visit": {"time": "2025-03-08T10:00"}})
    assert earned(eff) == [("visit", 10), ("devotee", 10), ("weekend", 10)]
    assert s.balance() == 10 + 5 + 25 + 15 + 20 + 30
