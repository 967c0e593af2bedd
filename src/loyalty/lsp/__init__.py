"""The language server (`loyalty lsp`, docs/editors.md).

`positions.py` converts between the parser's places and the editor's (LSP lines, columns in the agreed
encoding); `names.py` finds every declaration and use of a name in the AST; `analysis.py` holds what
the server knows of one document (checked source, symbols, names); `completion.py`, `hover.py`,
`rename.py` and `outline.py` answer the requests; `server.py` wires them to pygls. Everything but
`server.py` is plain Python over the frontend, checker and formatter, tested without an editor.
"""
