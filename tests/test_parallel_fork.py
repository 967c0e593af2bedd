"""A vectorised run on two cores: a forked copy of the process replays the second half of the members
(parallel.simulate_forked). The report is the one process's, byte for byte; a copy that fails or dies is a
clear message, never a hang."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, note, settings, strategies as st

from event_strategies import draw_vectorisable_program, facts, history_rows, member_histories, write_history
from loyalty.cli import cli
from loyalty.simulate import parallel
from loyalty.simulate.errors import InputError
from scale_helpers import budgeted_inputs, simulate_json

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.stem for p in (ROOT / "examples" / "histories").glob("*.csv")
                  if (ROOT / "examples" / "programs" / f"{p.stem}.loyalty").exists())

CORE_FREE = parallel.core_free  # (the fixture below replaces it)

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="forking a copy of the process needs Linux")


@pytest.fixture
def always_fork(monkeypatch):
    """Every vectorised run with two jobs, however short, is shared with a forked copy; the runs that were
    are listed."""
    monkeypatch.setattr(parallel, "FORK_MIN_ROWS", 0)
    monkeypatch.setattr(parallel, "core_free", lambda: True)  # however busy the machine running the tests
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)  # and however many cores it lets them use
    monkeypatch.setattr(parallel, "GROUP_ROWS", 97)  # several groups in each half
    forked = []
    real = parallel.simulate_forked

    def spy(plan, history, progress=None, one_pass=False):
        forked.append(len(history))
        return real(plan, history, progress, one_pass)

    monkeypatch.setattr(parallel, "simulate_forked", spy)
    return forked


def _example(name: str) -> list[str]:
    return [str(ROOT / "examples" / "programs" / f"{name}.loyalty"),
            str(ROOT / "examples" / "histories" / f"{name}.csv")]


def test_every_example_on_the_kernel_gives_the_same_report_forked_in_two(always_fork):
    forked = 0
    for name in EXAMPLES:
        args = _example(name)
        before = len(always_fork)
        two = simulate_json(*args, "--jobs", "2")
        assert two == simulate_json(*args, "--jobs", "1"), name
        if json.loads(two)["assumptions"]["kernel"] == "vector":
            forked += 1
            # (once, or twice where the members who may claim a budget are replayed apart: parallel.py
            # `apart_from_claimants`)
            assert len(always_fork) in (before + 1, before + 2), name
    assert forked >= 5


def test_one_job_stays_in_one_process(always_fork):
    simulate_json(*_example("car_wash"), "--jobs", "1")
    assert always_fork == []
    simulate_json(*_example("car_wash"), "--jobs", "2", "--kernel", "python")  # the evaluator: a pool's business
    assert always_fork == []


# two program-wide budgets, both run out mid-way through the generated history (the kernel runs it)
BUDGETED_ON_THE_KERNEL = """program "budgeted" {
  currency NOK
}

points "points" {
  cost 0.10 NOK each
}

rule "base" {
  earn 1 point per 1 NOK
  budget 1000 points
}

rule "double" {
  earn 2 points per 1 NOK
  budget 10000 points
}
"""


def test_budgets_that_run_out_are_solved_by_passes_shared_with_the_copy(always_fork, tmp_path, monkeypatch):
    program, history = budgeted_inputs(tmp_path)
    Path(program).write_text(BUDGETED_ON_THE_KERNEL)
    one = simulate_json(program, history, "--jobs", "1")
    assert one.count('"ran_out": "2025-') == 2  # both budgets run out mid-history: several passes
    passes = []
    real = parallel.run_passes
    monkeypatch.setattr(parallel, "run_passes", lambda plan, run_pass, one_pass=False: real(
        plan, lambda known: passes.append(known) or run_pass(known), one_pass))
    assert simulate_json(program, history, "--jobs", "2") == one
    assert always_fork and len(passes) >= 2


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_generated_history_forked_in_two_equals_one_process(data):
    """Generated programs the kernel runs, on generated histories of several members: the run shared with a
    forked copy gives the one-process report, byte for byte."""
    from hypothesis import assume

    from loyalty.simulate.vector.support import supports

    text, program = draw_vectorisable_program(data)
    assume(supports(program.compiled) is None)
    histories = [data.draw(member_histories(program, member=f"m{i}", max_events=8), label=f"m{i}")
                 for i in range(data.draw(st.integers(2, 6), label="members"))]
    rows = history_rows(histories, program.compiled.exponent, facts(program).paid_tiers)
    assume(len({r["member"] for r in rows}) >= 2)  # two halves
    note(text)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(parallel, "FORK_MIN_ROWS", 0)
        patch.setattr(parallel, "core_free", lambda: True)
        patch.setattr(parallel, "usable_cores", lambda: 2)
        Path(tmp, "p.loyalty").write_text(text, encoding="utf-8")
        write_history(Path(tmp, "h.csv"), rows)
        reports = []
        for jobs in ("1", "2"):
            r = CliRunner().invoke(cli, ["simulate", str(Path(tmp, "p.loyalty")), str(Path(tmp, "h.csv")),
                                         "--format", "json", "--jobs", jobs, "--kernel", "vector"])
            assert r.exit_code == 0, (r.output, r.exception)
            reports.append(r.stdout)
        assert reports[0] == reports[1]


def _in_the_copy(monkeypatch, what):
    """`what()` runs in the forked copy where it would replay its half (this process's half runs as usual)."""
    parent = os.getpid()
    real = parallel.pass_parts

    def pass_parts(*args, **kwargs):
        if os.getpid() != parent:
            what()
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "pass_parts", pass_parts)
    monkeypatch.setattr(parallel, "FORK_MIN_ROWS", 0)
    monkeypatch.setattr(parallel, "core_free", lambda: True)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)


