"""`loyalty lsp`: the language server, over standard input and output (docs/editors.md)."""

from __future__ import annotations

import sys

import click

from loyalty.commands._common import EXIT_INPUT


@click.command(
    "lsp",
    epilog="""\b
Editors start it themselves (the VS Code extension in editors/vscode runs `loyalty lsp`);
it speaks the Language Server Protocol on stdin and stdout until the editor says exit.
See docs/editors.md.""",
)
@click.option("--stdio", is_flag=True, help="Talk over standard input and output (the default and only way).")
def command(stdio: bool) -> None:
    """Run the language server: diagnostics, formatting, completion, hover, definitions, references,
    rename."""
    try:
        from loyalty.lsp.server import serve
    except ImportError as err:  # pygls is a dependency of loyalty; an environment put together by hand may lack it
        click.echo(f"loyalty: error: the language server needs pygls 2 ({err}); install it with: "
                   "pip install 'pygls>=2,<3'", err=True)
        sys.exit(EXIT_INPUT)
    serve()
