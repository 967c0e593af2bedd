"""What the commands share: consoles, exit codes, printing diagnostics."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Iterable, NoReturn

import click

from loyalty.cli import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE  # noqa: F401  (re-exported)
from loyalty.diagnostics import Diagnostic, render

if TYPE_CHECKING:
    from rich.console import Console

# rich is imported when a console is made (~45 ms): `simulate --format json` and the commands that only
# print diagnostics never need it

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
    click.echo(f"loyalty: error: {message}", err=True)
    if hint:
        click.echo(f"  = hint: {hint}", err=True)
    sys.exit(code)
