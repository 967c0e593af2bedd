"""`loyalty examples [DIR]`: copy the example programs and histories the package ships into DIR/examples,
so the examples in every command's --help work after a plain `pip install`."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from loyalty.commands._common import EXIT_USAGE, fail, note


def shipped_examples() -> Path:
    """The examples folder: inside the installed package (the wheel ships it as loyalty/examples), or the
    repository's examples/ when running from a source checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "examples", package.parents[1] / "examples"):
        if (candidate / "programs").is_dir():
            return candidate
    fail("the example files are not installed with this copy of loyalty",
         "reinstall loyalty-lang, or make a history with `loyalty generate`")


@click.command(
    "examples",
    epilog="""\b
Examples:
  loyalty examples                 copy them into ./examples
  loyalty examples --path          print where they are installed
  loyalty examples /tmp/try && cd /tmp/try && loyalty test examples/programs""",
)
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--path", "show_path", is_flag=True, help="Print the installed examples folder; copy nothing.")
def command(directory: str, show_path: bool) -> None:
    """Copy the example programs (with their scenario tests) and purchase histories into
    DIRECTORY/examples, so that the examples of `loyalty COMMAND --help` run as written."""
    source = shipped_examples()
    if show_path:
        click.echo(str(source))
        return
    target = Path(directory) / "examples"
    if target.exists():
        fail(f"{target} exists already", "name another DIRECTORY, or remove the folder first", code=EXIT_USAGE)
    try:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    except OSError as err:
        fail(f"{target}: cannot copy the examples: {err.strerror or err}", "check the folder's permissions")
    note(f"copied the examples into {target}: programs in {target / 'programs'}, histories in "
         f"{target / 'histories'}")
