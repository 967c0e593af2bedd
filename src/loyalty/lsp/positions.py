"""Places in a document: the parser's (1-based lines and columns in characters, lines split at "\\n"
only) and the editor's (LSP: 0-based lines, columns in UTF-16 code units, the protocol's default)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from loyalty.spans import Span


UTF16, UTF8, UTF32 = "utf-16", "utf-8", "utf-32"


def _char_units(ch: str, encoding: str) -> int:
    if encoding == UTF32:
        return 1
    if encoding == UTF8:
        return len(ch.encode("utf-8", "surrogatepass"))
    return 2 if ord(ch) > 0xFFFF else 1


def _units(text: str, encoding: str) -> int:
    if encoding == UTF32 or text.isascii():
        return len(text)
    return sum(_char_units(ch, encoding) for ch in text)


@dataclass(frozen=True)
class Position:
    """An LSP position: 0-based line, column in code units of the agreed encoding."""

    line: int
    character: int


@dataclass(frozen=True)
class Range:
    start: Position
    end: Position


class LineIndex:
    """Offsets of a text's lines, counted as the parser counts them (at "\\n" only: a form feed or
    U+2028 inside a comment is not a line break, whatever an editor shows)."""

    def __init__(self, text: str, encoding: str = UTF16):
        self.text = text
        self.encoding = encoding
        self.starts = [0]
        index = text.find("\n")
        while index >= 0:
            self.starts.append(index + 1)
            index = text.find("\n", index + 1)

    def _line_text(self, line: int) -> str:
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return self.text[start:end]

    def offset(self, position: Position) -> int:
        """The character offset of an editor position (clamped to the text)."""
        if position.line < 0:
            return 0
        if position.line >= len(self.starts):
            return len(self.text)
        line_text = self._line_text(position.line)
        units = 0
        for i, ch in enumerate(line_text):
            if units >= position.character:
                return self.starts[position.line] + i
            units += _char_units(ch, self.encoding)
        return self.starts[position.line] + len(line_text)

    def position(self, offset: int) -> Position:
        """The editor position of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self.starts, offset) - 1
        return Position(line, _units(self.text[self.starts[line] : offset], self.encoding))

    def position_of(self, line: int, column: int) -> Position:
        """The editor position of a parser place (1-based line and column in characters)."""
        line0 = max(line - 1, 0)
        if line0 >= len(self.starts):
            return self.position(len(self.text))
        line_text = self._line_text(line0)
        col0 = max(column - 1, 0)
        if col0 > len(line_text):  # an end column one past the line (a span ending at the newline)
            return Position(line0, _units(line_text, self.encoding) + (col0 - len(line_text)))
        return Position(line0, _units(line_text[:col0], self.encoding))

    def range_of(self, span: Span) -> Range:
        """The editor range of a span (its lines and columns, which every span has)."""
        start = self.position_of(span.line, span.column)
        end = self.position_of(span.end_line or span.line, span.end_column or span.column)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        return Range(start, end)

    def offset_range(self, start: int, end: int) -> Range:
        return Range(self.position(start), self.position(end))

    @property
    def end(self) -> Position:
        return self.position(len(self.text))
