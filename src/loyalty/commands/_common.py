"""What the commands share: consoles, exit codes, printing diagnostics."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Callable, Iterable, NoReturn

import click

from loyalty.cli import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE  # noqa: F401  (re-exported)
from loyalty.diagnostics import Diagnostic, render
from loyalty.terminal import visible

if TYPE_CHECKING:
    from rich.console import Console

    from loyalty.frontend import CheckedSource
    from loyalty.runtime.program import CompiledProgram

# rich is imported when a console is made (~45 ms): `simulate --format json` and the commands that only
# print diagnostics never need it

def prefer_system_allocator() -> None:
    """For a command that reads a whole history into memory (simulate, compare, explain): Arrow's buffers
    from the C library's malloc, unless the user chose (ARROW_DEFAULT_MEMORY_POOL). pyarrow's default, its
    bundled mimalloc, gives freed pages back to the kernel and faults them in again; on this machine that
    cost a 1M-row run 0.5-1.2 s of system time (docs/performance.md, "Arrow's allocator"). The command
    owns its process, so the choice is set in the environment too, which worker processes inherit. Not for
    a streamed run (`--grouped`): there malloc's arenas grew with the history (631 MB at 1M rows, 1.86 GB
    at 10M) where mimalloc held 500 MB and 1.04 GB. A program that embeds loyalty.simulate keeps its own
    allocator: only the commands call this."""
    keep_freed_memory()
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    import pyarrow as pa  # the process's default pool may exist already (pyarrow made it on import)

    pa.set_memory_pool(pa.system_memory_pool())


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """glibc's malloc told to keep what the process frees for its next allocations (numpy's arrays, and Arrow's
    buffers under the system pool): blocks of up to 32 MB (a 1M-row column is 4-8 MB) come from its heap, and
    the heap's free top is not handed back to the kernel below 1 GB. By default it hands back whatever tops
    the heap after a free, and the next array of the replay faults those pages in again, zeroed: with the
    read's peak ~90 MB lower, the reference program's 1M rows took 146k page faults instead of 98k; with this,
    83k. For a command that owns its process, as `prefer_system_allocator`. Not where the user set these
    thresholds (GLIBC_TUNABLES, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_), nor off glibc (False then)."""
    if not sys.platform.startswith("linux") or any(
            name in os.environ for name in ("GLIBC_TUNABLES", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")):
        return False
    from loyalty.clib import c_function

    mallopt = c_function("mallopt")
    if mallopt is None or c_function("gnu_get_libc_version") is None:  # (musl's mallopt does nothing)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))


# How much a command says on standard error beyond its errors: 0 with -q (errors and the requested output
# only), 1 by default, 2 with --verbose (each stage and its time). Set by the -q/--verbose options every
# command gets (cli.LazyGroup).
QUIET, NORMAL, VERBOSE = 0, 1, 2
verbosity = NORMAL


def set_verbosity(level: int) -> None:
    global verbosity
    verbosity = level
    import loyalty.progress

    loyalty.progress.enabled = level > QUIET  # no progress bars with -q
    loyalty.progress.on_stage_end = (lambda name, seconds: detail(f"{name}: {seconds:.2f} s")) if \
        level >= VERBOSE else None


def note(message: str) -> None:
    """An informational line on standard error ("wrote 7 CSV tables to out/"), left out with -q. The message
    may quote the user's data: it is shown through `visible`."""
    if verbosity >= NORMAL:
        click.echo(visible(message), err=True)


def detail(message: str) -> None:
    """A line for --verbose only: what a command is doing and how long it took."""
    if verbosity >= VERBOSE:
        click.echo(f"loyalty: {visible(message)}", err=True)


