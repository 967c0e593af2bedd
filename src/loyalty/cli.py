"""The `loyalty` command line.

Each command lives in its own module under `loyalty.commands` and is imported
only when it runs, so `loyalty --help` and `loyalty check` stay fast.
Exit codes: 0 success, 1 the input is wrong (diagnostics printed), 2 usage error,
3 internal error (a bug in loyalty: please report it), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from loyalty import __version__

# name -> (module, one-line help). The order is the order of `loyalty --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("loyalty.commands.check", "Check programs for errors and warnings."),
    "fmt": ("loyalty.commands.fmt", "Rewrite programs in the canonical layout."),
    "test": ("loyalty.commands.test", "Run the scenario tests written next to a program."),
    "describe": ("loyalty.commands.describe", "Describe a program in plain words: terms, reward rates, worst case."),
    "compile": ("loyalty.commands.compile", "Compile a program and print it as JSON."),
    "simulate": ("loyalty.commands.simulate", "Replay a purchase history through a program and report its cost."),
    "compare": ("loyalty.commands.compare", "Compare two programs on the same history."),
    "sweep": ("loyalty.commands.sweep", "Run a program for every combination of some parameters' values."),
    "explain": ("loyalty.commands.explain", "Show one member's timeline and why each effect happened."),
    "migrate-check": ("loyalty.commands.migrate_check",
                      "Check what carrying members' states to a new version of a program keeps and drops."),
    "generate": ("loyalty.commands.generate", "Generate a synthetic purchase history."),
    "examples": ("loyalty.commands.examples", "Copy the example programs and histories into a folder."),
    "lsp": ("loyalty.commands.lsp", "Run the language server for editors (over stdio)."),
    "schema": ("loyalty.commands.schema", "Print the JSON Schema of the report, the scenario file or .test.yaml."),
}

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_PIPE = 141  # standard output closed by its reader (`| head`): what a shell reports for a command SIGPIPE ended
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class _PipeClosed(Exception):
    """Standard output's reader has gone (`loyalty simulate ... | head`)."""


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _) in COMMANDS.items() if importlib.util.find_spec(module) is not None]

    def get_command(self, ctx: click.Context, name: str):
        if name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[name]
        if importlib.util.find_spec(module_name) is None:
            return None
        from loyalty.commands._common import add_verbosity_options  # -q/--verbose on every command

        return add_verbosity_options(importlib.import_module(module_name).command)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as err:  # past click's own handling of EPIPE, which exits 1 ("the input is wrong")
            raise _PipeClosed() from err

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  loyalty examples                 (copies the example programs and histories into ./examples)
  loyalty check examples/programs/car_wash.loyalty
  loyalty simulate examples/programs/car_wash.loyalty examples/histories/car_wash.csv

