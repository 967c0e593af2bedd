"""`loyalty fmt`: rewrite programs in the canonical layout (docs/formatting.md)."""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from typing import Optional

import click

from loyalty.commands._common import EXIT_INPUT, EXIT_OK, EXIT_USAGE, print_diagnostics
from loyalty.fileio import write_atomic
from loyalty.frontend import decode_source
from loyalty.syntax.formatter import format_program
from loyalty.syntax.parser import parse_with_diagnostics
from loyalty.terminal import visible

STDIN = "-"


@dataclass(frozen=True)
class _Result:
    name: str
    original: bytes
    text: str  # the original, decoded
    formatted: Optional[str]  # None when the file has errors

    @property
    def changed(self) -> bool:
        return self.formatted is not None and self.formatted.encode("utf-8") != self.original


def _format_bytes(data: bytes, name: str) -> _Result:
    text, problems = decode_source(data, name)
    if text is None:
        print_diagnostics(problems, "")
        return _Result(name, data, "", None)
    program, diagnostics = parse_with_diagnostics(text, name)
    if program is None:
        print_diagnostics(diagnostics, text)
        return _Result(name, data, text, None)
    return _Result(name, data, text, format_program(program))


def _lines(text: str) -> list[str]:
    """Lines split on "\\n" only (a form feed or U+2028 inside a comment is not a line break)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1] + "\n\\ No newline at end of file\n")
    return lines


def _diff(result: _Result) -> str:
    assert result.formatted is not None
    return "".join(
        difflib.unified_diff(
            _lines(result.text), _lines(result.formatted), fromfile=f"{result.name}", tofile=f"{result.name} (formatted)"
        )
    )


def _on_terminal() -> bool:
    return hasattr(sys.stdout, "isatty") and sys.stdout.isatty()


def _echo_diff(result: _Result) -> None:
    """The diff, exact when piped (a patch must apply). On a terminal, the control characters of the file
    (an escape sequence or a bidi override in a comment, the \\r of a CRLF line end) are shown through
    loyalty.terminal.visible, not obeyed; tabs stay."""
    diff = _diff(result)
    if _on_terminal():
        diff = "\n".join(visible(line, keep="\t") for line in diff.split("\n"))
    click.echo(diff, nl=False)


_EPILOG = """\b
Examples:
  loyalty fmt examples/programs/*.loyalty      rewrite the files in place
  loyalty fmt examples                         every .loyalty file below the folder
  loyalty fmt --check programs/*.loyalty       in CI: exit 1 and list the files that need formatting
  loyalty fmt --diff shop.loyalty              show what would change, write nothing
  cat shop.loyalty | loyalty fmt -             read standard input, write standard output

\b
Files are written atomically (a crash leaves the old or the new file, never half of one).
Output is UTF-8 with "\\n" line endings. A file with syntax errors is left untouched.
Exit codes: 0 success, 1 a file has errors (or, with --check, needs formatting), 2 usage error."""


@click.command(name="fmt", epilog=_EPILOG)
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, allow_dash=True),
    metavar="FILE|DIR...",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change, listing them.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff of the changes.")
def command(files: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Rewrite programs in the canonical layout: two-space indentation, one statement per
    line, comments kept beside their statements. Formatting never changes what a program
    means. A directory means every .loyalty file below it (sorted). Use `-` as the only FILE to
    format standard input to standard output."""
    from loyalty.commands._common import program_paths

    files = tuple(program_paths(files))
    if files == (STDIN,):
        sys.exit(_format_stdin(check, show_diff))

    failed = would_change = False
    for name in files:
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError as err:
            click.echo(f"loyalty: error: cannot read {visible(name)}: {err.strerror}", err=True)
            sys.exit(EXIT_USAGE)
        result = _format_bytes(data, name)
        if result.formatted is None:
            failed = True
            continue
        if not result.changed:
            continue
        would_change = True
        if show_diff:
            _echo_diff(result)
        if check:
            click.echo(f"would reformat {visible(name)}")
        elif not show_diff:
            try:
                write_atomic(name, result.formatted)
            except OSError as err:
                click.echo(f"loyalty: error: cannot write {visible(name)}: {visible(str(err.strerror or err))}", err=True)
                failed = True
                continue
            click.echo(f"reformatted {visible(name)}")
    sys.exit(EXIT_INPUT if failed or (check and would_change) else EXIT_OK)


def _format_stdin(check: bool, show_diff: bool) -> int:
    result = _format_bytes(sys.stdin.buffer.read(), "<stdin>")
    if result.formatted is None:
        return EXIT_INPUT
    if show_diff:
        if result.changed:
            _echo_diff(result)
    elif check:
        if result.changed:
            click.echo("would reformat <stdin>")
    else:
        sys.stdout.flush()
        out = sys.stdout.buffer  # bytes: UTF-8 whatever the terminal's locale
        out.write(result.formatted.encode("utf-8"))
        out.flush()
    return EXIT_INPUT if check and result.changed else EXIT_OK
