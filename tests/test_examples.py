"""The example programs under examples/programs/: they parse, the checker accepts
them without a single diagnostic, and together they use every construct of the
language, so they double as the language's acceptance suite and its showcase."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from lark import Token

from loyalty.frontend import check_file, check_text
from loyalty.syntax import ast
from loyalty.syntax.formatter import format_program
from loyalty.syntax.parser import lark_parser, parse

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "programs"
PROGRAMS = sorted(EXAMPLES.glob("*.loyalty"))

# The field's classics the language must show (docs/language.md refers to them).
CLASSICS = {
    "car_wash",
    "ice_cream",
    "shoe_shop",
    "coffee_stars",
    "beauty_points",
    "pharmacy_partner_card",
    "cosmetics_gift",
    "discount_card",
    "monthly_draw",
    "summer_pilot",
    "grocery_club",
    "bookstore",
}


def _ids(paths):
    return [p.stem for p in paths]


def test_the_classics_and_at_least_fourteen_programs_are_there():
    stems = {p.stem for p in PROGRAMS}
    assert CLASSICS <= stems, f"missing: {sorted(CLASSICS - stems)}"
    assert len(PROGRAMS) >= 14


@pytest.mark.parametrize("path", PROGRAMS, ids=_ids(PROGRAMS))
def test_example_starts_with_a_comment_saying_what_it_is(path):
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("# ") and len(first_line) > 20, first_line


@pytest.mark.parametrize("path", PROGRAMS, ids=_ids(PROGRAMS))
def test_example_parses(path):
    program = parse(path.read_text(encoding="utf-8"), str(path))
    assert any(isinstance(d, ast.ProgramDecl) for d in program.declarations)


@pytest.mark.parametrize("path", PROGRAMS, ids=_ids(PROGRAMS))
def test_example_passes_the_checker_with_no_diagnostics(path):
    checked = check_file(path)
    assert checked.program is not None
    shown = "\n".join(f"{d.span}: {d.code} {d.message}" for d in checked.diagnostics)
    assert checked.diagnostics == [], shown


@pytest.mark.parametrize("path", PROGRAMS, ids=_ids(PROGRAMS))
def test_example_is_written_in_the_canonical_layout(path):
    # the examples are what designers copy: they show the layout `loyalty fmt` produces
    text = path.read_text(encoding="utf-8")
    assert format_program(parse(text, str(path))) == text


@pytest.mark.parametrize("path", PROGRAMS, ids=_ids(PROGRAMS))
def test_every_point_kind_says_what_a_point_costs(path):
    program = parse(path.read_text(encoding="utf-8"), str(path))
    for decl in program.declarations:
        if isinstance(decl, ast.PointsDecl):
            assert any(isinstance(s, ast.PointCost) for s in decl.settings), decl.name.value


def _node_classes() -> set[type]:
    return {
        cls
        for _, cls in inspect.getmembers(ast, inspect.isclass)
        if issubclass(cls, ast.Node) and cls is not ast.Node
    }


def test_the_examples_together_use_every_ast_node_class():
    used: set[type] = set()
    for path in PROGRAMS:
        used.update(type(node) for node in parse(path.read_text(encoding="utf-8"), str(path)).walk())
    missing = sorted(cls.__name__ for cls in _node_classes() - used)
    assert missing == [], f"no example uses: {missing}"


# Rules whose alternatives are keywords kept in the tree: each alternative is its own
# construct (`round half even`, `on weekends`, `held every quarter`...).
_KEYWORD_RULES = ("rounding_mode", "rounding_scope", "counted_event", "duration_unit", "period", "weekday")


def _grammar_constructs() -> tuple[set[str], set[tuple[str, str]]]:
    """Every named rule or alias of the grammar, and every alternative of the keyword rules."""
    parser = lark_parser()
    names: set[str] = set()
    keywords: set[tuple[str, str]] = set()
    for rule in parser.rules:
        name = rule.alias or rule.origin.name
        if name.startswith("_") or (rule.options.expand1 and not rule.alias):
            continue  # inlined helpers and `?rule` pass-throughs leave no node of their own
        names.add(str(name))
        if rule.origin.name in _KEYWORD_RULES:
            words = " ".join(parser.get_terminal(sym.name).pattern.value for sym in rule.expansion)
            keywords.add((rule.origin.name, words))
    return names, keywords


def test_the_examples_together_use_every_rule_and_keyword_alternative_of_the_grammar():
    expected_names, expected_keywords = _grammar_constructs()
    used_names: set[str] = set()
    used_keywords: set[tuple[str, str]] = set()
    for path in PROGRAMS:
        tree = lark_parser().parse(path.read_text(encoding="utf-8"))
        for sub in tree.iter_subtrees():
            used_names.add(str(sub.data))
            if sub.data in _KEYWORD_RULES:
                used_keywords.add((str(sub.data), " ".join(str(t) for t in sub.children if isinstance(t, Token))))
    assert sorted(expected_names - used_names) == []
    assert sorted(expected_keywords - used_keywords) == []
    # the check itself must see the constructs it claims to (guards against an empty walk)
    assert {"punch_free", "paid_then_free", "draw_rate", "downgrade"} <= used_names
    assert ("rounding_mode", "half even") in used_keywords


def test_the_complete_example_in_the_language_reference_passes_the_checker():
    reference = (EXAMPLES.parents[1] / "docs" / "language.md").read_text(encoding="utf-8")
    intro = reference.split("## Reading a program aloud", 1)[1]
    example = intro.split("```loyalty\n", 1)[1].split("```", 1)[0]
    assert example.lstrip().startswith("# Sparkle Car Wash")
    checked = check_text(example, "docs/language.md")
    assert checked.program is not None and checked.diagnostics == [], checked.diagnostics
