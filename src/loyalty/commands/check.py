"""`loyalty check FILE|DIR|-...`: report every error and warning of each program, as text for people, JSON,
GitHub Actions workflow commands or SARIF 2.1.0 (code scanning)."""

from __future__ import annotations

import json
import sys
from typing import Union

import click

from loyalty.commands._common import (EXIT_INPUT, EXIT_OK, STDIN, detail, note, print_diagnostics,
                                      program_paths)
from loyalty.diagnostics import CODES, Severity
from loyalty.frontend import CheckedSource, check_file, check_text, decode_source
from loyalty.terminal import visible

STDIN_NAME = "<stdin>"


def _read(path: str) -> Union[CheckedSource, str]:
    """The checked file, or a sentence saying why it could not be read."""
    if path == STDIN:
        text, problems = decode_source(sys.stdin.buffer.read(), STDIN_NAME)
        return CheckedSource(STDIN_NAME, "", None, problems) if text is None else check_text(text, STDIN_NAME)
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


Results = list[tuple[str, Union[CheckedSource, str]]]


def as_json(results: Results, strict: bool) -> dict:
    from loyalty.versioning import version_tag

    documents = []
    for path, result in results:
        if isinstance(result, str):
            documents.append({"file": path, "ok": False, "error": result, "diagnostics": []})
        else:
            documents.append({"file": result.file, "ok": _passes(result, strict),
                              "diagnostics": [d.to_json() for d in result.diagnostics]})
    return {**version_tag("loyalty-check/1"), "strict": strict, "files": documents}


def _escape_data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped as GitHub's runner reads them back."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value (file=..., title=...): also : and , escaped."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(results: Results) -> list[str]:
    """One GitHub Actions workflow command per diagnostic (::error file=..,line=..,col=..::message), which the
    runner shows as an annotation on the line of the pull request."""
    lines = []
    for path, result in results:
        if isinstance(result, str):
            lines.append(f"::error file={_escape_property(path)},title=loyalty::{_escape_data(result)}")
            continue
        for d in result.diagnostics:
            s = d.span
            props = (f"file={_escape_property(s.file)},line={s.line},col={s.column},endLine={s.end_line},"
                     f"endColumn={s.end_column},title={_escape_property(d.code + ' ' + CODES[d.code].title)}")
            message = d.message + (f" (hint: {d.hint})" if d.hint else "")
            lines.append(f"::{'error' if d.is_error else 'warning'} {props}::{_escape_data(message)}")
    return lines


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _artifact_uri(path: str) -> str:
    """A SARIF artifactLocation uri: a relative reference for a relative path (resolved against the checkout
    by code scanning), a file:// URI for an absolute one."""
    from pathlib import Path
    from urllib.parse import quote

    p = Path(path)
    return p.as_uri() if p.is_absolute() else quote(p.as_posix())


def as_sarif(results: Results) -> dict:
    """A SARIF 2.1.0 log (OASIS), as GitHub code scanning and other SARIF viewers read it: one run of the tool
    `loyalty`, each diagnostic code a rule, each diagnostic a result with its region (1-based lines and
    columns, end column exclusive as in SARIF). A file that could not be read is a tool notification."""
    from loyalty import __version__
    from loyalty.versioning import version_tag

    used = sorted({d.code for _, r in results if not isinstance(r, str) for d in r.diagnostics})
    index = {code: i for i, code in enumerate(used)}
    rules = [{"id": code,
              "shortDescription": {"text": CODES[code].title},
              "help": {"text": f"{code} is explained, with an example and the fix, in docs/errors.md"},
              "defaultConfiguration": {"level": CODES[code].severity.value}} for code in used]
    out_results = []
    notifications = []
    for path, result in results:
        if isinstance(result, str):
            notifications.append({"level": "error", "message": {"text": result},
                                  "locations": [{"physicalLocation": {"artifactLocation": {
                                      "uri": _artifact_uri(path)}}}]})
            continue
        for d in result.diagnostics:
            s = d.span
            out_results.append({
                "ruleId": d.code, "ruleIndex": index[d.code], "level": d.severity.value,
                "message": {"text": d.message + (f"\nHint: {d.hint}" if d.hint else "")},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": _artifact_uri(s.file)},
                    "region": {"startLine": s.line, "startColumn": s.column, "endLine": s.end_line,
                               "endColumn": s.end_column},
                }}],
            })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "loyalty", "version": __version__, "semanticVersion": __version__,
                                "rules": rules}},
            "invocations": [{"executionSuccessful": not notifications,
                             "toolExecutionNotifications": notifications}],
            "results": out_results,
            "properties": version_tag("loyalty-check-sarif/1"),
        }],
    }


@click.command(
    "check",
    epilog="""\b
Examples:
  loyalty check examples/programs/car_wash.loyalty
  loyalty check --strict examples/programs
  loyalty check --format json shop.loyalty > diagnostics.json
  loyalty check --format github programs/        in a GitHub Actions step: annotations on the lines
  loyalty check --format sarif programs/ > loyalty.sarif    for code scanning
  cat shop.loyalty | loyalty check -

\b
A directory means every .loyalty file below it (sorted); `-` reads standard input.
Exit codes: 0 every file is valid (warnings allowed unless --strict),
1 a file has errors (or warnings, with --strict), 2 usage error.
Every code is explained in docs/errors.md.""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, allow_dash=True),
                metavar="FILE|DIR|-...")
@click.option("--strict", is_flag=True, help="Treat warnings as errors: exit 1 when any file has a warning.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default="text",
    show_default=True,
    help="text: diagnostics on stderr and a summary; json: one JSON document on stdout; github: GitHub Actions "
         "workflow commands on stdout; sarif: a SARIF 2.1.0 log on stdout.",
)
def command(files: tuple[str, ...], strict: bool, output_format: str) -> None:
    """Check programs for errors and warnings.

    Parses and checks each FILE (names, units, values, rule structure) and prints
    every diagnostic with its place, the source line and a hint.
    """
    import time

    paths = program_paths(files)
    results: Results = []
    for path in paths:
        started = time.perf_counter()
        results.append((path, _read(path)))
        detail(f"checked {path} in {(time.perf_counter() - started) * 1000:.0f} ms")
    failed = sum(isinstance(r, str) or not _passes(r, strict) for _, r in results)
    if output_format == "json":
        click.echo(json.dumps(as_json(results, strict), indent=2, sort_keys=True, ensure_ascii=False))
        sys.exit(EXIT_INPUT if failed else EXIT_OK)
    if output_format == "sarif":
        click.echo(json.dumps(as_sarif(results), indent=2, ensure_ascii=False))
        sys.exit(EXIT_INPUT if failed else EXIT_OK)
    if output_format == "github":
        for line in as_github(results):
            click.echo(line)

    errors = warnings = 0
    for path, result in results:
        if isinstance(result, str):
            errors += 1
            if output_format == "text":
                click.echo(f"loyalty: error: {visible(result)}", err=True)
            continue
        if output_format == "text":
            print_diagnostics(result.diagnostics, result.text)
        errors += sum(d.is_error for d in result.diagnostics)
        warnings += sum(not d.is_error for d in result.diagnostics)
    n = len(results)
    files_word = "file" if n == 1 else "files"
    summary = (
        f"checked {n} {files_word}: {errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}"
    )
    if failed:
        summary += f"; {failed} {'file' if failed == 1 else 'files'} failed" + (" (--strict)" if strict else "")
    note(summary)
    sys.exit(EXIT_INPUT if failed else EXIT_OK)