def color_choice() -> "bool | None":
    """NO_COLOR (any value) turns colour off, FORCE_COLOR (any value but 0) turns it on even when piped; None:
    neither is set, colour only on a terminal (https://no-color.org, https://force-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    force = os.environ.get("FORCE_COLOR")
    if force and force != "0":
        return True
    return None


def use_color(stream=None) -> bool:
    """Colour on `stream` (default: standard error)? The one place that decides, for diagnostics and rich's
    consoles alike: color_choice, else whether the stream is a terminal."""
    choice = color_choice()
    if choice is not None:
        return choice
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


PIPED_WIDTH = 140  # piped or redirected with no COLUMNS: room for every column of the reports


def output_width(stream=None) -> int:
    """The width reports are laid out for: COLUMNS when set (a positive number), else the terminal's width,
    else PIPED_WIDTH."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        pass
    return PIPED_WIDTH


def _console(stream, stderr: bool) -> "Console":
    from loyalty.commands.fitting import FittingConsole as Console  # tables fit the width, numbers whole

    choice = color_choice()
    # soft_wrap=False: long lines wrap at the width (COLUMNS) instead of running on; FORCE_COLOR makes rich
    # treat the stream as a terminal (colours), NO_COLOR keeps the terminal but drops the colours
    # (with NO_COLOR no escape sequence at all: no bold either, as in the diagnostics)
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=output_width(stream),
                   force_terminal=True if choice else None, no_color=choice is False,
                   color_system=None if choice is False else "auto")


def stdout_console() -> "Console":
    """The console reports are printed on: COLUMNS, NO_COLOR and FORCE_COLOR honoured (see use_color)."""
    return _console(sys.stdout, stderr=False)


def stderr_console() -> "Console":
    return _console(sys.stderr, stderr=True)


def print_diagnostics(diagnostics: Iterable[Diagnostic], source: str, stream=None) -> None:
    stream = stream or sys.stderr
    color = use_color(stream)
    for d in diagnostics:
        click.echo(render(d, source, color=color), file=stream, color=color)  # click strips colour when piped unless told
        click.echo("", file=stream)


def fail(message: str, hint: str | None = None, code: int = EXIT_INPUT) -> NoReturn:
    """Print `loyalty: error: message` (and the hint) and exit. Both may quote the user's data (a member
    id, a column header, a file name): they are shown through `visible`, so no escape sequence in them
    reaches the terminal."""
    click.echo(f"loyalty: error: {visible(message)}", err=True)
    if hint:
        click.echo(f"  = hint: {visible(hint)}", err=True)
    sys.exit(code)


def compile_or_exit(file: str, read: "Callable[[], CheckedSource]") -> "tuple[CheckedSource, CompiledProgram]":
    """What `read()` checks (a CheckedSource of `file`; its warnings) and the program it compiles to, for a
    command that needs one: a missing file is a usage error (exit 2), an unreadable one or a program with
    errors exit 1 with the diagnostics printed."""
    from loyalty.compiler import compile_document
    from loyalty.diagnostics import LoyaltyError
    from loyalty.runtime.program import CompiledProgram

    try:
        checked = read()
    except FileNotFoundError:
        fail(f"{file}: no such file", code=EXIT_USAGE)
    except OSError as err:
        fail(f"{file} cannot be read: {err.strerror or err}")
    if not checked.ok:
        print_diagnostics(checked.diagnostics, checked.text)
        sys.exit(EXIT_INPUT)
    try:
        return checked, CompiledProgram(compile_document(checked.program, file))
    except LoyaltyError as err:
        print_diagnostics(err.diagnostics, checked.text)
        sys.exit(EXIT_INPUT)


def check_output_file(path: str, option: str) -> None:
    """Before any work: a file option (`--chart`, `-o`) must name a file that can be created in an existing
    folder; otherwise a usage error that says which."""
    from pathlib import Path

    target = Path(path)
    if target.is_dir():
        fail(f"{option} {path}: is a folder", "name a file, e.g. cost.svg", code=EXIT_USAGE)
    if target.exists() and not target.is_file():
        fail(f"{option} {path}: is not a regular file", "name a file to write", code=EXIT_USAGE)
    folder = target.absolute().parent
    if not folder.is_dir():
        fail(f"{option} {path}: the folder {folder} does not exist",
             "create the folder first, or name a file in an existing one", code=EXIT_USAGE)


