"""The Pygments lexer (src/loyalty/pygments_lexer.py) highlights every example and benchmark
program as the parser reads it: no Error token, and each keyword, string, number, money amount,
percentage, date and comment the parser's lexer finds gets the token type that says so."""

from __future__ import annotations

import importlib
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from pygments.token import Comment, Error, Keyword, Literal, Name, Number, Operator, String, Whitespace

from loyalty.pygments_lexer import LoyaltyLexer
from loyalty.syntax.formatter import format_program
from loyalty_tokens import PROGRAMS, ROOT, grammar_keywords, lexemes
from strategies import programs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None


def _typed_spans(text: str) -> list[tuple[int, int, object]]:
    out = []
    for index, ttype, value in LoyaltyLexer().get_tokens_unprocessed(text):
        out.append((index, index + len(value), ttype))
    return out


def _types_over(spans, start: int, end: int) -> list:
    """The token types of the non-blank text in [start, end)."""
    return [ttype for s, e, ttype in spans if s < end and e > start and ttype is not Whitespace]


def _is(ttype, parent) -> bool:
    return ttype in parent  # pygments: a token type is `in` each of its ancestors


def _expect(kind: str, text: str, types: list) -> None:
    """Each kind of lexeme and the token types that must cover it."""
    if kind == "keyword":
        assert len(types) == 1 and (_is(types[0], Keyword) or types[0] == Operator.Word), (text, types)
    elif kind == "string":
        assert types and all(_is(t, String) for t in types) and types[0] == String.Double, (text, types)
    elif kind in ("number", "percent"):
        assert len(types) == 1 and _is(types[0], Number), (text, types)
    elif kind == "money":
        assert len(types) == 2 and _is(types[0], Number) and types[1] == Name.Constant, (text, types)
    elif kind == "date":
        assert types == [Literal.Date], (text, types)
    elif kind == "comment":
        assert types == [Comment.Single], (text, types)


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_every_token_of_each_program_gets_its_type(path):
    text = path.read_text(encoding="utf-8")
    spans = _typed_spans(text)
    assert "".join(text[s:e] for s, e, _ in spans) == text
    errors = [(text[s:e], s) for s, e, t in spans if _is(t, Error)]
    assert errors == []
    seen = set()
    for lexeme in lexemes(text):
        _expect(lexeme.kind, lexeme.text, _types_over(spans, lexeme.start, lexeme.end))
        seen.add(lexeme.kind)
    assert {"keyword", "string", "money", "comment"} <= seen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_any_program_the_parser_reads_is_highlighted_as_the_parser_reads_it(program):
    # generated programs, in the formatter's layout: every construct, odd strings, large numbers
    text = format_program(program)
    spans = _typed_spans(text)
    assert [text[s:e] for s, e, t in spans if _is(t, Error)] == []
    for lexeme in lexemes(text):
        _expect(lexeme.kind, lexeme.text, _types_over(spans, lexeme.start, lexeme.end))


def test_every_grammar_keyword_is_a_keyword_and_nothing_else_is():
    from loyalty import pygments_lexer

    listed = set(pygments_lexer.DECLARATION_KEYWORDS) | set(pygments_lexer.LOGICAL_KEYWORDS) | set(pygments_lexer.KEYWORDS)
    assert listed == grammar_keywords()
    for word in sorted(grammar_keywords()):
        tokens = [(t, v) for t, v in LoyaltyLexer().get_tokens(word) if v.strip()]
        assert len(tokens) == 1 and (_is(tokens[0][0], Keyword) or tokens[0][0] == Operator.Word), (word, tokens)


def test_literals_and_mistakes():
    def types(text):
        return [(t, v) for t, v in LoyaltyLexer().get_tokens(text) if v.strip()]

    assert types("2025-06-01 7:00 6th 1.5x 12.5% 9.20 GBP 0.95") == [
        (Literal.Date, "2025-06-01"), (Literal.Date, "7:00"), (Number.Integer, "6th"), (Number, "1.5x"),
        (Number, "12.5%"), (Number, "9.20"), (Name.Constant, "GBP"), (Number.Float, "0.95")]
    assert types(r'"the \"best\" deal \u00e9"') == [
        (String.Double, '"'), (String.Double, "the "), (String.Escape, r"\""), (String.Double, "best"),
        (String.Escape, r"\""), (String.Double, " deal "), (String.Escape, r"\u00e9"), (String.Double, '"')]
    # a bad escape (LOY004) and stray characters show as errors
    assert any(t in Error for t, _ in types(r'"a \q"'))
    assert any(t in Error for t, _ in types("earn 1 point per 10 NOK ;"))
    # bonus_points is a name, not the keyword `points` after a prefix
    assert types("bonus_points balance") == [(Name.Variable, "bonus_points"), (Keyword, "balance")]


def test_pyproject_registers_the_lexer_for_pygments():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    target = project["project"]["entry-points"]["pygments.lexers"]["loyalty"]
    module, _, name = target.partition(":")
    assert getattr(importlib.import_module(module), name) is LoyaltyLexer
    # when this checkout is the installed one, Pygments finds it by name and by file name
    from importlib.metadata import entry_points

    if any(ep.name == "loyalty" for ep in entry_points(group="pygments.lexers")):
        from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

        assert isinstance(get_lexer_by_name("loyalty"), LoyaltyLexer)
        assert isinstance(get_lexer_for_filename("car_wash.loyalty"), LoyaltyLexer)
