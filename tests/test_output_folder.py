"""A folder of tables (`simulate --out DIR`) is written as a whole: a reader finds the tables of one run
or none, never a mix; a terminated or interrupted run leaves no temporary file or folder. Output paths
that cannot be written give a clear error, not an internal one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "examples" / "programs" / "coffee_stars.loyalty"
HISTORY = ROOT / "examples" / "histories" / "coffee_stars.csv"
TABLES = {"summary", "by_rule", "by_reward", "by_tier", "by_month", "by_month_cost", "by_store", "by_region", "draws",
          "customers", "customers_by_month", "customers_cohorts", "customers_value_by_tenure", "customers_enrolment",
          "by_member"}


def _env(**extra) -> dict:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _loyalty(*args, cwd, **env):
    return subprocess.run([sys.executable, "-m", "loyalty.cli", *map(str, args)], cwd=cwd, env=_env(**env),
                          capture_output=True, text=True, timeout=600)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def _terminate_mid_write(tmp_path: Path, out: Path, signum: int) -> subprocess.CompletedProcess:
    """Run `simulate --out`, and send `signum` once some of the tables are written (the test hook pauses the
    write there and says so by creating the marker file)."""
    marker = tmp_path / "writing"
    proc = subprocess.Popen([sys.executable, "-m", "loyalty.cli", "simulate", str(PROGRAM), str(HISTORY),
                             "--out", str(out), "--format", "json", "--jobs", "1"], cwd=tmp_path,
                            env=_env(LOYALTY_TEST_PAUSE_WRITING=str(marker)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the write never started"
        time.sleep(0.05)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_write_leaves_the_previous_run_whole_and_no_temporary_file(tmp_path, signum):
    out = tmp_path / "report"
    first = _loyalty("simulate", PROGRAM, HISTORY, "--out", out, "--format", "json", "--jobs", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = _snapshot(out)
    assert set(before) == {f"{t}.csv" for t in TABLES}
    # a run whose tables differ, so a mix of two runs would show
    (tmp_path / "s.yaml").write_text("redemption: {policy: none}\nbreakage: {points: 0.5}\n")
    marker = tmp_path / "writing"
    proc = subprocess.Popen([sys.executable, "-m", "loyalty.cli", "simulate", str(PROGRAM), str(HISTORY),
                             "--scenario", str(tmp_path / "s.yaml"), "--out", str(out), "--format", "json",
                             "--jobs", "1"], cwd=tmp_path, env=_env(LOYALTY_TEST_PAUSE_WRITING=str(marker)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in stderr, stderr
    assert _snapshot(out) == before, "the folder holds the previous run, whole"
    assert _leftovers(tmp_path) == [], "no temporary file or folder left"


def test_sigterm_mid_write_of_a_new_folder_leaves_no_folder(tmp_path):
    out = tmp_path / "report"
    done = _terminate_mid_write(tmp_path, out, signal.SIGTERM)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["writing"]


def test_sigterm_while_generate_writes_leaves_no_temporary_file(tmp_path):
    """In time order, generate makes every 250k-row chunk (into files under TMPDIR) before its first byte of
    output: 2M rows are 8 chunks, so the write starts after ~2 s and lasts several seconds more (20M rows made
    the test wait ~25 s for the write to start). Neither the output's temporary file nor the chunks are left."""
    out, chunks = tmp_path / "out", tmp_path / "chunks"
    out.mkdir()
    chunks.mkdir()
    target = out / "big.csv"
    proc = subprocess.Popen([sys.executable, "-m", "loyalty.cli", "generate", "--rows", "2000000", "-o", str(target)],
                            cwd=out, env=_env(TMPDIR=str(chunks)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob(".big.csv.*.tmp")) or not list(out.glob(".big.csv.*.tmp"))[0].stat().st_size:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert list(chunks.iterdir()), "the chunks are made in TMPDIR"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    assert list(out.iterdir()) == [] and list(chunks.iterdir()) == []


def test_a_second_run_replaces_every_table(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "by_rule.csv").write_text("old table\n")
    done = _loyalty("simulate", PROGRAM, HISTORY, "--out", out, "--format", "json", "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert set(_snapshot(out)) == {f"{t}.csv" for t in TABLES}
    assert (out / "by_rule.csv").read_text() != "old table\n"
    assert _leftovers(tmp_path) == []


def test_a_folder_holding_other_files_is_not_replaced(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    done = _loyalty("simulate", PROGRAM, HISTORY, "--out", out, "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "notes.txt" in done.stderr and "Traceback" not in done.stderr
    assert _snapshot(out) == {"notes.txt": b"mine\n"}


@pytest.mark.parametrize("case", ["chart-missing-folder", "generate-missing-folder", "out-dev-null",
                                  "chart-is-a-folder"])
def test_an_output_path_that_cannot_be_written_is_a_clear_error(tmp_path, case):
    if case == "chart-missing-folder":
        args = ["simulate", PROGRAM, HISTORY, "--jobs", "1", "--chart", tmp_path / "no" / "such" / "cost.svg"]
    elif case == "generate-missing-folder":
        args = ["generate", "--rows", "10", "-o", tmp_path / "no" / "such" / "h.csv"]
    elif case == "out-dev-null":
        args = ["simulate", PROGRAM, HISTORY, "--jobs", "1", "--out", "/dev/null"]
    else:
        (tmp_path / "cost.svg").mkdir()
        args = ["simulate", PROGRAM, HISTORY, "--jobs", "1", "--chart", tmp_path / "cost.svg"]
    done = _loyalty(*args, cwd=tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "error: " in done.stderr.lower(), done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "no").exists()
