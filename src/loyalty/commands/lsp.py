"""`loyalty lsp`: the language server, over standard input and output (docs/editors.md)."""

from __future__ import annotations

import click


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
    from loyalty.lsp.server import serve

    serve()
