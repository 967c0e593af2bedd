"""The outline of a program (the editor's "document symbols"): its declarations, with the rules of
campaigns, the entries of the catalog and the tiers nested under them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from loyalty.syntax import ast


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str  # the declaration's keyword: "rule", "item", "tiers"...
    node: ast.Node  # its span is the symbol's range
    name_node: Optional[ast.Node]  # the name's span, selected when the symbol is chosen
    children: list["Symbol"] = field(default_factory=list)


_KEYWORDS = {
    ast.ProgramDecl: "program", ast.PointsDecl: "points", ast.SegmentDecl: "segment", ast.StoreDecl: "store",
    ast.RewardDecl: "reward", ast.RuleDecl: "rule", ast.CampaignDecl: "campaign", ast.DrawDecl: "draw",
    ast.CategoryDecl: "category", ast.ItemDecl: "item", ast.TierDecl: "tier",
}


def _symbol(node: ast.Node) -> Optional[Symbol]:
    kind = _KEYWORDS.get(type(node))
    if kind is not None:
        name = node.name  # type: ignore[attr-defined]
        children = []
        if isinstance(node, ast.CampaignDecl):
            children = [s for c in node.clauses if isinstance(c, ast.RuleDecl) for s in [_symbol(c)] if s]
        return Symbol(name.value, kind, node, name, children)
    if isinstance(node, ast.CatalogDecl):
        return Symbol("catalog", "catalog", node, None, [s for e in node.entries for s in [_symbol(e)] if s])
    if isinstance(node, ast.TiersDecl):
        return Symbol("tiers", "tiers", node, node.metric, [s for t in node.tiers for s in [_symbol(t)] if s])
    if isinstance(node, ast.RedeemDecl):
        return Symbol(f"redeem for {node.reward.value}", "redeem", node, node.reward)
    return None


def outline(program: ast.Program) -> list[Symbol]:
    return [s for d in program.declarations for s in [_symbol(d)] if s]
