"""The shared YAML reader (loyalty/yamlio.py): plain values, exact numbers, text keys, places in the file,
and every refusal located. The hostile files themselves are in tests/hostile/yaml/ (test_hostile_yaml.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.schemas import Assumptions, ScenarioTestFile
from loyalty.yamlio import MAX_YAML_BYTES, MAX_YAML_DEPTH, YamlFileError, parse_yaml, read_yaml, validate


def refused(text: str) -> tuple[str, str]:
    with pytest.raises(YamlFileError) as err:
        parse_yaml(text, "f.yaml")
    [problem] = err.value.problems
    return f"{problem.line}:{problem.column}", problem.message


def test_values_are_plain_and_numbers_exact():
    doc = parse_yaml("a: 1\nb: [x, 0.1, 1_000.50, {c: yes}]\nd: 2025-03-01\ne: ~\nf: '0.1'\n")
    assert doc.data == {"a": 1, "b": ["x", Decimal("0.1"), Decimal("1000.50"), {"c": True}],
                        "d": dt.date(2025, 3, 1), "e": None, "f": "0.1"}
    assert isinstance(doc.data["b"][1], Decimal)


def test_keys_are_the_text_written():
    # YAML 1.1 would make these False, 1 and a date: names in these files are text
    assert parse_yaml("no: 1\n1: 2\n2025-01-01: 3\n").data == {"no": 1, "1": 2, "2025-01-01": 3}
    # so `1` and `'1'` are the same key
    assert refused("1: a\n'1': b\n") == ("2:1", "duplicate key '1' (first at line 1, column 1)")


def test_places_are_one_based_lines_and_columns_of_keys_and_values():
    doc = parse_yaml("top:\n  - {id: m1}\n  - name: x\n")
    assert doc.place(("top",), key=True) == (1, 1)
    assert doc.place(("top", 0)) == (2, 5)
    assert doc.place(("top", 0, "id"), key=True) == (2, 6) and doc.place(("top", 0, "id")) == (2, 10)
    assert doc.place(("top", 1, "name")) == (3, 11)
    assert doc.place(("top", 1, "missing")) == (3, 5)  # the nearest enclosing value
    assert doc.places[("top", 1, "name")].text == "x"


def test_crlf_and_a_byte_order_mark_read_as_plain_lf():
    assert parse_yaml("\ufeffa: 1\r\nb: [x]\r\n").data == {"a": 1, "b": ["x"]}
    with pytest.raises(YamlFileError) as err:
        parse_yaml("\ufeffa: 1\r\nb: 2\r\nb: 3\r\n", "f.yaml")
    assert (err.value.problems[0].line, err.value.problems[0].column) == (3, 1)


def test_an_empty_file_is_none():
    assert parse_yaml("").data is None and parse_yaml("# only a comment\n").data is None


@pytest.mark.parametrize("text, at, words", [
    ("a: &x 1\nb: *x\n", "1:4", "anchor &x: anchors and aliases are not allowed"),
    ("a: [1, *x]\n", "1:8", "alias *x: anchors and aliases are not allowed"),  # an alias without its anchor
    ("a:\n  <<: {b: 1}\n", "2:3", "merge keys (<<) are not allowed"),
    ("a: {b: 1, b: 2}\n", "1:11", "duplicate key 'b' (first at line 1, column 5)"),
    ("? [a]\n: 1\n", "1:3", "a key must be plain text"),
    ("a: !!python/object/apply:os.system [ls]\n", "1:4", "tag !!python/object/apply:os.system is not allowed"),
    ("a: !!binary aGk=\n", "1:4", "tag !!binary is not allowed"),
    ("a: !!set {x}\n", "1:4", "tag !!set is not allowed"),
    ("a: !mine 1\n", "1:4", "tag !mine is not allowed"),
    ("a: .inf\n", "1:4", "'.inf' is not a number"),
    ("a: .nan\n", "1:4", "'.nan' is not a number"),
    ("a: 2025-02-29\n", "1:4", "'2025-02-29' is not a valid date or time"),
    ("!!int\n", "1:1", "'' is not a valid !!int"),  # PyYAML's constructor raised IndexError
    ("a: !!timestamp x\n", "1:4", "'x' is not a valid !!timestamp"),  # TypeError
    ("a: !!bool x\n", "1:4", "'x' is not a valid !!bool"),  # KeyError
    ("a: [\n", "2:1", "not valid YAML"),
    ("a: 1\n---\nb: 2\n", "2:1", "a second YAML document"),
    ("a: \x1b[31m\n", "1:4", "character U+001B is not allowed in YAML"),
    ("[" * (MAX_YAML_DEPTH + 1) + "]" * (MAX_YAML_DEPTH + 1), f"1:{MAX_YAML_DEPTH + 1}",
     f"nested more than {MAX_YAML_DEPTH} levels deep"),
])
def test_refused_at_its_place(text, at, words):
    where, message = refused(text)
    assert where == at and words in message, (where, message)


def test_nesting_up_to_the_limit_is_fine():
    depth = MAX_YAML_DEPTH
    assert parse_yaml("[" * depth + "]" * depth).data is not None


def test_a_problem_renders_with_its_place_and_hint_and_no_raw_control_characters():
    with pytest.raises(YamlFileError) as err:
        parse_yaml("a: 1\n\x1b[2J: 2\n", "f.yaml")
    assert "\x1b" not in err.value.render()
    with pytest.raises(YamlFileError) as err:
        parse_yaml("a: 1\na: 2\n", "f.yaml")
    assert err.value.render() == ("f.yaml:2:1: duplicate key 'a' (first at line 1, column 1)\n"
                                  "  = hint: give each key once: YAML would silently keep only the last one")


def test_files_not_utf8_too_large_or_missing(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_bytes("a: 1\nb: \u00e5 caf\xe9\n".encode("utf-8")[:-3] + b"\xe9\n")
    with pytest.raises(YamlFileError) as err:
        read_yaml(p)
    assert err.value.problems[0].line == 2 and err.value.problems[0].column == 9  # 'b: å caf' is 8 characters
    assert "byte 0xe9 is not valid UTF-8" in err.value.problems[0].message
    p.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_yaml(p).data == {"a": 1}
    p.write_bytes(b"a: 1\n" + b"#" * MAX_YAML_BYTES)
    with pytest.raises(YamlFileError, match="larger than"):
        read_yaml(p)
    with pytest.raises(YamlFileError, match="no such file"):
        read_yaml(tmp_path / "nope.yaml")
    with pytest.raises(YamlFileError, match="is a directory"):
        read_yaml(tmp_path)


# YAML syntax, the formats' keys, and values that once broke a constructor
_PIECES = st.sampled_from(list("abc01.-:{}[],&*!<>|'\" \n\t#?%@`~=") + [
    "scenarios", "events", "member", "expect", "state", "balance", "error", "seed", "redemption", "share", "policy",
    "columns", "cost_per_point", "breakage", "points", "id", "attributes", "birthday", "<<", "!!str", "!!int",
    "!!timestamp", "2025-02-30", "1.5", "true", "null", "\n  ", "\n- ", "\u202e", "\x85", "\u2028", ".inf", "0x1F"])
_CONTEXT = {"point_kinds": ["stars"], "rewards": ["r"], "redeemable": ["r"], "items": ["i"]}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_any_text_gives_a_document_or_located_problems_never_an_exception(text):
    try:
        doc = parse_yaml(text, "f.yaml")
    except YamlFileError as err:
        assert err.problems and all(p.line >= 1 and p.column >= 1 for p in err.problems)
        return
    for model, context in ((Assumptions, _CONTEXT), (ScenarioTestFile, None)):
        try:
            validate(doc, model, context, data={} if doc.data is None and model is Assumptions else doc.data)
        except YamlFileError as err:
            assert err.problems and all(p.line >= 1 and p.column >= 1 for p in err.problems)
            err.render()
