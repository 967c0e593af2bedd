"""The LALR tables of the grammar, shipped as JSON so a process loads them instead of building them.

Building the parser from grammar/loyalty.lark takes ~0.14 s, on every CLI run (most of `loyalty check`
on a small file); loading the tables takes about half. The file records the SHA-256 of the grammar and
the Lark version it was built with: if either differs (the grammar was edited, another Lark is
installed), the tables are not used and the parser is built from the grammar as before, so a stale file
costs time, never correctness. tests/test_grammar.py fails while the file is stale; regenerate it with

    .venv/bin/python -m loyalty.syntax.tables

JSON, not Lark's own pickle-based cache: nothing is ever unpickled. Lark's serialized form holds
tuples and dicts with int keys, which JSON lacks, so they travel tagged ({"t": [...]}, {"i": [[k, v]]}).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Callable, Optional

import lark

TABLES_NAME = "lalr_tables.json"


def grammar_digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()


def _encode(value):
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"d": {k: _encode(v) for k, v in value.items()}}
        return {"i": [[k, _encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the parser tables")


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "t" in value:
            return tuple(_decode(v) for v in value["t"])
        if "d" in value:
            return {k: _decode(v) for k, v in value["d"].items()}
        return {k: _decode(v) for k, v in value["i"]}
    return value


# options given again at load time (functions are not data)
_RUNTIME_OPTIONS = ("lexer_callbacks",)


def dump(parser: lark.Lark, grammar: str) -> str:
    """The parser's tables as JSON text, stamped with the grammar's digest and Lark's version."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data = dict(data)
    data["options"] = {k: v for k, v in data["options"].items() if k not in _RUNTIME_OPTIONS}
    doc = {"grammar_sha256": grammar_digest(grammar), "lark": lark.__version__,
           "data": _encode(data), "memo": _encode(memo)}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n"


def load(grammar: str, lexer_callbacks: dict[str, Callable]) -> Optional[lark.Lark]:
    """The parser from the shipped tables, or None when they are missing or were built from another
    grammar or Lark version."""
    try:
        text = resources.files("loyalty.syntax").joinpath(TABLES_NAME).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):  # pragma: no cover - unusual installs
        return None
    try:
        doc = json.loads(text)
        if doc.get("grammar_sha256") != grammar_digest(grammar) or doc.get("lark") != lark.__version__:
            return None
        return lark.Lark._load_from_dict(_decode(doc["data"]), _decode(doc["memo"]),
                                         lexer_callbacks=lexer_callbacks)
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
