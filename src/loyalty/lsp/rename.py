"""Rename: the edits that rename a declared name at its declaration and every use, or why not.

A quoted name is rewritten as the formatter writes strings (`formatter.quote`), so any text is safe
inside it. A point kind is written bare (`10 stars`), so its new name must be a word the grammar reads
as one (lower-case letters and `_`) and no keyword; its singular uses (`1 star`) follow it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from loyalty.checker.symbols import resolve_point_kind
from loyalty.lsp import names as ns
from loyalty.lsp.analysis import Analysis
from loyalty.lsp.completion import keyword
from loyalty.lsp.names import Occurrence
from loyalty.runtime.internal import code_problem  # what the checker accepts as a code (LOY217)
from loyalty.syntax.formatter import quote
from loyalty.syntax.parser import lark_parser

_BARE_NAME = re.compile(r"[a-z][a-z_]*\Z")  # the grammar's NAME


class RenameRefused(Exception):
    """Why a rename cannot be done, in words for the user."""


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    new_text: str


@functools.lru_cache(maxsize=1)
def keywords() -> frozenset[str]:
    """Every keyword of the grammar."""
    return frozenset(word for t in lark_parser().terminals if (word := keyword(t.name)) is not None)


def target(analysis: Analysis, offset: int) -> Optional[Occurrence]:
    """The name under the cursor that can be renamed, or None."""
    if analysis.names is None:
        return None
    return analysis.names.at(offset)


def _check_new_name(analysis: Analysis, occ: Occurrence, new_name: str) -> None:
    names = analysis.names
    assert names is not None
    if not new_name.strip() or any(unicodedata.category(ch) == "Cc" for ch in new_name):
        raise RenameRefused("a name must have visible text and no control characters")
    if new_name == occ.name:
        raise RenameRefused(f"the {occ.kind} is already called {quote(new_name)}")
    if occ.kind == ns.POINT_KIND:
        if not _BARE_NAME.match(new_name):
            raise RenameRefused(f"{quote(new_name)} cannot name a point kind: point kinds are written bare "
                                "(`10 stars`), in lower-case letters and _")
        singular = new_name[:-1] if new_name.endswith("s") and len(new_name) > 1 else new_name
        for word in {new_name, singular}:
            if word in keywords():
                raise RenameRefused(f"'{word}' is a keyword of the language and cannot name a point kind")
        others = [k for k in names.declared(ns.POINT_KIND) if k != occ.name]
        clash = resolve_point_kind(new_name, others) or resolve_point_kind(singular, others)
        if clash is not None:
            raise RenameRefused(f"the point kind {quote(clash)} already exists")
        return
    if occ.kind == ns.CODE:
        why = code_problem(new_name)
        if why is not None:
            raise RenameRefused(f"{quote(new_name)} cannot be a code: {why}")
    if new_name in names.declared(occ.kind) or names.of(occ.kind, new_name):
        raise RenameRefused(f"a {occ.kind} named {quote(new_name)} already exists")


def rename_edits(analysis: Analysis, offset: int, new_name: str) -> list[Edit]:
    """The edits renaming the name at `offset` everywhere it is declared or used; `RenameRefused` when
    there is nothing to rename there or the new name would not do."""
    if not analysis.parses or analysis.names is None:  # a broken declaration could hide uses
        raise RenameRefused("the program has syntax errors; fix them before renaming")
    occ = target(analysis, offset)
    if occ is None:
        raise RenameRefused("there is no declared name here to rename")
    _check_new_name(analysis, occ, new_name)
    edits = []
    for o in analysis.names.of(occ.kind, occ.name):
        if o.quoted:
            edits.append(Edit(o.start, o.end, quote(new_name)))
        elif o.written == occ.name:
            edits.append(Edit(o.start, o.end, new_name))
        else:  # the singular of the kind (`1 star` of "stars")
            singular = new_name[:-1] if new_name.endswith("s") and len(new_name) > 1 else new_name
            edits.append(Edit(o.start, o.end, singular))
    return edits
