"""The formatter: one canonical layout that keeps meaning and comments.

Properties over generated programs (tests/strategies.py), then the layout rules one by
one with hand-written expected text, then every example program.
"""

from __future__ import annotations

import collections
import contextlib
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from loyalty.checker import check
from loyalty.diagnostics import LoyaltyError
from loyalty.syntax import ast
from loyalty.syntax.formatter import duration, format_program, format_source, number, ordinal, quote
from loyalty.syntax.parser import parse
from strategies import CONSTRUCT_PARTS, every_construct, programs, valid_programs

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples" / "programs").glob("*.loyalty"))


# ------------------------------------------------------------------ properties


@settings(max_examples=150, deadline=None)
@given(programs())
def test_formatting_a_program_parses_back_to_the_same_program(program):
    text = format_program(program)
    assert parse(text) == program


@settings(max_examples=100, deadline=None)
@given(programs())
def test_formatting_is_idempotent(program):
    once = format_program(program)
    assert format_source(once) == once


def _node_classes(program: ast.Program) -> set[type]:
    return {type(node) for node in program.walk()}


def _every_node_class() -> list[type]:
    return sorted(
        (
            cls
            for cls in vars(ast).values()
            if isinstance(cls, type) and issubclass(cls, ast.Node) and cls not in (ast.Node, ast.Comment)
        ),
        key=lambda cls: cls.__name__,
    )


@pytest.mark.parametrize("part", CONSTRUCT_PARTS)
def test_every_construct_formats_and_parses_back(part):
    @settings(max_examples=15, deadline=None)
    @given(every_construct(part))
    def round_trip(program):
        text = format_program(program)
        assert parse(text) == program
        assert format_source(text) == text

    round_trip()


def test_the_generated_parts_together_hold_every_node_of_the_syntax_tree():
    """The round-trip properties are only as good as the programs they see."""
    seen: set[type] = set()
    for part in CONSTRUCT_PARTS:

        @settings(max_examples=3, deadline=None, database=None, phases=[Phase.generate])
        @given(every_construct(part))
        def collect(program):
            seen.update(_node_classes(program))

        collect()
    assert [cls.__name__ for cls in _every_node_class() if cls not in seen] == []


@settings(max_examples=60, deadline=None)
@given(programs(), st.randoms(use_true_random=False))
def test_comments_added_anywhere_survive_and_settle(program, rnd):
    """Own-line comments between any two lines and trailing comments at the end of any
    line: every comment text is kept, meaning is kept, and a second pass changes nothing."""
    lines = format_program(program).split("\n")
    out, written = [], []
    for i, line in enumerate(lines):
        if rnd.random() < 0.3:
            text = f"# own {i}"
            out.append(text)
            written.append(text)
        if line and rnd.random() < 0.3:
            text = f"# trailing {i}"
            line += "  " + text
            written.append(text)
        out.append(line)
    source = "\n".join(out)
    formatted = format_source(source)
    assert parse(formatted) == program
    assert sorted(c.text for c in parse(formatted).comments) == sorted(written)
    assert format_source(formatted) == formatted


# ------------------------------------------------------------------ values


