"""The tier step's per-lockstep-step shortcuts (runtime/mechanics/tiers.py `VectorTiers`): a member's tier found
by one searchsorted among the thresholds (`qualified`, against formulas.qualified_tier), and a step skipping the
timers (`_advance`) when none of its members has a review, grace end or paid period's end due by her event
(`next_due`). Each is held equal to the scalar plan member by member, on hand-written edges (a threshold crossed
and uncrossed by a return the same day, a review at a month boundary, grace, a paid period) over several members
whose timers fall at different steps, and on generated tier programs and histories."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import loyalty
from loyalty.runtime.formulas import qualified_tier
from loyalty.runtime.mechanics.tiers import VectorTiers, ordered_thresholds
from loyalty.simulate.engine import make_plan, program_info
from loyalty.simulate.result import KEY_SEP
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import Unsupported, supports
from loyalty.simulate.vector import kernel
from test_fees_kernel import _buy, _changes, _fee, _history, _return, _same_on_both
from test_vector_kernel import _vector_solved, assert_member_by_member, history_of


@settings(max_examples=300, deadline=None)
@given(thresholds=st.lists(st.integers(-50, 50), min_size=1, max_size=5),
       values=st.lists(st.integers(-100, 100), min_size=1, max_size=30))
def test_qualified_by_searchsorted_is_qualified_tier(thresholds, values):
    """Thresholds in order (as tiers are) or not (then formulas.qualified_tier itself): the same tier."""
    for th in (thresholds, sorted(thresholds)):
        tiers = SimpleNamespace(qualified=lambda v, th=tuple(th): qualified_tier(th, v))
        vt = SimpleNamespace(sorted_thresholds=ordered_thresholds(tuple(th)), tiers=tiers)
        arr = np.array(values, dtype=np.int64)
        got = VectorTiers.qualified(vt, arr)
        assert got.tolist() == [qualified_tier(th, v) for v in values]
    assert ordered_thresholds(tuple(sorted(thresholds))) is not None


# tiers by spend in the calendar month or a rolling 30 days, reviewed at each month's end (with grace or not)
# or never; "plus" is paid monthly; a member holds no tier until she has spent 200 NOK (so reviews start after
# an event, not before it)
PROGRAM = """
program "Tier steps" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
  balance may go negative
}
rule "base" {
  earn 1 point per 10 NOK
}
tiers by spend in {window} {
  tier "member" from 200 NOK
  tier "plus" from 1000 NOK {
    fee 100 NOK per month
    get 10% off
  }
  tier "gold" from 5000 NOK {
    earn 2x points
  }
{downgrade}}
"""


def _program(window: str, grace):
    downgrade = "" if grace is None else f"  downgrade at the end of each month{grace}\n"
    text = PROGRAM.replace("{window}", window).replace("{downgrade}", downgrade)
    return loyalty.compile_source(text, "steps.loyalty").compiled


# each a member's rows; together in one history, so that a lockstep step holds members with a timer due and
# members without one
MEMBERS = {
    # gold by a purchase, back below by returning it the same day; the month's review finds plus
    "crossed and uncrossed": [_buy("A", "2024-01-05T10:00", "a1", "4500.00"), _buy("A", "2024-01-05T11:00", "a2", "900.00"),
                              _return("A", "2024-01-05T15:00", "a2"), _buy("A", "2024-02-03T10:00", "a3", "10.00"),
                              _buy("A", "2024-03-03T10:00", "a4", "10.00")],
    # events exactly at the review's moment (midnight, the first of the month), and the moment after
    "at the boundary": [_buy("B", "2024-01-31T23:59", "b1", "1200.00"), _buy("B", "2024-02-01T00:00", "b2", "50.00"),
                        _buy("B", "2024-03-01T00:00", "b3", "50.00"), _buy("B", "2024-03-01T00:01", "b4", "5000.00"),
                        _buy("B", "2024-04-01T00:00", "b5", "10.00")],
    # gold in January, nothing in February: March's review starts a grace; she buys again inside it
    "requalifies in grace": [_buy("C", "2024-01-10T10:00", "c1", "6000.00"), _buy("C", "2024-03-02T10:00", "c2", "6000.00"),
                             _buy("C", "2024-03-20T10:00", "c3", "10.00"), _buy("C", "2024-05-20T10:00", "c4", "10.00")],
    # gold in January, nothing in February: March's review starts two months' grace; qualifying again on 2 March
    # ends it, so May's review (nothing in April) starts a new one and she is gold until July (had the first
    # grace gone on, it would have ended on 1 May and taken her down then)
    "grace ended by qualifying": [_buy("G", "2024-01-10T10:00", "g1", "6000.00"), _buy("G", "2024-03-02T10:00", "g2", "6000.00"),
                                  _buy("G", "2024-05-20T10:00", "g3", "10.00"), _buy("G", "2024-07-20T10:00", "g4", "10.00")],
    # paid plus, its period ending between two of her events; a return while paid
    "paid period": [_fee("D", "2024-01-04T10:00"), _buy("D", "2024-01-06T10:00", "d1", "6000.00"),
                    _return("D", "2024-01-08T10:00", "d1"), _buy("D", "2024-02-20T10:00", "d2", "10.00"),
                    _fee("D", "2024-03-15T10:00"), _buy("D", "2024-04-20T10:00", "d3", "10.00")],
    # many events, none near a review of hers: the steps she is alone in skip the timers
    "busy": [_buy("E", f"2024-01-{d:02d}T{h:02d}:00", f"e{d}{h}", "30.00") for d in range(2, 28) for h in (9, 17)],
}


@pytest.mark.parametrize("window", ["the calendar month", "the last 30 days"])
@pytest.mark.parametrize("grace", ["", " with 2 months grace", None])
def test_hand_written_tier_steps_equal_the_scalar_plan(window, grace):
    prog = _program(window, grace)
    rows = [r for member in MEMBERS.values() for r in member]
    rows.sort(key=lambda r: r[1])
    ref = _same_on_both(prog, _history(prog, rows))  # the whole history in lockstep, one by one, each alone
    changes = _changes(ref)  # the edges happened: ups to gold, downs from it (a return, a review, a grace's end)
    assert sum(n for (a, b), n in changes.items() if b == "gold") >= 2, changes
    assert sum(n for (a, b), n in changes.items() if a == "gold") >= 1, changes
    assert sum(r["payments"] for r in ref.tables["fee"].values()) == 2


def _generated(data):
    from event_strategies import draw_vectorisable_program, facts, history_rows, member_histories

    _, program = draw_vectorisable_program(data)
    prog = program.compiled
    assume(prog.tiers is not None and supports(prog) is None)
    paid = tuple(t for t in facts(program).paid_tiers if t == t.strip())
    histories = [data.draw(member_histories(program, member=f"m{i}", max_events=14), label=f"m{i}")
                 for i in range(data.draw(st.integers(2, 5), label="members"))]
    rows = history_rows(histories, prog.exponent, paid)
    tiers = tuple((t.name, t.fee is not None) for t in prog.tiers.tiers)
    history = history_of(prog, rows, tiers=tiers)
    plan = make_plan(prog, program_info(prog, "generated.loyalty"), Scenario(), history, {})
    kernel.ROUTED.clear()
    try:
        whole = _vector_solved(plan, history, tail_members=0)
    except Unsupported:  # figures past 64-bit arithmetic: the run goes to the scalar plan
        assume(False)
    assert_member_by_member(plan, history, whole)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_tier_programs_member_by_member(data):
    """Generated programs with tiers (any metric and window, reviews, grace, paid tiers), cut to what the
    kernel runs, on generated histories of several members in one lockstep: each member's result and the whole
    history's, the kernel's against the scalar plan's."""
    _generated(data)


