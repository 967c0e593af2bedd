"""Paid tiers on the vectorised kernel (runtime/mechanics/fees.py `VectorFees`, run by tiers.VectorTiers): the
kernel's result equals the scalar plan's member by member (every cell: per rule, per tier and month, per cost
cell, the fee tables, the member's row) on hand-computed histories and on generated programs and histories
with fee rows, and no member with a fee row is routed to the scalar plan."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import loyalty
from loyalty.simulate.engine import make_plan, program_info, simulate
from loyalty.simulate.history import ReadOptions, build_history
from loyalty.simulate.render import to_json
from loyalty.simulate.report import HistoryInfo, build_report
from loyalty.simulate.result import KEY_SEP
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import Unsupported, simulate_vector, supports
from loyalty.simulate.vector import kernel
from test_vector_kernel import _vector_solved, assert_member_by_member, history_of

# tiers by points earned in the calendar month, reviewed at each month's end; "plus" is paid monthly
MONTHLY = """
program "Paid on the kernel" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  balance stops at zero
}
rule "base" {
  earn 1 point per 10 NOK
}
tiers by points earned in the calendar month {
  tier "member" from 0 points
  tier "plus" from 100 points {
    fee 100 NOK per {period}
    get 10% off
  }
  tier "gold" from 500 points {
    earn 2x points
  }
{downgrade}}
"""

HEADER = ["member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel"]


def _compiled(text: str):
    return loyalty.compile_source(text, "paid.loyalty").compiled


def _monthly(grace, period: str = "month"):
    """MONTHLY reviewed at each month's end with `grace` ("", " with 1 week grace"...), or never (None); plus's
    fee paid per `period`."""
    text = MONTHLY.replace("{downgrade}", "" if grace is None else f"  downgrade at the end of each month{grace}\n")
    return _compiled(text.replace("{period}", period))


def _history(prog, rows):
    cols = {h: [r[i] if i < len(r) and r[i] != "" else None for r in rows] for i, h in enumerate(HEADER)}
    tiers = tuple((t.name, t.fee is not None) for t in prog.tiers.tiers)
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone, tiers=tiers)
    return build_history(cols, "paid.csv", 2, options)


def _buy(member, when, order, amount):
    return [member, when, "purchase", order, "tent", "", "1", amount]


def _fee(member, when, tier="plus"):
    return [member, when, "fee", "", tier]


def _return(member, when, order):
    return [member, when, "return", order, "", "", "", "0.00"]


def _report(plan, history, result) -> str:
    info = HistoryInfo(history.file, len(history), {}, *history.time_range())
    return to_json(build_report(result, plan.info, info, {}, list(plan.months)))


def _same_on_both(prog, history):
    """The kernel's result (every member in it: none routed) equal to the scalar plan's, for the whole history
    and for each member alone (the lockstep's one-by-one tail from the start, and never); the scalar result."""
    plan = make_plan(prog, program_info(prog, "paid.loyalty"), Scenario(), history, {})
    assert supports(prog, plan) is None
    kernel.ROUTED.clear()
    ref = simulate(plan, history)
    for tail in (0, 10**9):
        vec = simulate_vector(plan, history, tail_members=tail)
        assert vec.canonical() == ref.canonical(), f"tail_members={tail}"
    assert not kernel.ROUTED
    assert _report(plan, history, vec) == _report(plan, history, ref)
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member
    return ref


def _final(result) -> dict:
    return {row[0]: row[9] for row in result.members}


def _changes(result) -> dict:
    """(from, to) -> members, from the tier-change table ("" for no tier)."""
    return {tuple(key.split(KEY_SEP)): row["members"] for key, row in result.tables["tier_change"].items()}


def _tier_by_month(result) -> dict:
    """month -> the tier of the one member at its end."""
    out = {}
    for key, row in result.tables["tier_month"].items():
        tier, month = key.split(KEY_SEP)
        assert row["members"] == 1 and month not in out
        out[month] = tier
    return out


# name -> (the program's downgrade (`_monthly`), the member's rows, tier changes (from, to) -> how many, her
# tier at the end of each month)
CASES = {
    # already gold by her points when she pays for plus: the fee does not lower her, and when the period ends
    # she is still above it (the February review kept her gold on January's 600 points); March's review
    # (February: nothing earned) takes her down to member
    "higher by points": ("", [_buy("A", "2024-01-05T10:00", "a1", "6000.00"), _fee("A", "2024-01-10T10:00"),
                              _buy("A", "2024-03-20T10:00", "a2", "10.00")],
                         {("member", "gold"): 1, ("gold", "member"): 1},
                         {"2024-01": "gold", "2024-02": "gold", "2024-03": "member"}),
    # renewed before the period ends: paid ahead, the period runs to 10 March (not 20 February); the February
    # and March reviews find nothing earned and the floor holds; the period's end takes her to member
    "renewed ahead": ("", [_fee("B", "2024-01-10T10:00"), _fee("B", "2024-01-20T10:00"),
                           _buy("B", "2024-03-20T10:00", "b1", "10.00")],
                      {("member", "plus"): 1, ("plus", "member"): 1},
                      {"2024-01": "plus", "2024-02": "plus", "2024-03": "member"}),
    # paid at midnight on 1 January: the period ends exactly at the February review, which goes first and
    # finds no floor (the period ends at that moment); she drops once
    "ends on a month boundary": ("", [_fee("C", "2024-01-01T00:00"), _buy("C", "2024-02-15T10:00", "c1", "10.00")],
                                 {("member", "plus"): 1, ("plus", "member"): 1},
                                 {"2024-01": "plus", "2024-02": "member"}),
    # plus by the fee, gold by a big order, the order returned: the return lowers her to the paid tier, not
    # below it; the period's end (4 February) takes her to member
    "return while paid": ("", [_fee("D", "2024-01-04T10:00"), _buy("D", "2024-01-06T10:00", "d1", "6000.00"),
                               _return("D", "2024-01-08T10:00", "d1"), _buy("D", "2024-02-20T10:00", "d2", "10.00")],
                          {("member", "plus"): 1, ("plus", "gold"): 1, ("gold", "plus"): 1, ("plus", "member"): 1},
                          {"2024-01": "plus", "2024-02": "member"}),
    # plus by her points in January, paid on 10 February: the March review (February: nothing) finds member
    # but the floor holds her at plus; the period ends 10 March and she drops
    "review inside the period": ("", [_buy("E", "2024-01-05T10:00", "e1", "2000.00"), _fee("E", "2024-02-10T10:00"),
                                      _buy("E", "2024-03-25T10:00", "e2", "10.00")],
                                 {("member", "plus"): 1, ("plus", "member"): 1},
                                 {"2024-01": "plus", "2024-02": "plus", "2024-03": "member"}),
    # plus by her points when she pays (6 January): the period's end (6 February) falls back to the tier the
    # February review found (plus, on January's points), not to what February's metric meets; March's review
    # takes her down
    "end falls back to the review": ("", [_buy("F", "2024-01-05T10:00", "f1", "2000.00"),
                                          _fee("F", "2024-01-06T10:00"), _buy("F", "2024-03-20T10:00", "f2", "10.00")],
                                     {("member", "plus"): 1, ("plus", "member"): 1},
                                     {"2024-01": "plus", "2024-02": "plus", "2024-03": "member"}),
    # plus by December's points, paid at midnight on 1 January (after that moment's review): the period ends at
    # the February review's moment; the review goes first (a month's grace toward member, and what the period's
    # end falls back to: member), so the end takes her down at once, not when the grace ends on 1 March
    "review first at the end's moment": (" with 1 month grace",
                                         [_buy("H", "2023-12-20T10:00", "h1", "2000.00"),
                                          _fee("H", "2024-01-01T00:00"), _buy("H", "2024-02-15T10:00", "h2", "10.00")],
                                         {("member", "plus"): 1, ("plus", "member"): 1},
                                         {"2023-12": "plus", "2024-01": "plus", "2024-02": "member"}),
    # no reviews: paid twice while a member (the second ahead, to 10 March); the period's end falls back to the
    # tier she held before the first payment, not the paid one she held at the second
    "paid twice without reviews": (None, [_fee("I", "2024-01-10T10:00"), _fee("I", "2024-01-20T10:00"),
                                          _buy("I", "2024-03-20T10:00", "i1", "10.00")],
                                   {("member", "plus"): 1, ("plus", "member"): 1},
                                   {"2024-01": "plus", "2024-02": "plus", "2024-03": "member"}),
}


# plus by January's points; the March review (February: nothing) starts two months' grace toward member; she
# pays a week of plus on 3 March, which ends the grace; the week's end (10 March) falls back to plus (what
# she held when she paid); the April review starts a new grace, to 1 June, so she is plus through May (the
# old grace, had it gone on, would have taken her down on 1 May)
PAID_DURING_GRACE = [_buy("J", "2024-01-05T10:00", "j1", "2000.00"), _fee("J", "2024-03-03T10:00"),
                     _buy("J", "2024-05-20T10:00", "j2", "10.00")]


def test_paying_during_a_grace_period_ends_it():
    prog = _monthly(" with 2 months grace", "week")
    ref = _same_on_both(prog, _history(prog, PAID_DURING_GRACE))
    assert _tier_by_month(ref) == {"2024-01": "plus", "2024-02": "plus", "2024-03": "plus", "2024-04": "plus",
                                   "2024-05": "plus"}
    assert _changes(ref) == {("member", "plus"): 1}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hand_computed_paid_periods_on_the_kernel_equal_the_scalar_plan(case):
    grace, rows, changes, months = CASES[case]
    prog = _monthly(grace)
    ref = _same_on_both(prog, _history(prog, rows))
    assert _changes(ref) == changes
    assert _tier_by_month(ref) == months
    assert _final(ref) == {rows[0][0]: months[max(months)]}
    assert sum(r["payments"] for r in ref.tables["fee"].values()) == sum(1 for r in rows if r[2] == "fee")


def test_a_review_inside_the_period_sets_what_its_end_falls_back_to_under_grace():
    """With a grace week: gold by January's points, February finds nothing, so March's review starts a grace
    period (to 8 March) toward member; she pays for plus on 3 March (below gold: no change, the grace goes on,
    and she held gold when she paid). The grace end takes her to plus (the floor), not member; the April
    review (March: nothing) finds member, the floor keeps plus, and that review is what the period's end
    on 3 April falls back to: member, not the gold she held when she paid."""
    prog = _monthly(" with 1 week grace")
    rows = [_buy("G", "2024-01-05T10:00", "g1", "6000.00"), _fee("G", "2024-03-03T10:00"),
            _buy("G", "2024-04-20T10:00", "g2", "10.00")]
    ref = _same_on_both(prog, _history(prog, rows))
    assert _final(ref) == {"G": "member"}
    assert _tier_by_month(ref) == {"2024-01": "gold", "2024-02": "gold", "2024-03": "plus", "2024-04": "member"}


def _generated(data):
    from event_strategies import draw_vectorisable_program, facts, history_rows, member_histories

    _, program = draw_vectorisable_program(data)
    prog = program.compiled
    paid = facts(program).paid_tiers
    # a history's item column is read stripped, so a tier named with spaces at its ends cannot be paid in one
    assume(paid and all(t == t.strip() for t in paid) and supports(prog) is None)
    histories = [data.draw(member_histories(program, member=f"m{i}", max_events=14), label=f"m{i}")
                 for i in range(data.draw(st.integers(1, 4), label="members"))]
    rows = history_rows(histories, prog.exponent, paid)
    assume(any(r.get("type") == "fee" for r in rows))
    tiers = tuple((t.name, t.fee is not None) for t in prog.tiers.tiers)
    history = history_of(prog, rows, tiers=tiers)
    plan = make_plan(prog, program_info(prog, "generated.loyalty"), Scenario(), history, {})
    kernel.ROUTED.clear()
    try:
        whole = _vector_solved(plan, history)
    except Unsupported:  # figures past 64-bit arithmetic: the run goes to the scalar plan
        assume(False)
    assert "fee rows naming no paid tier" not in kernel.ROUTED
    assert_member_by_member(plan, history, whole)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_programs_with_paid_tiers_and_fee_rows_member_by_member(data):
    """Generated programs cut to what the kernel runs, with a paid tier, on generated histories with fee rows
    (paid ahead, for another paid tier, during grace, around reviews and returns): each member's result and
    the whole history's, the kernel's against the scalar plan's."""
    _generated(data)
