"""--jobs: members split into groups on worker processes give the same report, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from loyalty.cli import cli as main
from loyalty.simulate import parallel
from loyalty.simulate.engine import make_plan, program_info, simulate
from loyalty.simulate.history import ReadOptions, build_history
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.wire import plan_from_json, plan_to_json, result_from_data, result_to_data

from scale_helpers import budgeted_inputs, simulate_json

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.stem for p in (ROOT / "examples" / "histories").glob("*.csv")
                  if (ROOT / "examples" / "programs" / f"{p.stem}.loyalty").exists())


@pytest.fixture
def always_pool(monkeypatch):
    monkeypatch.setattr(parallel, "POOL_MIN_ROWS", 0)
    monkeypatch.setattr(parallel, "SPLIT_MIN_ROWS", 0)  # the vectorised kernel's runs: shared with workers
    monkeypatch.setattr(parallel, "GROUP_ROWS", 97)  # several groups per worker, cut mid-file


def test_every_example_gives_the_same_report_with_two_worker_processes(always_pool):
    assert len(EXAMPLES) >= 5
    for name in EXAMPLES:
        args = [str(ROOT / "examples" / "programs" / f"{name}.loyalty"), str(ROOT / "examples" / "histories" / f"{name}.csv")]
        assert simulate_json(*args, "--jobs", "2") == simulate_json(*args, "--jobs", "1"), name


def test_groups_run_the_vectorised_kernel_and_say_so_like_the_local_run(always_pool):
    import json

    args = [str(ROOT / "examples" / "programs" / "car_wash.loyalty"), str(ROOT / "examples" / "histories" / "car_wash.csv")]
    two = simulate_json(*args, "--jobs", "2")
    assert json.loads(two)["assumptions"]["kernel"] == "vector"  # the program the kernel supports
    assert two == simulate_json(*args, "--jobs", "1") == simulate_json(*args, "--jobs", "2", "--kernel", "vector")
    python = json.loads(simulate_json(*args, "--jobs", "2", "--kernel", "python"))
    vector = json.loads(two)
    assert python["assumptions"].pop("kernel") == "python" and vector["assumptions"].pop("kernel") == "vector"
    assert python["assumptions"].pop("kernel_why") == "--kernel python" and "kernel_why" not in vector["assumptions"]
    assert python == vector


def test_evaluate_range_gives_the_same_result_with_either_kernel():
    from loyalty.simulate.run import load_program, plan_for, read_inputs

    program = str(ROOT / "examples" / "programs" / "car_wash.loyalty")
    prog = load_program(program)
    inputs = read_inputs(prog, str(ROOT / "examples" / "histories" / "car_wash.csv"), None, None, None, None, "stop")
    plan = plan_for(prog, program, inputs, None)
    h = inputs.history
    for start, end in parallel.row_groups(h, 3):
        part = type(h)(h.table.slice(start, end - start))
        assert parallel.evaluate_range(plan, part, None, "vector").canonical() == \
            parallel.evaluate_range(plan, part, None, "python").canonical()


def test_a_generated_history_with_budgets_that_run_out_gives_the_same_report(always_pool, tmp_path):
    program, history = budgeted_inputs(tmp_path)
    one = simulate_json(program, history, "--jobs", "1")
    assert '"ran_out": "2025-' in one  # both budgets really run out mid-history
    assert one.count('"ran_out": "2025-') == 2
    assert simulate_json(program, history, "--jobs", "2") == one


def test_jobs_must_be_a_positive_number():
    result = CliRunner().invoke(main, ["simulate", "a.loyalty", "h.csv", "--jobs", "0"])
    assert result.exit_code == 2 and "--jobs" in result.output


def small_history(members: list[str], rows_per: list[int]):
    cols = {"member": [], "time": [], "amount": []}
    for m, n in zip(members, rows_per):
        for i in range(n):
            cols["member"].append(m)
            cols["time"].append(f"2025-01-{1 + i % 28:02d}T10:00")
            cols["amount"].append(str(10 + i))
    return build_history(cols, "h.csv", 2, ReadOptions())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=25), st.integers(1, 8))
def test_groups_cover_every_row_once_on_member_boundaries_in_member_order(rows_per, groups):
    members = [f"m{i:03d}" for i in range(len(rows_per))]
    h = small_history(members, rows_per)
    ranges = parallel.row_groups(h, groups)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(h)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, in order, no overlap
    starts = {s for _m, s, _e in h.member_slices()}
    assert all(start in starts for start, _end in ranges)  # never splits a member
    assert len(ranges) <= groups
    # balanced: a group is never larger than its share plus one member's rows
    assert all(end - start <= -(-len(h) // groups) + max(rows_per) for start, end in ranges)




@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=25), st.integers(1, 40))
def test_the_forked_halves_groups_are_each_halfs_own_row_groups(rows_per, group_rows):
    """simulate_forked cuts each half's groups from the whole history's member starts, found once
    (`forked_split`): the ranges `row_groups` gives each half."""
    members = [f"m{i:03d}" for i in range(len(rows_per))]
    h = small_history(members, rows_per)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parallel, "GROUP_ROWS", group_rows)  # (several groups in a half)
        split = parallel.forked_split(h)
        if split is None:
            assert len(parallel.row_groups(h, 2)) == 1
            return
        mid, front_ranges, back_ranges = split
        assert parallel.row_groups(h, 2) == [(0, mid), (mid, len(h))]
        front, back = type(h)(h.table.slice(0, mid)), type(h)(h.table.slice(mid, len(h) - mid))
        assert front_ranges == parallel.row_groups(front, parallel.group_count(len(front), 1))
        assert back_ranges == parallel.row_groups(back, parallel.group_count(len(back), 1))

def test_plan_and_result_survive_the_plain_data_round_trip_exactly():
    from loyalty.compiler import compile_program
    from loyalty.syntax.parser import parse

    text = (ROOT / "examples" / "programs" / "coffee_stars.loyalty").read_text()
    prog = compile_program(parse(text, "p.loyalty"), "p.loyalty")
    from loyalty.simulate.history import read_history

    h = read_history(ROOT / "examples" / "histories" / "coffee_stars.csv",
                     ReadOptions(minor_units=prog.exponent, timezone=prog.timezone))
    from decimal import Decimal

    scenario = Scenario(seed=7, redemption_policy="share", redemption_share=Decimal("0.5"),
                        cost_per_point={"stars": Decimal("0.04")})
    plan = make_plan(prog, program_info(prog, "p.loyalty"), scenario, h)
    again = plan_from_json(plan_to_json(plan))
    assert plan_to_json(again) == plan_to_json(plan)
    whole = simulate(plan, h)
    assert simulate(again, h).canonical() == whole.canonical()
    assert result_from_data(result_to_data(whole)).canonical() == whole.canonical()


@pytest.fixture
def always_split(monkeypatch):
    """Every vectorised run, however short, is shared with worker processes."""
    monkeypatch.setattr(parallel, "SPLIT_MIN_ROWS", 0)
    monkeypatch.setattr(parallel, "GROUP_ROWS", 97)
    shared = []
    real = parallel.simulate_split

    def spy(plan, history, jobs, progress=None):
        shared.append(jobs - 1)
        return real(plan, history, jobs, progress)

    monkeypatch.setattr(parallel, "simulate_split", spy)
    return shared


def test_a_vectorised_run_shared_with_worker_processes_gives_the_same_report(always_split):
    """`simulate` shares the kernel's groups of a long history with workers; the report is the one
    process's, byte for byte, for every example the kernel runs."""
    import json

    vectorised = 0
    for name in EXAMPLES:
        args = [str(ROOT / "examples" / "programs" / f"{name}.loyalty"), str(ROOT / "examples" / "histories" / f"{name}.csv")]
        before = len(always_split)
        three = simulate_json(*args, "--jobs", "3")
        assert three == simulate_json(*args, "--jobs", "1"), name
        from loyalty.simulate.run import load_program

        if json.loads(three)["assumptions"]["kernel"] == "vector" and not load_program(args[0]).budgets:
            vectorised += 1
            assert always_split[before:] == [2], name  # shared with two workers
        else:  # the evaluator's runs, and budget passes on the kernel, stay in this process
            assert len(always_split) == before, name
    assert vectorised >= 2


