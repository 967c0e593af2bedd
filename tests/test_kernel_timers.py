"""Timers and offers on the vectorised kernel (runtime/mechanics/winback.py, moments.py, offers.py): hand-written
members whose figures are worked out below, each the same from the kernel as from the scalar plan, and the
examples that need them run on the kernel."""

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from loyalty.simulate.engine import make_plan, program_info, simulate
from loyalty.simulate.history import MemberAttributes, ReadOptions, build_history
from loyalty.simulate.run import load_program
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import simulate_vector, supports

ROOT = Path(__file__).resolve().parent.parent

HAND = """
program "Hand" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "cups"
  item "coffee" in category "cups" costing 6 NOK
}
reward "free coffee" is a free "coffee" valid for 30 days
reward "birthday card" is a 50 NOK gift card costing 50 NOK valid for 10 days
reward "gold bag" is a gift "bag" costing 40 NOK valid until 2024-06-30
rule "points" {
  earn 1 point per 1 NOK
}
rule "we miss you" {
  give "free coffee"
  after 60 days without a purchase
}
rule "still away" {
  earn 100 points
  after 90 days without a purchase
}
rule "birthday" {
  give "birthday card"
  on each birthday
}
rule "anniversary" {
  earn 7 points
  on each membership anniversary
}
rule "welcome to gold" {
  give "gold bag"
  on reaching tier "gold"
}
tiers by lifetime spend {
  tier "gold" from 100 NOK
}
"""

HEADER = ["member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel"]


def _buy(member, when, order, amount="10.00", store="Main"):
    return [member, when, "purchase", order, "coffee", "", "1", amount, store, ""]


# the history ends on 2025-12-31 (member END's visit), so every timer up to then fires
END = [["END", "2025-12-31T12:00", "visit", "", "", "", "", "", "", ""]]

CASES = {
    # never comes back: the lapse at 60 days gives the coffee, which lapses 30 days on (costs nothing); the
    # points at 90 days come too
    "never": ([_buy("never", "2024-01-10T10:00", "N1")],
              {"free coffee": (1, 0, 1)}, 10 + 100),
    # lapses, comes back within the coffee's 30 days (it is used), lapses again and stays away (it lapses);
    # she is away 90 days only the second time
    "twice": ([_buy("twice", "2024-01-10T10:00", "T1"), _buy("twice", "2024-04-01T10:00", "T2")],
              {"free coffee": (2, 1, 1)}, 10 + 10 + 100),
    # the coffee given 2024-03-10 10:00 ends 2024-04-09 10:00: bought a minute before, it is used
    "last_day": ([_buy("last_day", "2024-01-10T10:00", "L1"), _buy("last_day", "2024-04-09T09:59", "L2")],
                 {"free coffee": (2, 1, 1)}, 10 + 10 + 100),
    # ... bought at its end, it has lapsed first; that is also the very moment she has been away 90 days: the
    # points come first (and again after the second purchase)
    "day_after": ([_buy("day_after", "2024-01-10T10:00", "D1"), _buy("day_after", "2024-04-09T10:00", "D2")],
                  {"free coffee": (2, 0, 2)}, 10 + 100 + 10 + 100),
    # born 29 February: her birthday is 29 February 2024 and 28 February 2025 (cards lapse unused); each lapse
    # gives a coffee
    "leap": ([_buy("leap", "2024-01-05T10:00", "B1"), _buy("leap", "2024-12-20T10:00", "B2")],
             {"birthday card": (2, 0, 2), "free coffee": (2, 0, 2)}, 10 + 10 + 100 + 100),
    # reaches gold, a return takes her back below it, reaches it again: two bags, the first used by the
    # purchase after it, the second lapsing at the end of June
    "gold_twice": ([_buy("gold_twice", "2024-02-01T10:00", "G1", "120.00"),
                    ["gold_twice", "2024-02-02T10:00", "return", "G1", "", "", "", "0.00", "", ""],
                    _buy("gold_twice", "2024-02-03T10:00", "G2", "120.00")],
                   {"gold bag": (2, 1, 1), "free coffee": (1, 0, 1)}, 120 + 120 + 100),  # (earned: before returns)
    # joined (signup date) 2023-05-02: anniversaries 2024-05-02 and 2025-05-02 after her first event, 7 points
    # each
    "joined": ([_buy("joined", "2024-01-10T10:00", "J1")], {"free coffee": (1, 0, 1)}, 10 + 100 + 7 + 7),
    # her 60 days away end at the start of her birthday, 2024-03-10 00:00: the scalar plan's time passing fires
    # the lapse, and then looks for the next birthday strictly after it (2025's), so 2024's is passed over
    # (mirrored by the kernel: moments.vector_yearly's `lapses`)
    "coincide": ([_buy("coincide", "2024-01-10T00:00", "C1")],
                 {"birthday card": (1, 0, 1), "free coffee": (1, 0, 1)}, 10 + 100),
}
ATTRIBUTES = {"leap": MemberAttributes(birthday=dt.date(2000, 2, 29)),
              "coincide": MemberAttributes(birthday=dt.date(1990, 3, 10)),
              "joined": MemberAttributes(signup_date=dt.date(2023, 5, 2))}


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    path = tmp_path_factory.mktemp("timers") / "hand.loyalty"
    path.write_text(HAND)
    prog = load_program(str(path))
    rows = [r for case in CASES.values() for r in case[0]] + END
    rows.sort(key=lambda r: (r[0], r[1]))
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    history = build_history(cols, "hand.csv", 2, options)
    plan = make_plan(prog, program_info(prog, str(path)), Scenario(), history, ATTRIBUTES)
    assert supports(prog, plan) is None
    return plan, history


