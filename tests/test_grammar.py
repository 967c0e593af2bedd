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
