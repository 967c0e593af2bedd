"""The LALR tables of the grammar, shipped as JSON so a process loads them instead of building them.

Building the parser from grammar/loyalty.lark takes ~0.14 s, on every CLI run (most of `loyalty check`
on a small file); loading the tables takes about half. The file records the SHA-256 of the grammar and
the Lark version it was built with: if either differs (the grammar was edited, another Lark is
installed), the tables are not used and the parser is built from the grammar as before, so a stale file
costs time, never correctness. tests/test_grammar.py fails while the file is stale; regenerate it with

    .venv/bin/python -m loyalty.syntax.tables

JSON, not Lark's own pickle-based cache: nothing is ever unpickled. Lark's serialized form holds
tuples and dicts with int keys, which JSON lacks, so they travel tagged as one-key objects,
{"(": [...]} and {"{": [[k, v], ...]}; dicts with text keys are plain JSON objects (never one of
those two shapes: `dump` refuses them). json's object_hook turns the tagged objects back as the
parser reads them, with no second pass over the data: ~2 ms where a recursive decode of the previous
layout took ~25 ms. The file also records its layout (`FORMAT`); a file of another layout is not used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Optional

import lark

TABLES_NAME = "lalr_tables.json"


def grammar_digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()


FORMAT = 2  # the layout below; files of another layout are not used

_TUPLE = "("
_INT_KEYED = "{"


def _encode(value):
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            if len(value) == 1 and (_TUPLE in value or _INT_KEYED in value):
                raise TypeError(f"a dict of the one key {next(iter(value))!r} would read back as a tag")
            return {k: _encode(v) for k, v in value.items()}
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            raise TypeError("the parser tables hold dicts with text or int keys only")
        return {_INT_KEYED: [[k, _encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the parser tables")


def _decode_object(obj: dict):
    """json's object_hook: a tagged object back to its tuple or int-keyed dict (children first)."""
    if len(obj) == 1:
        if _TUPLE in obj:
            return tuple(obj[_TUPLE])
        if _INT_KEYED in obj:
            return dict(obj[_INT_KEYED])
    return obj


# options given again at load time (functions are not data)
_RUNTIME_OPTIONS = ("lexer_callbacks",)


def dump(parser: lark.Lark, grammar: str) -> str:
    """The parser's tables as JSON text, stamped with the grammar's digest and Lark's version."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data = dict(data)
    data["options"] = {k: v for k, v in data["options"].items() if k not in _RUNTIME_OPTIONS}
    doc = {"format": FORMAT, "grammar_sha256": grammar_digest(grammar), "lark": lark.__version__,
           "data": _encode(data), "memo": _encode(memo)}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n"


def load(grammar: str, lexer_callbacks: dict[str, Callable]) -> Optional[lark.Lark]:
    """The parser from the shipped tables, or None when they are missing or were built from another
    grammar or Lark version."""
    try:
        text = tables_path().read_text(encoding="utf-8")
    except OSError:  # pragma: no cover - a zipped install: no files beside the modules
        try:
            from importlib import resources  # ~6 ms of imports: only where needed

            text = resources.files("loyalty.syntax").joinpath(TABLES_NAME).read_text(encoding="utf-8")
        except (FileNotFoundError, ModuleNotFoundError, OSError):
            return None
    return parser_from_json(text, grammar, lexer_callbacks)


def parser_from_json(text: str, grammar: str, lexer_callbacks: dict[str, Callable]) -> Optional[lark.Lark]:
    """The parser of `dump`'s text, or None when it is of another layout, grammar or Lark version, or
    damaged."""
    try:
        doc = json.loads(text, object_hook=_decode_object)
        if (not isinstance(doc, dict) or doc.get("format") != FORMAT
                or doc.get("grammar_sha256") != grammar_digest(grammar) or doc.get("lark") != lark.__version__):
            return None
        return lark.Lark._load_from_dict(doc["data"], doc["memo"], lexer_callbacks=lexer_callbacks)
    except (ValueError, KeyError, TypeError, AttributeError, lark.exceptions.LarkError):
        return None  # a damaged file: build from the grammar instead


def tables_path() -> Path:
    return Path(__file__).with_name(TABLES_NAME)


def main() -> None:  # pragma: no cover - a maintainer's command
    from loyalty.fileio import write_atomic
    from loyalty.syntax.parser import build_lark_parser, grammar_text

    grammar = grammar_text()
    write_atomic(tables_path(), dump(build_lark_parser(strict=True, use_tables=False), grammar))
    print(f"wrote {tables_path()}")


if __name__ == "__main__":  # pragma: no cover
    main()
