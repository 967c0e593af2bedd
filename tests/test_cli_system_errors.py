"""When the machine, not the input, stops a command: a full disk gets a message and exit 1 (never "internal
error", never a traceback); a reader that closes the pipe early (`loyalty simulate ... | head -1`) ends the
command quietly with 141, what a shell reports for a command that SIGPIPE ended, not 1 ("the input is wrong")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROGRAM = REPO / "examples" / "programs" / "car_wash.loyalty"
HISTORY = REPO / "examples" / "histories" / "car_wash.csv"
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}
COMMAND = [sys.executable, "-m", "loyalty.cli"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux), a file every write to fails")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_full_disk_is_a_message_and_exit_1(fmt):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([*COMMAND, "simulate", str(PROGRAM), str(HISTORY), "--format", fmt], env=ENV,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "No space left on device" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr  # the interpreter's last flush found nothing left to write


@pytest.mark.parametrize("args", [["simulate", str(PROGRAM), str(HISTORY)],
                                  ["generate", "--rows", "200000", "--program", str(PROGRAM)]])
def test_a_pipe_closed_by_its_reader_ends_quietly_with_141(args):
    proc = subprocess.Popen([*COMMAND, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # `| head -1` (the report's text is more than a pipe holds)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert first.strip()
    assert err == ""


def test_another_system_error_is_a_message_without_the_free_space_hint(monkeypatch, capsys):
    import errno

    from loyalty import cli
    from loyalty.simulate import run

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", str(HISTORY))

    monkeypatch.setattr(run, "read_inputs", broken)
    monkeypatch.setattr(cli, "_quiet_stdout", lambda: None)  # (pytest holds standard output)
    assert cli.main(["simulate", str(PROGRAM), str(HISTORY)]) == 1
    err = capsys.readouterr().err
    assert "the system refused: Input/output error" in err and "car_wash.csv" in err
    assert "free some space" not in err and "internal error" not in err
