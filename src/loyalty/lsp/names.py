"""Every declaration and use of a name in a parsed program, with its place.

Read from the AST (each name's `Text` node and its span) and resolved with the checker's symbol table
(`checker.symbols`): the declaration a use refers to is the one `build_symbols` keeps, so go to
definition agrees with the checker's "unknown name" and "defined twice". Point kinds are the one
namespace written as bare words (`10 stars`, `2x stars`, `stars earned`, `stars balance`); a unit
word names its kind as the checker says (`resolve_point_kind`: `star` names "stars").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional

from loyalty.checker.symbols import Symbols
from loyalty.syntax import ast

# the namespaces, in the words a user reads (hover, rename refusals)
POINT_KIND = "point kind"
REWARD = "reward"
TIER = "tier"
ITEM = "item"
CATEGORY = "category"
SEGMENT = "segment"
STORE = "store"
REGION = "region"
RULE = "rule"
CAMPAIGN = "campaign"
DRAW = "draw"
PARAMETER = "parameter"
CODE = "code"

# (node class, field) -> namespace of the names it declares
_DECLARES = {
    (ast.PointsDecl, "name"): POINT_KIND,
    (ast.RewardDecl, "name"): REWARD,
    (ast.TierDecl, "name"): TIER,
    (ast.ItemDecl, "name"): ITEM,
    (ast.CategoryDecl, "name"): CATEGORY,
    (ast.SegmentDecl, "name"): SEGMENT,
    (ast.StoreDecl, "name"): STORE,
    (ast.RuleDecl, "name"): RULE,
    (ast.CampaignDecl, "name"): CAMPAIGN,
    (ast.DrawDecl, "name"): DRAW,
    (ast.ParamDecl, "name"): PARAMETER,
    (ast.CodeDecl, "code"): CODE,
}
# an item's category and a store's region declare the name when it is their first mention
# (checker/symbols.py); every later mention is a use
_DECLARES_FIRST = {
    (ast.ItemDecl, "category"): CATEGORY,
    (ast.StoreDecl, "region"): REGION,
}
# (node class, field) -> namespace of the names it uses (a Text or a tuple of them)
_USES = {
    (ast.RedeemDecl, "reward"): REWARD,
    (ast.GiveReward, "reward"): REWARD,
    (ast.OnItems, "names"): ITEM,
    (ast.OnCategories, "names"): CATEGORY,
    (ast.ForSegments, "names"): SEGMENT,
    (ast.ForTiers, "names"): TIER,
    (ast.OnReachingTier, "tier"): TIER,
    (ast.InStores, "names"): STORE,
    (ast.InRegions, "names"): REGION,
    (ast.HasItem, "name"): ITEM,
    (ast.HasCategory, "name"): CATEGORY,
    (ast.ParamRef, "name"): PARAMETER,
    (ast.WithCode, "code"): CODE,
}


@dataclass(frozen=True)
class Occurrence:
    """One mention of a name. `start`/`end` are character offsets of what is written: the quoted string
    with its quotes, or the bare unit word of a point kind."""

    kind: str
    name: str  # the name it resolves to (a point kind's declared name, e.g. "stars" for `star`)
    written: str  # as written: the string's value, or the unit word
    start: int
    end: int
    line: int  # 1-based, of the start
    declaration: bool
    quoted: bool

    def contains(self, offset: int) -> bool:
        return self.start <= offset <= self.end


def _texts(value) -> tuple[ast.Text, ...]:
    if isinstance(value, ast.Text):
        return (value,)
    if isinstance(value, tuple):
        return tuple(v for v in value if isinstance(v, ast.Text))
    return ()


def _skip_blank(text: str, i: int, end: int) -> int:
    """The offset of the next token after whitespace and comments."""
    while i < end:
        if text[i] in " \t\f\r\n":
            i += 1
        elif text[i] == "#":
            newline = text.find("\n", i, end)
            i = end if newline < 0 else newline + 1
        else:
            break
    return i


class Names:
    """The occurrences of a program's names, in source order, and their declarations."""

    def __init__(self, program: ast.Program, symbols: Symbols, text: str):
        self.symbols = symbols
        self.text = text
        # parameters (syntax/params.py): the first declaration of a name is the one references resolve to
        self.params: dict[str, ast.ParamDecl] = {}
        for decl in program.declarations:
            if isinstance(decl, ast.ParamsDecl):
                for p in decl.params:
                    self.params.setdefault(p.name.value, p)
        self.occurrences: list[Occurrence] = sorted(self._collect(program), key=lambda o: (o.start, o.end))

    # ------------------------------------------------------------ collecting
    def _collect(self, program: ast.Program) -> Iterator[Occurrence]:
        seen_first: set[tuple[str, str]] = set()
        for node in program.walk():
            cls = type(node)
            for field_name in cls._node_fields:
                key = (cls, field_name)
                value = getattr(node, field_name)
                if key in _DECLARES:
                    for t in _texts(value):
                        yield self._quoted(_DECLARES[key], t, True)
                elif key in _DECLARES_FIRST:
                    kind = _DECLARES_FIRST[key]
                    for t in _texts(value):
                        first = (kind, t.value) not in seen_first and self._declares(kind, node)
                        seen_first.add((kind, t.value))
                        yield self._quoted(kind, t, first)
                elif key in _USES:
                    for t in _texts(value):
                        yield self._quoted(_USES[key], t, False)
            if isinstance(node, ast.ItemSelector) and node.kind != "any":
                kind = ITEM if node.kind == "items" else CATEGORY
                for t in node.names:
                    yield self._quoted(kind, t, False)
            elif isinstance(node, ast.PointsAmount):
                yield self._unit_at_tail(node.unit, node)
            elif isinstance(node, (ast.EarnMultiplier, ast.BenefitMultiplier)) and node.unit is not None:
                yield self._unit_at_tail(node.unit, node)
            elif isinstance(node, ast.Metric) and node.kind == "earned" and node.unit is not None:
                start = node.span.start
                if node.lifetime:
                    start = _skip_blank(self.text, start + len("lifetime"), node.span.end)
                yield self._unit(node.unit, start)
            elif isinstance(node, ast.Measure) and node.kind == "balance" and node.unit is not None:
                yield self._unit(node.unit, node.span.start)

    def _declares(self, kind: str, node) -> bool:
        """Whether this item (or store) is where the checker's table declares its category (region)."""
        if kind == CATEGORY:
            return any(decl is node for decl in self.symbols.categories.values())
        return any(stores and stores[0] is node for stores in self.symbols.regions.values())

    def _quoted(self, kind: str, t: ast.Text, declaration: bool) -> Occurrence:
        s = t.span
        return Occurrence(kind, t.value, t.value, s.start, s.end, s.line, declaration, True)

    def _unit_at_tail(self, unit: str, node: ast.Node) -> Occurrence:
        return self._unit(unit, node.span.end - len(unit))

    def _unit(self, unit: str, start: int) -> Occurrence:
        name = self.symbols.point_kind(unit) or unit
        line = self.text.count("\n", 0, start) + 1
        return Occurrence(POINT_KIND, name, unit, start, start + len(unit), line, False, False)

    # ------------------------------------------------------------ questions
    def at(self, offset: int) -> Optional[Occurrence]:
        """The occurrence under the cursor (touching its start or end counts)."""
        found = [o for o in self.occurrences if o.contains(offset)]
        if not found:
            return None
        # when two touch the cursor (`"a","b"` with the cursor on the comma), the one it is inside wins
        return min(found, key=lambda o: (not (o.start < offset < o.end), o.end - o.start))

    def of(self, kind: str, name: str) -> list[Occurrence]:
        return [o for o in self.occurrences if o.kind == kind and o.name == name]

    def definition(self, kind: str, name: str) -> Optional[Occurrence]:
        """The declaration the checker resolves `name` to, or None when it is not declared."""
        found = self.declaration(kind, name)
        if found is None:
            return None
        text = found[1]
        return next((o for o in self.occurrences if o.start == text.span.start and o.kind == kind), None)

    def declaration(self, kind: str, name: str) -> Optional[tuple[ast.Node, ast.Text]]:
        """The declaring node (an item, a store, a rule...) and its name's text, as the checker's table
        holds them (the first of two same-named ones), or None."""
        sym = self.symbols
        if kind == POINT_KIND:
            decl = sym.point_kinds.get(name)
            return (decl, decl.name) if decl else None
        if kind == CATEGORY:
            cat = sym.categories.get(name)
            if isinstance(cat, ast.ItemDecl):
                return cat, cat.category
            return (cat, cat.name) if cat else None
        if kind == REGION:
            stores = sym.regions.get(name)
            return (stores[0], stores[0].region) if stores and stores[0].region else None
        if kind == RULE:
            entry = sym.rules.get(name)
            return (entry.rule, entry.rule.name) if entry else None
        if kind == PARAMETER:
            param = self.params.get(name)
            return (param, param.name) if param else None
        if kind == CODE:
            code = sym.codes.get(name)
            return (code, code.code) if code else None
        table: dict[str, Any] = {REWARD: sym.rewards, TIER: sym.tiers, ITEM: sym.items, SEGMENT: sym.segments,
                 STORE: sym.stores, CAMPAIGN: sym.campaigns, DRAW: sym.draws}
        decl = table[kind].get(name)
        return (decl, decl.name) if decl else None

    def declared(self, kind: str) -> list[str]:
        """The declared names of a namespace, in source order."""
        sym = self.symbols
        tables: dict[str, Mapping[str, object]] = {POINT_KIND: sym.point_kinds, REWARD: sym.rewards, TIER: sym.tiers, ITEM: sym.items,
                  CATEGORY: sym.categories, SEGMENT: sym.segments, STORE: sym.stores, REGION: sym.regions,
                  RULE: sym.rules, CAMPAIGN: sym.campaigns, DRAW: sym.draws, PARAMETER: self.params,
                  CODE: sym.codes}
        return list(tables[kind])
