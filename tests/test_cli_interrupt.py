"""Ctrl-C or SIGTERM during `simulate --jobs 2`: the command stops within 2 s of the signal, leaves no partial
output folder, temporary file or worker behind, and exits 130 (interrupted) or 143 (terminated), not 1 (the input
is wrong). (SIGTERM's default action left the workers replaying and their rows' file in the temporary folder.)"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROGRAM = REPO / "examples" / "programs" / "gym.loyalty"  # on the evaluator (--kernel python): a worker pool


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def signal_while_children_work(proc, watched, settle: float, how, what: str) -> None:
    """Send `how` to the command `proc` once `watched()` (its children to watch) finds some and they have worked
    `settle` seconds: it exits 143 on SIGTERM (killed by the signal otherwise) and they are gone within 5 s
    (`what`: the failure's words). Whatever is left behind by a failure is killed."""
    found: list = []
    try:
        deadline = time.monotonic() + 90
        while not found and proc.poll() is None and time.monotonic() < deadline:
            found = watched()
            time.sleep(0.05)
        assert found and proc.poll() is None
        time.sleep(settle)
        proc.send_signal(how)
        assert proc.wait(timeout=30) == (143 if how == signal.SIGTERM else -how)
        deadline = time.monotonic() + 5
        while any(alive(c) for c in found) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(c) for c in found), what
    finally:
        if proc.poll() is None:
            proc.kill()
        for child in found:  # (one left behind by a failure: not for minutes)
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc to see the workers start")
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_with_workers_stops_within_two_seconds_and_exits_130(tmp_path, how):
    from loyalty.commands.generate import catalog_from_program
    from loyalty.simulate.generate import GenerateOptions, generate

    items, stores, minor, _ = catalog_from_program(str(PROGRAM))
    history = tmp_path / "history.csv"
    with history.open("w", encoding="utf-8", newline="") as fh:  # long enough to replay for many seconds
        generate(GenerateOptions(rows=200_000, seed=5, members=None, start=dt.date(2025, 1, 1), days=365,
                                 catalog=items, stores=stores, minor_units=minor, grouped=False, skew=None), fh)
    out = tmp_path / "report"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TMPDIR": str(temporary)}
    said = tempfile.TemporaryFile()  # (not a pipe: a worker left behind would hold it open, the read waiting)
    proc = subprocess.Popen([sys.executable, "-m", "loyalty.cli", "simulate", str(PROGRAM), str(history),
                             "--jobs", "2", "--kernel", "python", "--out", str(out), "--format", "json"],
                            env=env, stdout=subprocess.DEVNULL, stderr=said, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while len(children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before its workers started: make the history longer"
        time.sleep(1.5)  # the workers are replaying
        workers = children(proc.pid)
        assert len(workers) >= 2
        sent = time.monotonic()
        proc.send_signal(how)
        code = proc.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    said.seek(0)
    stderr = said.read().decode()
    assert code == (130 if how == signal.SIGINT else 143), stderr
    assert took < 2.0, f"stopped {took:.1f} s after the signal"
    assert ("interrupted" if how == signal.SIGINT else "terminated") in stderr and "Traceback" not in stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "tmp"]  # no temporary folder either
    assert list(temporary.iterdir()) == []  # nor the workers' rows (parallel.simulate_in_pool)
    time.sleep(0.5)
    assert [w for w in workers if alive(w)] == []
