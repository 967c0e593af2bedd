"""`loyalty describe FILE`: the program in plain words, its terms, effective reward rates and worst case."""

from __future__ import annotations

import json
import sys

import click

from loyalty.commands._common import EXIT_INPUT, EXIT_OK, EXIT_USAGE, fail, print_diagnostics


@click.command(
    "describe",
    epilog="""\b
Examples:
  loyalty describe examples/programs/car_wash.loyalty
  loyalty describe examples/programs/grocery_club.loyalty --format markdown > terms.md
  loyalty describe program.loyalty --assumptions scenario.yaml --format json

Rates are shares of spend given back, at list price and at cost (docs/describe.md).
Exit codes: 0 described, 1 the program (or the assumptions file) is wrong (diagnostics printed),
2 usage error.""",
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="text for a terminal, json (stable keys, decimals as strings), markdown.")
@click.option("--assumptions", "assumptions_path", type=click.Path(dir_okay=False),
              help="A simulation scenario file (docs/simulate.md): its cost_per_point, item_costs and "
                   "reward_costs value what the program does not.")
def command(file: str, output_format: str, assumptions_path: str | None) -> None:
    """Describe a program in plain words.

    Each rule as a sentence a customer could read, the terms and conditions the program implies,
    the effective reward rate of each rule per tier, the worst case per member where caps make it
    finite, and the checker's warnings.
    """
    from loyalty.compiler import compile_document
    from loyalty.describe import describe, render_markdown, render_text, to_json
    from loyalty.diagnostics import LoyaltyError
    from loyalty.frontend import check_file
    from loyalty.runtime.program import CompiledProgram

    try:
        checked = check_file(file)
    except FileNotFoundError:
        fail(f"{file}: no such file", code=EXIT_USAGE)
    except OSError as err:
        fail(f"{file} cannot be read: {err.strerror or err}")
    if not checked.ok:
        print_diagnostics(checked.diagnostics, checked.text)
        sys.exit(EXIT_INPUT)
    try:
        program = CompiledProgram(compile_document(checked.program, file))
    except LoyaltyError as err:
        print_diagnostics(err.diagnostics, checked.text)
        sys.exit(EXIT_INPUT)
    scenario = None
    if assumptions_path is not None:
        from loyalty.simulate.errors import InputError
        from loyalty.simulate.scenario import load_scenario

        try:
            scenario = load_scenario(assumptions_path, program)
        except FileNotFoundError:
            fail(f"{assumptions_path}: no such file", code=EXIT_USAGE)
        except InputError as err:
            for message, hint in [(err.message, err.hint), *err.also][:-1]:
                click.echo(f"loyalty: error: {message}", err=True)
                if hint:
                    click.echo(f"  = hint: {hint}", err=True)
            last = [(err.message, err.hint), *err.also][-1]
            fail(*last)
    warnings = [d for d in checked.diagnostics if not d.is_error]
    doc = describe(program, scenario, warnings)
    if output_format == "json":
        click.echo(json.dumps(to_json(doc), indent=2, sort_keys=True, ensure_ascii=False))
    elif output_format == "markdown":
        click.echo(render_markdown(doc), nl=False)
    else:
        click.echo(render_text(doc), nl=False)
    sys.exit(EXIT_OK)
