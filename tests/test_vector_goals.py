"""Goals, streaks and two-sided referral on the vectorised kernel: the kernel equals the scalar plan member by
member (every cell of the result: per rule, per month, per cost cell, each member's row), on hand-written
histories at the edges (a goal reached on the last day of a month, a streak broken by a gap, spend with a
return inside the window) and on generated histories and programs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.simulate.engine import simulate
from loyalty.simulate.history import ReadOptions, build_history
from loyalty.simulate.vector import simulate_vector, supports

from test_vector_kernel import HEADER, _both, _history, _plan, _program, _report

GOALS = """
program "Goals" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-03
}
points "points" {
  cost 0.01 NOK each
  expire 3 months after earning
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
store "North" in region "Up"
reward "gift" is a gift "mug"
redeem 400 points for "gift"
rule "base" {
  earn 1 point per 1 NOK
}
rule "month of visits" {
  earn 100 points
  after 3 visits on different days in a calendar month
}
rule "month of purchases" {
  earn 30 points
  after 2 purchases in a calendar week
  in store "North"
}
rule "month of spend" {
  give "gift"
  after 100 NOK spent in a calendar month
}
rule "rolling spend" {
  earn 70 points
  after 50 NOK spent within 30 days
}
rule "rolling days" {
  earn 20 points
  after 2 purchases on different days within 2 weeks
  on weekdays
}
rule "rolling visits" {
  give "gift"
  after 3 visits within 1 month
  at most 2 times per member per year
}
rule "weekly streak" {
  earn 200 points
  after a purchase in 3 consecutive weeks
}
rule "daily streak" {
  earn 5 points
  after a visit in 2 consecutive days
}
rule "monthly streak" {
  earn 40 points
  after a purchase in 2 consecutive months
  at most once per member
}
tiers by lifetime points earned {
  tier "silver" from 0 points
  tier "gold" from 600 points {
    earn 2x points
  }
}
"""

PROGRAMS = {"GOALS": GOALS}


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    import test_vector_kernel

    test_vector_kernel.INLINE.update(PROGRAMS)
    return {name: _program(tmp_path_factory, name) for name in PROGRAMS}


def _rows(prog, rows):
    cols = {h: [r[i] if i < len(r) and r[i] != "" else None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    return build_history(cols, "hand.csv", 2, options)


def _same_member_by_member(path, prog, history):
    plan = _plan(path, prog, history)
    assert supports(prog, plan) is None
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member
    plan, vec, ref = _both(path, prog, history)
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)
    return ref


def _issued(result, rule: str) -> int:
    return result.cells.get(("rule", rule, "points_issued"), 0)


def _buy(member, when, order, amount, store="North"):
    return [member, when, "purchase", order, "basic wash", "", "1", amount, store, ""]


def test_a_goal_reached_on_the_last_day_of_a_month(programs):
    """Third visit on 31 January 23:50 reaches January's goal; a third on 1 February starts February's."""
    path, prog = programs["GOALS"]
    rows = [_buy("A", "2024-01-29T10:00", "a1", "10.00"), ["A", "2024-01-30T10:00", "visit"],
            _buy("A", "2024-01-31T23:50", "a2", "10.00"),
            _buy("B", "2024-01-30T10:00", "b1", "10.00"), _buy("B", "2024-01-31T10:00", "b2", "10.00"),
            _buy("B", "2024-02-01T00:10", "b3", "10.00")]
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    assert _issued(got, "month of visits") == 100  # A's only


def test_a_streak_broken_by_a_gap(programs):
    """Weeks 1, 2, (gap), 4, 5, 6: the streak of three is reached in week 6 only."""
    path, prog = programs["GOALS"]
    rows = [_buy("A", day, f"a{n}", "1.00") for n, day in
            enumerate(["2024-01-08T10:00", "2024-01-15T10:00", "2024-01-29T10:00", "2024-02-05T10:00",
                       "2024-02-12T10:00"])]
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    assert _issued(got, "weekly streak") == 200


def test_spend_with_a_return_inside_the_window(programs):
    """40 + 30 NOK within 30 days reaches 50 NOK, unless 25 NOK of the first order come back before the second."""
    path, prog = programs["GOALS"]
    rows = [_buy("A", "2024-02-01T10:00", "a1", "40.00"),
            ["A", "2024-02-03T10:00", "return", "a1", "", "", "", "25.00"],
            _buy("A", "2024-02-05T10:00", "a2", "30.00"),
            _buy("B", "2024-02-01T10:00", "b1", "40.00"), _buy("B", "2024-02-05T10:00", "b2", "30.00"),
            ["B", "2024-02-06T10:00", "return", "b1", "", "", "", "25.00"]]
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    assert _issued(got, "rolling spend") == 70  # B's only: A's progress after her return is 15 + 30 NOK


def test_a_rolling_window_restarts_after_the_goal_and_forgets_old_days(programs):
    path, prog = programs["GOALS"]
    rows = [_buy("A", "2024-03-01T10:00", "a1", "30.00"), _buy("A", "2024-03-02T10:00", "a2", "30.00"),  # reached
            _buy("A", "2024-03-03T10:00", "a3", "30.00"), _buy("A", "2024-04-03T10:00", "a4", "30.00"),  # 31 days
            _buy("A", "2024-04-04T10:00", "a5", "30.00")]  # reached again with a4
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    assert _issued(got, "rolling spend") == 140


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_goals_on_generated_histories_member_by_member(programs, seed):
    path, prog = programs["GOALS"]
    history = _history(prog, seed, 6, 40)
    plan = _plan(path, prog, history, seed)
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 10), max_events=st.sampled_from([3, 12, 40]))
def test_goals_on_generated_histories(programs, seed, members, max_events):
    path, prog = programs["GOALS"]
    history = _history(prog, seed, members, max_events)
    plan, vec, ref = _both(path, prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)


def test_a_rolling_window_holds_its_last_day_and_not_the_day_before(programs):
    """`within 30 days`: 1 March counts on 30 March (the window's first day), not on 31 March."""
    path, prog = programs["GOALS"]
    rows = [_buy("A", "2024-03-01T10:00", "a1", "30.00"), _buy("A", "2024-03-30T09:00", "a2", "30.00"),
            _buy("B", "2024-03-01T10:00", "b1", "30.00"), _buy("B", "2024-03-31T09:00", "b2", "30.00")]
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    assert _issued(got, "rolling spend") == 70  # A's only


def test_a_streak_fires_again_after_as_many_periods_more(programs):
    """Six weeks in a row: the streak of three fires in week 3 and in week 6."""
    path, prog = programs["GOALS"]
    rows = [_buy("A", f"2024-01-{8 + 7 * n:02d}T10:00", f"a{n}", "1.00") for n in range(4)] + \
        [_buy("A", f"2024-02-{5 + 7 * n:02d}T10:00", f"b{n}", "1.00") for n in range(2)]
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    assert _issued(got, "weekly streak") == 400


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_generated_programs_with_goals_member_by_member(data):
    """Generated programs cut down to what the kernel runs (event_strategies.vectorisable keeps fixed points and
    gifts on a goal or streak), those with a goal or streak: each member's result from the kernel equals the
    scalar plan's, and so does the whole history's."""
    from hypothesis import assume

    import loyalty
    from event_strategies import HISTORY_HEADER, history_rows, member_histories, vectorisable
    from loyalty.diagnostics import LoyaltyError
    from loyalty.simulate.engine import make_plan, program_info
    from loyalty.simulate.scenario import Scenario
    from loyalty.simulate.vector import Unsupported
    from loyalty.syntax.formatter import format_program
    from strategies import valid_programs

    text = format_program(vectorisable(data.draw(valid_programs(), label="program")))
    try:
        program = loyalty.compile_source(text, "generated.loyalty")
    except LoyaltyError:
        assume(False)
    prog = program.compiled
    assume(any(r.trigger in ("goal", "streak") for r in prog.rules) and supports(prog) is None)
    histories = [data.draw(member_histories(program, member=f"m{i}", max_events=16), label=f"m{i}")
                 for i in range(data.draw(st.integers(1, 4), label="members"))]
    rows = history_rows(histories, prog.exponent)
    assume(rows)
    cols = {h: [str(r[h]) if r.get(h) not in (None, "") else None for r in rows] for h in HISTORY_HEADER if h != "event"}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    history = build_history(cols, "generated.csv", 2, options)
    plan = make_plan(prog, program_info(prog, "generated.loyalty"), Scenario(), history, {})
    try:
        whole = simulate_vector(plan, history)
    except Unsupported:  # figures past 64-bit arithmetic: the scalar plan's (parallel.py)
        assume(False)
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member
    assert whole.canonical() == simulate(plan, history).canonical()
