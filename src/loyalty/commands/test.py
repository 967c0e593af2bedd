"""`loyalty test PROGRAM_OR_DIR...`: run the scenario tests written next to programs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from loyalty.commands._common import EXIT_INPUT, EXIT_OK, fail
from loyalty.terminal import visible


@click.command(
    "test",
    epilog="""\b
Examples:
  loyalty test examples/programs/car_wash.loyalty
  loyalty test examples/programs
  loyalty test examples/programs --junit test-results.xml
  loyalty test --strict examples/programs/car_wash.loyalty

For each program X.loyalty, runs the scenarios in X.test.yaml next to it
(format in docs/scenarios.md). Warnings (the checker's on a program; names a
scenario's events use that the program does not know) are shown and pass
unless --strict. Exit codes: 0 every scenario passes, 1 a scenario fails, a
program or scenario file is invalid, or (--strict) there is a warning, 2 usage
error.""",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False),
              help="Also write the outcomes as JUnit XML to this file, for CI test reports.")
@click.option("--strict", is_flag=True,
              help="Treat warnings as errors: a scenario naming what the program does not know fails, and a "
                   "program with checker warnings counts as failed (as check --strict and simulate --strict).")
def command(paths: tuple[str, ...], quiet: bool, junit_path: str | None, strict: bool) -> None:
    """Run the scenario tests written next to a program.

    A scenario gives a member and a sequence of events and expects effects and a
    final state (balance, tier, punches, rewards). Failures show the expected and
    actual effects, with the rule behind each one and its source line.
    """
    import time

    from loyalty.commands._common import QUIET, check_output_file, set_verbosity
    from loyalty.scenario_tests import run_file

    if quiet:
        set_verbosity(QUIET)
    if junit_path:
        check_output_file(junit_path, "--junit")
    programs: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            programs += sorted(p.glob("*.loyalty"))
        elif p.exists():
            programs.append(p)
        else:
            fail(f"{raw}: no such file or directory", code=2)
    if not programs:
        fail("no .loyalty programs found in " + ", ".join(paths), code=2)
    passed = failed = unrunnable = 0  # unrunnable: a program or scenario file that is itself wrong
    warned = strict_failed = 0  # scenario warnings shown (passing); programs failed by their warnings (--strict)
    runs = []
    for prog in programs:
        started = time.perf_counter()
        outcomes, error, program_warnings = run_file(prog, strict)
        for w in program_warnings:  # as `loyalty check` shows them, each line already safe for a terminal
            click.echo(w + "\n", err=True)
        if strict and program_warnings:
            strict_failed += 1
        else:
            warned += len(program_warnings)
        # for JUnit: a program failed by its warnings is an error of the file, as one that cannot run
        stopped = error or ("\n\n".join(program_warnings) if strict and program_warnings else None)
        runs.append((prog, outcomes, stopped, time.perf_counter() - started))
        for o in outcomes:
            if o.ok:
                passed += 1
                if not quiet:
                    click.echo(f"PASS {visible(o.file)}:{o.line} {visible(o.name)}")
            else:
                failed += 1
                click.echo(f"FAIL {visible(o.file)}:{o.line} {visible(o.name)}")
                for m in o.messages:  # each one line, quoting names, ids and values from the files
                    click.echo(f"  {visible(m)}")
            warned += len(o.warnings)
            for w in o.warnings if not (quiet and o.ok) else ():  # names the program does not know: shown,
                click.echo(f"  warning: {visible(w)}")                 # a failure only under --strict
        if error:
            unrunnable += 1
            # one line, or the diagnostics of a program (several lines, each already safe)
            click.echo("ERROR " + "\n".join(visible(line) for line in error.split("\n")), err=True)
    summary = f"{passed} passed, {failed} failed"
    if unrunnable:
        summary += f", {unrunnable} could not run (invalid program or scenario file)"
    if strict_failed:
        summary += f", {strict_failed} program{'s' if strict_failed != 1 else ''} with checker warnings (--strict)"
    if warned:
        summary += f", {warned} warning{'s' if warned != 1 else ''} (--strict makes them errors)"
    click.echo(summary)
    if junit_path:
        from loyalty.commands._common import note, output_error
        from loyalty.commands.junit import junit_xml
        from loyalty.fileio import write_atomic

        try:
            write_atomic(junit_path, junit_xml(runs))
        except OSError as err:
            output_error(junit_path, err)
        note(f"wrote {junit_path}")
    sys.exit(EXIT_INPUT if failed or unrunnable or strict_failed else EXIT_OK)
