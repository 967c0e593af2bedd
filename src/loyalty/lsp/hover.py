"""Hover text: what a rule gives, in words, and where a name is declared.

A rule's hover is `loyalty describe`'s sentence and rates (`describe.rule_markdown`) when the document
checks clean; while it has errors (it cannot be compiled), `rule_hover_markdown` words the rule from the
syntax tree, its rates from the same arithmetic (`loyalty.rates`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Optional

from loyalty import rates
from loyalty.checker.symbols import RuleEntry, Symbols
from loyalty.lsp.names import Names, Occurrence
from loyalty.syntax import ast
from loyalty.syntax.formatter import money, number, ordinal, quote

MAX_DECLARATION_LINES = 12


def _source(text: str, node: ast.Node) -> str:
    return text[node.span.start : node.span.end]


def _declaration_text(text: str, node: ast.Node) -> str:
    """The declaration as written, its first lines when it is long."""
    lines = _source(text, node).split("\n")
    if len(lines) > MAX_DECLARATION_LINES:
        lines = lines[: MAX_DECLARATION_LINES - 1] + ["  ..."]
    return "\n".join(lines)


def _fence(code: str) -> str:
    # a fence longer than any run of backticks inside, so a name holding ``` cannot end it
    longest = 0
    run = 0
    for ch in code:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}loyalty\n{code}\n{ticks}"


_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~!&{}()])")


def _name(value: str) -> str:
    """A name as the program writes it, for markdown: the characters markdown would act on (emphasis,
    links, HTML, code) are escaped, so a name shows as written and cannot restyle the hover."""
    return _MARKDOWN.sub(r"\\\1", quote(value))


def _code(source: str) -> str:
    """Inline code: delimited by more backticks than any run inside it, on one line."""
    source = re.sub(r"[ \t\f\r]*\n\s*", " ", source)  # a clause over several lines (strings hold no newline)
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if source.startswith("`") or source.endswith("`") else ""
    return f"{ticks}{pad}{source}{pad}{ticks}"


def _pct(share) -> str:
    return rates.percent_text(rates.fraction(share), 1)


def _names(texts: tuple[ast.Text, ...]) -> str:
    quoted = [_name(t.value) for t in texts]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _selector(s: ast.ItemSelector) -> str:
    if s.kind == "any":
        return "item"
    if s.kind == "categories":
        return "item in category " + _names(s.names)
    return _names(s.names)


def _point_value(symbols: Symbols, unit: str) -> Optional[ast.Money]:
    kind = symbols.point_kind(unit)
    decl = symbols.point_kinds.get(kind) if kind else None
    if decl is None:
        return None
    return next((s.money for s in decl.settings if isinstance(s, ast.PointCost)), None)


def _tier_multipliers(symbols: Symbols, unit: str) -> list[tuple[str, Decimal]]:
    kind = symbols.point_kind(unit)
    out = []
    for name, tier in symbols.tiers.items():
        for b in tier.benefits:
            if isinstance(b, ast.BenefitMultiplier) and (b.unit is None or symbols.point_kind(b.unit) == kind):
                out.append((name, b.multiplier.value))
    return out


def _points(p: ast.PointsAmount) -> str:
    return f"{number(p.amount)} {p.unit}"


def _action_words(action, symbols: Symbols, text: str) -> list[str]:
    """What the action gives, and its rate where the program says enough to compute one (exact Decimals,
    rounded only for display)."""
    if any(isinstance(node, ast.ParamRef) for node in action.walk()):
        # a parameter stands for a value (syntax/params.py): worded as written while the file does not check
        return [_code(_source(text, action)) + " (a parameter's value: see its declaration)"]
    if isinstance(action, ast.PunchFree):
        n = action.ordinal.value
        out = [f"Every {ordinal(n)} {_selector(action.selector)} is free."]
        if n > 0:
            out.append(f"1 in {n} free: **{_pct(rates.punch_share(n, 1))}** of their list price given back.")
        return out
    if isinstance(action, ast.PunchDiscount):
        n = action.ordinal.value
        out = [f"Every {ordinal(n)} {_selector(action.selector)} at {number(action.percent.value)}% off."]
        if n > 0:
            out.append(f"**{_pct(rates.punch_share(n, 1, action.percent.value))}** of their list price given back.")
        return out
    if isinstance(action, ast.PaidThenFree):
        free, paid = action.free.value, action.paid.value
        out = [f"{number(free)} free {_selector(action.selector)} after every {number(paid)} paid."]
        if free + paid > 0:
            out.append(f"{number(free)} in {number(free + paid)} free: "
                       f"**{_pct(rates.fraction(free) / rates.fraction(free + paid))}** of their list price "
                       "given back.")
        return out
    if isinstance(action, ast.EarnPerSpend):
        out = [f"Earns {_points(action.points)} per {money(action.per)} spent."]
        value = _point_value(symbols, action.points.unit)
        if value is not None and value.currency == action.per.currency and action.per.amount > 0:
            rate = rates.points_share(action.points.amount, action.per.amount, value.amount)
            out.append(f"At {money(value)} a point: **{_pct(rate)}** of spend given back.")
            for tier, factor in _tier_multipliers(symbols, action.points.unit):
                out.append(f"In tier {_name(tier)} ({number(factor)}x): {_pct(rate * rates.fraction(factor))}.")
        return out
    if isinstance(action, (ast.EarnPerEvent, ast.EarnFixed)):
        per = f" per {action.event}" if isinstance(action, ast.EarnPerEvent) else ""
        out = [f"Earns {_points(action.points)}{per}."]
        value = _point_value(symbols, action.points.unit)
        if value is not None:
            out.append(f"Worth {number(action.points.amount * value.amount)} {value.currency} at "
                       f"{money(value)} a point.")
        return out
    if isinstance(action, ast.EarnMultiplier):
        unit = f" {action.unit}" if action.unit else " points"
        return [f"Multiplies the{unit} the other rules earn on the same lines by {number(action.multiplier.value)}."]
    if isinstance(action, ast.GiveReward):
        reward = symbols.rewards.get(action.reward.value)
        out = [f"Gives the reward {_name(action.reward.value)}."]
        if reward is not None:
            out.append(_code(_source(text, reward)))
        return out
    if isinstance(action, ast.Discount):
        return [f"**{number(action.percent.value)}%** off the lines it applies to."]
    if isinstance(action, ast.DiscountEach):  # (as written: an amount in points is the checker's LOY201)
        return [f"{_source(text, action.amount)} off each unit of the lines it applies to."]
    if isinstance(action, ast.DiscountOrder):
        return [f"{_source(text, action.amount)} off an order whose lines it applies to total more than "
                f"{_source(text, action.over)}, never more than the order."]
    if isinstance(action, ast.FixedPrice):
        return [f"Members pay {_source(text, action.price)} for each unit of {_selector(action.selector)} "
                f"(never more than the price in the history)."]
    if isinstance(action, ast.BundleBuyGet):
        return [f"In each order, of every {_source(text, action.buy)} + {_source(text, action.free)} units of "
                f"{_source(text, action.selector)} bought, the {_source(text, action.free)} cheapest are free."]
    if isinstance(action, ast.BundlePriceOf):
        return [f"In each order, every {_source(text, action.group)} units of {_selector(action.selector)} "
                f"cost the price of {_source(text, action.paid)}: the cheapest are free."]
    if isinstance(action, ast.DiscountScale):
        steps = ", ".join(f"{number(s.percent.value)}% from {_source(text, s.threshold)}" for s in action.steps)
        return [f"A discount that grows with {_source(text, action.metric)}: {steps}."]
    return []


_TRIGGERS = {
    ast.OnSignup: "when a member signs up",
    ast.OnFirstPurchase: "on a member's first purchase",
}


def _trigger_words(trigger, text: str) -> str:
    if type(trigger) in _TRIGGERS:
        return _TRIGGERS[type(trigger)]
    if isinstance(trigger, ast.OnAction):
        return f"when the action {_name(trigger.name.value)} is reported"
    return _code(_source(text, trigger))


def rule_hover_markdown(entry: RuleEntry, symbols: Symbols, text: str) -> str:
    """The hover of a rule: its name, what it gives in words with its effective rate, when it applies and
    its limits. The one function to swap for `loyalty describe`'s sentence."""
    from loyalty.checker.checks import ACTIONS, LIMITS, STACKING, TRIGGERS

    rule = entry.rule
    head = f"**rule {_name(rule.name.value)}**"
    if entry.campaign is not None:
        head += f" (campaign {_name(entry.campaign.name.value)})"
    lines = [head]
    clauses = rule.clauses + entry.inherited_clauses()
    actions = [c for c in rule.clauses if isinstance(c, ACTIONS)]
    for action in actions:
        lines.extend(_action_words(action, symbols, text))
    if not actions:
        lines.append("No action: this rule gives nothing.")
    triggers = [c for c in rule.clauses if isinstance(c, TRIGGERS)]
    if triggers:
        lines.append("Fires " + ", ".join(_trigger_words(t, text) for t in triggers) + ".")
    elif any(isinstance(a, (ast.EarnFixed, ast.GiveReward)) for a in actions):
        lines.append("Fires on every purchase it applies to.")
    conditions = [c for c in clauses if not isinstance(c, ACTIONS + TRIGGERS + LIMITS + STACKING + (ast.RuleDecl,))]
    if conditions:
        lines.append("Only " + ", ".join(_code(_source(text, c)) for c in conditions) + ".")
    limits = [c for c in clauses if isinstance(c, LIMITS)]
    if limits:
        lines.append("Limited by " + ", ".join(_code(_source(text, c)) for c in limits) + ".")
    stacking = [c for c in clauses if isinstance(c, STACKING)]
    if stacking:  # runtime/mechanics/stacking.py
        offers = "gifts" if any(isinstance(a, ast.GiveReward) for a in actions) else "discounts"
        lines.append(f"When {offers} compete for an order: " + ", ".join(_code(_source(text, c)) for c in stacking)
                     + " (docs/semantics.md, Stacking).")
    return "\n\n".join(lines)


def name_hover_markdown(occurrence: Occurrence, names: Names, text: str) -> str:
    """The hover of a name: its namespace, where it is declared and the declaration as written."""
    found = names.declaration(occurrence.kind, occurrence.name)
    shown = _name(occurrence.name)
    if found is None:
        return f"**{occurrence.kind}** {shown}: not declared in this program."
    decl, name_text = found
    uses = sum(1 for o in names.of(occurrence.kind, occurrence.name) if not o.declaration)
    uses_words = "no uses" if uses == 0 else ("1 use" if uses == 1 else f"{uses} uses")
    return (f"**{occurrence.kind}** {shown}, declared at line {name_text.span.line} ({uses_words})\n\n"
            + _fence(_declaration_text(text, decl)))
