"""Semantics of the evaluator, one rule at a time. Expected numbers are worked out by hand
in the comments from the program text and docs/semantics.md."""

from __future__ import annotations

import pytest

import loyalty
from loyalty.runtime.events import EventError

from evaluator_helpers import buy, kinds, prog


CATALOG = '''catalog {
  category "washes"
  category "food"
  item "wash" in category "washes"
  item "wax" in category "washes"
  item "bun" in category "food"
}
'''


def test_points_per_spend_round_down_per_order_and_per_line():
    per_order = prog('points "points"\n' + CATALOG + 'rule "earn" { earn 1 points per 10 NOK }')
    s = per_order.new_member("m")
    s, eff = per_order.apply(s, buy("o1", "2025-03-01T10:00", ("wash", 1, "55"), ("bun", 1, "27")))
    # 82 NOK -> 8.2 points -> 8 (rounded down once per order)
    assert [e.points for e in kinds(eff, "points_earned")] == [8]
    assert s.balance() == 8
    per_line = prog('points "points" { round down per line }\n' + CATALOG + 'rule "earn" { earn 1 points per 10 NOK }')
    s = per_line.new_member("m")
    s, eff = per_line.apply(s, buy("o1", "2025-03-01T10:00", ("wash", 1, "55"), ("bun", 1, "27")))
    assert s.balance() == 5 + 2


def test_effect_names_rule_and_source_line():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" {\n  earn 1 points per 10 NOK\n}')
    _, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    e = kinds(eff, "points_earned")[0]
    # HEAD is 4 lines, "points" line 5, catalog lines 6-12, the rule starts on line 13
    assert (e.rule, e.line) == ("earn", 13)
    assert "earn" in p.explain(e) and "line 13" in p.explain(e)


def test_percent_discount_half_even_per_line():
    p = prog(CATALOG + 'rule "members" { get 10% off }')
    s = p.new_member("m")
    # 10% of 12.25 = 1.225 -> 1.22 (half even); 10% of 12.35 = 1.235 -> 1.24
    _, eff = p.apply(s, buy("o1", "2025-03-01T10:00", ("wash", 1, "12.25"), ("bun", 1, "12.35")))
    assert [e.amount for e in kinds(eff, "discount_applied")] == [122 + 124]


def test_points_earned_on_amount_paid_after_discount():
    p = prog('points "points"\n' + CATALOG + 'rule "members" { get 10% off }\nrule "earn" { earn 1 points per 1 NOK }')
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    assert s.balance() == 90


def test_too_many_decimals_is_rejected_naming_the_field():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" { earn 1 points per 10 NOK }')
    s = p.new_member("m")
    with pytest.raises(EventError) as err:
        p.apply(s, buy("o1", "2025-03-01T10:00", ("wash", 1, "10"), ("bun", 1, "12.345")))
    assert err.value.field == "lines.1.amount"
    assert "NOK" in str(err.value)
    with pytest.raises(EventError) as err:
        p.apply(s, {"purchase": {"time": "2025-03-01T10:00", "order": "o1", "lines": []}})
    assert err.value.field == "lines"
    with pytest.raises(EventError) as err:
        p.apply(s, {"purchase": {"time": "not a time", "order": "o1", "lines": [{"item": "x", "amount": "1"}]}})
    assert err.value.field == "time"
    assert s.balance() == 0


