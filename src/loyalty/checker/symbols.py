"""The symbol table of a program: every name it declares, in one place.

The checker builds it first (reporting names defined twice) and then resolves
every use against it; the compiler reuses it to turn names into runtime objects.
It reads the AST only.

Namespaces (a name may be reused across namespaces, never within one):
  point kinds, rewards, tiers, items, categories, segments, stores, regions,
  rules (including rules inside campaigns), campaigns, draws.

Decisions:
  - categories are declared by `category "x"` in the catalog *or* by an item's
    `in category "x"`; without a `catalog` block item and category names are not checked;
  - regions are declared by stores: `store "Oslo 1" in region "east"`;
  - segments and stores must be declared before a rule may name them;
  - a unit word names a point kind when it equals the kind's name or equals it once
    an "s" is added (`1 star` and `10 stars` both name `points "stars"`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

from loyalty.diagnostics import Diagnostic
from loyalty.spans import Span
from loyalty.syntax import ast


def resolve_point_kind(unit_word: str, declared_kinds: Iterable[str]) -> Optional[str]:
    """The declared point kind a unit word names, or None.

    >>> resolve_point_kind("star", ["stars"])
    'stars'
    >>> resolve_point_kind("points", ["points"])
    'points'
    >>> resolve_point_kind("miles", ["points"]) is None
    True
    """
    kinds = set(declared_kinds)
    if unit_word in kinds:
        return unit_word
    if unit_word + "s" in kinds:
        return unit_word + "s"
    return None


@dataclass(frozen=True)
class RuleEntry:
    """A rule and the campaign it sits in (None for a top-level rule)."""

    rule: ast.RuleDecl
    campaign: Optional[ast.CampaignDecl]

    @property
    def name(self) -> str:
        return self.rule.name.value

    def inherited_clauses(self) -> tuple:
        """The campaign's conditions and limits, which apply to the rule as well."""
        if self.campaign is None:
            return ()
        return tuple(c for c in self.campaign.clauses if not isinstance(c, ast.RuleDecl))


@dataclass
class Symbols:
    """Every declaration of a program by name; the first of two same-named ones wins.

    Dicts keep source order. `program` is the first `program` block (None when missing).
    """

    program: Optional[ast.ProgramDecl] = None
    currency: Optional[str] = None  # as written; may be an invalid code (the checker reports it)
    timezone: Optional[str] = None  # as written; None when not given
    runs_from: Optional[_dt.date] = None
    runs_to: Optional[_dt.date] = None  # None: open-ended
    rewards_taken_back_on_return: bool = False
    point_kinds: dict[str, ast.PointsDecl] = field(default_factory=dict)
    rewards: dict[str, ast.RewardDecl] = field(default_factory=dict)
    codes: dict[str, ast.CodeDecl] = field(default_factory=dict)
    redeems: list[ast.RedeemDecl] = field(default_factory=list)
    tiers_decl: Optional[ast.TiersDecl] = None
    tiers: dict[str, ast.TierDecl] = field(default_factory=dict)
    has_catalog: bool = False
    items: dict[str, ast.ItemDecl] = field(default_factory=dict)
    # category name -> where it was declared (a CategoryDecl, or the first ItemDecl naming it)
    categories: dict[str, Union[ast.CategoryDecl, ast.ItemDecl]] = field(default_factory=dict)
    segments: dict[str, ast.SegmentDecl] = field(default_factory=dict)
    stores: dict[str, ast.StoreDecl] = field(default_factory=dict)
    # region name -> the stores in it, in source order
    regions: dict[str, list[ast.StoreDecl]] = field(default_factory=dict)
    rules: dict[str, RuleEntry] = field(default_factory=dict)
    campaigns: dict[str, ast.CampaignDecl] = field(default_factory=dict)
    draws: dict[str, ast.DrawDecl] = field(default_factory=dict)

    # every rule, including those inside campaigns and same-named ones, in source order
    rule_entries: list[RuleEntry] = field(default_factory=list)

    def point_kind(self, unit_word: str) -> Optional[str]:
        """The declared point kind `unit_word` names, or None (see `resolve_point_kind`)."""
        return resolve_point_kind(unit_word, self.point_kinds)


def _first_setting(decl: ast.ProgramDecl, kind: type):
    return next((s for s in decl.settings if isinstance(s, kind)), None)


