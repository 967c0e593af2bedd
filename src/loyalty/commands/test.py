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

For each program X.loyalty, runs the scenarios in X.test.yaml next to it
(format in docs/embedding.md). Exit codes: 0 every scenario passes, 1 a scenario
fails or a program or scenario file is invalid, 2 usage error.""",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary.")
def command(paths: tuple[str, ...], quiet: bool) -> None:
    """Run the scenario tests written next to a program.

    A scenario gives a member and a sequence of events and expects effects and a
    final state (balance, tier, punches, rewards). Failures show the expected and
    actual effects, with the rule behind each one and its source line.
    """
    from loyalty.scenario_tests import run_file

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
    for prog in programs:
        outcomes, error = run_file(prog)
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
            for w in o.warnings if not (quiet and o.ok) else ():  # names the program does not know: shown,
                click.echo(f"  warning: {visible(w)}")                 # never a failure (coverage)
        if error:
            unrunnable += 1
            # one line, or the diagnostics of a program (several lines, each already safe)
            click.echo("ERROR " + "\n".join(visible(line) for line in error.split("\n")), err=True)
    summary = f"{passed} passed, {failed} failed"
    if unrunnable:
        summary += f", {unrunnable} could not run (invalid program or scenario file)"
    click.echo(summary)
    sys.exit(EXIT_INPUT if failed or unrunnable else EXIT_OK)