def _run_two_jobs():
    return CliRunner().invoke(cli, ["simulate", *_example("car_wash"), "--format", "json", "--jobs", "2"])


@pytest.mark.timeout(120)
def test_an_input_error_in_the_copy_reaches_the_user_with_its_hint(monkeypatch):
    def fail():
        raise InputError("row 7, column amount: not a number", "write the amount as 12.50")

    _in_the_copy(monkeypatch, fail)
    r = _run_two_jobs()
    assert r.exit_code == 1
    assert "loyalty: error: row 7, column amount: not a number" in r.stderr
    assert "hint: write the amount as 12.50" in r.stderr
    assert "Traceback" not in r.output


def _forked_car_wash():
    """car_wash's example shared with a forked copy (`simulate_forked` itself, not the command)."""
    from loyalty.simulate.run import load_program, plan_for, read_inputs

    program, history = _example("car_wash")
    prog = load_program(program)
    inputs = read_inputs(prog, history, None, None, None, None, "stop")
    return parallel.simulate_forked(plan_for(prog, program, inputs, None), inputs.history)


@pytest.mark.timeout(120)
def test_a_bug_in_the_copy_is_raised_here_as_the_same_exception(monkeypatch, tmp_path):
    def fail():
        raise ZeroDivisionError("a bug in the copy")

    _in_the_copy(monkeypatch, fail)
    with pytest.raises(ZeroDivisionError, match="a bug in the copy"):
        _forked_car_wash()


def _record_forks(monkeypatch) -> list:
    """The pids of the copies forked from here on, in a list that fills as they are made."""
    forked, real_fork = [], os.fork

    def fork():
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return forked


@pytest.mark.timeout(120)
def test_the_copy_is_not_waited_for_once_its_half_is_in(monkeypatch):
    """The copy's exit (the kernel unmapping its memory) is not on this process's way to the report: a copy slow
    to end after its answer delays nothing, and is reaped once it has ended (at the next fork, here by hand)."""
    import time

    _in_the_copy(monkeypatch, lambda: None)
    real = parallel._serve_half

    def slow_to_end(*args):
        real(*args)
        time.sleep(30)  # (in the copy: its answer is sent)

    monkeypatch.setattr(parallel, "_serve_half", slow_to_end)
    forked = _record_forks(monkeypatch)
    began = time.monotonic()
    _forked_car_wash()
    assert time.monotonic() - began < 20
    assert forked and forked[0] in parallel._UNREAPED
    os.kill(forked[0], signal.SIGKILL)
    for _ in range(500):
        parallel.reap_finished()
        if forked[0] not in parallel._UNREAPED:
            break
        time.sleep(0.01)
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(forked[0], os.WNOHANG)


SIGPIPE_DRIVER = """
import os, signal, sys, time
sys.path.insert(0, {src!r})
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # (as some embedding programs do)
from loyalty.simulate import parallel
parallel.FORK_MIN_ROWS, parallel.core_free, parallel.usable_cores = 0, lambda: True, lambda: 2
real = parallel.count_routed
def count_routed(routed):  # (called after the copy's answer: by now the copy has ended, its pipe closed)
    time.sleep(1)
    real(routed)
parallel.count_routed = count_routed
from loyalty.cli import main
sys.exit(main(["simulate", {program!r}, {history!r}, "--format", "json", "--jobs", "2"]))
"""