@pytest.mark.parametrize("worker_delay", [0.0, 0.05])
def test_a_split_run_takes_every_group_once_from_both_ends(monkeypatch, worker_delay):
    """This process takes groups from the front, workers from the back; a slow worker just takes fewer. The
    merged result is the one-process result whatever the split (the worker here is a thread of this
    process, set up as a worker process is and running the same unit of work on the same IPC file)."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from loyalty.simulate.run import load_program, plan_for, read_inputs

    program = str(ROOT / "examples" / "programs" / "car_wash.loyalty")
    prog = load_program(program)
    inputs = read_inputs(prog, str(ROOT / "examples" / "histories" / "car_wash.csv"), None, None, None, None, "stop")
    plan = plan_for(prog, program, inputs, None)
    monkeypatch.setattr(parallel, "SPLIT_GROUP_ROWS", 40)
    monkeypatch.setattr(parallel, "_WORKER", {})
    parent, worker = [], []
    real_eval, real_work = parallel.evaluate_range, parallel._work

    def in_parent(plan, history, known, kernel="python", *args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            parent.append(history.table.column("row")[0].as_py())  # the group's first row, by its file line
        return real_eval(plan, history, known, kernel, *args, **kwargs)

    def in_worker(start, end, known_data):
        worker.append(start)
        time.sleep(worker_delay)
        return real_work(start, end, known_data)

    monkeypatch.setattr(parallel, "evaluate_range", in_parent)
    monkeypatch.setattr(parallel, "_work", in_worker)
    monkeypatch.setattr(parallel, "_split_pool", lambda workers, plan_json, table_path: ThreadPoolExecutor(
        workers, initializer=parallel._init_worker, initargs=(plan_json, table_path, "vector")))

    split = parallel.simulate_split(plan, inputs.history, 2)
    here = list(parent)  # the groups this process took (the whole run below is not counted)
    whole = parallel.simulate_in_process(plan, inputs.history, kernel="vector")
    assert split.canonical() == whole.canonical()
    ranges = parallel.row_groups(inputs.history, -(-len(inputs.history) // 40))
    starts = [s for s, _ in ranges]
    rows = inputs.history.table.column("row").to_pylist()
    taken_here = [starts[[rows[s] for s in starts].index(r)] for r in here]
    assert sorted(taken_here + worker) == starts  # every group exactly once
    assert taken_here == starts[:len(taken_here)] and sorted(worker) == starts[len(taken_here):]  # front / back
    assert worker and taken_here
    if worker_delay:
        assert len(taken_here) > len(worker)  # the slow worker took fewer




def test_a_command_reading_a_history_into_memory_takes_arrows_c_allocator_unless_the_user_chose(
        monkeypatch, tmp_path):
    """Arrow's bundled mimalloc costs an in-memory run ~0.5-1 s of page faults per 1M rows here
    (docs/performance.md): simulate, compare and explain pick the C library's malloc, in the environment
    too (which worker processes inherit); a streamed run keeps Arrow's default, a user's choice stands, and
    a program calling loyalty.simulate itself keeps its own."""
    import os

    import pyarrow as pa

    from loyalty.simulate.run import load_program, read_inputs

    root = Path(__file__).resolve().parents[1]
    history = root / "examples" / "histories" / "car_wash.csv"
    program = root / "examples" / "programs" / "car_wash.loyalty"
    grouped = tmp_path / "grouped.csv"
    assert CliRunner().invoke(main, ["generate", "--program", str(program), "--rows", "300", "--grouped",
                                     "-o", str(grouped)]).exit_code == 0
    before = pa.default_memory_pool()
    mimalloc = pa.mimalloc_memory_pool()
    # set, then removed: monkeypatch puts back whatever the session had (set or not) at teardown
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "")
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
    try:
        pa.set_memory_pool(mimalloc)
        read_inputs(load_program(str(program)), str(history), None, None, None, None, "stop")
        assert pa.default_memory_pool().backend_name == "mimalloc"  # the library leaves the process alone
        assert "ARROW_DEFAULT_MEMORY_POOL" not in os.environ
        assert CliRunner().invoke(main, ["simulate", str(program), str(grouped), "--grouped"]).exit_code == 0
        assert pa.default_memory_pool().backend_name == "mimalloc"
        assert "ARROW_DEFAULT_MEMORY_POOL" not in os.environ
        assert CliRunner().invoke(main, ["simulate", str(program), str(history)]).exit_code == 0
        assert pa.default_memory_pool().backend_name == "system"
        assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system"
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
        pa.set_memory_pool(mimalloc)
        assert CliRunner().invoke(main, ["compare", str(program), str(program), str(history)]).exit_code == 0
        assert pa.default_memory_pool().backend_name == "mimalloc"
        assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "mimalloc"
    finally:
        pa.set_memory_pool(before)