def test_duplicate_event_changes_nothing():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" { earn 1 points per 10 NOK }')
    s, _ = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    s2, eff = p.apply(s, buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    assert [e.kind for e in eff] == ["duplicate_ignored"]
    assert s2.to_json() == s.to_json()
    assert s2.balance() == 10


def test_punch_card_counts_units_not_orders():
    p = prog(CATALOG + 'rule "card" { every 6th "wash" is free }')
    s = p.new_member("m")
    s, eff = p.apply(s, buy("o1", "2025-03-01T10:00", ("wash", 4, "240")))
    assert kinds(eff, "discount_applied") == []
    # units 5, 6, 7: the 6th is free: one unit of 3 at 60 each
    s, eff = p.apply(s, buy("o2", "2025-03-02T10:00", ("wash", 3, "180")))
    assert [e.amount for e in kinds(eff, "discount_applied")] == [6000]
    assert s.punches == {"card": 1}


def test_paid_then_free_is_a_cycle_of_paid_plus_free():
    p = prog(CATALOG + 'rule "card" { 1 free "wash" after every 6 paid }')
    s = p.new_member("m")
    s, eff = p.apply(s, buy("o1", "2025-03-01T10:00", ("wash", 6, "360")))
    assert kinds(eff, "discount_applied") == []  # six paid, none free yet
    s, eff = p.apply(s, buy("o2", "2025-03-02T10:00", ("wash", 1, "60")))
    assert [e.amount for e in kinds(eff, "discount_applied")] == [6000]  # the 7th is free


def test_return_claws_back_points_proportionally_and_whole():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" { earn 1 points per 1 NOK }')
    s, _ = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "60"), ("bun", 1, "40")))
    assert s.balance() == 100
    s, eff = p.apply(s, {"return": {"time": "2025-03-02T10:00", "order": "o1", "amount": "30"}})
    assert [e.points for e in kinds(eff, "points_clawed_back")] == [30]
    s, eff = p.apply(s, {"return": {"time": "2025-03-03T10:00", "order": "o1", "lines": [{"item": "bun"}]}})
    assert [e.points for e in kinds(eff, "points_clawed_back")] == [40]
    s, eff = p.apply(s, {"return": {"time": "2025-03-04T10:00", "order": "o1"}})
    assert [e.points for e in kinds(eff, "points_clawed_back")] == [30]
    assert s.balance() == 0
    assert s.totals() == {"earned": 100, "redeemed": 0, "expired": 0, "clawed_back": 100}


def test_return_of_unknown_order_is_rejected_and_changes_nothing():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" { earn 1 points per 1 NOK }')
    s = p.new_member("m")
    with pytest.raises(EventError) as err:
        p.apply(s, {"return": {"time": "2025-03-02T10:00", "order": "nope"}})
    assert err.value.field == "order"


REDEEM = 'reward "bun" is a free "bun" costing 10 NOK\nredeem 10 points for "bun"\n'


@pytest.mark.parametrize("policy,balance,truncated", [
    ("balance may go negative", -10, None),
    ("balance stops at zero", 0, 10),
])
def test_balance_policy_on_return_after_redemption(policy, balance, truncated):
    p = prog(f'points "points" {{ {policy} }}\n' + CATALOG + REDEEM + 'rule "earn" { earn 1 points per 1 NOK }')
    s, _ = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "10")))
    s, eff = p.apply(s, {"redemption": {"time": "2025-03-01T11:00", "reward": "bun"}})
    assert [e.kind for e in eff] == ["points_redeemed", "reward_issued"]
    s, eff = p.apply(s, {"return": {"time": "2025-03-02T10:00", "order": "o1"}})
    assert s.balance() == balance
    assert kinds(eff, "points_clawed_back")[0].truncated == truncated
    # a debt is paid from the next points earned
    s, _ = p.apply(s, buy("o2", "2025-03-03T10:00", ("wash", 1, "25")))
    assert s.balance() == balance + 25


def test_redemption_refused_without_enough_points():
    p = prog('points "points"\n' + CATALOG + REDEEM + 'rule "earn" { earn 1 points per 1 NOK }')
    s, eff = p.apply(p.new_member("m"), {"redemption": {"time": "2025-03-01T11:00", "reward": "bun"}})
    assert [e.kind for e in eff] == ["redemption_refused"]
    with pytest.raises(EventError) as err:
        p.apply(s, {"redemption": {"time": "2025-03-01T11:00", "reward": "cake"}})
    assert err.value.field == "reward"


def test_pending_points_mature_and_a_return_within_the_delay_cancels_them():
    p = prog('points "points" { available 14 days after purchase }\n' + CATALOG + 'rule "earn" { earn 1 points per 1 NOK }')
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "50")))
    assert kinds(eff, "points_earned")[0].pending is True
    s, _ = p.apply(s, buy("o2", "2025-03-02T10:00", ("wash", 1, "30")))
    assert (s.balance(), s.pending()) == (0, 80)
    s, eff = p.apply(s, {"return": {"time": "2025-03-05T10:00", "order": "o1"}})
    assert [(e.points, e.pending) for e in kinds(eff, "points_clawed_back")] == [(50, True)]
    # o2 matures 14 days after 2025-03-02T10:00, not before
    s, eff = p.apply(s, {"tick": {"time": "2025-03-16T09:59"}})
    assert eff == [] and s.pending() == 30
    s, eff = p.apply(s, {"tick": {"time": "2025-03-16T10:00"}})
    assert [e.points for e in kinds(eff, "points_available")] == [30]
    assert (s.balance(), s.pending()) == (30, 0)


