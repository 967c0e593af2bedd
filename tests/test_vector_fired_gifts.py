"""Gifts of goals, streaks and two-sided referral under `rewards are taken back on return` on the vectorised
kernel (issue 12): a goal's, a streak's or a referrer's gift is the member's and stays; the new member's gift
for her qualifying purchase goes with that order. The kernel equals the scalar plan member by member, on
hand-written and generated histories."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from test_vector_goals import GOALS, REFERRAL, _buy, _referral_history, _rows, _same_member_by_member
from test_vector_kernel import _both, _history, _passes_both, _plan, _program, _report

TAKEN_BACK = '  timezone "Europe/Oslo"\n  rewards are taken back on return\n'
PROGRAMS = {"GOALS_BACK": GOALS.replace('  timezone "Europe/Oslo"\n', TAKEN_BACK, 1),
            "REFERRAL_BACK": REFERRAL.replace('  timezone "Europe/Oslo"\n', TAKEN_BACK, 1)}


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    import test_vector_kernel

    test_vector_kernel.INLINE.update(PROGRAMS)
    out = {name: _program(tmp_path_factory, name) for name in PROGRAMS}
    assert all(prog.rewards_taken_back for _, prog in out.values())
    return out


def _rewards(result, reward: str):
    """(given, taken back) of a reward."""
    return result.cells.get(("reward", reward, "given"), 0), result.cells.get(("reward", reward, "taken_back"), 0)


def test_a_goal_gift_stays_when_the_order_that_reached_the_goal_is_returned(programs):
    """A spends 100 NOK on 5 February (the month's goal: a gift, fired at that purchase) and returns the order
    whole the next day: the goal's gift is hers, not the order's, and stays; the points the order earned go."""
    path, prog = programs["GOALS_BACK"]
    rows = [_buy("A", "2024-02-05T10:00", "a1", "100.00"), ["A", "2024-02-06T10:00", "return", "a1", "", "", "",
                                                             "0.00", "North", ""]]
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    assert _rewards(got, "gift") == (1, 0)  # "month of spend"'s
    assert got.cells[("rule", "base", "points_clawed_back")] == 100


def test_the_new_members_gift_goes_back_with_her_qualifying_order_and_the_referrers_stays(programs):
    """B, referred by A, spends 300 NOK (her welcome voucher comes with that order; A's mug with B's
    qualifying purchase) and returns it whole: the voucher is taken back, A's mug stays."""
    path, prog = programs["REFERRAL_BACK"]
    rows = [["A", "2024-02-01T10:00", "referral", "", "B"], _buy("B", "2024-02-10T10:00", "b1", "300.00"),
            ["B", "2024-02-11T10:00", "return", "b1", "", "", "", "0.00"]]
    got = _same_member_by_member(path, prog, _rows(prog, rows))
    assert _rewards(got, "voucher") == (1, 1)  # "welcome gift"
    assert _rewards(got, "mug") == (1, 0)  # "thanks for a shopper"


@pytest.mark.parametrize("seed", range(8))
def test_referrals_with_rewards_taken_back_member_by_member(programs, seed):
    path, prog = programs["REFERRAL_BACK"]
    _same_member_by_member(path, prog, _referral_history(prog, seed, 8, 14))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 10), max_events=st.sampled_from([3, 12, 40]))
def test_goals_with_rewards_taken_back_on_generated_histories(programs, seed, members, max_events):
    path, prog = programs["GOALS_BACK"]
    history = _history(prog, seed, members, max_events)
    plan, vec, ref = _both(path, prog, history, seed=seed)
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)
    _same_member_by_member(path, prog, history)


# ------------------------------------------------------------------ a stock shared with a goal's gift

STOCKED = """
program "Stocked" {
  currency NOK
  timezone "Europe/Oslo"
  rewards are taken back on return
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
}
reward "mug" is a gift "mug" costing 20 NOK limited to 3
redeem 500 points for "mug"
rule "points" {
  earn 1 point per 1 NOK
}
rule "goal mug" {
  give "mug"
  after 100 NOK spent in a calendar month
}
rule "visits streak mug" {
  give "mug"
  after a visit in 2 consecutive weeks
}
rule "welcome mug" {
  give "mug"
  on first purchase
}
"""


