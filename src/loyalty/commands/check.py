"""`loyalty check FILE...`: report every error and warning of each program."""

from __future__ import annotations

import json
import sys

import click

from loyalty.commands._common import EXIT_INPUT, EXIT_OK, print_diagnostics
from loyalty.diagnostics import Severity
from loyalty.frontend import CheckedSource, check_file
from loyalty.terminal import visible


def _read(path: str) -> CheckedSource | str:
    """The checked file, or a sentence saying why it could not be read."""
    try:
        return check_file(path)
    except IsADirectoryError:
        return f"{path} is a directory, not a program file"
    except PermissionError:
        return f"{path} cannot be read: permission denied"
    except OSError as err:
        return f"{path} cannot be read: {err.strerror or err}"


def _passes(result: CheckedSource, strict: bool) -> bool:
    if not result.ok:
        return False
    return not (strict and any(d.severity is Severity.WARNING for d in result.diagnostics))


@click.command(
    "check",
    epilog="""\b
Examples:
  loyalty check examples/programs/car_wash.loyalty
  loyalty check --strict examples/programs/*.loyalty
  loyalty check --format json shop.loyalty > diagnostics.json

Exit codes: 0 every file is valid (warnings allowed unless --strict),
1 a file has errors (or warnings, with --strict), 2 usage error.
Every code is explained in docs/errors.md.""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--strict", is_flag=True, help="Treat warnings as errors: exit 1 when any file has a warning.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: diagnostics on stderr and a summary; json: one JSON document on stdout.",
)
def command(files: tuple[str, ...], strict: bool, output_format: str) -> None:
    """Check programs for errors and warnings.

    Parses and checks each FILE (names, units, values, rule structure) and prints
    every diagnostic with its place, the source line and a hint.
    """
    results: list[tuple[str, CheckedSource | str]] = [(f, _read(f)) for f in files]
    failed = 0
    if output_format == "json":
        documents = []
        for path, result in results:
            if isinstance(result, str):
                failed += 1
                documents.append({"file": path, "ok": False, "error": result, "diagnostics": []})
                continue
            ok = _passes(result, strict)
            failed += not ok
            documents.append(
                {"file": path, "ok": ok, "diagnostics": [d.to_json() for d in result.diagnostics]}
            )
        click.echo(json.dumps(documents, indent=2, sort_keys=True))
        sys.exit(EXIT_INPUT if failed else EXIT_OK)

    errors = warnings = 0
    for path, result in results:
        if isinstance(result, str):
            failed += 1
            errors += 1
            click.echo(f"loyalty: error: {visible(result)}", err=True)
            continue
        print_diagnostics(result.diagnostics, result.text)
        errors += sum(d.is_error for d in result.diagnostics)
        warnings += sum(not d.is_error for d in result.diagnostics)
        failed += not _passes(result, strict)
    n = len(results)
    files_word = "file" if n == 1 else "files"
    summary = (
        f"checked {n} {files_word}: {errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}"
    )
    if failed:
        summary += f"; {failed} {'file' if failed == 1 else 'files'} failed" + (" (--strict)" if strict else "")
    click.echo(summary, err=True)
    sys.exit(EXIT_INPUT if failed else EXIT_OK)