def test_expiry_per_batch_and_oldest_points_spent_first():
    p = prog('points "points" { expire 6 months after earning }\n' + CATALOG +
             'reward "r" is a gift "mug"\nredeem 15 points for "r"\nrule "earn" { earn 1 points per 1 NOK }')
    s, _ = p.apply(p.new_member("m"), buy("o1", "2025-01-10T10:00", ("wash", 1, "10")))
    s, _ = p.apply(s, buy("o2", "2025-03-10T10:00", ("wash", 1, "20")))
    s, _ = p.apply(s, {"redemption": {"time": "2025-04-01T10:00", "reward": "r"}})
    # 15 = all 10 of January + 5 of March; 15 of March are left
    s, eff = p.apply(s, {"tick": {"time": "2025-08-01T00:00"}})
    assert kinds(eff, "points_expired") == []  # January's batch was spent
    s, eff = p.apply(s, {"tick": {"time": "2025-09-10T10:00"}})
    assert [(e.points, e.time.isoformat()) for e in kinds(eff, "points_expired")] == [(15, "2025-09-10T10:00:00")]
    assert s.balance() == 0
    assert s.totals() == {"earned": 30, "redeemed": 15, "expired": 15, "clawed_back": 0}


def test_expiry_after_inactivity():
    p = prog('points "points" { expire after 3 months without a purchase }\n' + CATALOG +
             'rule "earn" { earn 1 points per 1 NOK }')
    s, _ = p.apply(p.new_member("m"), buy("o1", "2025-01-10T10:00", ("wash", 1, "10")))
    s, _ = p.apply(s, buy("o2", "2025-03-10T10:00", ("wash", 1, "20")))
    s, eff = p.apply(s, {"tick": {"time": "2025-06-10T09:00"}})
    assert eff == []
    s, eff = p.apply(s, {"tick": {"time": "2025-06-10T10:00"}})
    assert [e.points for e in kinds(eff, "points_expired")] == [30]


TIERS = '''tiers by lifetime spend {
  tier "basic" from 0 NOK
  tier "gold" from 1000 NOK {
    earn 2x points
  }
}
'''


def test_tier_crossing_purchase_earns_at_old_rate_new_tier_from_next_event():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" { earn 1 points per 10 NOK }\n' + TIERS)
    s = p.new_member("m")
    assert s.tier == "basic"
    s, eff = p.apply(s, buy("o1", "2025-03-01T10:00", ("wash", 1, "1200")))
    assert [e.points for e in kinds(eff, "points_earned")] == [120]  # old rate
    assert [(e.tier_from, e.tier_to) for e in kinds(eff, "tier_changed")] == [("basic", "gold")]
    s, eff = p.apply(s, buy("o2", "2025-03-02T10:00", ("wash", 1, "100")))
    # 10 points x 2: the rule's 10, then gold's extra 10 (docs/semantics.md, "Multipliers")
    assert [(e.rule, e.points) for e in kinds(eff, "points_earned")] == [("earn", 10), ("gold", 10)]
    # returning the big order takes the tier progress back
    s, eff = p.apply(s, {"return": {"time": "2025-03-03T10:00", "order": "o1"}})
    assert s.tier == "basic"


def test_tier_downgrade_at_period_end_with_grace():
    p = prog(CATALOG + '''tiers by spend in the calendar year {
  tier "basic" from 0 NOK
  tier "gold" from 1000 NOK
  downgrade at the end of each year with 2 months grace
}''')
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "1000")))
    assert s.tier == "gold"
    # 2025 qualified gold: the review at 2026-01-01 keeps it
    s, eff = p.apply(s, {"tick": {"time": "2026-06-01T00:00"}})
    assert kinds(eff, "tier_changed") == [] and s.tier == "gold"
    # 2026 spend 0: reviewed at 2027-01-01, grace until 2027-03-01, then basic
    s, eff = p.apply(s, {"tick": {"time": "2027-02-28T23:59"}})
    assert s.tier == "gold"
    s, eff = p.apply(s, {"tick": {"time": "2027-03-01T00:00"}})
    assert [(e.tier_to, e.time.isoformat()) for e in kinds(eff, "tier_changed")] == [("basic", "2027-03-01T00:00:00")]


