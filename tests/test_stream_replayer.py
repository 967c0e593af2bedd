"""`loyalty simulate --grouped` with --jobs 2: the members are replayed in a second process (stream.BatchReplayer)
while this one reads the next batch. The report is the one-process run's byte for byte; a worker that fails or dies
stops the run with a plain message, never a traceback or a hang."""

import json
import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli as main
from loyalty.cli import main as entry
from loyalty.simulate import stream
from loyalty.simulate.generate import GenerateOptions, generate_text

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(300)


def simulate(*args) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["simulate", *map(str, args), "--format", "json"])
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def replayers(monkeypatch):
    """Many batches, and the replayers the runs start, counted (a run with --jobs 2 must use one)."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 4096)
    started: list = []
    real = stream.BatchReplayer.__init__

    def counted(self, *args, **kwargs):
        real(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(stream.BatchReplayer, "__init__", counted)
    return started


def _generated(program: str, tmp_path: Path, rows: int = 3000, seed: int = 4) -> tuple[Path, Path]:
    from loyalty.commands.generate import catalog_from_program

    path = ROOT / "examples" / "programs" / f"{program}.loyalty"
    catalog, stores, minor, _ = catalog_from_program(str(path))
    history = tmp_path / f"{program}-{seed}.csv"
    history.write_text(generate_text(GenerateOptions(rows=rows, seed=seed, catalog=catalog, stores=stores or ("S1",),
                                                     minor_units=minor, grouped=True)), encoding="utf-8")
    return path, history


# gym: budgets, so passes (the worker keeps the kernel's first guesses and the first pass's scout across them);
# coffee_stars: pending points and redemptions; car_wash on both kernels
@pytest.mark.parametrize("program, kernel, seed", [("car_wash", "auto", 4), ("car_wash", "python", 5),
                                                   ("gym", "auto", 4), ("gym", "python", 6),
                                                   ("coffee_stars", "auto", 7)])
def test_two_processes_give_the_one_process_report(program, kernel, seed, tmp_path, replayers):
    path, history = _generated(program, tmp_path, seed=seed)
    one = simulate(path, history, "--grouped", "--kernel", kernel, "--jobs", "1")
    assert not replayers
    two = simulate(path, history, "--grouped", "--kernel", kernel, "--jobs", "2")
    assert len(replayers) == 1, "--jobs 2 on a file of many batches replays in a second process"
    assert one[0] == two[0] == 0, two[2]
    assert two[1] == one[1]
    assert json.loads(two[1])["history"]["rows"] == 3000


def test_a_file_of_few_batches_stays_in_this_process(tmp_path, replayers, monkeypatch):
    """A worker's start-up costs more than it saves on a short file: a few batches are replayed here."""
    path, history = _generated("car_wash", tmp_path, rows=300)
    monkeypatch.setattr(stream, "BLOCK_BYTES", history.stat().st_size // (stream.REPLAYER_MIN_BATCHES - 1))
    code, _, err = simulate(path, history, "--grouped", "--jobs", "2")
    assert code == 0, err
    assert not replayers


def test_errors_of_the_file_are_named_as_in_one_process(tmp_path, replayers):
    """Bad rows and a broken grouping are found by this process's reader, with or without the worker."""
    path, history = _generated("car_wash", tmp_path)
    lines = history.read_text(encoding="utf-8").splitlines()
    bad = lines[:2000] + [lines[1]] + lines[2000:]  # the first member's rows again, after others'
    lines[2500] = lines[2500].replace(lines[2500].split(",")[1], "not a time")
    for rows in (bad, lines):
        history.write_text("\n".join(rows) + "\n", encoding="utf-8")
        one = simulate(path, history, "--grouped", "--jobs", "1")
        two = simulate(path, history, "--grouped", "--jobs", "2")
        assert one == two and two[0] == 1 and two[1] == "", two
        assert f"{history}:" in two[2] and "Traceback" not in two[2]


def test_a_failing_worker_is_a_plain_message(tmp_path, replayers, monkeypatch, capsys):
    """A failure inside the worker (here a plan it cannot read) reaches the user as one line, exit 3, no trace."""
    path, history = _generated("car_wash", tmp_path)

    def broken_plan(self, plan, kernel, file):
        self._send(b"P", b'{"kernel": "vector"}')

    monkeypatch.setattr(stream.BatchReplayer, "start_plan", broken_plan)
    code = entry(["simulate", str(path), str(history), "--grouped", "--jobs", "2", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert "the process replaying the members failed: KeyError" in err and "Traceback" not in err
    assert len(replayers) == 1 and not replayers[0]._process.is_alive()


def test_a_killed_worker_stops_the_run_without_waiting(tmp_path, replayers, monkeypatch, capsys):
    path, history = _generated("car_wash", tmp_path, rows=6000)
    real = stream.BatchReplayer.start_plan

    def then_killed(self, plan, kernel, file):
        real(self, plan, kernel, file)
        os.kill(self._process.pid, signal.SIGKILL)

    monkeypatch.setattr(stream.BatchReplayer, "start_plan", then_killed)
    code = entry(["simulate", str(path), str(history), "--grouped", "--jobs", "2", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert "the process replaying the members stopped (exit code -9)" in err and "Traceback" not in err


def test_a_worker_dying_while_this_process_waits_for_its_parts_is_an_error():
    """Waiting for results, this process learns of the worker's death from its pipe's end (no hang)."""
    with stream.BatchReplayer() as replayer:
        os.kill(replayer._process.pid, signal.SIGKILL)
        answer = replayer._parts.get(timeout=30)
        with pytest.raises(stream.ReplayerError, match=r"stopped \(exit code -9\)"):
            replayer._take([], answer)


def test_rows_skipped_under_skip_give_the_one_process_report(tmp_path, replayers):
    """--on-bad-row skip: bad rows are left out by this process's reader (the worker gets the rows kept); the
    row of the file's last time skipped plans and replays the run again, the worker too."""
    path, history = _generated("car_wash", tmp_path)
    lines = history.read_text(encoding="utf-8").splitlines()
    last = max(range(1, len(lines)), key=lambda i: lines[i].split(",")[1])
    fields = lines[last].split(",")
    fields[2] = "not a type"
    lines[last] = ",".join(fields)
    lines[2500] = lines[2500].replace(lines[2500].split(",")[1], "not a time")
    history.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = simulate(path, history, "--grouped", "--on-bad-row", "skip", "--jobs", "1")
    assert not replayers
    two = simulate(path, history, "--grouped", "--on-bad-row", "skip", "--jobs", "2")
    assert len(replayers) == 1
    assert one[0] == two[0] == 0, two[2]
    assert two[1] == one[1]
    report = json.loads(two[1])["history"]
    assert report["skipped_rows"] == 2, report["skipped_by_reason"]
    assert report["last"] < fields[1]  # (the scan's last time was the skipped row's: planned again)


STREAM_DRIVER = """
import sys, time
sys.path.insert(0, {src!r})
from loyalty.simulate import stream
stream.BLOCK_BYTES, stream.REPLAYER_MIN_BATCHES = 4096, 1
real = stream.GroupedReader._histories
def slowly(self):  # this process reads slowly: the signal comes mid-run
    for batch in real(self):
        time.sleep(0.2)
        yield batch
stream.GroupedReader._histories = slowly
if __name__ == "__main__":  # (the worker is spawned: it imports this file again, and must not run the command)
    from loyalty.cli import main
    sys.exit(main(["simulate", {program!r}, {history!r}, "--grouped", "--jobs", "2", "--format", "json"]))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc to see the worker")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_run_ended_by_a_signal_leaves_no_worker_behind(tmp_path, how):
    """SIGTERM stops the command as documented (exit 143, "terminated"; the worker stopped), SIGKILL ends it at
    once and the worker with it (parallel.second_process)."""
    import subprocess
    import sys
    import tempfile

    from test_cli_interrupt import children, signal_while_children_work

    program, history = _generated("car_wash", tmp_path)
    driver = tmp_path / "driver.py"
    driver.write_text(STREAM_DRIVER.format(src=str(ROOT / "src"), program=str(program), history=str(history)),
                      encoding="utf-8")
    said = tempfile.TemporaryFile()  # (not a pipe: a worker left behind would hold it open)
    proc = subprocess.Popen([sys.executable, str(driver)], stdout=said, stderr=subprocess.STDOUT)
    signal_while_children_work(
        proc, lambda: [c for c in children(proc.pid)
                       if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")],
        1.0, how, "the worker outlived the command")  # (1 s: batches are being replayed)
    said.seek(0)
    output = said.read().decode()
    assert "Traceback" not in output, output
    if how == signal.SIGTERM:
        assert output.startswith("loyalty: terminated"), output
