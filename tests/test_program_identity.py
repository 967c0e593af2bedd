"""A program's identity is a hash of what it means: layout, comments and `loyalty fmt` keep it, so a
cosmetic edit does not orphan every saved member state; a change of meaning changes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import loyalty
from loyalty.runtime.program import legacy_identity, program_identity
from loyalty.syntax import ast
from loyalty.syntax.formatter import format_program, format_source
from strategies import valid_programs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "programs").glob("*.loyalty"))
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _cosmetic(text: str, rnd) -> str:
    """The same program with comments, blank lines and indentation added between and after its lines."""
    out = []
    for i, line in enumerate(text.split("\n")):
        r = rnd.random()
        if r < 0.2:
            out.append(f"# a note {i}")
        elif r < 0.35:
            out.append("")
        if line.strip() and rnd.random() < 0.3:
            line = "    " + line + f"   # trailing {i}"
        out.append(line)
    return "\n".join(out)


@PROPERTY
@given(valid_programs(), st.randoms(use_true_random=False))
def test_comments_blank_lines_and_fmt_keep_the_identity(program, rnd):
    text = format_program(program)
    base = loyalty.compile_source(text, "a.loyalty")
    messy = _cosmetic(text, rnd)
    assert loyalty.compile_source(messy, "b.loyalty").identity == base.identity
    assert loyalty.compile_source(format_source(messy), "c.loyalty").identity == base.identity


def _renamed_first_rule(program: ast.Program) -> ast.Program | None:
    decls = list(program.declarations)
    names = {d.name.value for d in decls if isinstance(d, ast.RuleDecl)}
    for i, d in enumerate(decls):
        if isinstance(d, ast.RuleDecl):
            new = d.name.value + " renamed"
            if new in names:
                return None
            decls[i] = ast.RuleDecl(ast.Text(new), d.clauses)
            return ast.Program(tuple(decls))
    return None


@PROPERTY
@given(valid_programs())
def test_renaming_a_rule_changes_the_identity(program):
    renamed = _renamed_first_rule(program)
    if renamed is None:
        return
    a = loyalty.compile_source(format_program(program))
    b = loyalty.compile_source(format_program(renamed))
    assert a.identity != b.identity


BASE = ('program "p" {\n  currency NOK\n}\npoints "points"\n'
        'tiers by points earned in the calendar year {\n  tier "silver" from 100 points {\n    get 2% off\n  }\n'
        '  tier "gold" from 500 points {\n    get 3% off\n  }\n}\n'
        'rule "a" {\n  earn 1 points per 10 NOK\n}\nrule "b" {\n  get 5% off\n}\n')

MEANINGFUL = {
    "a rate": ("earn 1 points per 10 NOK", "earn 2 points per 10 NOK"),
    "a rate's amount": ("per 10 NOK", "per 20 NOK"),
    "a threshold": ("from 500 points", "from 600 points"),
    "a percentage": ("get 5% off", "get 6% off"),
    "a rule name": ('rule "a"', 'rule "A"'),
    "a tier name": ('tier "gold"', 'tier "Gold"'),
    "the order of rules": ('rule "a" {\n  earn 1 points per 10 NOK\n}\nrule "b" {\n  get 5% off\n}\n',
                           'rule "b" {\n  get 5% off\n}\nrule "a" {\n  earn 1 points per 10 NOK\n}\n'),
    "the program name": ('program "p"', 'program "q"'),
}


@pytest.mark.parametrize("case", sorted(MEANINGFUL))
def test_a_change_of_meaning_changes_the_identity(case):
    old, new = MEANINGFUL[case]
    assert old in BASE
    assert loyalty.compile_source(BASE).identity != loyalty.compile_source(BASE.replace(old, new)).identity


def test_spelling_the_same_value_differently_keeps_the_identity():
    same = BASE.replace("per 10 NOK", "per 10.00 NOK").replace("get 5% off", "get 5.0% off")
    assert loyalty.compile_source(same).identity == loyalty.compile_source(BASE).identity


def test_a_comment_keeps_saved_states_loading():
    before = loyalty.compile_source(BASE)
    after = loyalty.compile_source("# a comment added later\n\n" + BASE.replace("{\n", "{  # note\n", 1))
    state = before.new_member("m1")
    state, _ = before.apply(state, {"purchase": {"time": "2025-03-01T10:00", "order": "o1",
                                                  "lines": [{"item": "x", "amount": "100"}]}})
    again = after.state_from_json(state.to_json())
    assert again.balance("points") == 9  # 5% off 100 NOK, 1 point per 10 NOK paid


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_keeps_its_identity_through_fmt(path):
    text = path.read_text(encoding="utf-8")
    assert loyalty.compile_source(format_source(text)).identity == loyalty.load(path).identity


# ------------------------------------------------------------------ documents and states of before the change


def _old_style(program: loyalty.Program) -> dict:
    """The compiled document as the previous version wrote it: the identity hashed the source positions too."""
    doc = json.loads(program.to_json())
    doc["identity"] = legacy_identity(doc)
    return doc


def test_a_compiled_document_of_the_previous_identity_still_loads():
    program = loyalty.load(EXAMPLES[0])
    doc = _old_style(program)
    assert doc["identity"] != program.identity
    loaded = loyalty.load_compiled(json.dumps(doc))
    assert loaded.identity == program.identity == program_identity(doc)


def test_a_state_saved_under_the_previous_identity_still_loads():
    program = loyalty.load(EXAMPLES[0])
    saved = json.loads(program.new_member("m1").to_json())
    saved["program"] = legacy_identity(json.loads(program.to_json()))
    state = program.state_from_json(json.dumps(saved))
    assert json.loads(state.to_json())["program"] == program.identity  # saved again under the new identity


def test_a_state_of_the_previous_identity_is_refused_once_the_program_moved():
    """The old identity hashed positions: a state saved before can only be matched by the program it was saved
    with, line for line (after a cosmetic edit the old identity cannot be recomputed)."""
    program = loyalty.compile_source(BASE)
    saved = json.loads(program.new_member("m1").to_json())
    saved["program"] = legacy_identity(json.loads(program.to_json()))
    moved = loyalty.compile_source("# moved\n" + BASE)
    with pytest.raises(loyalty.StateMismatchError, match="saved by program"):
        moved.state_from_json(json.dumps(saved))
