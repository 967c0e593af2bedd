"""The grammar builds as strict LALR (no conflicts, no terminal collisions) and
ships inside the installed package."""

from pathlib import Path

from loyalty.syntax.parser import build_lark_parser, grammar_text

REPO = Path(__file__).resolve().parents[1]


def test_grammar_builds_strict_lalr_without_conflicts():
    parser = build_lark_parser(strict=True)
    assert parser.options.parser == "lalr"


def test_runtime_grammar_is_the_repository_grammar():
    assert grammar_text() == (REPO / "grammar" / "loyalty.lark").read_text(encoding="utf-8")
