"""`loyalty describe FILE`: the program in plain words, its terms, effective reward rates and worst case."""

from __future__ import annotations

import json
import sys

import click

from loyalty.commands._common import EXIT_OK, EXIT_USAGE, compile_or_exit, fail


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
    from loyalty.describe import describe, render_markdown, render_text, to_json
    from loyalty.frontend import check_file

    checked, program = compile_or_exit(file, lambda: check_file(file))
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