def test_requalifying_during_grace_keeps_the_tier():
    p = prog(CATALOG + '''tiers by spend in the calendar year {
  tier "basic" from 0 NOK
  tier "gold" from 1000 NOK
  downgrade at the end of each year with 2 months grace
}''')
    s, _ = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "1000")))
    s, _ = p.apply(s, {"tick": {"time": "2027-01-15T00:00"}})  # in grace after the 2027-01-01 review
    s, eff = p.apply(s, buy("o2", "2027-02-01T10:00", ("wash", 1, "1000")))
    s, eff = p.apply(s, {"tick": {"time": "2027-04-01T00:00"}})
    assert s.tier == "gold" and kinds(eff, "tier_changed") == []


def test_cap_truncates_and_says_by_how_much():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" {\n earn 1 points per 10 NOK\n at most 15 points per member per month\n}')
    s, _ = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    s, eff = p.apply(s, buy("o2", "2025-03-02T10:00", ("wash", 1, "100")))
    assert [e.points for e in kinds(eff, "points_earned")] == [5]
    assert [e.truncated for e in kinds(eff, "cap_reached")] == [5]
    s, eff = p.apply(s, buy("o3", "2025-04-01T10:00", ("wash", 1, "100")))
    assert [e.points for e in kinds(eff, "points_earned")] == [10]  # a new month