# ---------------------------------------------------------------- the first guess of tiers by spend
# Tiers by spend read by a tier's discount (bookstore's, outdoor_club's and tiered_returns' shape): the kernel's
# first guess runs the state-free steps once per tier and each event adds to the spend what it paid at the
# tier the lockstep finds it at (a return: what its order paid, at the order's tier), Kernel._tier_guess_by_tier.

SPEND_DISCOUNT = """
program "Spend tiers with discounts" {
  currency NOK
  timezone "Europe/Oslo"
  rewards are taken back on return
}
points "points" {
  cost 0.01 NOK each
  balance may go negative
}
rule "points" {
  earn 1 point per 1 NOK
}
tiers by spend in {window} {
  tier "silver" from 100 NOK {
    earn 1.5x points
    get 20% off
  }
  tier "gold" from 300 NOK {
    earn 2x points
    get 50% off
  }
{downgrade}}
"""


def _spend_program(window, downgrade):
    text = SPEND_DISCOUNT.replace("{window}", window).replace("{downgrade}", downgrade)
    return loyalty.compile_source(text, "spend.loyalty").compiled


@pytest.mark.parametrize("window, downgrade", [
    ("the calendar year", "  downgrade at the end of each month with 1 week grace\n"),
    ("the last 30 days", "  downgrade at the end of each month\n"),
    ("the calendar month", ""),
])
def test_tiers_by_spend_guessed_tier_by_tier_are_the_settled_ones(monkeypatch, window, downgrade):
    """Purchases that cross a tier only at a tier's discount (250.00 at silver's 20% off pays 200: 300, gold;
    at no tier it would be 350 paid), a return at gold of an order made at silver (it takes back the 200 the
    order paid, not the 125 it would have paid at gold: 450 - 200, silver, not 325, gold), one crossing back
    down before the order's first tier: the first guess is every event's
    settled tier (one pass confirms it), and the result is the scalar plan's, member by member."""
    from test_kernel_calendar import _guessed_and_settled

    prog = _spend_program(window, downgrade)
    rows = [_buy("A", "2024-03-10T10:00", "a1", "100.00"), _buy("A", "2024-03-11T10:00", "a2", "250.00"),
            _buy("A", "2024-03-12T10:00", "a3", "300.00"), _return("A", "2024-03-13T10:00", "a2"),
            _buy("A", "2024-03-14T10:00", "a4", "40.00"),
            _buy("B", "2024-03-10T11:00", "b1", "99.00"), _buy("B", "2024-03-10T12:00", "b2", "1.00"),
            _buy("B", "2024-03-10T13:00", "b3", "170.00"), _return("B", "2024-03-10T14:00", "b1"),
            _buy("B", "2024-03-10T15:00", "b4", "60.00"),
            _buy("C", "2024-03-10T11:00", "c1", "6.00")]
    rows.sort(key=lambda r: r[1])
    history = _history(prog, rows)
    plan = make_plan(prog, program_info(prog, "spend.loyalty"), Scenario(), history, {})
    result, runs = _guessed_and_settled(monkeypatch, plan, history)
    assert runs and max(settled.max() for _, settled, _ in runs) == 1  # gold reached
    for guessed, settled, passes in runs:
        assert guessed.tolist() == settled.tolist()
        assert passes == 1
    monkeypatch.undo()
    _same_on_both(prog, history)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 12), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["examples/programs/bookstore.loyalty", "examples/programs/outdoor_club.loyalty",
                              "benchmarks/programs/tiered_returns.loyalty"]))
