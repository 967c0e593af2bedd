"""The vectorised kernel on acceptance windows and rewards taken back on a return (issue 12): hand-written
edges, each compared with the scalar plan cell by cell (per rule, reward, month and store) and member by
member, with the kernel shown to have replayed the members itself. Generated programs and histories with
windows and take-backs are in test_vector_kernel.py (WINDOWS, bookstore, tiered_returns) and
test_generated_programs.py (`vectorisable`)."""

import pytest

from loyalty.simulate.engine import make_plan, program_info, simulate
from loyalty.simulate.history import ReadOptions, build_history
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import simulate_vector, supports

import loyalty

PROGRAM = """
program "Windows" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2025-01-01
  rewards are taken back on return
  returns accepted within 60 days
  late events accepted within 14 days
}
points "points" {
  cost 0.01 NOK each
  expire at the end of the next calendar year
  balance stops at zero
}
catalog {
  category "books"
  item "paperback" in category "books" costing 40 NOK
  item "hardback" in category "books" costing 90 NOK
}
store "Bath" in region "South West"
store "York" in region "Yorkshire"
reward "mug" is a gift "mug" costing 20 NOK
reward "bookmark" is a gift "bookmark" costing 1 NOK
rule "a mug on big orders" {
  give "mug"
  when order total >= 100 NOK
}
rule "a bookmark with every order" {
  give "bookmark"
}
rule "a point per krone" {
  earn 1 point per 1 NOK
}
"""

HEADER = ["member", "time", "type", "order", "item", "quantity", "amount", "store", "event"]


def _bought(member, when, order, lines, store="Bath"):
    return [[member, when, "purchase", order, item, str(q), amount, store, ""] for item, q, amount in lines]