def build_symbols(program: ast.Program) -> tuple[Symbols, list[Diagnostic]]:
    """Collect every declaration; report names defined twice (LOY102)."""
    sym = Symbols()
    problems: list[Diagnostic] = []

    def define(table: dict, what: str, name: ast.Text, decl, first_span_of=None) -> None:
        if name.value in table:
            first = table[name.value]
            first_span = (first_span_of or _name_span)(first)
            problems.append(
                Diagnostic(
                    "LOY102",
                    f'{what} "{name.value}" is defined twice',
                    name.span,
                    hint=f"the first definition is at line {first_span.line}; rename or remove one of them",
                )
            )
            return
        table[name.value] = decl

    programs = [d for d in program.declarations if isinstance(d, ast.ProgramDecl)]
    for extra in programs[1:]:
        problems.append(
            Diagnostic(
                "LOY102",
                "a second `program` block; a file holds exactly one program",
                extra.name.span,
                hint=f"merge its settings into the program at line {programs[0].name.span.line}",
            )
        )
    if programs:
        decl = programs[0]
        sym.program = decl
        currency = _first_setting(decl, ast.CurrencySetting)
        sym.currency = currency.code if currency else None
        tz = _first_setting(decl, ast.TimezoneSetting)
        sym.timezone = tz.name.value if tz else None
        runs = _first_setting(decl, ast.RunsSetting)
        if runs:
            sym.runs_from = runs.start.value
            sym.runs_to = runs.end.value if runs.end else None
        ret = _first_setting(decl, ast.RewardsOnReturnSetting)
        sym.rewards_taken_back_on_return = bool(ret and ret.taken_back)

    for decl in program.declarations:
        if isinstance(decl, ast.PointsDecl):
            define(sym.point_kinds, "point kind", decl.name, decl)
        elif isinstance(decl, ast.RewardDecl):
            define(sym.rewards, "reward", decl.name, decl)
        elif isinstance(decl, ast.RedeemDecl):
            sym.redeems.append(decl)
        elif isinstance(decl, ast.CodeDecl):
            define(sym.codes, "code", decl.code, decl)
        elif isinstance(decl, ast.CatalogDecl):
            sym.has_catalog = True
            for entry in decl.entries:
                if isinstance(entry, ast.CategoryDecl):
                    existing = sym.categories.get(entry.name.value)
                    if isinstance(existing, ast.ItemDecl):
                        sym.categories[entry.name.value] = entry  # an item named it first: fine
                    else:
                        define(sym.categories, "category", entry.name, entry)
                else:
                    define(sym.items, "item", entry.name, entry)
                    sym.categories.setdefault(entry.category.value, entry)
        elif isinstance(decl, ast.SegmentDecl):
            define(sym.segments, "segment", decl.name, decl)
        elif isinstance(decl, ast.StoreDecl):
            define(sym.stores, "store", decl.name, decl)
            if decl.region is not None:
                sym.regions.setdefault(decl.region.value, []).append(decl)
        elif isinstance(decl, ast.TiersDecl):
            if sym.tiers_decl is not None:
                problems.append(
                    Diagnostic(
                        "LOY102",
                        "a second `tiers` block; a program has one ladder of tiers",
                        decl.metric.span,
                        hint=f"put every tier in the block at line {sym.tiers_decl.span.line}",
                    )
                )
                continue
            sym.tiers_decl = decl
            for tier in decl.tiers:
                define(sym.tiers, "tier", tier.name, tier)
        elif isinstance(decl, ast.RuleDecl):
            entry = RuleEntry(decl, None)
            sym.rule_entries.append(entry)
            define(sym.rules, "rule", decl.name, entry, _rule_entry_span)
        elif isinstance(decl, ast.CampaignDecl):
            define(sym.campaigns, "campaign", decl.name, decl)
            for clause in decl.clauses:
                if isinstance(clause, ast.RuleDecl):
                    entry = RuleEntry(clause, decl)
                    sym.rule_entries.append(entry)
                    define(sym.rules, "rule", clause.name, entry, _rule_entry_span)
        elif isinstance(decl, ast.DrawDecl):
            define(sym.draws, "draw", decl.name, decl)
    return sym, problems


def _name_span(decl) -> Span:
    name = getattr(decl, "name", None)
    return name.span if isinstance(name, ast.Text) else decl.span


def _rule_entry_span(entry: RuleEntry) -> Span:
    return entry.rule.name.span
