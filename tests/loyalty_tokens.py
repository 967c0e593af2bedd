"""What the real parser sees in a program, for the highlighting tests (tests/test_pygments_lexer.py,
tests/test_textmate.py): the grammar's keywords and each token of a program with its kind, taken
from Lark's contextual lexer as the parser drives it, so a highlighter is judged against the
grammar and not against its own idea of the language."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import lark
from lark.lexer import PatternStr

from loyalty.syntax.parser import grammar_text

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = sorted((ROOT / "examples" / "programs").glob("*.loyalty")) + sorted(
    (ROOT / "benchmarks" / "programs").glob("*.loyalty")
)

# the kinds every highlighter must give a scope or token type of its own
CHECKED_KINDS = ("keyword", "string", "number", "money", "percent", "date", "comment")

_KIND_OF_TERMINAL = {
    "STRING": "string",
    "NUMBER": "number",
    "PERCENT": "percent",
    "DATE": "date",
    "TIME": "time",
    "ORDINAL": "ordinal",
    "MULTIPLIER": "multiplier",
    "CURRENCY": "currency",
    "NAME": "name",
    "COMPARATOR": "comparator",
    "COMMENT": "comment",
}


@dataclass(frozen=True)
class Lexeme:
    start: int  # character offsets into the program text
    end: int
    kind: str  # keyword, string, number, money, percent, date, time, ordinal, multiplier, name...
    text: str


@lru_cache(maxsize=1)
def _parser_and_comments() -> tuple[lark.Lark, list]:
    comments: list = []
    parser = lark.Lark(grammar_text(), parser="lalr", lexer="contextual",
                       lexer_callbacks={"COMMENT": comments.append})
    return parser, comments


def grammar_keywords() -> set[str]:
    """Every word the grammar spells out (its string terminals that are words)."""
    parser, _ = _parser_and_comments()
    return {t.pattern.value for t in parser.terminals if isinstance(t.pattern, PatternStr) and t.pattern.value.isalpha()}


def _keyword_terminals(parser: lark.Lark) -> set[str]:
    return {t.name for t in parser.terminals if isinstance(t.pattern, PatternStr) and t.pattern.value.isalpha()}


def lexemes(text: str) -> list[Lexeme]:
    """The program's tokens as the parser reads them (comments included), in text order; a
    number directly followed by a currency code is one money lexeme."""
    parser, comments = _parser_and_comments()
    comments.clear()
    keyword_terminals = _keyword_terminals(parser)
    raw = []
    interactive = parser.parse_interactive(text)
    for token in interactive.iter_parse():
        raw.append(token)
    raw.extend(comments)
    raw.sort(key=lambda t: t.start_pos)
    out: list[Lexeme] = []
    for token in raw:
        if token.type in keyword_terminals:
            kind = "keyword"
        else:
            kind = _KIND_OF_TERMINAL.get(token.type, "punctuation")
        if kind == "currency" and out and out[-1].kind == "number":
            number = out.pop()
            out.append(Lexeme(number.start, token.end_pos, "money", text[number.start:token.end_pos]))
            continue
        out.append(Lexeme(token.start_pos, token.end_pos, kind, str(token)))
    return out
