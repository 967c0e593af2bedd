"""The language server's analysis without an editor: positions, names, completion and rename, as
properties over generated programs (tests/strategies.py) and the shipped examples."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.frontend import check_text
from loyalty.lsp import names as ns
from loyalty.lsp.analysis import Analysis, without_broken_declarations
from loyalty.lsp.completion import KEYWORD, complete
from loyalty.lsp.positions import LineIndex, Position
from loyalty.lsp.rename import RenameRefused, keywords, rename_edits
from loyalty.syntax import ast
from loyalty.syntax.formatter import format_program, quote
from loyalty.syntax.parser import lark_parser
from strategies import programs, valid_programs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "programs").glob("*.loyalty"))

# the strings that name nothing: free text shown to people or matched against event data
FREE_TEXT = {
    (ast.ProgramDecl, "name"), (ast.TimezoneSetting, "name"), (ast.GiftReward, "gift"),
    (ast.GiftCardReward, "partner"), (ast.OnChannels, "names"), (ast.OnAction, "name"), (ast.BenefitPerk, "name"),
}


def _apply(text: str, edits) -> str:
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: e.start] + e.new_text + text[e.end:]
    return text


# ------------------------------------------------------------------ positions


@given(st.text(alphabet=st.sampled_from(["a", "\n", "\r", "\f", "\u2028", "é", "😀", '"']), max_size=40), st.data(),
       st.sampled_from([("utf-16", "utf-16-le", 2), ("utf-8", "utf-8", 1), ("utf-32", "utf-32-le", 4)]))
def test_line_index_round_trips_every_offset(text, data, encoding):
    name, codec, unit_bytes = encoding
    index = LineIndex(text, name)
    offset = data.draw(st.integers(0, len(text)))
    position = index.position(offset)
    assert index.offset(position) == offset
    # lines are the parser's: split at "\n" only
    assert position.line == text.count("\n", 0, offset)
    before = text[text.rfind("\n", 0, offset) + 1 : offset]
    assert position.character == len(before.encode(codec)) // unit_bytes


def test_position_of_a_parser_place_counts_utf16_units():
    index = LineIndex('x\n"😀" ab')
    assert index.position_of(2, 5) == Position(1, 5)  # the 5th character, after a 2-unit emoji
    assert index.offset(Position(1, 5)) == 6


# ------------------------------------------------------------------ names


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(programs())
def test_every_name_is_found_at_its_exact_place(program):
    text = format_program(program)
    analysis = Analysis.of(text, "p.loyalty")
    assert analysis.names is not None
    for o in analysis.names.occurrences:
        written = text[o.start : o.end]
        assert written == (quote(o.written) if o.quoted else o.written)
        assert o.line == text.count("\n", 0, o.start) + 1
    # every string of the program is a name the server knows, or one of the free texts
    quoted = Counter(o.start for o in analysis.names.occurrences if o.quoted)
    for node in analysis.program.walk():
        for field_name in type(node)._node_fields:
            value = getattr(node, field_name)
            texts = value if isinstance(value, tuple) else (value,)
            for t in texts:
                if isinstance(t, ast.Text) and (type(node), field_name) not in FREE_TEXT:
                    assert quoted[t.span.start] == 1, (type(node).__name__, field_name, t.value)
    # every bare unit word is a point kind occurrence
    bare = sum(1 for o in analysis.names.occurrences if not o.quoted)
    units = sum(1 for n in analysis.program.walk()
                if isinstance(n, ast.PointsAmount)
                or (isinstance(n, (ast.EarnMultiplier, ast.BenefitMultiplier)) and n.unit is not None)
                or (isinstance(n, ast.Metric) and n.kind == "earned")
                or (isinstance(n, ast.Measure) and n.kind == "balance"))
    assert bare == units


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(programs())
def test_hover_words_any_rule_and_name_the_parser_accepts(program):
    """Extreme values (20-digit amounts, zero counts, negative percentages) included: hover never raises."""
    from loyalty.lsp.hover import _name, name_hover_markdown, rule_hover_markdown

    text = format_program(program)
    analysis = Analysis.of(text, "p.loyalty")
    for entry in analysis.symbols.rule_entries:
        words = rule_hover_markdown(entry, analysis.symbols, text)
        assert words.startswith(f"**rule {_name(entry.name)}**")
    for o in analysis.names.occurrences:
        assert name_hover_markdown(o, analysis.names, text).startswith(f"**{o.kind}**")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_use_in_an_example_resolves_to_its_declaration(path):
    analysis = Analysis.of(path.read_text(encoding="utf-8"), str(path))
    names = analysis.names
    for o in names.occurrences:
        found = names.definition(o.kind, o.name)
        # the examples check clean, so every name is declared (items and categories with a catalog)
        assert found is not None or (o.kind in (ns.ITEM, ns.CATEGORY) and not analysis.symbols.has_catalog), o
        if found is not None:
            assert found.declaration and found.name == o.name and found.kind == o.kind


# ------------------------------------------------------------------ rename


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(valid_programs(), st.data())
def test_renaming_any_declared_name_keeps_the_program_valid(program, data):
    text = format_program(program)
    analysis = Analysis.of(text, "p.loyalty")
    assert analysis.checked.ok and not analysis.checked.diagnostics
    declarations = [o for o in analysis.names.occurrences if o.declaration]
    if not declarations:
        return
    target = data.draw(st.sampled_from(declarations))
    new_name = {ns.POINT_KIND: "renamed_kind", ns.CODE: "RENAMED-25"}.get(target.kind, "a \"renamed\" name")
    before = len(analysis.names.of(target.kind, target.name))
    renamed = _apply(text, rename_edits(analysis, target.start + 1, new_name))
    after = Analysis.of(renamed, "p.loyalty")
    assert after.checked.ok and not after.checked.diagnostics, after.checked.diagnostics
    assert len(after.names.of(target.kind, new_name)) == before
    assert not after.names.of(target.kind, target.name)


def test_rename_refuses_what_would_break_the_program():
    text = (ROOT / "examples" / "programs" / "coffee_stars.loyalty").read_text(encoding="utf-8")
    analysis = Analysis.of(text, "p")
    kind = text.index("earn 1 star per") + 7
    for new_name, reason in [("visit", "keyword"), ("days", "keyword"), ("Stars", "written bare"),
                             ("stars", "already called"), ("", "visible text"), ("a\tb", "visible text")]:
        with pytest.raises(RenameRefused, match=reason):
            rename_edits(analysis, kind, new_name)
    tier = text.index('tier "gold"') + 6
    with pytest.raises(RenameRefused, match='tier named "green" already exists'):
        rename_edits(analysis, tier, "green")
    coded = Analysis.of('program "p" {\n  currency NOK\n}\ncode "SPRING"\nrule "r" {\n  with code "SPRING"\n'
                        '  get 5% off\n}\n', "p")
    with pytest.raises(RenameRefused, match="cannot be a code: a code is one word"):
        rename_edits(coded, coded.text.index('"SPRING"') + 1, "SPRING 25")
    with pytest.raises(RenameRefused, match="no declared name here"):
        rename_edits(analysis, text.index("currency USD"), "x")
    # a keyword is fine inside quotes: "free" is just a name there
    renamed = _apply(text, rename_edits(analysis, tier, "free"))
    assert check_text(renamed).ok and 'tier "free" from param "gold from"' in renamed


def test_a_broken_declaration_is_blanked_keeping_every_other_place():
    text = 'segment "a"\nrule "r" {\n  get 5% of\n}\nsegment "b"\n'
    blanked = without_broken_declarations(text, [3])
    assert len(blanked) == len(text) and blanked.count("\n") == text.count("\n")
    assert blanked.startswith('segment "a"\n') and blanked.endswith('segment "b"\n') and "rule" not in blanked
    assert Analysis.of(text, "p").names.declared(ns.SEGMENT) == ["a", "b"]


# ------------------------------------------------------------------ completion


def _tokens(text: str):
    interactive = lark_parser().parse_interactive(text)
    return list(interactive.iter_parse())


@pytest.mark.parametrize("path", EXAMPLES[::3], ids=lambda p: p.stem)
def test_completion_offers_every_keyword_and_name_the_example_writes(path):
    """At the start of each keyword of an example, that keyword is offered; inside each name that is used
    (not declared), that name is offered: the parser's state and the names agree with the program."""
    text = path.read_text(encoding="utf-8")
    analysis = Analysis.of(text, str(path))
    words = keywords()
    for token in _tokens(text):
        if str(token) in words and token.type != "NAME":  # `points` may also be a point kind
            offered = complete(text, token.start_pos, analysis.names)
            assert str(token) in {c.label for c in offered if c.kind == KEYWORD}, (token, token.line)
    for o in analysis.names.occurrences:
        if o.quoted and not o.declaration:
            offered = complete(text, o.start + 1, analysis.names)
            assert o.name in {c.label for c in offered if c.kind == o.kind}, o
        elif not o.quoted:
            offered = complete(text, o.start, analysis.names)
            assert o.written in {c.label for c in offered if c.kind == ns.POINT_KIND}, o


