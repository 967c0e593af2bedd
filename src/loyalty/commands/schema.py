"""`loyalty schema NAME`: the JSON Schema of a file format, generated from the pydantic model that validates it."""

from __future__ import annotations

import json

import click

from loyalty.commands._common import EXIT_USAGE, fail


@click.command(
    "schema",
    epilog="""\b
Names:
  report       the JSON report of `loyalty simulate --format json`
  assumptions  the scenario file of `loyalty simulate --scenario`
  scenarios    a program's scenario tests, <program>.test.yaml

Examples:
  loyalty schema report > loyalty-report.schema.json
  loyalty schema scenarios

Exit codes: 0 success, 2 usage error (an unknown name).""",
)
@click.argument("name")
def command(name):
    """Print the JSON Schema of NAME (report, assumptions or scenarios)."""
    from loyalty.schemas import SCHEMAS

    if name not in SCHEMAS:
        fail(f"no schema named {name!r}", "the schemas are: " + ", ".join(SCHEMAS), code=EXIT_USAGE)
    click.echo(json.dumps(SCHEMAS[name](), indent=2, sort_keys=True, ensure_ascii=False))