def _stocked(tmp_path, rows):
    from loyalty.simulate.parallel import simulate_in_process
    from loyalty.simulate.run import load_program
    from test_vector_kernel import _rows as rows_of

    path = tmp_path / "stocked.loyalty"
    path.write_text(STOCKED)
    prog = load_program(str(path))
    history = rows_of(prog, rows)
    plan = _plan(str(path), prog, history)
    vec = simulate_in_process(plan, history, kernel="vector")
    ref = simulate_in_process(plan, history, kernel="python")
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)
    assert vec.counts.get("routed", 0) == 0
    return vec


def _given(result, rule):
    return result.cells.get(("rule", rule, "rewards"), 0)


def test_a_goal_gift_claims_the_stock_after_the_purchases_own_gift(tmp_path):
    """Three mugs in stock. B's first purchase (1 February) takes one; A's first purchase (5 February, 150 NOK)
    both welcomes her and reaches the month's goal: the welcome mug is claimed first (the purchase's own
    gifts come before the goals it reaches, whatever the rules' order in the source), then the goal's: the
    last mug; C's first purchase after that finds none."""
    buy = [["B", "2024-02-01T10:00", "purchase", "b1", "basic wash", "", "1", "10.00", "", ""],
           ["A", "2024-02-05T10:00", "purchase", "a1", "basic wash", "", "1", "150.00", "", ""],
           ["C", "2024-02-06T10:00", "purchase", "c1", "basic wash", "", "1", "10.00", "", ""]]
    got = _stocked(tmp_path, buy)
    assert _given(got, "welcome mug") == 2 and _given(got, "goal mug") == 1


def test_the_stock_runs_out_between_a_purchases_gift_and_its_goal(tmp_path):
    """Two purchases before take two mugs; A's purchase then welcomes her (the last mug) and reaches the goal
    (none left: the goal's gift is refused, not the welcome)."""
    buy = [["B", "2024-02-01T10:00", "purchase", "b1", "basic wash", "", "1", "10.00", "", ""],
           ["C", "2024-02-02T10:00", "purchase", "c1", "basic wash", "", "1", "10.00", "", ""],
           ["A", "2024-02-05T10:00", "purchase", "a1", "basic wash", "", "1", "150.00", "", ""]]
    got = _stocked(tmp_path, buy)
    assert _given(got, "welcome mug") == 3 and _given(got, "goal mug") == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 20), max_events=st.sampled_from([3, 12, 40]))
def test_goal_and_streak_gifts_with_a_stock_on_generated_histories(tmp_path_factory, seed, members, max_events):
    from loyalty.simulate.run import load_program

    path = tmp_path_factory.mktemp("stocked") / "stocked.loyalty"
    path.write_text(STOCKED)
    prog = load_program(str(path))
    history = _history(prog, seed, members, max_events)
    plan = _plan(str(path), prog, history, seed)
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        vec, ref = _passes_both(plan, alone)
        assert vec.canonical() == ref.canonical(), member
    vec, ref = _passes_both(plan, history)
    assert vec.canonical() == ref.canonical()
    assert _report(plan, history, vec) == _report(plan, history, ref)


def test_a_gift_the_stock_refused_is_not_taken_back(tmp_path):
    """B, C and D take the three mugs; E's first purchase finds none. E returns her order whole: nothing goes
    back (she was given nothing); B returns hers: her mug goes back (the stock stays spent)."""
    buy = [[m, f"2024-02-0{d}T10:00", "purchase", f"{m.lower()}1", "basic wash", "", "1", "10.00", "", ""]
           for d, m in enumerate("BCDE", start=1)]
    back = [["E", "2024-02-06T10:00", "return", "e1", "", "", "", "0.00", "", ""],
            ["B", "2024-02-07T10:00", "return", "b1", "", "", "", "0.00", "", ""]]
    got = _stocked(tmp_path, buy + back)
    assert got.cells[("reward", "mug", "given")] == 3
    assert got.cells[("reward", "mug", "taken_back")] == 1