@pytest.mark.timeout(120)
def test_a_copy_ended_after_its_last_answer_is_not_written_to(tmp_path):
    """A copy told its pass is the last ends once it has answered: this process writes nothing more to its pipe,
    which with SIGPIPE at its default action (an embedding program's choice) would kill this process."""
    import subprocess
    import sys

    program, history = _example("car_wash")
    driver = tmp_path / "driver.py"
    driver.write_text(SIGPIPE_DRIVER.format(src=str(ROOT / "src"), program=program, history=history),
                      encoding="utf-8")
    done = subprocess.run([sys.executable, str(driver)], capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert json.loads(done.stdout)["headline"]

@pytest.mark.timeout(120)
def test_a_bug_whose_exception_does_not_unpickle_is_said_with_its_text(monkeypatch):
    """An exception pickles by its args: one whose class takes other arguments (EventError(field, message))
    pickles in the copy but fails to unpickle here; the user is told the copy's error, not that failure."""
    from loyalty.runtime.internal import EventError

    def fail():
        raise EventError("lines", "a bug in the copy")

    _in_the_copy(monkeypatch, fail)
    with pytest.raises(Exception, match="EventError: lines: a bug in the copy"):
        _forked_car_wash()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("death", ["killed", "exit"])
def test_a_copy_that_dies_is_a_clear_error_not_a_hang(monkeypatch, death):
    _in_the_copy(monkeypatch, (lambda: os.kill(os.getpid(), signal.SIGKILL)) if death == "killed"
                 else (lambda: os._exit(3)))
    forked = _record_forks(monkeypatch)
    r = _run_two_jobs()
    assert r.exit_code == 1, r.output
    why = "was killed by signal 9" if death == "killed" else "exited with status 3"
    assert f"the process replaying the second half of the members {why}" in r.stderr
    assert "--jobs 1" in r.stderr
    assert "Traceback" not in r.output
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):  # the copy was waited for: no zombie left
        os.waitpid(forked[0], os.WNOHANG)


@pytest.mark.timeout(120)
def test_a_copy_that_dies_between_budget_passes_is_the_same_clear_error(always_fork, tmp_path, monkeypatch):
    """The copy killed while it waits for the next pass: this process's request for that pass finds no reader,
    which is the copy lost, as when it dies during a pass."""
    import time

    program, history = budgeted_inputs(tmp_path)
    Path(program).write_text(BUDGETED_ON_THE_KERNEL)
    forked, real_fork, real_known = [], os.fork, parallel.known_to_data

    def fork():
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    def known_to_data(known):
        if known is not None and forked:  # a later pass: the copy dies before it is asked
            os.kill(forked[0], signal.SIGKILL)
            for _ in range(500):  # until it is gone (a zombie: its ends of the pipes closed)
                with open(f"/proc/{forked[0]}/stat", encoding="ascii") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
                time.sleep(0.01)
        return real_known(known)

    monkeypatch.setattr(os, "fork", fork)
    monkeypatch.setattr(parallel, "known_to_data", known_to_data)
    r = CliRunner().invoke(cli, ["simulate", program, history, "--format", "json", "--jobs", "2"])
    assert r.exit_code == 1, r.output
    assert "the process replaying the second half of the members was killed by signal 9" in r.stderr, \
        (r.output, r.exception)
    assert "Traceback" not in r.output and "internal error" not in r.stderr
    with pytest.raises(ChildProcessError):  # waited for: no zombie left
        os.waitpid(forked[0], os.WNOHANG)


def test_a_busy_machine_keeps_the_run_in_one_process(always_fork, monkeypatch):
    """No core free (threads running now, or else the load average): a second process would only share the busy
    cores, so it is not forked."""
    monkeypatch.setattr(parallel, "core_free", CORE_FREE)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    one = simulate_json(*_example("car_wash"), "--jobs", "1")
    for running, load, forks in ((2, 0.0, False), (1, 9.0, True), (None, 1.7, False), (None, 1.4, True)):
        monkeypatch.setattr(parallel, "running_now", lambda: running)
        monkeypatch.setattr(os, "getloadavg", lambda: (load, 1.0, 1.0))
        before = len(always_fork)
        assert simulate_json(*_example("car_wash"), "--jobs", "2") == one
        assert len(always_fork) == before + forks, (running, load)


def test_one_usable_core_keeps_the_run_in_one_process(always_fork, monkeypatch):
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    simulate_json(*_example("car_wash"), "--jobs", "2")
    assert always_fork == []


def test_the_threads_running_now_are_read_from_proc():
    running = parallel.running_now()
    assert running is None or running >= 1  # this thread, at least
    assert (running is None) == (not os.path.exists("/proc/loadavg"))


