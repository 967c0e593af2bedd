"""Gifts of goals, streaks and two-sided referral under `rewards are taken back on return` on the vectorised
kernel (issue 12): a goal's, a streak's or a referrer's gift is the member's and stays; the new member's gift
for her qualifying purchase goes with that order. The kernel equals the scalar plan member by member, on
hand-written and generated histories."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from test_vector_goals import GOALS, REFERRAL, _buy, _referral_history, _rows, _same_member_by_member
from test_vector_kernel import _both, _history, _program, _report

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
