"""The console script's exit (cli.run: gc.freeze before the interpreter's teardown): what a command writes just
before it ends reaches a pipe whole, the exit code is the command's, and the teardown still runs (atexit
handlers), with the collector's objects frozen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty import __version__
from loyalty.cli import cli, main as cli_main

REPO = Path(__file__).resolve().parents[1]
PROGRAM = REPO / "examples" / "programs" / "car_wash.loyalty"


def console(*args: str, prelude: str = "", cwd=None) -> subprocess.CompletedProcess:
    """`loyalty ARGS` as the console script runs it (cli.run), its output read from pipes to the end."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-c", f"{prelude}from loyalty.cli import run; run()", *args],
                          capture_output=True, env=env, cwd=cwd, timeout=300)


def test_output_written_just_before_the_exit_reaches_the_pipe_whole():
    # generate writes its rows to standard output up to its last moment (~2.6 MB here, many pipe buffers);
    # the same command in-process is the reference
    args = ["generate", "--rows", "40000", "--seed", "3", "--program", str(PROGRAM)]
    done = console(*args)
    assert done.returncode == 0, done.stderr.decode()
    expected = CliRunner().invoke(cli, args)
    assert expected.exit_code == 0
    assert len(done.stdout) > 1 << 20
    assert done.stdout == expected.stdout_bytes
    assert done.stdout.count(b"\n") == 40001 and done.stdout.endswith(b"\n")


def test_a_report_on_a_pipe_is_whole_and_the_code_is_zero(tmp_path):
    history = tmp_path / "h.csv"
    history.write_bytes(console("generate", "--rows", "3000", "--seed", "1", "--program", str(PROGRAM)).stdout)
    args = ["simulate", str(PROGRAM), str(history), "--format", "json", "--jobs", "1"]
    done = console(*args)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == CliRunner().invoke(cli, args).stdout_bytes


def test_the_exit_code_is_the_commands(tmp_path):
    missing = console("simulate", str(PROGRAM), str(tmp_path / "none.csv"), "--format", "json")
    assert missing.returncode == 1 and b"no such file" in missing.stderr  # the input is wrong
    usage = console("simulate", str(PROGRAM))
    assert usage.returncode == 2 and b"Missing argument" in usage.stderr  # a usage error
    wrong = tmp_path / "wrong.loyalty"
    wrong.write_text("program \"x\"\nthis is not a program\n", encoding="utf-8")
    checked = console("check", str(wrong))
    assert checked.returncode == 1 and checked.stderr
    assert console("check", str(PROGRAM)).returncode == 0


def test_the_teardown_still_runs_with_the_objects_frozen():
    # an atexit handler runs after run() froze the collector's objects (the ordinary teardown, not os._exit)
    done = console("--version", prelude="import atexit, gc; atexit.register(lambda: print('frozen', "
                                        "gc.get_freeze_count() > 0, flush=True)); ")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines() == [f"loyalty, version {__version__}", "frozen True"]


def test_the_console_script_starts_numpy_without_blas_threads_unless_the_user_set_them():
    """cli.run sets OPENBLAS_NUM_THREADS=1 before numpy is imported (`one_blas_thread`): OpenBLAS then starts no
    thread of its own (one per core otherwise, ~50 ms of CPU per process). A value the user set stands."""
    prelude = ("import loyalty.cli, os\n"
               "def main():\n"
               "    import numpy\n"
               "    print(os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))\n"
               "    return 0\n"
               "loyalty.cli.main = main\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = str(REPO / "src")
    for given, expected in ((None, "1"), ("2", "2")):
        if given is not None:
            env["OPENBLAS_NUM_THREADS"] = given
        done = subprocess.run([sys.executable, "-c", f"{prelude}loyalty.cli.run()"], capture_output=True, env=env,
                              timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        value, threads = done.stdout.decode().split()
        assert value == expected
        if given is None and sys.platform.startswith("linux"):
            assert threads == "1"  # this process's only thread: no BLAS thread started


@pytest.mark.parametrize("signalled, code, said", [("terminated", 143, "loyalty: terminated; no output was left half written"),
                                                   ("interrupted", 130, "loyalty: interrupted")])
def test_a_signal_raised_inside_a_c_call_is_said_as_the_signal_not_as_a_bug(monkeypatch, capsys, signalled, code, said):
    # SIGTERM's handler (fileio) raising inside a C call that then returns a value: CPython raises SystemError
    # from it ("PurePath.__str__ returned a result with an exception set", seen in generate under SIGTERM)
    from loyalty.commands import check as check_command
    from loyalty.fileio import Terminated

    def hit(*_a, **_k):
        try:
            raise Terminated() if signalled == "terminated" else KeyboardInterrupt()
        except BaseException as err:
            raise SystemError("PurePath.__str__ returned a result with an exception set") from err

    monkeypatch.setattr(check_command, "check_file", hit)
    assert cli_main(["check", str(PROGRAM)]) == code
    err = capsys.readouterr().err
    assert said in err and "internal error" not in err
