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


def test_the_shipped_parser_tables_are_those_of_this_grammar():
    """src/loyalty/syntax/lalr_tables.json is stamped with the grammar it was built from; after editing the
    grammar, regenerate it: .venv/bin/python -m loyalty.syntax.tables"""
    import json

    import lark

    from loyalty.syntax import tables

    doc = json.loads(tables.tables_path().read_text(encoding="utf-8"))
    assert doc["grammar_sha256"] == tables.grammar_digest(grammar_text()), \
        "stale: run .venv/bin/python -m loyalty.syntax.tables"
    assert doc["lark"] == lark.__version__
    assert doc["format"] == tables.FORMAT


def test_the_parser_loaded_from_the_tables_parses_like_the_built_one():
    """Same trees (comments included) and the same errors with the same expected tokens, on every example
    and on the hostile programs."""
    import lark

    from loyalty.syntax import parser, tables

    loaded = tables.load(grammar_text(), {"COMMENT": parser._collect_comment})
    assert loaded is not None
    built = build_lark_parser(use_tables=False)
    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "examples" / "programs").glob("*.loyalty")) + sorted(
        (root / "tests" / "hostile" / "programs").glob("*.loyalty"))
    assert len(files) > 30
    outcomes = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        results = []
        for p in (loaded, built):
            try:
                results.append(("tree", p.parse(text)))
            except lark.exceptions.UnexpectedInput as err:
                results.append(("error", type(err).__name__, err.line, err.column,
                                sorted(getattr(err, "expected", None) or getattr(err, "allowed", None) or ())))
        assert results[0] == results[1], path.name
        outcomes += results[0][0] == "error"
    assert outcomes > 0  # some hostile programs do not parse: errors were compared too


def test_a_stale_or_damaged_tables_file_is_not_used(monkeypatch, tmp_path):
    from loyalty.syntax import tables

    assert tables.load(grammar_text() + "\n// edited\n", {}) is None  # another grammar: build instead
    monkeypatch.setattr(tables.lark, "__version__", "0.0.1")
    assert tables.load(grammar_text(), {}) is None  # another Lark


def test_a_tables_file_of_another_layout_or_damaged_is_not_used():
    from loyalty.syntax import tables

    text = tables.tables_path().read_text(encoding="utf-8")
    grammar = grammar_text()
    assert tables.parser_from_json(text, grammar, {}) is not None
    assert tables.parser_from_json(text.replace('"format":%d' % tables.FORMAT, '"format":1', 1), grammar, {}) is None
    assert tables.parser_from_json(text[: len(text) // 2], grammar, {}) is None
    assert tables.parser_from_json("[]", grammar, {}) is None


def test_the_tables_encoding_gives_back_exactly_what_was_stored():
    """Tuples stay tuples, lists lists, int keys ints: the tagged objects never collide with plain ones."""
    import json

    import pytest

    from loyalty.syntax import tables

    value = {"a": (1, [2, (3,)], {"(": 1, "x": 2}), "b": {4: (5, {"@": 6}), 7: []}, "c": [(), {}, None, "("]}
    back = json.loads(json.dumps(tables._encode(value)), object_hook=tables._decode_object)
    assert back == value
    assert type(back["a"]) is tuple and type(back["a"][1]) is list and type(back["a"][1][1]) is tuple
    assert list(back["b"]) == [4, 7] and type(back["c"][0]) is tuple
    for ambiguous in ({"(": [1]}, {"{": []}, {(1, 2): 3}):
        with pytest.raises(TypeError):
            tables._encode(ambiguous)


def test_every_grammar_rule_has_an_ast_builder():
    """A rule the transformer reaches (not inlined with `?` or `_`, not a rule all of whose alternatives are
    aliased) has a method of the parser's builder or is a clause built from its parts (ast.BUILT_FROM_PARTS):
    otherwise parsing a program that uses it fails."""
    import re

    from loyalty.syntax import parser

    grammar = (Path(__file__).resolve().parents[1] / "grammar" / "loyalty.lark").read_text(encoding="utf-8")
    reached = set(re.findall(r"->\s*([a-z][a-z0-9_]*)", grammar))
    for m in re.finditer(r"^(!?)([a-z][a-z0-9_]*)\s*:(.*?)(?=^\S|\Z)", grammar, re.M | re.S):
        alternatives = re.split(r"\n\s*\|", m.group(3)) if "\n" in m.group(3).strip() else m.group(3).split("|")
        if any("->" not in alt for alt in alternatives):
            reached.add(m.group(2))
    missing = sorted(n for n in reached if not hasattr(parser._AstBuilder, n) and n not in parser._BUILT_FROM_PARTS)
    assert missing == []