# ------------------------------------------------------------------ docs/editors.md


def test_the_editors_page_shows_what_the_server_gives():
    import json
    import re

    from loyalty.lsp.hover import name_hover_markdown
    from loyalty.lsp.server import _lsp_diagnostic, server

    doc = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    text = (ROOT / "examples" / "programs" / "car_wash.loyalty").read_text(encoding="utf-8")
    broken = Analysis.of(text.replace('"wash and wax" is free', '"wash & wax" is free'), "car_wash.loyalty")
    [diagnostic] = broken.checked.diagnostics
    published = server.protocol._converter.unstructure(_lsp_diagnostic(diagnostic, broken.index))
    shown = json.loads(re.search(r"```json\n(.*?)```", doc, re.S).group(1))
    assert published == shown

    analysis = Analysis.of(text, "car_wash.loyalty")
    quoted = "\n".join(line[2:] for line in doc.split("\n") if line.startswith("> ") or line == ">")
    # a document that checks clean shows loyalty describe's words (lsp/server.py on_hover)
    from loyalty.describe import rule_markdown

    hover = rule_markdown(analysis.checked.program, analysis.symbols.rule_entries[0].rule.name.value)
    assert hover.rstrip("\n") in quoted
    occurrence = analysis.names.at(text.index('"wash and wax" is free') + 1)
    assert name_hover_markdown(occurrence, analysis.names, text) in quoted
    end = text + 'rule "loyal" {\n  every 10th '
    assert [c.label for c in complete(end, len(end), analysis.names)] == ["category", "item"]
    end += '"'
    assert [c.label for c in complete(end, len(end), analysis.names)] == ["basic wash", "wash and wax",
                                                                           "interior cleaning"]