def check_output_dir(path: str, option: str, owned: frozenset) -> None:
    """Before any work: a folder option (`--out`) must name a folder that is missing, empty or holds only the
    files an earlier run wrote (the folder is replaced as a whole)."""
    from loyalty.fileio import FolderInUse, check_replaceable

    try:
        check_replaceable(path, owned)
    except NotADirectoryError:
        fail(f"{option} {path}: is not a folder", "name a folder to write the tables into", code=EXIT_USAGE)
    except FolderInUse as err:
        more = " ..." if len(err.foreign) > 3 else ""
        fail(f"{option} {path}: the folder holds files {option} did not write ({', '.join(err.foreign[:3])}{more})",
             f"{option} replaces the whole folder: name a new or empty folder, or one an earlier {option} wrote",
             code=EXIT_USAGE)


def output_error(path, err: OSError) -> NoReturn:
    """Writing an output failed (no space, no permission): exit 1 naming the file and the reason."""
    fail(f"{path}: cannot write: {err.strerror or err}", "check the path, its permissions and the free space")


def _set_level(level: int):
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            set_verbosity(level)
    return callback


def add_verbosity_options(command: click.Command) -> click.Command:
    """Give `command` -q/--quiet and --verbose (once; a command that has its own -q keeps it and calls
    set_verbosity itself). -q: only errors and the output asked for, no progress or "wrote ..." lines;
    --verbose: also each stage and its time on standard error."""
    if getattr(command, "_verbosity_options", False):
        return command
    taken = {opt for p in command.params for opt in getattr(p, "opts", [])}
    if "-q" not in taken:
        command.params.append(click.Option(["-q", "--quiet", "quiet_"], is_flag=True, expose_value=False,
                                           is_eager=True, callback=_set_level(QUIET),
                                           help="Print only errors and the output asked for."))
    command.params.append(click.Option(["--verbose", "verbose_"], is_flag=True, expose_value=False, is_eager=True,
                                       callback=_set_level(VERBOSE),
                                       help="Also print each stage and its time on standard error."))
    command._verbosity_options = True  # type: ignore[attr-defined]
    return command


STDIN = "-"


def program_paths(paths: Iterable[str]) -> list[str]:
    """The files named, with each directory replaced by every `.loyalty` file below it (sorted by path, so
    the order is the same on every machine); `-` (standard input) kept as it is. A usage error when `-`
    comes with other paths or when a directory holds no program."""
    from pathlib import Path

    paths = list(paths)
    if STDIN in paths and len(paths) > 1:
        fail("`-` (standard input) must be the only FILE", code=EXIT_USAGE)
    out: list[str] = []
    for raw in paths:
        if raw != STDIN and Path(raw).is_dir():
            found = sorted((p for p in Path(raw).rglob("*.loyalty") if p.is_file()), key=lambda p: p.as_posix())
            if not found:
                fail(f"{raw}: is a directory with no .loyalty programs in it",
                     "name program files, or a directory that holds some", code=EXIT_USAGE)
            out += [str(p) for p in found]
        else:
            out.append(raw)
    return out


def spool_stdin(what: str) -> str:
    """Standard input copied to a temporary file (the history readers seek and read twice), removed when the
    command ends; its path. Parquet (it starts with PAR1) is named .parquet, anything else .csv."""
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="loyalty-stdin-"))
    click.get_current_context().call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    head = sys.stdin.buffer.peek(4)[:4] if hasattr(sys.stdin.buffer, "peek") else b""
    # a new file in a new private folder: nothing of the user's is written over
    with tempfile.NamedTemporaryFile(dir=folder, prefix="stdin", suffix=".parquet" if head == b"PAR1" else ".csv",
                                     delete=False) as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    spooled = Path(out.name)
    if spooled.stat().st_size == 0:
        fail(f"{what}: standard input is empty", "pipe a history in, e.g. loyalty generate | loyalty simulate P -")
    return str(spooled)
