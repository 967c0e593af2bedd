"""Customer measures (simulate/measures.py) checked against hand computations on a small history, and
equal however the members are split (one process, groups merged in any order, --jobs, --grouped)."""

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from loyalty.cli import cli as main
from loyalty.simulate.measures import LAPSE_CANDIDATES, customer_report, default_lapse_days
from loyalty.simulate.parallel import evaluate_range, merge_in_order
from loyalty.simulate.history import History
from loyalty.simulate.run import load_program, plan_for, read_inputs

PROGRAM = """
program "Shop" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2025-01-01
}
points "points" {
  cost 0.10 NOK each
}
rule "1 point per NOK" {
  earn 1 point per 1 NOK
}
"""

# A: three orders (Jan 5, Jan 20, Apr 30) and a return of 5 from her second; B: one order; C: a signup, no
# order; D: two orders a day apart. The last row is A's order on Apr 30.
HISTORY = """member,time,type,order,amount
A,2025-01-05T10:00,purchase,A1,10.00
A,2025-01-20T10:00,purchase,A2,20.00
A,2025-02-01T10:00,return,A2,5.00
A,2025-04-30T12:00,purchase,A3,30.00
B,2025-02-10T10:00,purchase,B1,15.00
C,2025-01-02T09:00,signup,,
D,2025-03-01T10:00,purchase,D1,8.00
D,2025-03-02T10:00,purchase,D2,12.00
"""

ATTRIBUTES = """member,signup_date
A,2025-01-15
D,2025-01-01
"""


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "p.loyalty").write_text(PROGRAM)
    (tmp_path / "h.csv").write_text(HISTORY)
    (tmp_path / "a.csv").write_text(ATTRIBUTES)
    return tmp_path