def test_generated_histories_of_spend_tier_programs(seed, members, max_events, which):
    """bookstore, outdoor_club and tiered_returns on generated histories (returns, signups ...): the kernel, from
    its tier-by-tier first guess, equals the scalar plan for the whole history and member by member."""
    from loyalty.simulate.engine import simulate
    from loyalty.simulate.vector import simulate_vector

    from test_vector_kernel import ROOT, _history as generated_history, _plan
    from loyalty.simulate.run import load_program

    path = ROOT / which
    prog = load_program(str(path))
    history = generated_history(prog, seed, members, max_events)
    plan = _plan(str(path), prog, history, seed % 7)
    assert simulate_vector(plan, history).canonical() == simulate(plan, history).canonical()
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical()


# ---------------------------------------------------------------- take-backs leaving a rolling window
# VectorTiers._rolling_at: what a return took back is dated at its order; once a member's window starts after
# that order it stays out of every later window of hers (her window start only moves on), so it leaves the list
# the step searches and is kept per member (`dec_gone`).

def test_take_backs_leaving_a_rolling_window_stay_out_of_it():
    """A buys 4,000 and returns it the next day (no tier); her next purchases, six weeks on, fill a 30-day window
    alone: 300 (member), 1,000 the day after (1,300: plus), 4,500 on 1 March (4,050 paid at plus's 10% off: 5,350,
    gold in March, not before). Right
    only if what the return took back (dated at the first order, before the window) stays out of the window once,
    and only once, at each purchase, the later ones after it left the list. B's return stays in her window for a
    while (a take-back not out yet, in the same lockstep steps); C's order is returned inside the window."""
    prog = _program("the last 30 days", None)
    rows = [_buy("A", "2024-01-01T10:00", "a1", "4000.00"), _return("A", "2024-01-02T10:00", "a1"),
            _buy("A", "2024-02-15T10:00", "a2", "300.00"), _buy("A", "2024-02-16T10:00", "a3", "1000.00"),
            _buy("A", "2024-03-01T10:00", "a4", "4500.00"),
            _buy("B", "2024-01-01T11:00", "b1", "1500.00"), _return("B", "2024-01-03T11:00", "b1"),
            _buy("B", "2024-01-10T11:00", "b2", "100.00"), _buy("B", "2024-01-20T11:00", "b3", "150.00"),
            _buy("B", "2024-03-20T11:00", "b4", "250.00"),
            _buy("C", "2024-02-01T12:00", "c1", "6000.00"), _return("C", "2024-02-10T12:00", "c1"),
            _buy("C", "2024-02-12T12:00", "c2", "250.00"), _buy("C", "2024-02-14T12:00", "c3", "800.00")]
    rows.sort(key=lambda r: r[1])
    ref = _same_on_both(prog, _history(prog, rows))
    changes = _changes(ref)
    assert changes.get(("plus", "gold")) == 1, changes  # A, in March
    assert changes.get(("", "gold")) == 1, changes  # C, by 6,000 at once (returned)
    assert ref.tables["tier_month"]["gold" + KEY_SEP + "2024-03"]["members"] == 1


