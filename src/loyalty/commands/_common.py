"""What the commands share: consoles, exit codes, printing diagnostics."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Iterable, NoReturn

import click

from loyalty.cli import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE  # noqa: F401  (re-exported)
from loyalty.diagnostics import Diagnostic, render
from loyalty.terminal import visible

if TYPE_CHECKING:
    from rich.console import Console

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
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    import pyarrow as pa  # the process's default pool may exist already (pyarrow made it on import)

    pa.set_memory_pool(pa.system_memory_pool())


def stdout_console() -> "Console":
    from rich.console import Console

    # colours only on a terminal; plain text when piped (rich decides from isatty)
    return Console(highlight=False, soft_wrap=True)


def stderr_console() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def use_color(stream=None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


def print_diagnostics(diagnostics: Iterable[Diagnostic], source: str, stream=None) -> None:
    stream = stream or sys.stderr
    color = use_color(stream)
    for d in diagnostics:
        click.echo(render(d, source, color=color), file=stream)
        click.echo("", file=stream)


def fail(message: str, hint: str | None = None, code: int = EXIT_INPUT) -> NoReturn:
    """Print `loyalty: error: message` (and the hint) and exit. Both may quote the user's data (a member
    id, a column header, a file name): they are shown through `visible`, so no escape sequence in them
    reaches the terminal."""
    click.echo(f"loyalty: error: {visible(message)}", err=True)
    if hint:
        click.echo(f"  = hint: {visible(hint)}", err=True)
    sys.exit(code)


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
