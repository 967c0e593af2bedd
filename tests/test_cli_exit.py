"""The console script's exit (cli.run, `end_process`: the teardown's first steps, then os._exit): what a command
writes just before it ends reaches a pipe whole, the exit code is the command's, threads are joined and atexit
handlers run (a forked copy is reaped), and the modules' teardown is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from loyalty import __version__
from loyalty.cli import cli

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


def test_the_teardown_steps_still_run_with_the_objects_frozen():
    # an atexit handler runs after run() froze the collector's objects, after a non-daemon thread ended, and
    # its output (buffered, not flushed) reaches the pipe
    prelude = ("import atexit, gc, sys, threading, time; "
               "atexit.register(lambda: sys.stdout.write(f'frozen {gc.get_freeze_count() > 0}\\n')); "
               "threading.Thread(target=lambda: (time.sleep(0.5), print('thread', flush=True))).start(); ")
    done = console("--version", prelude=prelude)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines() == [f"loyalty, version {__version__}", "thread", "frozen True"]


def test_the_modules_teardown_is_skipped_and_loyaltys_own_files_are_whole(tmp_path):
    # what end_process saves: an object only the modules' teardown would free is not freed (os._exit after the
    # teardown's first steps): here an unclosed file's buffered text, which the teardown would have written.
    # loyalty closes its own files itself: the tables written with --out are whole
    late = tmp_path / "late.txt"
    prelude = f"import sys; sys.modules['__main__'].held = open({str(late)!r}, 'w'); held.write('x'); "
    args = ["simulate", str(PROGRAM), str(REPO / "examples" / "histories" / "car_wash.csv"), "--format", "json"]
    done = console(*args, "--out", str(tmp_path / "run"), prelude=prelude)
    assert done.returncode == 0, done.stderr.decode()
    assert late.read_text() == ""
    assert CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "in_process")]).exit_code == 0
    tables = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert tables and tables == sorted(p.name for p in (tmp_path / "in_process").iterdir())
    for name in tables:
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "in_process" / name).read_bytes(), name


def test_ctrl_c_while_the_exit_joins_a_thread_is_said_not_a_traceback():
    prelude = ("import os, signal, threading, time; "
               "threading.Thread(target=lambda: (time.sleep(1), os.kill(os.getpid(), signal.SIGINT), "
               "time.sleep(5))).start(); ")
    done = console("--version", prelude=prelude)
    assert done.returncode == 130, done.stderr.decode()
    assert done.stderr.decode() == "loyalty: interrupted\n"


def test_a_forked_copy_is_reaped_before_the_process_ends(tmp_path):
    # parallel.py's atexit handler (reap_later) still waits for the copy: checked by a handler registered before
    # it, which atexit runs after it
    history = tmp_path / "h.csv"
    history.write_bytes(console("generate", "--rows", "3000", "--seed", "1", "--program", str(PROGRAM)).stdout)
    prelude = ("import atexit, os, sys\n"
               "from loyalty.simulate import parallel\n"
               "parallel.FORK_MIN_ROWS, parallel.core_free, parallel.usable_cores = 0, lambda: True, lambda: 2\n"
               "forks = []\n"
               "real = parallel.reap_later\n"
               "parallel.reap_later = lambda pid: (forks.append(pid), real(pid))[1]\n"
               "def check():\n"
               "    for pid in forks:\n"
               "        try:\n"
               "            os.waitpid(pid, os.WNOHANG)\n"
               "        except ChildProcessError:\n"
               "            sys.stderr.write('reaped\\n')\n"
               "atexit.register(check)\n")
    done = console("simulate", str(PROGRAM), str(history), "--format", "json", "--jobs", "2", prelude=prelude)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.decode().splitlines()[-1:] == ["reaped"]
    assert done.stdout == console("simulate", str(PROGRAM), str(history), "--format", "json", "--jobs", "1").stdout


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


def test_a_plain_simulate_run_does_not_import_what_only_other_paths_need(tmp_path):
    # tempfile and shutil (with random, bz2, lzma: ~5 ms) only for folders, worker processes and compressed
    # histories; difflib only for a name to correct. The second run finds the program compiled (program_cache)
    history = REPO / "examples" / "histories" / "car_wash.csv"
    code = ("import sys\n"
            "from loyalty.cli import main\n"
            f"main(['simulate', {str(PROGRAM)!r}, {str(history)!r}, '--format', 'json', '--jobs', '1'])\n"
            "print(sorted(m for m in ('tempfile', 'shutil', 'difflib') if m in sys.modules), file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "LOYALTY_CACHE_DIR": str(tmp_path)}
    env.pop("LOYALTY_NO_CACHE", None)
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.decode().splitlines()[-1] == "[]"