def test_budget_is_shared_by_members_through_the_ledger():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" {\n earn 1 points per 10 NOK\n budget 15 points\n}')
    ledger = p.new_budget_ledger()
    a, _ = p.apply(p.new_member("a"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")), ledger)
    b, eff = p.apply(p.new_member("b"), buy("o1", "2025-03-01T11:00", ("wash", 1, "100")), ledger)
    assert (a.balance(), b.balance()) == (10, 5)
    assert [e.truncated for e in kinds(eff, "budget_reached")] == [5]
    with pytest.raises(ValueError):
        p.apply(p.new_member("c"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    restored = loyalty.BudgetLedger.from_json(ledger.to_json())
    assert restored.used == {"rule:earn": 15}


def test_weekdays_hours_in_program_time_zone():
    p = prog('points "points"\n' + CATALOG + 'rule "happy" {\n earn 1 points per 10 NOK\n on saturdays\n between 10:00 and 12:00\n}')
    s = p.new_member("m")
    # 2025-03-01 is a Saturday; 09:30Z is 10:30 in Oslo (UTC+1 in March)
    _, eff = p.apply(s, buy("o1", "2025-03-01T09:30:00Z", ("wash", 1, "100")))
    assert [e.points for e in kinds(eff, "points_earned")] == [10]
    # a naive time is taken as Oslo time: 09:30 local is before the happy hour
    _, eff = p.apply(s, buy("o1", "2025-03-01T09:30:00", ("wash", 1, "100")))
    assert kinds(eff, "points_earned") == []
    # 12:00 is the (exclusive) end
    _, eff = p.apply(s, buy("o1", "2025-03-01T12:00:00", ("wash", 1, "100")))
    assert kinds(eff, "points_earned") == []


def test_segments_stores_campaign_dates_and_birthday_month():
    p = prog('points "points"\n' + CATALOG + '''store "Oslo 1"
store "Bergen"
segment "students"
campaign "spring" {
  from 2025-03-01 to 2025-03-31
  rule "students" {
    earn 1 points per 10 NOK
    for segment "students"
    in store "Oslo 1"
  }
}
rule "birthday" {
  earn 5 points per 10 NOK
  in birthday month
}''')
    student = p.new_member("s", attributes={"segments": ["students"], "birthday": "1990-04-02"})
    other = p.new_member("o")
    line = ("wash", 1, "100")
    assert p.apply(student, buy("o1", "2025-03-31T23:00", line, store="Oslo 1")).state.balance() == 10
    assert p.apply(student, buy("o1", "2025-04-01T00:00", line, store="Oslo 1")).state.balance() == 50
    assert p.apply(student, buy("o1", "2025-03-10T10:00", line, store="Bergen")).state.balance() == 0
    assert p.apply(other, buy("o1", "2025-03-10T10:00", line, store="Oslo 1")).state.balance() == 0


def test_multipliers_multiply_on_matching_lines():
    p = prog('points "points"\n' + CATALOG + '''rule "earn" { earn 1 points per 10 NOK }
rule "double washes" {
  earn 2x points
  on category "washes"
}
''' + TIERS.replace("0 NOK\n  tier", "0 NOK\n  tier").replace('"basic" from 0 NOK', '"basic" from 0 NOK { earn 1.5x points }'))
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "100"), ("bun", 1, "100")))
    # wash: 10 x 2 x 1.5 = 30; bun: 10 x 1.5 = 15; 45 in all, by source: base 20, the tier's stage
    # 20 x 1.5 = 30 (+10), the washes' stage 15 x 2 + 15 = 45 (+15)
    assert [(e.rule, e.points) for e in kinds(eff, "points_earned")] == [
        ("earn", 20), ("basic", 10), ("double washes", 15)]


def test_signup_referral_action_and_first_purchase():
    p = prog('points "points"\n' + CATALOG + '''rule "welcome" {
  earn 100 points
  on signup
}
rule "friends" { earn 50 points per referral }
rule "review" {
  earn 20 points
  on action "review"
}
rule "first" {
  earn 30 points
  on first purchase
}''')
    s = p.new_member("m")
    s, _ = p.apply(s, {"signup": {"time": "2025-03-01T10:00"}})
    s, _ = p.apply(s, {"referral": {"time": "2025-03-01T11:00", "id": "r1"}})
    s, _ = p.apply(s, {"action": {"time": "2025-03-01T12:00", "name": "review"}})
    s, _ = p.apply(s, {"action": {"time": "2025-03-01T12:00", "name": "share"}})
    s, _ = p.apply(s, buy("o1", "2025-03-02T10:00", ("wash", 1, "10")))
    s, _ = p.apply(s, buy("o2", "2025-03-03T10:00", ("wash", 1, "10")))
    assert s.balance() == 100 + 50 + 20 + 30


def test_give_reward_once_per_month_when_order_total():
    p = prog(CATALOG + '''reward "lipstick" is a gift "lipstick" costing 40 NOK
rule "gift" {
  give "lipstick"
  when order total >= 400 NOK
  at most once per member per month
}''')
    s, eff = p.apply(p.new_member("m"), buy("o1", "2025-03-01T10:00", ("wash", 1, "399.99")))
    assert kinds(eff, "reward_issued") == []
    s, eff = p.apply(s, buy("o2", "2025-03-02T10:00", ("wash", 1, "400")))
    assert [(e.reward, e.cost) for e in kinds(eff, "reward_issued")] == [("lipstick", 4000)]
    s, eff = p.apply(s, buy("o3", "2025-03-03T10:00", ("wash", 1, "500")))
    # a cap reports what it held back in the unit the rule gives: here the reward's cost
    assert kinds(eff, "reward_issued") == [] and [e.truncated for e in kinds(eff, "cap_reached")] == [4000]
    # and a support agent reads it as money, not minor units
    assert p.explain(kinds(eff, "cap_reached")[0]) == 'cap reached: 40.00 NOK not given (rule "gift", line 13)'
    s, eff = p.apply(s, buy("o4", "2025-04-03T10:00", ("wash", 1, "500")))
    assert len(kinds(eff, "reward_issued")) == 1


def test_state_is_a_value_and_detects_another_program():
    p = prog('points "points"\n' + CATALOG + 'rule "earn" { earn 1 points per 10 NOK }')
    q = prog('points "points"\n' + CATALOG + 'rule "earn" { earn 2 points per 10 NOK }')
    s0 = p.new_member("m")
    s1, _ = p.apply(s0, buy("o1", "2025-03-01T10:00", ("wash", 1, "100")))
    assert s0.balance() == 0 and s1.balance() == 10
    with pytest.raises(loyalty.StateMismatchError):
        q.state_from_json(s1.to_json())
    with pytest.raises(loyalty.StateMismatchError):
        q.apply(s1, buy("o2", "2025-03-01T10:00", ("wash", 1, "100")))
    assert p.state_from_json(s1.to_json()).to_json() == s1.to_json()
