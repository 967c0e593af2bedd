"""The conventions at the edges that docs/semantics.md ("Conventions at the edges") decides: each as a
user sees it, through `program.apply` or `loyalty simulate`. Expected figures are worked out by hand in
the comments."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from evaluator_helpers import buy, kinds, prog
from loyalty.cli import cli

CATALOG = 'catalog {\n  category "washes"\n  item "wash" in category "washes" costing 10 NOK\n}\n'


def _simulate(tmp_path: Path, body: str, rows: list[str]) -> dict:
    (tmp_path / "p.loyalty").write_text('program "t" {\n  currency NOK\n  timezone "Europe/Oslo"\n}\n' + body)
    (tmp_path / "h.csv").write_text("member,time,type,order,item,amount\n" + "\n".join(rows) + "\n")
    result = CliRunner().invoke(cli, ["simulate", str(tmp_path / "p.loyalty"), str(tmp_path / "h.csv"),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_rolling_window_at_an_event_counts_what_is_within_twelve_months_not_exactly_twelve_before():
    # the window at moment t is (t - 12 months, t]: 600 NOK bought exactly 12 months before no longer counts
    p = prog(CATALOG + 'tiers by spend in the last 12 months {\n  tier "silver" from 1000 NOK\n}\n')
    for second, tiers in (("2026-01-10T10:00", []), ("2026-01-10T09:59", ["silver"])):
        s = p.new_member("m")
        s, _ = p.apply(s, buy("O1", "2025-01-10T10:00", ("wash", 1, "600")))
        s, eff = p.apply(s, buy("O2", second, ("wash", 1, "400")))
        assert [e.tier_to for e in kinds(eff, "tier_changed")] == tiers, second


def test_a_free_unit_on_a_line_of_0_00_takes_nothing_off_and_costs_nothing():
    p = prog(CATALOG + 'rule "2nd free" {\n  every 2nd "wash" is free\n}\n')
    s, _ = p.apply(p.new_member("m"), buy("O1", "2025-03-01T10:00", ("wash", 1, "35")))
    _, free_of_nothing = p.apply(s, buy("O2", "2025-03-02T10:00", ("wash", 1, "0")))
    assert not kinds(free_of_nothing, "discount_applied")
    _, paid_one = p.apply(s, buy("O2", "2025-03-02T10:00", ("wash", 1, "35")))
    # a unit sold at 35.00 is 35.00 off and costs the catalog's 10.00
    assert [(e.amount, e.cost) for e in kinds(paid_one, "discount_applied")] == [(3500, 1000)]


def test_a_money_cap_on_a_punch_card_counts_what_customers_got_off_not_the_cost():
    # washes sold at 35 cost the shop 10; a cap of 50 NOK: the first free wash uses 35 of it (not 10), so the
    # second gets 15 off and the cap is reached (counted at cost, 20 of 50 would be used and no cap reached)
    p = prog(CATALOG + 'rule "2nd free" {\n  every 2nd "wash" is free\n  at most 50 NOK per member\n}\n')
    s = p.new_member("m")
    effects = []
    for i in range(4):
        s, eff = p.apply(s, buy(f"O{i}", f"2025-03-0{i + 1}T10:00", ("wash", 1, "35")))
        effects += eff
    assert [e.amount for e in kinds(effects, "discount_applied")] == [3500, 1500]
    assert [e.truncated for e in kinds(effects, "cap_reached")] == [2000]


def test_a_capped_discount_is_taken_from_the_lines_in_order():
    # 10% of 100 + 10% of 100 = 20 NOK, capped at 15: the first line keeps its 10, the second gets 5 (not 7.50
    # each); points per krone on the second line show what it cost: 95 points
    p = prog('points "points" { }\ncatalog {\n  category "x"\n  item "a" in category "x" costing 10 NOK\n'
             '  item "b" in category "x" costing 10 NOK\n}\n'
             'rule "10% off" {\n  get 10% off\n  at most 15 NOK per member\n}\n'
             'rule "points on b" {\n  earn 1 point per 1 NOK\n  on "b"\n}\n')
    _, eff = p.apply(p.new_member("m"), buy("O1", "2025-03-01T10:00", ("a", 1, "100"), ("b", 1, "100")))
    assert [e.amount for e in kinds(eff, "discount_applied")] == [1500]
    assert [e.points for e in kinds(eff, "points_earned")] == [95]


def test_budget_times_counts_one_truncation_per_earning_rule(tmp_path):
    # one order of 100 NOK, two rules of a campaign with a 50-point budget: the first is cut to 50, the second
    # to 0; two truncations of one order
    body = ('points "points" { }\ncampaign "c" {\n  budget 50 points\n'
            '  rule "a" {\n    earn 1 point per 1 NOK\n  }\n  rule "b" {\n    earn 1 point per 1 NOK\n  }\n}\n')
    report = _simulate(tmp_path, body, ["m,2025-03-01T10:00,purchase,O1,tea,100"])
    [budget] = report["budgets"]
    assert (budget["times"], budget["truncated"]) == (2, 150)
    assert report["headline"]["points_issued"] == 50


def test_the_median_of_an_even_count_is_the_lower_middle_value(tmp_path):
    # a gift on the 2nd purchase: member a gets it after 1 day, b after 3 days; the median of (1, 3) is 1
    body = 'reward "mug" is a gift "mug" costing 20 NOK\nrule "mug" {\n  give "mug"\n  on the 2nd visit\n}\n'
    report = _simulate(tmp_path, body, ["a,2025-03-01T10:00,purchase,A1,tea,10",
                                        "a,2025-03-02T10:00,purchase,A2,tea,10",
                                        "b,2025-03-01T10:00,purchase,B1,tea,10",
                                        "b,2025-03-04T10:00,purchase,B2,tea,10"])
    ttf = report["time_to_first_reward"]
    assert (ttf["members"], ttf["median_days"], ttf["mean_days"]) == (2, 1, "2.0")


def test_a_tier_jumped_over_is_not_reached(tmp_path):
    # a spends 3000 at once: from no tier straight to gold; b spends 1500: silver
    body = 'tiers by spend {\n  tier "silver" from 1000 NOK\n  tier "gold" from 2000 NOK\n}\n'
    report = _simulate(tmp_path, body, ["a,2025-03-01T10:00,purchase,A1,tea,3000",
                                        "b,2025-03-01T10:00,purchase,B1,tea,1500"])
    reached = {row["tier"]: row["members_reached"] for row in report["by_tier"]}
    assert reached == {"silver": 1, "gold": 1}


def test_every_member_is_brought_to_the_last_moment_of_the_whole_history(tmp_path):
    # a earns 100 points on 1 January, which expire a month later; b's purchase on 1 March is the history's
    # last moment, so a's points have expired by the end though a has no later event
    body = 'points "points" {\n  expire 1 month after earning\n}\nrule "p" {\n  earn 1 point per 1 NOK\n}\n'
    report = _simulate(tmp_path, body, ["a,2025-01-01T10:00,purchase,A1,tea,100",
                                        "b,2025-03-01T10:00,purchase,B1,tea,30"])
    [points] = report["points"]
    assert (points["issued"], points["expired"], points["outstanding"]) == (130, 100, 30)