# ---------------------------------------------------------------- a rolling window's metric found before the steps
# VectorTiers._rolling_ahead: tiers by visits in a rolling window (gym's shape): no step's state moves the metric
# (a return is no visit), so each event's window sum and tier are found for all events at once; the steps read
# them, and a review (`_metric_at`) reads the running sums they leave.

VISITS = """
program "Visit tiers" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
rule "visits" {
  earn 10 points per visit
}
tiers by visits in the last 30 days {
  tier "regular" from 3 {
    earn 2x points
  }
  tier "devotee" from 6 {
    earn 3x points
    get 10% off
  }
{downgrade}}
"""


@pytest.mark.parametrize("downgrade", ["", "  downgrade at the end of each month\n",
                                       "  downgrade at the end of each month with 1 week grace\n"])
def test_visit_tiers_in_a_rolling_window_found_before_the_steps(monkeypatch, downgrade):
    """A: six visits in a week (devotee), then one a fortnight (the window thins: reviews take her down, with
    grace or not), then six again; B: three visits, a return, three more within 30 days (regular, then devotee:
    the return is no visit); C: visits 31 days apart (never two in a window). The kernel equals the scalar plan
    member by member, and the window's metric was found before the steps."""
    prog = loyalty.compile_source(VISITS.replace("{downgrade}", downgrade), "visits.loyalty").compiled
    days = [2, 3, 4, 5, 6, 7, 21, 35, 49, 63, 64, 65, 66, 67, 68]
    rows = [_buy("A", f"2024-{1 + (d - 1) // 31:02d}-{(d - 1) % 31 + 1:02d}T10:00", f"a{d}", "20.00")
            for d in days if (d - 1) % 31 + 1 <= 28]
    rows += [_buy("B", f"2024-01-{d:02d}T11:00", f"b{d}", "30.00") for d in (3, 5, 7)]
    rows += [_return("B", "2024-01-08T11:00", "b5")]
    rows += [_buy("B", f"2024-01-{d:02d}T11:00", f"b{d}", "30.00") for d in (10, 12, 14)]
    rows += [_buy("C", f"2024-{m:02d}-01T12:00", f"c{m}", "10.00") for m in (1, 2, 3, 4)]
    rows.sort(key=lambda r: r[1])
    found = []
    real = VectorTiers._rolling_ahead

    def noting(self):
        out = real(self)
        found.append(out is not None)
        return out

    monkeypatch.setattr(VectorTiers, "_rolling_ahead", noting)
    ref = _same_on_both(prog, _history(prog, rows))
    assert found and all(found)
    changes = _changes(ref)
    assert changes.get(("regular", "devotee"), 0) + changes.get(("", "devotee"), 0) >= 2, changes  # A and B
    if downgrade:
        assert changes.get(("devotee", "regular"), 0) + changes.get(("devotee", ""), 0) >= 1, changes  # A's review
