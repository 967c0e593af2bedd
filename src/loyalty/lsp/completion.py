"""Completion: the keywords the parser accepts at the cursor, and declared names where a name goes.

The keywords come from the parser's own state: the text before the cursor is fed to Lark's interactive
LALR parser and `accepts()` says which terminals may come next, so the list is exactly what the grammar
allows there (no second grammar to keep in step). Inside a string the parser must accept a STRING, and
the keywords just before it (`give`, `for tier`, `in store`, `on category`...) say which namespace the
name belongs to; after a number where the parser accepts a bare word, the point kinds are offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from lark.exceptions import LarkError

from loyalty.lsp import names as ns
from loyalty.lsp.names import Names
from loyalty.syntax.formatter import quote
from loyalty.syntax.parser import _DECLARATION_LINE, MAX_SOURCE_CHARS, lark_parser

KEYWORD = "keyword"


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # KEYWORD, or the namespace of a name (names.ITEM, names.POINT_KIND...)
    new_text: str  # what replaces [start, end)
    start: int
    end: int
    detail: str


def _cursor_context(text: str, offset: int) -> tuple[str, int]:
    """("code", start of the word being typed) | ("string", offset of the opening quote) | ("comment", -1),
    from the cursor's line (strings and comments end at the line's end)."""
    line_start = text.rfind("\n", 0, offset) + 1
    quote_at = -1
    i = line_start
    while i < offset:
        ch = text[i]
        if quote_at >= 0:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote_at = -1
        elif ch == '"':
            quote_at = i
        elif ch == "#":
            return "comment", -1
        i += 1
    if quote_at >= 0:
        return "string", quote_at
    start = offset
    while start > line_start and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return "code", start


def _string_end(text: str, offset: int) -> Optional[int]:
    """The offset of the quote that closes the string the cursor is in, or None when the line has none."""
    i = offset
    while i < len(text) and text[i] != "\n":
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return None


def _parse_prefix(prefix: str):
    """(the tokens of `prefix`, the interactive parser after them), or None when the text does not parse.
    A broken declaration earlier in the file does not matter: on an error, the parse starts again at the
    declaration the cursor is in (the parser's own notion of where one starts)."""
    attempts = [prefix]
    last = None
    for match in _DECLARATION_LINE.finditer(prefix):
        last = match.start()
    if last:
        attempts.append(prefix[last:])
    for text in attempts:
        try:
            interactive = lark_parser().parse_interactive(text)
            tokens = list(interactive.iter_parse())
        except LarkError:
            continue
        return tokens, interactive
    return None


def keyword(terminal: str) -> Optional[str]:
    """The keyword a terminal of the grammar stands for (`EVERY` -> "every"), or None (names, numbers,
    punctuation)."""
    try:
        pattern = lark_parser().get_terminal(terminal).pattern
    except KeyError:
        return None
    if pattern.type == "str" and pattern.value.isalpha():
        return pattern.value
    return None


class _Ordinal:
    """A stand-in token for a parameter reference where an ordinal goes (`every param "n" "..."`)."""

    type = "ORDINAL"

    def __str__(self) -> str:
        return "1st"


def name_kind(tokens: list) -> Optional[str]:
    """The namespace of the string that comes after `tokens`, or None for a name being declared or free text
    (a channel, an action, a gift...)."""
    i = len(tokens)
    while i >= 2 and tokens[i - 1].type == "COMMA" and tokens[i - 2].type == "STRING":
        i -= 2  # a list: "a", "b", ...
    if i == 0:
        return None
    prev = tokens[i - 1]
    if prev.type == "STRING" and i >= 2 and str(tokens[i - 2]) == "param":
        # `param "x"` stands where a literal would (every param "n" "...": the literal an ordinal)
        return name_kind(tokens[:i - 2] + [_Ordinal()])
    before = str(tokens[i - 2]) if i >= 2 else ""
    # what counts units, as `every 6th` does: a number before names is a bundle's (`buy 2 "..."`,
    # `3 "..." for the price of 2`)
    def counts_units(j: int) -> bool:
        return tokens[j].type in ("ORDINAL", "NUMBER")

    before_ordinal = i >= 2 and counts_units(i - 2)
    word = str(prev)
    if counts_units(i - 1) or word in ("on", "has", "free"):
        return ns.ITEM  # every 6th "...", buy 2 "...", on "...", order has "...", a free "..."
    if word in ("give", "for"):
        return ns.REWARD  # give "...", redeem 100 stars for "..."
    if word == "category":
        return ns.CATEGORY if before in ("in", "on", "has", "free") or before_ordinal else None
    if word == "segment":
        return ns.SEGMENT if before == "for" else None
    if word == "tier":
        return ns.TIER if before in ("for", "reaching") else None
    if word == "store":
        return ns.STORE if before == "in" else None
    if word == "region":
        return ns.REGION
    if word == "param":
        return ns.PARAMETER  # param "..." where a literal stands
    if word == "code":
        return ns.CODE if before == "with" else None  # with code "..."
    return None


def _starts_member_price(interactive) -> bool:
    """Whether a string here would be the items of a member price (`"basic wash" costs 25 NOK`), the one clause
    that starts with names rather than a keyword: the parser, given a string, would take `costs` next."""
    from lark import Token
    from lark.exceptions import LarkError

    after = interactive.copy()
    try:
        after.feed_token(Token("STRING", '"x"'))
    except LarkError:
        return False
    return any(keyword(t) == "costs" for t in after.accepts())


def complete(text: str, offset: int, names: Optional[Names], currency: Optional[str] = None) -> list[Completion]:
    """The completions at `offset`. `names`: those of the document, or of its last version that parsed
    (while a line is being typed the document rarely parses)."""
    if len(text) > MAX_SOURCE_CHARS:
        return []
    where, start = _cursor_context(text, offset)
    if where == "comment":
        return []
    parsed = _parse_prefix(text[:start])
    if parsed is None:
        return []
    tokens, interactive = parsed
    accepts = interactive.accepts()
    out: list[Completion] = []
    if where == "string":
        kind = name_kind(tokens) if "STRING" in accepts else None
        if kind is None and "STRING" in accepts and _starts_member_price(interactive):
            i = len(tokens)
            while i >= 2 and tokens[i - 1].type == "COMMA" and tokens[i - 2].type == "STRING":
                i -= 2  # a list: "a", "b", ...
            kind = ns.CATEGORY if i and str(tokens[i - 1]) == "category" else ns.ITEM
        if kind is None or names is None:
            return []
        # the whole string is replaced, up to its closing quote when the line has one
        end, closing = _string_end(text, offset), ""
        if end is None:
            end, closing = offset, '"'
        for name in names.declared(kind):
            out.append(Completion(name, kind, quote(name)[1:-1] + closing, start + 1, end, kind))
        return out
    for terminal in sorted(accepts):
        word = keyword(terminal)
        if word is not None:
            out.append(Completion(word, KEYWORD, word, start, offset, "keyword"))
    if "NAME" in accepts and names is not None:
        for kind_name in names.declared(ns.POINT_KIND):
            words = [kind_name] + ([kind_name[:-1]] if kind_name.endswith("s") and len(kind_name) > 1 else [])
            for w in words:
                out.append(Completion(w, ns.POINT_KIND, w, start, offset, f'point kind "{kind_name}"'))
    if "CURRENCY" in accepts and currency:
        out.append(Completion(currency, "currency", currency, start, offset, "the program's currency"))
    return out