@pytest.mark.parametrize("member", sorted(CASES))
def test_hand_written_member_on_the_kernel(hand, member):
    plan, history = hand
    rows, rewards, earned = CASES[member]
    alone = history.select_members([member])
    vec = simulate_vector(plan, alone, tail_members=0)
    assert vec.canonical() == simulate(plan, alone).canonical()
    assert simulate_vector(plan, alone).canonical() == vec.canonical()  # (one by one or in lockstep)
    cells = vec.cells
    for reward, (gave, used, lapsed) in rewards.items():
        assert (cells.get(("reward", reward, "given"), 0), cells.get(("reward", reward, "redeemed"), 0),
                cells.get(("reward", reward, "lapsed"), 0)) == (gave, used, lapsed), reward
        cost = plan.program.rewards[reward].cost
        assert cells.get(("reward", reward, "cost"), 0) == cost * (gave - lapsed)  # a lapsed offer costs nothing
    assert {(r, c) for (t, r, c) in cells if t == "reward"} - {(r, c) for r in rewards for c in (
        "given", "redeemed", "lapsed", "cost", "face_value", "members")} == set()
    assert vec.members[0].points_earned == earned


def test_the_whole_hand_written_history_on_the_kernel(hand):
    plan, history = hand
    assert simulate_vector(plan, history).canonical() == simulate(plan, history).canonical()


@pytest.mark.parametrize("program", ["comeback_cafe", "member_moments"])
def test_examples_with_timers_run_on_the_kernel(program):
    """The shipped examples that need timers and offers run on the kernel, with the scalar plan's report."""
    from click.testing import CliRunner

    from loyalty.cli import cli

    args = ["simulate", str(ROOT / f"examples/programs/{program}.loyalty"),
            str(ROOT / f"examples/histories/{program}.csv"), "--format", "json"]
    attributes = ROOT / f"examples/attributes/{program}.csv"
    if attributes.exists():
        args += ["--attributes", str(attributes)]
    import json

    runner = CliRunner()
    vec = runner.invoke(cli, args)
    ref = runner.invoke(cli, args + ["--kernel", "python"])
    assert vec.exit_code == 0 and ref.exit_code == 0, vec.output + ref.output
    vec, ref = json.loads(vec.output), json.loads(ref.output)
    assert vec["assumptions"]["kernel"] == "vector"
    for report in (vec, ref):
        for key in [k for k in report["assumptions"] if k.startswith("kernel")]:
            del report["assumptions"][key]
    assert vec == ref


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_event_a_timer_fires_before_is_found_by_a_search_as_by_the_sort(data):
    """winback.vector_firing_events: where the accepted events are in (member, time) order, a search of the packed
    (member, time) keys gives each moment's event as the sort of events and moments together does (ties: a
    moment before an event at its time, the first of equal events in the kernel's order); where a member's
    times step back (a DST fall-back), the sort."""
    from types import SimpleNamespace

    import numpy as np

    import loyalty.runtime.mechanics.winback as winback

    events = data.draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.booleans()), min_size=1,
                                max_size=25), label="events")
    stepping_back = data.draw(st.booleans(), label="stepping_back")
    if not stepping_back:
        events = sorted(events, key=lambda e: e[:2])
    moments = data.draw(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 7)), min_size=1, max_size=10),
                        label="moments")
    kern = SimpleNamespace(e_mem=np.array([e[0] for e in events], dtype=np.int64),
                           e_time=np.array([e[1] for e in events], dtype=np.int64),
                           e_valid=np.array([e[2] for e in events], dtype=bool))
    mem = np.array([m[0] for m in moments], dtype=np.int64)
    moment = np.array([m[1] for m in moments], dtype=np.int64)
    found = winback.vector_firing_events(kern, mem, moment)
    searched = winback._firing_events_sorted(kern, mem, moment, np.flatnonzero(kern.e_valid)) \
        if kern.e_valid.any() else None
    original = winback._firing_events_sorted
    try:
        winback._firing_events_sorted = lambda *args: None
        sorted_ = winback.vector_firing_events(kern, mem, moment)
    finally:
        winback._firing_events_sorted = original
    assert found.tolist() == sorted_.tolist()
    if not stepping_back and searched is not None:
        assert searched.tolist() == sorted_.tolist()