def test_members_the_copy_routes_to_the_scalar_plan_are_told_by_verbose(always_fork, tmp_path):
    """The copy's members replayed by the scalar plan (kernel.ROUTED) come back with its half and are counted
    here, so --verbose says them as one process would (`late`, routed, is in the copy's half)."""
    from test_kernel_pending_order import HEADER, PENDING_REASON, _buy, _event, _load, program_text

    path, _prog = _load(tmp_path, program_text(policy="balance may go negative"), "negative")
    rows = [_event("early", "2024-02-01T10:00", "signup"),
            _buy("early", "2024-02-01T11:00", "E1", "60.00"),
            _buy("early", "2024-02-20T11:00", "E2", "60.00"),
            _buy("late", "2024-02-01T11:00", "L1", "60.00"),
            _event("late", "2024-02-02T10:00", "signup"),  # while L1's points wait: routed
            _buy("late", "2024-02-20T11:00", "L2", "60.00"),
            _buy("late", "2024-05-09T11:00", "L3", "60.00")]
    csv_path = tmp_path / "routed.csv"
    csv_path.write_text("\n".join([",".join(HEADER)] + [",".join(r) for r in rows]) + "\n")
    runs = {}
    for jobs in ("1", "2"):
        result = CliRunner().invoke(cli, ["simulate", path, str(csv_path), "--jobs", jobs, "--verbose",
                                          "--format", "json"])
        assert result.exit_code == 0, result.output
        assert f"vectorised kernel: 1 member(s) replayed by the scalar plan ({PENDING_REASON})" in result.stderr, jobs
        runs[jobs] = result.stdout
    assert runs["1"] == runs["2"] and len(always_fork) == 1


@pytest.mark.timeout(120)
def test_no_import_thread_is_running_when_the_copy_is_forked(always_fork, monkeypatch):
    """A fork while a thread is importing leaves that module's import lock held for ever in the copy, which then
    waits on it the first time it imports the module. Another thread's run still reading (the API in a web
    server's threads) has its import thread (run.py `import_while_reading`) running: the fork waits for it."""
    import threading

    import loyalty
    from loyalty.simulate import run

    gate, entered, held, real_import = threading.Event(), threading.Event(), [], run._import_replay_modules

    def slow_import(kernel):  # the first import thread's imports wait for the gate
        if threading.current_thread().name == "loyalty-imports" and not held:
            held.append(threading.current_thread())
            entered.set()
            gate.wait(30)
        return real_import(kernel)

    monkeypatch.setattr(run, "_import_replay_modules", slow_import)
    seen, real_fork = [], os.fork

    def fork():
        seen.append([t.name for t in threading.enumerate() if t.name == "loyalty-imports" and t.is_alive()])
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    other = run.import_while_reading("vector")  # the other run's, while its history is read
    assert entered.wait(30) and held == [other] and other.is_alive()
    opener = threading.Timer(2.0, gate.set)  # long after this run would have forked
    opener.start()
    try:
        loyalty.simulate(*_example("car_wash"), jobs=2, kernel="vector")
    finally:
        gate.set()
        opener.cancel()
    assert len(always_fork) == 1 and seen == [[]]


@pytest.mark.timeout(120)
def test_a_run_forked_from_another_thread_equals_one_process():
    """The Python API may run in a thread of its caller's (a web server, a notebook's worker): the copy forked
    from there sets its signals where it can and replays its half all the same."""
    import threading

    from loyalty.simulate.run import load_program, plan_for, read_inputs

    program, history = _example("car_wash")
    prog = load_program(program)
    inputs = read_inputs(prog, history, None, None, None, None, "stop")
    plan = plan_for(prog, program, inputs, None)
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("forked", parallel.simulate_forked(plan, inputs.history)))
    thread.start()
    thread.join()
    assert out["forked"].canonical() == parallel.simulate_in_process(plan, inputs.history, kernel="vector").canonical()


def test_the_by_member_tables_of_a_forked_run_are_one_process_tables(always_fork, tmp_path):
    """`--out` writes every member's row: the copy's members come back with their exact figures, in member
    order after this process's."""
    folders = {}
    for jobs in ("1", "2"):
        folders[jobs] = tmp_path / f"jobs{jobs}"
        r = CliRunner().invoke(cli, ["simulate", *_example("coffee_stars"), "--jobs", jobs, "--out", str(folders[jobs]),
                                     "--format", "json"])
        assert r.exit_code == 0, r.output
    assert len(always_fork) == 1
    names = sorted(p.name for p in folders["1"].iterdir())
    assert "by_member.csv" in names and names == sorted(p.name for p in folders["2"].iterdir())
    for name in names:
        assert (folders["1"] / name).read_bytes() == (folders["2"] / name).read_bytes(), name
    assert len((folders["2"] / "by_member.csv").read_text().splitlines()) > 3