Exit codes: 0 success, 1 the input is wrong (diagnostics printed), 2 usage error,
130 interrupted (Ctrl-C).""",
)
@click.version_option(__version__, prog_name="loyalty")
def cli() -> None:
    """loyalty: write customer-loyalty programs as checked text, test them, and
    learn what they cost by replaying a real purchase history."""
    from loyalty.commands._common import NORMAL, set_verbosity

    set_verbosity(NORMAL)  # each run starts at the default; the command's -q/--verbose then set it


def main(argv: list[str] | None = None) -> int:
    """Console entry point: no Python traceback ever reaches a user."""
    try:
        # not click's standalone mode: it turns Ctrl-C into "Aborted!" and exit 1 (the input is wrong)
        code = cli.main(args=argv, prog_name="loyalty", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK
    except click.exceptions.Abort as abort:
        if isinstance(abort.__context__, KeyboardInterrupt):
            return _interrupted()
        return EXIT_INPUT  # end of input at a prompt
    except click.ClickException as err:  # a usage error: the message and the usage line, exit 2
        err.show()
        return err.exit_code
    except SystemExit as exit_:
        from loyalty.fileio import Terminated

        if isinstance(exit_, Terminated):
            return _terminated()
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_INPUT)
    except KeyboardInterrupt:
        return _interrupted()
    except _PipeClosed:
        _quiet_stdout()
        return EXIT_PIPE
    except OSError as err:  # the machine refused (a full disk, an I/O error): not a bug, and not the input
        return _refused(err)
    except Exception as err:  # a bug; say so plainly (the message may quote the user's data)
        from loyalty.fileio import Terminated
        from loyalty.terminal import visible

        signalled = _signal_beneath(err)
        if signalled is not None:
            return _terminated() if isinstance(signalled, Terminated) else _interrupted()
        click.echo(f"loyalty: internal error: {type(err).__name__}: {visible(str(err))}", err=True)
        click.echo("This is a bug in loyalty; please report it with the command you ran.", err=True)
        return EXIT_INTERNAL
    return EXIT_OK


def _interrupted() -> int:
    """Ctrl-C, said in one line: exit 130."""
    click.echo("loyalty: interrupted", err=True)
    return EXIT_INTERRUPTED


def _terminated() -> int:
    """SIGTERM (fileio.Terminated: the clean-up has run), said in one line: exit 128 + 15."""
    import signal

    click.echo("loyalty: terminated; no output was left half written", err=True)
    return 128 + signal.SIGTERM


def _signal_beneath(err: BaseException) -> BaseException | None:
    """The Terminated (fileio: SIGTERM) or KeyboardInterrupt (Ctrl-C) an error was raised from, or None. A signal's
    handler that raises inside a C call which then returns a value (e.g. a path's __str__ under os.fspath) makes
    CPython raise SystemError("... returned a result with an exception set") from it: the signal, not a bug."""
    from loyalty.fileio import Terminated

    seen: set = set()
    cause = err.__cause__ or err.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (Terminated, KeyboardInterrupt)):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _refused(err: OSError) -> int:
    """A located message for an error of the system (ENOSPC writing the report, EIO), exit 1. Standard output
    is left for /dev/null: the interpreter's own last flush of a full disk would print a traceback."""
    from loyalty.terminal import visible

    import errno

    where = f" ({visible(str(err.filename))})" if err.filename else ""
    click.echo(f"loyalty: the system refused: {visible(err.strerror or str(err))}{where}", err=True)
    if err.errno in (errno.ENOSPC, errno.EDQUOT):  # (only then is "free some space" the way out)
        hint = "Nothing in the input is wrong: free some space or write elsewhere (--out, -o), then run again."
    else:
        hint = "Check the path named, its permissions and the device, then run again."
    click.echo(hint, err=True)
    _quiet_stdout()
    return EXIT_INPUT


def _quiet_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (a test's captured output): nothing will flush there
        pass


def one_blas_thread() -> None:
    """numpy's OpenBLAS told (before numpy is imported) to start no thread of its own: by default it starts one per
    core at numpy's import, ~50 ms of CPU per process on the 2-core benchmark machine (`import numpy` 0.14 ->
    0.08 s), and nothing loyalty runs uses them (no matrix product in a simulation; the forecast's fits are on
    a few numbers). The worker processes inherit it. Not where the user set it; not in main(), so a program
    that calls main() keeps its own."""
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def run() -> None:
    """The `loyalty` console script (and `python -m loyalty.cli`): main(), then the process ends with its
    exit code (`end_process`)."""
    one_blas_thread()
    end_process(main())


def end_process(code: int) -> None:
    """The interpreter's teardown, without the part that only frees memory the process's end frees anyway. Its
    first steps are taken here as Py_FinalizeEx takes them, in its order: non-daemon threads joined (and
    `threading`'s own exit hooks), atexit handlers run (parallel.py's reaping of a forked copy, logging's,
    multiprocessing's, weakref.finalize's), standard output and error flushed; then os._exit. What that skips
    is the modules' teardown and the collector's final passes: ~10 ms of CPU after a 1M-row simulate
    (docs/performance.md: 35 -> 25 ms after main() returns; the rest is the kernel freeing the memory).
    Nothing of loyalty's waits for it (temporary files and folders are removed by their `with` blocks and
    click's close callbacks, worker processes joined, inside main). Where a step cannot be taken so (a flush
    that fails: a full disk, a closed pipe; an interpreter without these hooks), the ordinary teardown ends the
    process, as it did before, with the objects frozen first (gc.freeze: its collections then do not walk
    them). Ctrl-C in these steps is said as main() says it (the teardown printed a traceback and exited 0).
    Not in main(): a caller that runs main() in its own process (tests, CliRunner) keeps its own exit."""
    import atexit
    import gc
    import os
    import threading

    gc.freeze()
    shutdown, run_exitfuncs = getattr(threading, "_shutdown", None), getattr(atexit, "_run_exitfuncs", None)
    if shutdown is None or run_exitfuncs is None:  # (another Python: the ordinary teardown)
        sys.exit(code)
    try:
        shutdown()
        run_exitfuncs()  # (each runs once: the list is emptied, so a teardown after this does not run them again)
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except KeyboardInterrupt:  # Ctrl-C while a thread is joined or a slow reader takes the output: as main() says it
        os._exit(_interrupted())
    except Exception:  # noqa: BLE001 (the teardown flushes again and reports it as it always did)
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
