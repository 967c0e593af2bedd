"""The one-by-one tail's runs (simulate/vector/kernel.py `_finish_in_runs`): a member left in the lockstep's
tail with many events finishes a run of events at a time with numpy, where the program keeps no state beyond the
points streams, the tier and its metric, and returns take back all they claim (the `negative` policy). The
kernel's result with runs must equal the scalar plan's and the kernel's without runs (every cell: points per
rule and month, expired, clawed back, tiers per month, the member's row), on the test programs and generated
histories, with every member in runs from her first event and from the usual tail point."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.simulate.engine import simulate
from loyalty.simulate.vector import kernel, simulate_vector

from test_vector_kernel import HEADER, PROGRAMS, _history, _plan, _program  # noqa: F401
from loyalty.simulate.history import ReadOptions, build_history


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    return [_program(tmp_path_factory, p) for p in PROGRAMS]


class _RunsSpy:
    """Counts the members `_finish_in_runs` took (to know a test exercised the runs)."""

    def __init__(self, monkeypatch):
        self.members = 0
        real = kernel._Kernel._finish_in_runs

        def spy(kern, *args, **kwargs):
            self.members += 1
            return real(kern, *args, **kwargs)

        monkeypatch.setattr(kernel._Kernel, "_finish_in_runs", spy)


def _with_and_without_runs(monkeypatch, plan, history):
    """The kernel's result with runs for every tail member (and every member in the tail from her first
    event), and without runs; with the number of members the runs took."""
    spy = _RunsSpy(monkeypatch)
    monkeypatch.setattr(kernel, "RUN_MIN_EVENTS", 1)
    runs_all = simulate_vector(plan, history, tail_members=10**9).canonical()
    runs_usual = simulate_vector(plan, history).canonical()
    took = spy.members
    monkeypatch.setattr(kernel, "RUN_MIN_EVENTS", 10**12)
    without = simulate_vector(plan, history, tail_members=10**9).canonical()
    return runs_all, runs_usual, without, took


# programs whose tail members the runs take (the others keep state the runs do not: pending points, balance gates,
# redemptions, tier windows and reviews, other return policies)
RUN_PROGRAMS = ["benchmarks/programs/reference.loyalty", "examples/programs/car_wash.loyalty",
                "examples/programs/shoe_shop.loyalty", "examples/programs/ice_cream.loyalty", "CONDITIONS", "DRAWS",
                "GIFTS", "DISCOUNTS", "MEMBERS", "SPEND", "DISCOUNT_CAPS", "OFFERS", "STACKING",
                "examples/programs/farm_stand.loyalty"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), which=st.integers(0, len(PROGRAMS) - 1), members=st.integers(1, 8),
       max_events=st.sampled_from([3, 12, 40, 120]))
def test_runs_equal_the_scalar_plan_on_generated_histories(programs, monkeypatch, seed, which, members, max_events):
    path, prog = programs[which]
    history = _history(prog, seed, members, max_events)
    plan = _plan(path, prog, history, seed)
    runs_all, runs_usual, without, _ = _with_and_without_runs(monkeypatch, plan, history)
    want = simulate(plan, history).canonical()
    assert runs_all == want
    assert runs_usual == want
    assert without == want


@pytest.mark.parametrize("name", RUN_PROGRAMS)
def test_runs_take_the_tail_of_these_programs_member_by_member(programs, monkeypatch, name):
    """Each member alone, in runs from her first event: equal to the scalar plan; and the runs did run."""
    path, prog = programs[PROGRAMS.index(name)]
    took = 0
    for seed in range(4):
        history = _history(prog, seed, 5, 120)
        plan = _plan(path, prog, history, seed)
        for member, _, _ in history.member_slices():
            alone = history.select_members([member])
            runs_all, _, without, n = _with_and_without_runs(monkeypatch, plan, alone)
            want = simulate(plan, alone).canonical()
            assert runs_all == want, (seed, member)
            assert without == want, (seed, member)
            took += n
    assert took > 0, "the runs never ran: the test compares nothing new"


def _rows_history(prog, rows):
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    return build_history(cols, "runs.csv", 2, options)


def test_a_busy_member_of_the_reference_program(programs, monkeypatch):
    """One member of the reference program (points expire 365 days after earning, gold from 5,000 points earns
    double) with 400 purchases over two years: she reaches gold within a run (the run ends there), batches expire
    inside runs, returns take back (one order returned twice, in two parts: the run ends before the second), a
    return of an order earned in an earlier run, a return of an order at gold that was earned at the base tier."""
    path, prog = programs[PROGRAMS.index("benchmarks/programs/reference.loyalty")]
    rows = [["M1", "2024-01-01T08:00", "signup", "", "", "", "", "", "", ""]]
    day = 0
    for k in range(400):
        day += 1 + (k % 3)
        stamp = (dt.datetime(2024, 1, 1, 9) + dt.timedelta(days=day // 2, minutes=k % 50)).strftime("%Y-%m-%dT%H:%M")
        rows.append(["M1", stamp, "purchase", f"O{k}", "wash and wax", "washes", "2", "110.00", "Store 1", "store"])
        if k in (30, 31, 250):  # the same order returned in two parts, then an old order at gold
            order = {30: "O20", 31: "O20", 250: "O5"}[k]
            rows.append(["M1", stamp, "return", order, "wash and wax", "washes", "1", "55.00", "", ""])
        if k % 37 == 36:
            rows.append(["M1", stamp, "return", f"O{k}", "wash and wax", "washes", "2", "110.00", "", ""])
    history = _rows_history(prog, rows)
    plan = _plan(path, prog, history)
    monkeypatch.setattr(kernel, "RUN_MIN_EVENTS", 1)
    spy = _RunsSpy(monkeypatch)
    got = simulate_vector(plan, history, tail_members=10**9)
    assert spy.members == 1
    ref = simulate(plan, history)
    assert got.canonical() == ref.canonical()
    assert got.canonical() == simulate_vector(plan, history, tail_members=0).canonical()
