"""What the server knows of one open document: its text checked by the frontend (the same parse and
checker as `loyalty check`), the checker's symbol table and the names in it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Optional

from loyalty.checker import Symbols, build_symbols
from loyalty.frontend import CheckedSource, check_text
from loyalty.lsp.names import Names
from loyalty.lsp.positions import LineIndex


@dataclass
class Analysis:
    text: str
    checked: CheckedSource

    @classmethod
    def of(cls, text: str, file: str) -> "Analysis":
        return cls(text, check_text(text, file))

    @property
    def parses(self) -> bool:
        return self.checked.program is not None

    @cached_property
    def index(self) -> LineIndex:
        return LineIndex(self.text)

    @cached_property
    def symbols(self) -> Optional[Symbols]:
        if self.checked.program is None:
            return None
        return build_symbols(self.checked.program)[0]

    @cached_property
    def names(self) -> Optional[Names]:
        if self.checked.program is None or self.symbols is None:
            return None
        return Names(self.checked.program, self.symbols, self.text)