def simulate(files, *args):
    result = CliRunner().invoke(main, ["simulate", str(files / "p.loyalty"), str(files / "h.csv"), "--format", "json",
                                       "--jobs", "1", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_whole_history_figures(files):
    report = simulate(files, "--lapse-after", "30")
    c = report["customers"]
    assert c["customers"] == 3 and c["orders"] == 6 == report["headline"]["orders"]
    assert c["repeat_customers"] == 2 and c["repeat_purchase_rate"] == "0.6667"
    assert c["average_order_value"] == "15.83"  # 95.00 / 6
    assert c["orders_per_customer"] == "2.00"
    # gaps: A 15 and 100 days, D 1 day
    assert c["days_between_orders"] == {"gaps": 3, "mean": "38.7", "median": 15}
    # value: A 60 - 5, B 15, D 20; the top tenth (one customer) is A
    assert c["value"] == {"total": "90.00", "per_customer_mean": "30.00", "per_customer_median": "20.00",
                          "top_tenth_share": "0.6111"}
    assert c["value"]["total"] == report["headline"]["revenue"]
    assert c["lapse_after_days"] == 30 and c["lapse_after_from"] == "set by the analyst"
    assert report["assumptions"]["lapse_after_days"] == 30
    # C's signup row says she is a member, from 2 January; she never orders, so every order is the rest's
    assert c["enrolment"] == {
        "enrolled": {"customers": 0, "orders": 0, "revenue": "0.00", "average_order_value": None,
                     "orders_per_customer": None, "repeat_purchase_rate": None, "value_per_customer": None},
        "not_enrolled": {"customers": 3, "orders": 6, "revenue": "90.00", "average_order_value": "15.83",
                         "orders_per_customer": "2.00", "repeat_purchase_rate": "0.6667",
                         "value_per_customer": "30.00"},
    }


def test_activity_and_churn_by_month(files):
    c = simulate(files, "--lapse-after", "30")["customers"]
    # A lapses Feb 19 (Jan 20 + 30; next order 100 days later) and returns Apr 30; B lapses Mar 12; D Apr 1;
    # A's last order + 30 days is after the history's last day, so she is active at the end
    rows = [(r["month"], r["buyers"], r["new"], r["returned"], r["lapsed"], r["active_at_end"], r["churn_rate"])
            for r in c["by_month"]]
    assert rows == [
        ("2025-01", 1, 1, 0, 0, 1, None),
        ("2025-02", 1, 1, 0, 1, 1, "1.0000"),
        ("2025-03", 1, 1, 0, 1, 1, "1.0000"),
        ("2025-04", 1, 0, 1, 1, 1, "1.0000"),
    ]
    # a longer gap: with 120 days nobody lapses before the end but B (Feb 10 + 120 = Jun 10: after the end)
    rows = [(r["lapsed"], r["active_at_end"]) for r in simulate(files, "--lapse-after", "120")["customers"]["by_month"]]
    assert rows == [(0, 1), (0, 2), (0, 3), (0, 3)]


def test_cohorts_and_value_by_tenure(files):
    c = simulate(files, "--lapse-after", "30")["customers"]
    # signup = first row: A and C in January (C never orders), B February, D March
    assert [(r["cohort"], r["members"], r["active"], r["retention"]) for r in c["cohorts"]] == [
        ("2025-01", 2, [1, 0, 0, 1], ["0.5000", "0.0000", "0.0000", "0.5000"]),
        ("2025-02", 1, [1, 0, 0], ["1.0000", "0.0000", "0.0000"]),
        ("2025-03", 1, [1, 0], ["1.0000", "0.0000"]),
    ]
    # cumulative value a member by months since signup, over cohorts whose month k is in the history:
    # k0: (30 + 15 + 20) / 4; k1: (25 + 15 + 20) / 4; k2: (25 + 15) / 3; k3: 55 / 2
    assert [(r["months_since_signup"], r["members"], r["cumulative_value_per_member"])
            for r in c["value_by_months_since_signup"]] == [(0, 4, "16.25"), (1, 4, "15.00"), (2, 3, "13.33"),
                                                          (3, 2, "27.50")]
    assert c["signups_outside_history"] == {"before": 0, "after": 0}


def test_enrolled_members_and_the_rest(files):
    c = simulate(files, "--lapse-after", "30", "--attributes", str(files / "a.csv"))["customers"]
    # A enrolled Jan 15: her Jan 5 order is not a member's; D enrolled before her orders; B never enrolled
    assert c["enrolment"] == {
        "enrolled": {"customers": 2, "orders": 4, "revenue": "65.00", "average_order_value": "17.50",
                     "orders_per_customer": "2.00", "repeat_purchase_rate": "1.0000", "value_per_customer": "32.50"},
        "not_enrolled": {"customers": 2, "orders": 2, "revenue": "25.00", "average_order_value": "12.50",
                         "orders_per_customer": "1.00", "repeat_purchase_rate": "0.0000",
                         "value_per_customer": "12.50"},
    }
    # signup_date puts D in the January cohort: she orders in its month 2
    jan = c["cohorts"][0]
    assert (jan["cohort"], jan["members"], jan["active"]) == ("2025-01", 3, [1, 0, 1, 1])


def test_signup_rows_say_who_is_enrolled_when_the_attributes_do_not(files):
    # A signs up on 15 January (after her first order), D on 2 March (between her orders)
    rows = HISTORY.split("\n")
    rows.insert(rows.index("A,2025-01-20T10:00,purchase,A2,20.00"), "A,2025-01-15T09:00,signup,,")
    rows.insert(rows.index("D,2025-03-02T10:00,purchase,D2,12.00"), "D,2025-03-02T09:00,signup,,")
    (files / "h.csv").write_text("\n".join(rows))
    c = simulate(files, "--lapse-after", "30")["customers"]
    assert c["enrolment"] == {
        "enrolled": {"customers": 2, "orders": 3, "revenue": "57.00", "average_order_value": "20.67",
                     "orders_per_customer": "1.50", "repeat_purchase_rate": "0.5000", "value_per_customer": "28.50"},
        "not_enrolled": {"customers": 3, "orders": 3, "revenue": "33.00", "average_order_value": "11.00",
                         "orders_per_customer": "1.00", "repeat_purchase_rate": "0.0000",
                         "value_per_customer": "11.00"},
    }
    # the attributes' signup_date wins over a signup row: D enrolled from 1 January, A still from her row; the
    # same split as the attributes alone give A and D in test_enrolled_members_and_the_rest
    (files / "d.csv").write_text("member,signup_date\nD,2025-01-01\n")
    with_dates = simulate(files, "--lapse-after", "30", "--attributes", str(files / "d.csv"))["customers"]
    assert with_dates["enrolment"] == {
        "enrolled": {"customers": 2, "orders": 4, "revenue": "65.00", "average_order_value": "17.50",
                     "orders_per_customer": "2.00", "repeat_purchase_rate": "1.0000", "value_per_customer": "32.50"},
        "not_enrolled": {"customers": 2, "orders": 2, "revenue": "25.00", "average_order_value": "12.50",
                         "orders_per_customer": "1.00", "repeat_purchase_rate": "0.0000",
                         "value_per_customer": "12.50"},
    }


def test_without_signup_dates_or_rows_there_is_no_enrolment(files):
    (files / "h.csv").write_text("\n".join(r for r in HISTORY.split("\n") if ",signup," not in r))
    assert simulate(files)["customers"]["enrolment"] is None


def test_default_lapse_from_the_data(files):
    c = simulate(files)["customers"]
    # gaps 1, 15, 100: the 90th percentile (nearest rank) is 100 days; the smallest candidate covering it is 120
    assert c["lapse_after_days"] == 120 and "(100 days)" in c["lapse_after_from"]
    assert default_lapse_days({}) == (90, None)
    assert default_lapse_days({800: 1}) == (LAPSE_CANDIDATES[-1], 800)


def test_scenario_file_sets_the_gap_and_the_command_line_wins(files):
    (files / "s.yaml").write_text("customers:\n  lapse_after_days: 60\n")
    assert simulate(files, "--scenario", str(files / "s.yaml"))["customers"]["lapse_after_days"] == 60
    assert simulate(files, "--scenario", str(files / "s.yaml"), "--lapse-after", "45")["customers"][
        "lapse_after_days"] == 45
    (files / "bad.yaml").write_text("customers:\n  lapse_after_days: 0\n")
    result = CliRunner().invoke(main, ["simulate", str(files / "p.loyalty"), str(files / "h.csv"),
                                       "--scenario", str(files / "bad.yaml")])
    assert result.exit_code == 1 and "lapse_after_days" in result.output


def test_grouped_equals_in_memory(files):
    (files / "grouped.csv").write_text(HISTORY)  # already member by member
    one = simulate(files, "--attributes", str(files / "a.csv"))
    result = CliRunner().invoke(main, ["simulate", str(files / "p.loyalty"), str(files / "grouped.csv"), "--format",
                                       "json", "--grouped", "--attributes", str(files / "a.csv")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["customers"] == one["customers"]


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4), max_size=4), lapse=st.sampled_from([None, 1, 30, 200]))
def test_member_groups_merge_to_the_same_section(tmp_path_factory, cuts, lapse):
    files = tmp_path_factory.mktemp("m")
    (files / "p.loyalty").write_text(PROGRAM)
    (files / "h.csv").write_text(HISTORY)
    (files / "a.csv").write_text(ATTRIBUTES)
    prog = load_program(str(files / "p.loyalty"))
    inputs = read_inputs(prog, str(files / "h.csv"), None, None, None, None, "stop", {"lapse_after_days": lapse})
    plan = plan_for(prog, str(files / "p.loyalty"), inputs, str(files / "a.csv"))
    h = inputs.history
    starts = h.member_starts().tolist() + [len(h)]
    bounds = sorted({starts[min(c, len(starts) - 1)] for c in cuts} | {0, len(h)})
    parts = [evaluate_range(plan, History(h.table.slice(a, b - a)), None) for a, b in zip(bounds, bounds[1:])]
    whole = evaluate_range(plan, h, None)
    months = list(plan.months)
    assert (customer_report(merge_in_order(parts), months, lapse, 2)
            == customer_report(whole, months, lapse, 2))
    assert (customer_report(merge_in_order(parts[::-1]), months, lapse, 2)
            == customer_report(whole, months, lapse, 2))


# E: a 10.00 order and a return of 20.00 naming it, which the program refuses (more than the order); F: a
# return of 4.00 the program accepts. A refused return changes nothing, in the customer measures as in the
# headline (docs/simulate.md: "the returns the program accepts").
REFUSED_RETURN = """member,time,type,order,amount
E,2025-01-05T10:00,purchase,E1,10.00
E,2025-01-06T10:00,return,E1,20.00
F,2025-01-07T10:00,purchase,F1,10.00
F,2025-01-08T10:00,return,F1,4.00
"""


@pytest.mark.parametrize("kernel", ["vector", "python"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_refused_return_is_not_taken_from_the_customers_value(files, kernel, jobs):
    (files / "h.csv").write_text(REFUSED_RETURN)
    (files / "a.csv").write_text("member,signup_date\nE,2025-01-01\nF,2025-01-01\n")
    report = simulate(files, "--kernel", kernel, "--jobs", jobs, "--attributes", str(files / "a.csv"))
    c = report["customers"]
    assert report["headline"]["revenue"] == "16.00"
    assert report["rejected_events"] and c["value"]["total"] == "16.00"
    assert c["value"]["per_customer_median"] == "6.00"  # E 10.00, F 6.00
    assert c["enrolment"]["enrolled"]["revenue"] == "16.00"


# the same, G refused as E is, her rows carrying event ids: the vector kernel sends G to the scalar plan, whose
# rows are the history's last two
REFUSED_RETURN_ROUTED = """member,time,type,order,amount,event
F,2025-01-07T10:00,purchase,F1,10.00,
F,2025-01-08T10:00,return,F1,4.00,
G,2025-01-09T10:00,purchase,G1,10.00,g1
G,2025-01-10T10:00,return,G1,20.00,g2
"""


def test_a_refused_return_of_a_member_the_kernel_routes(files):
    (files / "h.csv").write_text(REFUSED_RETURN_ROUTED)
    report = simulate(files, "--kernel", "vector")
    assert report["customers"]["value"]["total"] == report["headline"]["revenue"] == "16.00"


@pytest.mark.parametrize("kernel", ["vector", "python"])
def test_a_refused_return_in_a_group_of_members(files, kernel):
    """The refusals a group's run makes reach the group's measures (evaluate_range: --jobs, --grouped, Dask)."""
    (files / "h.csv").write_text(REFUSED_RETURN)
    prog = load_program(str(files / "p.loyalty"))
    inputs = read_inputs(prog, str(files / "h.csv"), None, None, None, None, "stop", {"lapse_after_days": None})
    plan = plan_for(prog, str(files / "p.loyalty"), inputs, None)
    h = inputs.history
    parts = [evaluate_range(plan, History(h.table.slice(a, b - a)), None, kernel) for a, b in ((0, 2), (2, 4))]
    c = customer_report(merge_in_order(parts), list(plan.months), None, 2)
    assert c["value"]["total"] == "16.00"
