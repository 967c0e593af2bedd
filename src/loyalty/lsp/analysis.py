"""What the server knows of one open document: its text checked by the frontend (the same parse and
checker as `loyalty check`), the checker's symbol table and the names in it.

While a line is being typed the document rarely parses. Its diagnostics are then the syntax errors, as
`loyalty check` gives them; for navigation, hover and completion the server also parses the document
with each broken declaration blanked out (lines and columns kept), so the rest of the file still
answers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Optional

import re

from loyalty.checker import Symbols, build_symbols
from loyalty.frontend import CheckedSource, check_text
from loyalty.lsp.names import Names
from loyalty.lsp.positions import UTF16, LineIndex
from loyalty.syntax import ast
from loyalty.syntax.parser import _DECLARATION_LINE, _next_declaration_start, parse_with_diagnostics

_BLANK = re.compile(r"[^\n]")


def without_broken_declarations(text: str, error_lines: list[int]) -> str:
    """The text with each declaration holding a syntax error replaced by spaces (newlines kept, so every
    other declaration keeps its lines, columns and offsets)."""
    starts = [m.start() for m in _DECLARATION_LINE.finditer(text)]
    for line in sorted(set(error_lines), reverse=True):
        line_start = 0
        for _ in range(line - 1):
            line_start = text.find("\n", line_start) + 1
        start = max((s for s in starts if s <= line_start), default=0)
        end = _next_declaration_start(text, line)
        end = len(text) if end is None else end
        text = text[:start] + _BLANK.sub(" ", text[start:end]) + text[end:]
    return text


@dataclass
class Analysis:
    text: str
    checked: CheckedSource
    encoding: str = UTF16  # of the editor's columns

    @classmethod
    def of(cls, text: str, file: str, encoding: str = UTF16) -> "Analysis":
        return cls(text, check_text(text, file), encoding)

    @property
    def parses(self) -> bool:
        return self.checked.program is not None

    @cached_property
    def index(self) -> LineIndex:
        return LineIndex(self.text, self.encoding)

    @cached_property
    def program(self) -> Optional[ast.Program]:
        """The parsed program; when the text does not parse, the program of its unbroken declarations (or
        None when even that does not parse)."""
        if self.checked.program is not None:
            return self.checked.program
        error_lines = [d.span.line for d in self.checked.diagnostics if d.code.startswith("LOY0")]
        if not error_lines:
            return None  # too large or too deeply nested: nothing to salvage
        program, _ = parse_with_diagnostics(without_broken_declarations(self.text, error_lines), self.checked.file)
        return program

    @cached_property
    def symbols(self) -> Optional[Symbols]:
        if self.program is None:
            return None
        return build_symbols(self.program)[0]

    @cached_property
    def names(self) -> Optional[Names]:
        if self.program is None or self.symbols is None:
            return None
        return Names(self.program, self.symbols, self.text)