@pytest.mark.parametrize(
    "value, written",
    [
        ("latte", '"latte"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("a\nb\tc\rd\0e", '"a\\nb\\tc\\rd\\0e"'),
        ("bell\x07", '"bell\\u0007"'),
        ("zero\u200bwidth", '"zero\\u200Bwidth"'),
        ("caf\u00e9 \u65e5\u672c \U0001f389", '"caf\u00e9 \u65e5\u672c \U0001f389"'),
    ],
)
def test_strings_are_escaped_so_they_read_back_the_same(value, written):
    assert quote(value) == written
    assert parse(f"segment {written}").declarations[0].name.value == value


@pytest.mark.parametrize(
    "n, written",
    [(0, "0th"), (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"),
     (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (101, "101st"), (111, "111th"), (112, "112th"),
     (1002, "1002nd")],
)
def test_ordinals_get_their_english_suffix(n, written):
    assert ordinal(n) == written


def test_ordinals_are_rewritten_with_the_right_suffix():
    assert "every 2nd item is free" in format_source('rule "r" { every 2th item is free }')


@pytest.mark.parametrize(
    "amount, unit, written",
    [("1", "day", "1 day"), ("2", "day", "2 days"), ("1", "month", "1 month"), ("12", "month", "12 months"),
     ("0.5", "week", "0.5 weeks"), ("1", "year", "1 year")],
)
def test_durations_are_singular_for_one_and_plural_otherwise(amount, unit, written):
    assert duration(ast.Duration(Decimal(amount), unit)) == written


def test_numbers_are_written_as_given_without_exponents():
    assert number(Decimal("1.50")) == "1.50"
    assert number(Decimal("1E+2")) == "100"
    assert number(Decimal("-0.125")) == "-0.125"
    assert "cost 0.10 NOK each" in format_source('points "p" { cost 0.10 NOK each }')


def test_times_of_day_are_written_hour_colon_minutes():
    assert "between 7:00 and 17:30" in format_source('rule "r" { get 5% off between 07:00 and 17:30 }')


# ------------------------------------------------------------------ expressions


@pytest.mark.parametrize(
    "written, canonical",
    [
        ("first purchase or visits > 2 and order has \"a\"", "first purchase or visits > 2 and order has \"a\""),
        ("(first purchase or visits > 2) and order has \"a\"", "(first purchase or visits > 2) and order has \"a\""),
        ("first purchase and (visits > 2 and order has \"a\")", "first purchase and (visits > 2 and order has \"a\")"),
        ("(first purchase and visits > 2) and order has \"a\"", "(first purchase and visits > 2) and order has \"a\""),
        ("((first purchase)) or ((visits > 2))", "first purchase or visits > 2"),
        ("first purchase or (visits > 2 or order has \"a\")", "first purchase or (visits > 2 or order has \"a\")"),
        ("not (first purchase or visits > 2)", "not (first purchase or visits > 2)"),
        ("not (first purchase) and visits > 2", "not first purchase and visits > 2"),
        ("not not first purchase", "not not first purchase"),
        ("(first purchase and visits > 2) or order total >= 100 NOK", "first purchase and visits > 2 or order total >= 100 NOK"),
        ("lifetime spend >= 5 NOK or stars balance < 10 stars or order items != 3 or visits = 50%",
         "lifetime spend >= 5 NOK or stars balance < 10 stars or order items != 3 or visits = 50%"),
    ],
)
def test_when_expressions_keep_only_the_parentheses_the_tree_needs(written, canonical):
    source = f'rule "r" {{ get 5% off when {written} }}'
    formatted = format_source(source)
    assert f"  when {canonical}\n" in formatted
    assert parse(formatted) == parse(source)


# ------------------------------------------------------------------ layout and comments


def test_canonical_layout_of_blocks_and_statements():
    source = (
        'program "Shop" { currency NOK runs from 2025-01-01 to 2025-12-31 }\n'
        'points "points" { cost 0.01 NOK each expire 12 months after earning }\n'
        'rule "welcome" { earn 100 points on signup }\n'
        'tiers by lifetime spend { tier "basic" from 0 NOK tier "gold" from 5000 NOK { get 5% off } }\n'
        'rule "empty" {}\n'
        'points "miles" {}\n'
    )
    assert format_source(source) == (
        'program "Shop" {\n'
        "  currency NOK\n"
        "  runs from 2025-01-01 to 2025-12-31\n"
        "}\n"
        "\n"
        'points "points" {\n'
        "  cost 0.01 NOK each\n"
        "  expire 12 months after earning\n"
        "}\n"
        "\n"
        'rule "welcome" {\n'
        "  earn 100 points\n"
        "  on signup\n"
        "}\n"
        "\n"
        "tiers by lifetime spend {\n"
        '  tier "basic" from 0 NOK\n'
        '  tier "gold" from 5000 NOK {\n'
        "    get 5% off\n"
        "  }\n"
        "}\n"
        "\n"
        'rule "empty" {}\n'
        "\n"
        'points "miles"\n'
    )


def test_comments_stay_where_they_were_written():
    source = (
        "# file header\n"
        "\n"
        'program "p" {   # about the program\n'
        "  currency NOK # the currency\n"
        "  # before runs\n"
        "  runs from 2025-01-01\n"
        "\n"
        "\n"
        "  # before the closing brace\n"
        "}\n"
        'rule "r" { earn 10\n'
        "  # inside a statement that spans lines\n"
        "  points\n"
        "  on signup }  # after the rule\n"
        "# end of file\n"
    )
    assert format_source(source) == (
        "# file header\n"
        "\n"
        'program "p" {  # about the program\n'
        "  currency NOK  # the currency\n"
        "  # before runs\n"
        "  runs from 2025-01-01\n"
        "\n"
        "  # before the closing brace\n"
        "}\n"
        "\n"
        'rule "r" {\n'
        "  # inside a statement that spans lines\n"
        "  earn 10 points\n"
        "  on signup\n"
        "}  # after the rule\n"
        "# end of file\n"
    )


def test_comments_in_an_otherwise_empty_block_keep_the_block_open():
    source = 'points "p" {\n  # settings to come\n}\nrule "r" {   # todo\n}\n'
    assert format_source(source) == 'points "p" {\n  # settings to come\n}\n\nrule "r" {  # todo\n}\n'


def test_one_blank_line_between_declarations_and_runs_of_one_liners_stay_together():
    source = (
        'reward "a" is a perk\nreward "b" is a perk\nredeem 10 points for "a"\n\n\n\n'
        'redeem 20 points for "b"\nsegment "s"\n# about the rule\nrule "r" {\n  give "a"\n\n\n  on signup\n}'
    )
    assert format_source(source) == (
        'reward "a" is a perk\n'
        'reward "b" is a perk\n'
        "\n"
        'redeem 10 points for "a"\n'
        "\n"
        'redeem 20 points for "b"\n'
        "\n"
        'segment "s"\n'
        "\n"
        "# about the rule\n"
        'rule "r" {\n'
        '  give "a"\n'
        "\n"
        "  on signup\n"
        "}\n"
    )


def test_windows_line_endings_become_unix_and_comments_lose_the_carriage_return():
    source = '# header\r\nsegment "s"  # trailing\r\n'
    assert format_source(source) == '# header\nsegment "s"  # trailing\n'


def test_a_file_of_only_comments_and_an_empty_file():
    assert format_source("# just a note\n\n\n# another\n") == "# just a note\n\n# another\n"
    assert format_source("") == ""
    assert format_source("\n\n  \n") == ""


def test_syntax_errors_raise_with_diagnostics():
    with pytest.raises(LoyaltyError) as err:
        format_source('rule "r" { earn 10 }', "shop.loyalty")
    assert err.value.diagnostics[0].span.file == "shop.loyalty"


# ------------------------------------------------------------------ the example programs


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_programs_format_stably_and_keep_meaning_and_comments(path):
    source = path.read_text(encoding="utf-8")
    formatted = format_source(source, str(path))
    assert parse(formatted) == parse(source)
    assert format_source(formatted) == formatted
    before = collections.Counter(c.text.rstrip() for c in parse(source).comments)
    after = collections.Counter(c.text for c in parse(formatted).comments)
    assert after == before


def test_there_are_example_programs_to_format():
    assert EXAMPLES, "examples/programs/ holds no .loyalty files"


def test_layout_of_the_input_does_not_matter():
    """The same tokens spread over other lines (no blank lines, no comments) give the
    same output as all of them on one line."""
    rnd = random.Random(7)
    for path in EXAMPLES:
        program = parse(path.read_text(encoding="utf-8"))
        tokens = re.findall(r'"(?:[^"\\\n]|\\.)*"|[^\s"]+', format_program(ast.Program(program.declarations)))
        one_line = format_source(" ".join(tokens))
        squeezed = "".join(t + rnd.choice([" ", "  ", "\n", "\t", "\r\n"]) for t in tokens)
        assert format_source(squeezed) == one_line, path.name
        assert parse(one_line) == program


# ------------------------------------------------------------------ valid_programs() (tests/strategies.py)
# Other suites (compiler, evaluator, robustness) rely on these programs being accepted.


@settings(max_examples=100, deadline=None)
@given(valid_programs())
def test_valid_programs_pass_the_checker_without_any_diagnostic(program):
    text = format_program(program)
    reparsed = parse(text, "generated.loyalty")
    assert reparsed == program
    diagnostics = check(reparsed)
    lines = text.split("\n")
    shown = [f"{d.code} {d.message}: {lines[d.span.line - 1] if d.span.line else ''}" for d in diagnostics]
    assert shown == []


class _EveryNodeSeen(Exception):
    """Raised out of the draws once every node class was drawn: the rest of the 400 would add nothing."""


def test_valid_programs_use_every_node_of_the_syntax_tree():
    every, seen = set(_every_node_class()), set()

    # derandomized: the same programs every run, so a node class the strategies draw rarely cannot make the test
    # flaky (a class never drawn still fails it, every time). 400, not 200: in one full-suite run the 200 drew no
    # `in a calendar period` goal although they do alone (what the suite ran before changed the draws). Alone,
    # every class is drawn by the 185th program: the draws stop there (half the test's time)
    @settings(max_examples=400, deadline=None, database=None, phases=[Phase.generate], derandomize=True)
    @given(valid_programs())
    def collect(program):
        seen.update(_node_classes(program))
        if every <= seen:
            raise _EveryNodeSeen

    with contextlib.suppress(_EveryNodeSeen):
        collect()
    assert [cls.__name__ for cls in _every_node_class() if cls not in seen] == []


def test_comments_between_any_tokens_of_the_examples_are_kept_and_settle():
    """Statements broken over lines at random, with comments at random ends of lines
    (some inside multi-line statements): meaning and every comment are kept, and a
    second pass changes nothing."""
    for seed in range(3):
        rnd = random.Random(seed)
        for path in EXAMPLES:
            program = parse(path.read_text(encoding="utf-8"))
            tokens = re.findall(r'"(?:[^"\\\n]|\\.)*"|[^\s"]+', format_program(ast.Program(program.declarations)))
            pieces, written = [], []
            for i, token in enumerate(tokens):
                pieces.append(token)
                r = rnd.random()
                if r < 0.1:
                    written.append(f"# c{i}")
                    pieces.append(f" # c{i}\n" + rnd.choice(["", "\n", "\n\n"]))
                else:
                    pieces.append("\n" if r < 0.3 else " ")
            formatted = format_source("".join(pieces))
            assert parse(formatted) == program, path.name
            assert sorted(c.text for c in parse(formatted).comments) == sorted(written), path.name
            assert format_source(formatted) == formatted, path.name