def test_a_name_completed_inside_a_string_replaces_the_whole_string():
    text = (ROOT / "examples" / "programs" / "car_wash.loyalty").read_text(encoding="utf-8")
    names = Analysis.of(text, "p").names
    typed = text + 'rule "r" {\n  every 10th "wa\\"sh" is free\n}\n'
    cursor = typed.rindex('"wa') + 3
    [first, *_] = complete(typed, cursor, names)
    assert (first.start, first.end) == (cursor - 2, typed.rindex('" is free')) and first.new_text == "basic wash"
    # no closing quote on the line: the completion closes the string
    typed = text + 'rule "r" {\n  every 10th "wa\n'
    [first, *_] = complete(typed, len(typed) - 1, names)
    assert first.end == len(typed) - 1 and first.new_text == 'basic wash"'


# ------------------------------------------------------------------ hostile input


HOSTILE = sorted((ROOT / "tests" / "hostile" / "programs").glob("*.loyalty")) + sorted(
    (ROOT / "tests" / "golden" / "invalid").glob("*.loyalty"))


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.stem)
def test_every_request_answers_on_hostile_and_invalid_programs(path):
    """The server's answers never raise, whatever the file holds (bad UTF-8 is decoded by the editor;
    here with replacement characters)."""
    from loyalty.lsp.hover import name_hover_markdown, rule_hover_markdown

    text = path.read_bytes().decode("utf-8", "replace")
    analysis = Analysis.of(text, str(path))
    for d in analysis.checked.diagnostics:
        analysis.index.range_of(d.span)
    offsets = sorted({0, len(text)} | set(range(0, len(text), max(1, len(text) // 25))))
    for offset in offsets:
        complete(text, offset, analysis.names)
        analysis.index.offset(analysis.index.position(offset))
        if analysis.names is not None:
            occurrence = analysis.names.at(offset)
            if occurrence is not None:
                name_hover_markdown(occurrence, analysis.names, text)
                analysis.names.definition(occurrence.kind, occurrence.name)
                try:
                    rename_edits(analysis, offset, "renamed")
                except RenameRefused:
                    pass
    if analysis.program is not None:
        from loyalty.lsp.outline import outline

        stack = outline(analysis.program)
        while stack:  # every symbol has a range, and its name one inside it
            symbol = stack.pop()
            analysis.index.range_of(symbol.node.span)
            if symbol.name_node is not None:
                assert symbol.node.span.start <= symbol.name_node.span.start <= symbol.node.span.end
            stack.extend(symbol.children)
    if analysis.symbols is not None:
        for entry in analysis.symbols.rule_entries:
            rule_hover_markdown(entry, analysis.symbols, text)


def test_hover_rates_of_extreme_amounts_are_shown_not_raised():
    from loyalty.lsp.hover import rule_hover_markdown

    big = "99999999999999999999"
    text = (f'program "p" {{\n  currency NOK\n}}\npoints "points" {{\n  cost {big} NOK each\n}}\n'
            f'tiers by spend {{\n  tier "a" from 0 NOK {{\n    earn {big}x points\n  }}\n}}\n'
            f'rule "r" {{\n  earn {big} points per 0.01 NOK\n}}\n')
    analysis = Analysis.of(text, "p")
    assert analysis.program is not None
    words = rule_hover_markdown(analysis.symbols.rule_entries[0], analysis.symbols, text)
    assert "of spend given back" in words and 'In tier "a"' in words


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(valid_programs())
def test_completion_inside_any_name_use_offers_that_name(program):
    """Where a generated program uses a name, completion there offers it, of the same kind: the keywords
    before a string (read from the parser's tokens) and the AST agree on what the string names."""
    text = format_program(program)
    names = Analysis.of(text, "p").names
    for o in names.occurrences:
        if o.quoted and not o.declaration and names.definition(o.kind, o.name) is not None:
            offered = {(c.label, c.kind) for c in complete(text, o.start + 1, names)}
            assert (o.name, o.kind) in offered, o


def test_hover_shows_names_as_written_whatever_markdown_they_hold():
    from loyalty.lsp.hover import name_hover_markdown, rule_hover_markdown

    text = ('program "p" {\n  currency NOK\n}\nsegment "*bold* [link](x) <b>"\n'
            'rule "`tick` _r_" {\n  get 5% off\n  for segment "*bold* [link](x) <b>"\n  on "a ``b"\n}\n')
    analysis = Analysis.of(text, "p")
    words = rule_hover_markdown(analysis.symbols.rule_entries[0], analysis.symbols, text)
    assert words.startswith('**rule "\\`tick\\` \\_r\\_"**')
    assert '``` for segment "*bold* [link](x) <b>" ```' not in words  # no run of 3 backticks inside
    assert '`for segment "*bold* [link](x) <b>"`' in words and '```on "a ``b"```' in words
    segment = analysis.names.at(text.index('"*bold*') + 1)
    assert name_hover_markdown(segment, analysis.names, text).startswith(
        '**segment** "\\*bold\\* \\[link\\]\\(x\\) \\<b\\>", declared at line 4')
