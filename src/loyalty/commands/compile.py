"""`loyalty compile FILE --json`: print the compiled program as JSON."""

from __future__ import annotations

import sys

import click

from loyalty.frontend import CheckedSource

from loyalty.commands._common import EXIT_OK, compile_or_exit, fail
from loyalty.commands._params import set_option


@click.command(
    "compile",
    epilog="""\b
Examples:
  loyalty compile examples/programs/car_wash.loyalty --json > car_wash.json
  python -c "import loyalty; p = loyalty.load_compiled(open('car_wash.json').read())"
  cat shop.loyalty | loyalty compile - > shop.json

A service can load the JSON with loyalty.load_compiled() without the parser.
Exit codes: 0 compiled, 1 the program has errors (diagnostics printed), 2 usage error.""",
)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, default=True,
              help="Print the compiled program as JSON (the only output format; the default).")
@set_option
def command(file: str, as_json: bool, settings=()) -> None:
    """Compile a program and print it as JSON.

    Parses and checks FILE, resolves every name, converts money to minor units of
    the program currency, and prints the compiled program document (format
    loyalty-compiled/1, described in docs/semantics.md).
    """
    from loyalty.frontend import check_file
    from loyalty.simulate.errors import InputError
    from loyalty.simulate.run import parse_settings
    from loyalty.syntax.params import ParamError

    def read() -> CheckedSource:
        try:
            return _read_stdin() if file == "-" else check_file(file, parse_settings(settings))
        except (ParamError, InputError) as err:
            fail(f"{file}: {err.message}" if isinstance(err, ParamError) else err.message, err.hint)

    _, program = compile_or_exit(file, read)
    click.echo(program.to_json())
    sys.exit(EXIT_OK)


def _read_stdin() -> "CheckedSource":
    """The program text on standard input, checked (file name <stdin> in diagnostics)."""
    from loyalty.frontend import check_text, decode_source

    text, problems = decode_source(sys.stdin.buffer.read(), "<stdin>")
    return CheckedSource("<stdin>", "", None, problems) if text is None else check_text(text, "<stdin>")