@pytest.mark.timeout(120)
def test_the_copy_writes_nothing_on_standard_output_or_error(monkeypatch, capfd):
    """What the copy would say mid-run (a print, a warning, a C library's message on descriptor 1 or 2) stays
    out of the parent's progress bar and report: its errors come back through its pipe (`second_process`)."""
    import sys

    from loyalty.simulate.wire import result_to_data

    def chatty():  # (the standard streams as a command has them: pytest's stand-ins do not write to 1 and 2)
        print("print in the copy", file=sys.__stdout__, flush=True)
        print("warning in the copy", file=sys.__stderr__, flush=True)
        os.write(1, b"fd 1 in the copy\n")
        os.write(2, b"fd 2 in the copy\n")

    def report(result) -> str:
        return json.dumps(result_to_data(result), sort_keys=True, default=str)

    _in_the_copy(monkeypatch, chatty)
    chatted = report(_forked_car_wash())
    out, err = capfd.readouterr()
    assert "in the copy" not in out + err, (out, err)
    monkeypatch.undo()
    assert report(_forked_car_wash()) == chatted


DRIVER = """
import os, sys, time
sys.path.insert(0, {src!r})
from loyalty.simulate import parallel
parallel.FORK_MIN_ROWS, parallel.core_free, parallel.usable_cores = 0, lambda: True, lambda: 2
parent, real = os.getpid(), parallel.pass_parts
def pass_parts(*args, **kwargs):
    if os.getpid() != parent:
        time.sleep(300)  # the copy is long at work on its half
    return real(*args, **kwargs)
parallel.pass_parts = pass_parts
from loyalty.cli import main
sys.exit(main(["simulate", {program!r}, {history!r}, "--format", "json", "--jobs", "2"]))
"""


@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc to see the copy")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_parent_ended_while_its_copy_works_leaves_no_process_behind(tmp_path, how):
    """SIGKILL ends the parent at once: the copy, busy with its half, goes with it (PR_SET_PDEATHSIG) instead of
    replaying on unseen until its pass is done. SIGTERM stops the parent as documented (docs/cli.md: exit 143,
    "terminated"; its default action left the copy behind), which stops the copy."""
    import subprocess
    import sys

    from test_cli_interrupt import children, signal_while_children_work

    program, history = _example("car_wash")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(src=str(ROOT / "src"), program=program, history=history), encoding="utf-8")
    said = tempfile.TemporaryFile()  # (not pipes: a copy left behind would hold them open, a read waiting)
    proc = subprocess.Popen([sys.executable, str(driver)], stdout=said, stderr=subprocess.STDOUT)
    signal_while_children_work(proc, lambda: children(proc.pid), 0.5, how, "the copy outlived its parent")
    said.seek(0)
    output = said.read().decode()
    assert "Traceback" not in output, output
    if how == signal.SIGTERM:
        assert output.startswith("loyalty: terminated"), output


def test_the_copy_lets_go_of_the_free_memory_it_shares_with_the_parent(always_fork, tmp_path, monkeypatch):
    """The forked copy hands malloc's free pages back (`release_free_memory`), so the parent's writes to them are
    not copy-on-write copies; the parent keeps its own."""
    said = tmp_path / "released"
    parent = os.getpid()

    def release():
        said.write_text("copy" if os.getpid() != parent else "parent")
        return True

    monkeypatch.setattr(parallel, "release_free_memory", release)
    result = CliRunner().invoke(cli, ["simulate", *_example("car_wash"), "--jobs", "2", "--kernel", "vector",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert always_fork and said.read_text() == "copy"


@pytest.mark.timeout(120)
def test_releasing_free_memory_gives_its_pages_back():
    """With malloc keeping freed memory (`keep_freed_memory`), a freed 24 MB block stays resident until
    `release_free_memory` hands it back (glibc only: elsewhere it says it did nothing)."""
    import ctypes
    import subprocess
    import sys

    if not hasattr(ctypes.CDLL(None), "gnu_get_libc_version"):
        assert parallel.release_free_memory() is False
        return
    script = """if True:
        from loyalty.commands._common import keep_freed_memory
        from loyalty.simulate.parallel import release_free_memory

        def resident():
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

        assert keep_freed_memory()
        block = bytearray(24 << 20)  # (written: resident)
        del block
        kept = resident()
        assert release_free_memory()
        print(kept - resident())
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for name in ("GLIBC_TUNABLES", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 16 << 10  # KB given back