def _run(rows, text=PROGRAM, monkeypatch=None):
    """(kernel result, scalar result, members the kernel sent to the scalar plan)."""
    prog = loyalty.compile_source(text, "windows.loyalty").compiled
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    history = build_history(cols, "windows.csv", 2, options)
    plan = make_plan(prog, program_info(prog, "windows.loyalty"), Scenario(), history, {})
    assert supports(prog, plan) is None
    routed = []
    if monkeypatch is not None:
        from loyalty.simulate import engine

        real = engine.replay_members

        def spy(plan, h, slices, *args, **kwargs):
            routed.extend(m for m, _, _ in slices)
            return real(plan, h, slices, *args, **kwargs)

        monkeypatch.setattr(engine, "replay_members", spy)
    vec = simulate_vector(plan, history, tail_members=0)
    if monkeypatch is not None:
        monkeypatch.undo()
    ref = simulate(plan, history)
    assert vec.canonical() == ref.canonical()
    for member, _, _ in history.member_slices():  # member by member: nothing hides in a total
        alone = history.select_members([member])
        assert simulate_vector(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member
    return vec, ref, routed


BIG = [("hardback", 1, "90.00"), ("paperback", 1, "40.00")]  # 130 NOK: a mug and a bookmark


def _cell(result, *key):
    return result.cells.get(key, 0)


@pytest.mark.parametrize("returned_at, accepted", [
    ("2025-03-11T10:00", True),   # exactly 60 days after the purchase: the window's edge, still accepted
    ("2025-03-11T10:01", False),  # a minute past it
    ("2025-03-12T10:00", False),  # a day late
])
def test_a_return_at_the_windows_edge_and_after_it(monkeypatch, returned_at, accepted):
    rows = _bought("A", "2025-01-10T10:00", "O1", BIG) + [["A", returned_at, "return", "O1", "", "", "0.00", "", ""]]
    vec, ref, routed = _run(rows, monkeypatch=monkeypatch)
    assert routed == []  # the kernel replayed her
    assert _cell(vec, "rejected", "return outside the return window", "events") == (0 if accepted else 1)
    # a whole return takes back both rewards its order earned, at their cost, in the month of the return
    assert _cell(vec, "reward", "mug", "taken_back") == (1 if accepted else 0)
    assert _cell(vec, "reward", "bookmark", "taken_back") == (1 if accepted else 0)
    assert _cell(vec, "reward", "mug", "cost") == (0 if accepted else 2000)
    if accepted:
        assert _cell(vec, "reward_month", "mug\x1f2025-03", "cost") == -2000  # the month of the return
        assert _cell(vec, "reward_month", "mug\x1f2025-01", "cost") == 2000
        assert _cell(vec, "rule", "a mug on big orders", "rewards") == 0


def test_a_return_of_an_order_not_known_is_outside_the_window(monkeypatch):
    rows = _bought("A", "2025-01-10T10:00", "O1", BIG) + [["A", "2025-01-11T10:00", "return", "O9", "", "", "0.00", "", ""]]
    vec, _, routed = _run(rows, monkeypatch=monkeypatch)
    assert routed == []
    assert _cell(vec, "rejected", "return outside the return window", "events") == 1


def test_partial_returns_take_back_rewards_only_when_the_order_is_whole(monkeypatch):
    rows = (_bought("A", "2025-01-10T10:00", "O1", BIG)
            + [["A", "2025-01-12T10:00", "return", "O1", "", "", "30.00", "", ""],      # by amount: part of it
               ["A", "2025-01-13T10:00", "return", "O1", "paperback", "1", "0.00", "", ""]]  # by lines: not all yet
            + _bought("B", "2025-01-10T10:00", "P1", BIG)
            + [["B", "2025-01-12T10:00", "return", "P1", "", "", "30.00", "", ""],
               ["B", "2025-01-14T10:00", "return", "P1", "", "", "100.00", "", ""]])   # the rest: whole now
    vec, _, routed = _run(rows, monkeypatch=monkeypatch)
    assert routed == []
    assert _cell(vec, "reward", "mug", "taken_back") == 1  # B's, at her second return; A's order is not whole
    assert _cell(vec, "reward", "mug", "given") == 2
    row = {r[0]: r for r in vec.canonical()["members"]}
    assert row["A"] != row["B"]


def test_a_late_events_window_refuses_nothing_in_a_history_replayed_in_time_order(monkeypatch):
    """The history is replayed in time order, so no event is before the member's latest one: the same
    results with and without the window (an event 14 days after the one before is at the window's edge)."""
    rows = (_bought("A", "2025-01-01T10:00", "O1", BIG) + _bought("A", "2025-01-15T10:00", "O2", BIG)
            + [["A", "2025-01-29T10:00", "return", "O2", "", "", "0.00", "", ""]])
    vec, _, routed = _run(rows, monkeypatch=monkeypatch)
    assert routed == []
    without = PROGRAM.replace("  late events accepted within 14 days\n", "")
    assert without != PROGRAM
    assert _run(rows, without)[0].canonical() == vec.canonical()
    assert not any(k[0] == "rejected" for k in vec.cells)


@pytest.mark.parametrize("resent_at, duplicate", [("2025-01-24T10:00", True), ("2025-01-24T10:01", False)])
def test_a_resend_inside_and_outside_the_window(monkeypatch, resent_at, duplicate):
    """A resend (the same event id again) within 14 days of the first is ignored; after that it is a new event.
    Members whose rows carry event ids are replayed by the scalar plan (the kernel keeps no ids): exact."""
    rows = [["A", "2025-01-10T10:00", "purchase", "O1", "hardback", "1", "90.00", "Bath", "E1"],
            ["A", resent_at, "purchase", "O2", "hardback", "1", "90.00", "Bath", "E1"]]
    rows += _bought("B", "2025-01-10T10:00", "P1", BIG)
    from loyalty.simulate.vector import kernel  # here: other tests may load the module afresh

    reason = "event ids under a late-events window (resends)"
    before = kernel.ROUTED[reason]
    vec, _, routed = _run(rows, monkeypatch=monkeypatch)
    assert routed == ["A"]
    # counted (and said by --verbose), never a silent fallback: her run with everyone and her run alone
    assert kernel.ROUTED[reason] - before == 2
    assert vec.counts.get("duplicates_ignored", 0) == (1 if duplicate else 0)
    assert _cell(vec, "reward", "bookmark", "given") == (2 if duplicate else 3)


def test_points_last_until_the_end_of_the_next_year(monkeypatch):
    rows = (_bought("A", "2025-03-10T10:00", "O1", BIG) + _bought("A", "2026-12-31T23:59", "O2", BIG)
            + _bought("A", "2027-01-01T00:00", "O3", BIG))
    vec, _, routed = _run(rows, monkeypatch=monkeypatch)
    assert routed == []
    assert _cell(vec, "points", "points\x1f2027-01", "expired") == 130  # O1's, at the start of 2027
