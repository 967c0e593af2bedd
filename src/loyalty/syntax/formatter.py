"""Typed AST to text, in the one canonical layout (docs/formatting.md).

`format_program` prints every construct from the AST, so formatting never changes
meaning: parse(format_program(p)) == p. Comments are not part of the tree; the
parser hands them over in `Program.comments` with their spans, and they are put
back next to the statement they were written beside (see `_Block`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional, Sequence

from loyalty.syntax import ast
from loyalty.syntax.parser import parse

INDENT = "  "
TRAILING_GAP = "  "  # between a statement and the comment that ends its line

# ------------------------------------------------------------------ values

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}
# invisible or line-breaking characters are written as \uXXXX so a name shows what it holds
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def quote(value: str) -> str:
    """A string literal the parser reads back as `value`."""
    out = ['"']
    for ch in value:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ord(ch) <= 0xFFFF and unicodedata.category(ch) in _ESCAPED_CATEGORIES:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def number(value: Decimal) -> str:
    """As written: keeps the scale (1.50 stays 1.50), never an exponent."""
    return format(value, "f")


def param_ref(r: ast.ParamRef) -> str:
    return f"param {quote(r.name.value)}"


def _literal_or_ref(fn):
    """A value printer that also prints a parameter reference standing in the value's place."""
    def printer(value):
        return param_ref(value) if isinstance(value, ast.ParamRef) else fn(value)

    printer.__name__, printer.__doc__ = fn.__name__, fn.__doc__
    return printer


def ordinal(value: int) -> str:
    if value % 100 in (11, 12, 13):
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value}{suffix}"


@_literal_or_ref
def duration(d: ast.Duration) -> str:
    unit = d.unit if d.amount == 1 else d.unit + "s"
    return f"{number(d.amount)} {unit}"


@_literal_or_ref
def money(m: ast.Money) -> str:
    return f"{number(m.amount)} {m.currency}"


@_literal_or_ref
def points(p: ast.PointsAmount) -> str:
    return f"{number(p.amount)} {p.unit}"


@_literal_or_ref
def percent(p: ast.Percent) -> str:
    return f"{number(p.value)}%"


@_literal_or_ref
def multiplier(m: ast.Multiplier) -> str:
    return f"{number(m.value)}x"


@_literal_or_ref
def quantity(q: ast.Quantity) -> str:
    if isinstance(q, ast.Money):
        return money(q)
    if isinstance(q, ast.PointsAmount):
        return points(q)
    if isinstance(q, ast.Percent):
        return percent(q)
    if isinstance(q, ast.Count):
        return number(q.value)
    if isinstance(q, ast.Ordinal):
        return ordinal(q.value)
    if isinstance(q, ast.Duration):
        return duration(q)
    if isinstance(q, ast.Multiplier):
        return multiplier(q)
    raise TypeError(f"not a quantity: {q!r}")


def ordinal_of(o) -> str:
    return param_ref(o) if isinstance(o, ast.ParamRef) else ordinal(o.value)


def count(c) -> str:
    return param_ref(c) if isinstance(c, ast.ParamRef) else number(c.value)


def time_of_day(t: ast.TimeOfDay) -> str:
    return f"{t.hour}:{t.minute:02d}"


def names(items: Sequence[ast.Text]) -> str:
    return ", ".join(quote(t.value) for t in items)


def selector(s: ast.ItemSelector) -> str:
    if s.kind == "any":
        return "item"
    if s.kind == "categories":
        return f"item in category {names(s.names)}"
    return names(s.names)


def metric(m: ast.Metric) -> str:
    words = ["lifetime"] if m.lifetime else []
    words.append(f"{m.unit} earned" if m.kind == "earned" else m.kind)
    if isinstance(m.window, ast.RollingWindow):
        words.append(f"in the last {duration(m.window.duration)}")
    elif isinstance(m.window, ast.CalendarWindow):
        words.append(f"in the calendar {m.window.period}")
    return " ".join(words)


# ------------------------------------------------------------------ expressions

_MEASURES = {"order_total": "order total", "order_items": "order items", "lifetime_spend": "lifetime spend", "visits": "visits"}


def expression(e: ast.Expr) -> str:
    """Minimal parentheses that give the same tree back: `and` binds tighter than `or`,
    `not` tightest; a nested and/or of the same kind keeps its parentheses because the
    parser would otherwise flatten it into its parent."""
    if isinstance(e, ast.Or):
        return " or ".join(_operand(x, (ast.Or,)) for x in e.operands)
    if isinstance(e, ast.And):
        return " and ".join(_operand(x, (ast.Or, ast.And)) for x in e.operands)
    if isinstance(e, ast.Not):
        return "not " + _operand(e.operand, (ast.Or, ast.And))
    if isinstance(e, ast.Comparison):
        m = e.measure
        measure = f"{m.unit} balance" if m.kind == "balance" else _MEASURES[m.kind]
        return f"{measure} {e.op} {quantity(e.value)}"
    if isinstance(e, ast.HasItem):
        return f"order has {quote(e.name.value)}"
    if isinstance(e, ast.HasCategory):
        return f"order has category {quote(e.name.value)}"
    if isinstance(e, ast.IsFirstPurchase):
        return "first purchase"
    raise TypeError(f"not an expression: {e!r}")


def _operand(e: ast.Expr, needs_parentheses: tuple[type, ...]) -> str:
    text = expression(e)
    return f"({text})" if isinstance(e, needs_parentheses) else text


# ------------------------------------------------------------------ statements


@dataclass(frozen=True)
class _Shape:
    """How a statement prints: its first line, and the statements of its block if it has one."""

    head: str
    children: Optional[tuple[ast.Node, ...]] = None  # None: a one-line statement
    braces_required: bool = True  # False: `points "x"` and `tier "x" from 1` may omit an empty block


_ONE_LINE_DECLARATIONS = (ast.SegmentDecl, ast.StoreDecl, ast.RewardDecl, ast.RedeemDecl, ast.CodeDecl)

_BALANCE_POLICIES = {
    "negative": "balance may go negative",
    "zero": "balance stops at zero",
    "pending_only": "returns take from pending only",
}


def _shape(node: ast.Node) -> _Shape:  # noqa: C901 - one branch per statement kind, mirroring the grammar
    n = node
    # declarations
    if isinstance(n, ast.ProgramDecl):
        return _Shape(f"program {quote(n.name.value)}", n.settings)
    if isinstance(n, ast.PointsDecl):
        return _Shape(f"points {quote(n.name.value)}", n.settings, braces_required=False)
    if isinstance(n, ast.CatalogDecl):
        return _Shape("catalog", n.entries)
    if isinstance(n, ast.SegmentDecl):
        return _Shape(f"segment {quote(n.name.value)}")
    if isinstance(n, ast.StoreDecl):
        region = f" in region {quote(n.region.value)}" if n.region is not None else ""
        return _Shape(f"store {quote(n.name.value)}{region}")
    if isinstance(n, ast.RewardDecl):
        cost = f" costing {money(n.cost)}" if n.cost is not None else ""
        valid = (f" valid for {duration(n.valid_for)}" if n.valid_for is not None else
                 f" valid until {n.valid_until.text}" if n.valid_until is not None else "")
        stock = f" limited to {count(n.stock)}" if n.stock is not None else ""
        return _Shape(f"reward {quote(n.name.value)} is {_reward_kind(n.kind)}{cost}{stock}{valid}")
    if isinstance(n, ast.CodeDecl):
        uses = f" limited to {count(n.uses)} uses" if n.uses is not None else ""
        return _Shape(f"code {quote(n.code.value)}{uses}")
    if isinstance(n, ast.RedeemDecl):
        return _Shape(f"redeem {points(n.price)} for {quote(n.reward.value)}")
    if isinstance(n, ast.RuleDecl):
        return _Shape(f"rule {quote(n.name.value)}", n.clauses)
    if isinstance(n, ast.CampaignDecl):
        return _Shape(f"campaign {quote(n.name.value)}", n.clauses)
    if isinstance(n, ast.TiersDecl):
        children: tuple[ast.Node, ...] = n.tiers + ((n.downgrade,) if n.downgrade is not None else ())
        return _Shape(f"tiers by {metric(n.metric)}", children)
    if isinstance(n, ast.TierDecl):
        return _Shape(f"tier {quote(n.name.value)} from {quantity(n.threshold)}", n.benefits, braces_required=False)
    if isinstance(n, ast.DrawDecl):
        return _Shape(f"draw {quote(n.name.value)}", n.clauses)
    if isinstance(n, ast.ParamsDecl):
        return _Shape("params", n.params)
    if isinstance(n, ast.DiscountScale):
        return _Shape(f"get discount by {metric(n.metric)}", n.steps)
    return _Shape(_line(n))


def _reward_kind(k: ast.RewardKind) -> str:
    if isinstance(k, ast.FreeItemReward):
        return f"a free {selector(k.selector)}"
    if isinstance(k, ast.AmountOffReward):
        return f"{money(k.money)} off the next order"
    if isinstance(k, ast.PercentOffReward):
        return f"{percent(k.percent)} off the next order"
    if isinstance(k, ast.GiftCardReward):
        partner = f" from {quote(k.partner.value)}" if k.partner is not None else ""
        return f"a {money(k.face_value)} gift card{partner}"
    if isinstance(k, ast.GiftReward):
        return f"a gift {quote(k.gift.value)}"
    if isinstance(k, ast.PerkReward):
        return "a perk"
    raise TypeError(f"not a reward kind: {k!r}")


def _line(n: ast.Node) -> str:  # noqa: C901 - one branch per statement kind, mirroring the grammar
    """The text of a one-line statement (setting, clause, entry, benefit...)."""
    # program settings
    if isinstance(n, ast.CurrencySetting):
        return f"currency {n.code}"
    if isinstance(n, ast.TimezoneSetting):
        return f"timezone {quote(n.name.value)}"
    if isinstance(n, ast.RunsSetting):
        end = f" to {n.end.text}" if n.end is not None else ""
        return f"runs from {n.start.text}{end}"
    if isinstance(n, ast.RewardsOnReturnSetting):
        return "rewards are taken back on return" if n.taken_back else "rewards are kept on return"
    if isinstance(n, ast.AcceptanceWindow):
        return f"{n.what} accepted within {duration(n.duration)}"
    if isinstance(n, ast.MembersJoinAtSignup):
        return "members join at signup"
    if isinstance(n, ast.PreSignupWindow):
        return f"purchases up to {duration(n.duration)} before signup count"
    if isinstance(n, ast.StackingSetting):
        return {"one per order": "at most one discount per order", "one per line": "at most one discount per line",
                "stack": "discounts stack"}[n.policy]
    if isinstance(n, ast.GiftStackingSetting):
        return "at most one gift per order" if n.policy == "one per order" else "gifts stack"
    # point settings
    if isinstance(n, ast.PointCost):
        return f"cost {money(n.money)} each"
    if isinstance(n, ast.ExpireAfterEarning):
        return f"expire {duration(n.duration)} after earning"
    if isinstance(n, ast.ExpireAfterInactivity):
        return f"expire after {duration(n.duration)} without a purchase"
    if isinstance(n, ast.ExpireAtPeriodEnd):
        return f"expire at the end of the {'next ' if n.next else ''}calendar {n.period}"
    if isinstance(n, ast.PendingSetting):
        return f"available {duration(n.duration)} after purchase"
    if isinstance(n, ast.RoundingSetting):
        return f"round {n.mode} per {n.scope}"
    if isinstance(n, ast.BalancePolicy):
        return _BALANCE_POLICIES[n.policy]
    if isinstance(n, ast.ParamDecl):
        return f"{quote(n.name.value)} = {quantity(n.value)}"
    # catalog
    if isinstance(n, ast.CategoryDecl):
        return f"category {quote(n.name.value)}"
    if isinstance(n, ast.ItemDecl):
        cost = f" costing {money(n.cost)}" if n.cost is not None else ""
        return f"item {quote(n.name.value)} in category {quote(n.category.value)}{cost}"
    # actions
    if isinstance(n, ast.PunchFree):
        return f"every {ordinal_of(n.ordinal)} {selector(n.selector)} is free"
    if isinstance(n, ast.PunchDiscount):
        return f"every {ordinal_of(n.ordinal)} {selector(n.selector)} at {percent(n.percent)} off"
    if isinstance(n, ast.PaidThenFree):
        return f"{count(n.free)} free {selector(n.selector)} after every {count(n.paid)} paid"
    if isinstance(n, ast.EarnPerSpend):
        return f"earn {points(n.points)} per {money(n.per)}"
    if isinstance(n, ast.EarnPerEvent):
        return f"earn {points(n.points)} per {n.event}"
    if isinstance(n, ast.EarnFixed):
        return f"earn {points(n.points)}"
    if isinstance(n, (ast.EarnMultiplier, ast.BenefitMultiplier)):
        unit = f" {n.unit}" if n.unit is not None else ""
        return f"earn {multiplier(n.multiplier)}{unit}"
    if isinstance(n, ast.GiveReward):
        return f"give {quote(n.reward.value)}"
    if isinstance(n, (ast.Discount, ast.BenefitDiscount)):
        return f"get {percent(n.percent)} off"
    if isinstance(n, ast.DiscountEach):
        return f"get {quantity(n.amount)} off each"  # (points only for the checker to refuse: LOY201)
    if isinstance(n, ast.DiscountOrder):
        return f"get {quantity(n.amount)} off orders over {quantity(n.over)}"
    if isinstance(n, ast.FixedPrice):
        return f"{selector(n.selector)} costs {quantity(n.price)}"
    if isinstance(n, ast.BundleBuyGet):
        return f"buy {count(n.buy)} {selector(n.selector)}, get {count(n.free)} free"
    if isinstance(n, ast.BundlePriceOf):
        return f"{count(n.group)} {selector(n.selector)} for the price of {count(n.paid)}"
    if isinstance(n, ast.ScaleStep):
        return f"{percent(n.percent)} off from {quantity(n.threshold)}"
    # triggers
    if isinstance(n, ast.OnSignup):
        return "on signup"
    if isinstance(n, ast.OnFirstPurchase):
        return "on first purchase"
    if isinstance(n, ast.OnAction):
        return f"on action {quote(n.name.value)}"
    if isinstance(n, ast.OnNthVisit):
        return f"on the {ordinal_of(n.ordinal)} visit"
    if isinstance(n, ast.OnEachBirthday):
        return "on each birthday"
    if isinstance(n, ast.OnEachAnniversary):
        return "on each membership anniversary"
    if isinstance(n, ast.OnReachingTier):
        return f"on reaching tier {quote(n.tier.value)}"
    if isinstance(n, (ast.OnReferring, ast.OnReferred)):
        head = "on referring a friend" if isinstance(n, ast.OnReferring) else "on being referred"
        q = n.qualifying
        if q is None:
            return head
        verb = "who spends" if isinstance(n, ast.OnReferring) else "and spending"
        return f"{head} {verb} at least {money(q.money)} within {duration(q.duration)}"
    if isinstance(n, ast.OnNthPurchase):
        return f"on the {ordinal_of(n.ordinal)} purchase"
    if isinstance(n, ast.AfterEveryVisits):
        return f"after every {count(n.count)} visits"
    if isinstance(n, ast.AfterEverySpend):
        return f"after every {money(n.money)} spent"
    if isinstance(n, ast.AfterInactivity):
        return f"after {duration(n.duration)} without a purchase"
    if isinstance(n, ast.AfterGoal):
        t = n.target
        if isinstance(t, ast.GoalCount):
            counted = t.counted[:-1] if t.count.value == 1 else t.counted
            target = f"{number(t.count.value)} {counted}" + (" on different days" if t.different_days else "")
        else:
            target = f"{money(t.money)} spent"
        w = n.window
        window = f"in a calendar {w.period}" if isinstance(w, ast.GoalInCalendar) else f"within {duration(w.duration)}"
        return f"after {target} {window}"
    if isinstance(n, ast.AfterStreak):
        periods = n.period if n.count.value == 1 else n.period + "s"
        return f"after a {n.counted} in {number(n.count.value)} consecutive {periods}"
    # conditions
    if isinstance(n, ast.DateWindow):
        end = f" to {n.end.text}" if n.end is not None else ""
        return f"from {n.start.text}{end}"
    if isinstance(n, ast.UntilDate):
        return f"until {n.end.text}"
    if isinstance(n, ast.OnItems):
        return f"on {names(n.names)}"
    if isinstance(n, ast.OnCategories):
        return f"on category {names(n.names)}"
    if isinstance(n, ast.OnWeekdays):
        return "on " + ", ".join(n.days)
    if isinstance(n, ast.BetweenHours):
        return f"between {time_of_day(n.start)} and {time_of_day(n.end)}"
    if isinstance(n, ast.ForSegments):
        return f"for segment {names(n.names)}"
    if isinstance(n, ast.ForTiers):
        return f"for tier {names(n.names)}"
    if isinstance(n, ast.InStores):
        return f"in store {names(n.names)}"
    if isinstance(n, ast.InRegions):
        return f"in region {names(n.names)}"
    if isinstance(n, ast.OnChannels):
        return f"on channel {names(n.names)}"
    if isinstance(n, ast.InBirthdayMonth):
        return "in birthday month"
    if isinstance(n, ast.OnBirthday):
        return "on birthday"
    if isinstance(n, ast.WithCode):
        return f"with code {quote(n.code.value)}"
    if isinstance(n, ast.Exclusive):
        return "exclusive"
    if isinstance(n, ast.Priority):
        return f"priority {count(n.rank)}"
    if isinstance(n, ast.BestOf):
        return "best of"
    if isinstance(n, ast.When):
        return f"when {expression(n.expr)}"
    # limits
    if isinstance(n, ast.Cap):
        a = n.amount
        if isinstance(a, ast.CapOnce):
            amount = "once"
        elif isinstance(a, ast.CapTimes):
            amount = f"{count(a.count)} times"
        else:
            amount = quantity(a)
        period = f" per {n.period}" if n.period is not None else ""
        return f"at most {amount} per member{period}"
    if isinstance(n, ast.Budget):
        return f"budget {quantity(n.amount)}"
    # tiers and draws
    if isinstance(n, ast.BenefitPerk):
        cost = f" costing {money(n.cost_per_order)} per order" if n.cost_per_order is not None else ""
        return f"perk {quote(n.name.value)}{cost}"
    if isinstance(n, ast.BenefitFee):
        return f"fee {money(n.money)} per {n.period}"
    if isinstance(n, ast.Downgrade):
        grace = f" with {duration(n.grace)} grace" if n.grace is not None else ""
        return f"downgrade at the end of each {n.period}{grace}"
    if isinstance(n, ast.DrawSchedule):
        return f"held every {n.period}"
    if isinstance(n, ast.DrawPrize):
        return f"prize {money(n.money)}"
    if isinstance(n, ast.DrawWinners):
        return f"winners {count(n.count)}"
    if isinstance(n, ast.DrawRate):
        return f"{count(n.entries)} entry per {money(n.per)}"
    raise TypeError(f"cannot format {type(n).__name__}")


# ------------------------------------------------------------------ comments and layout


def _comment_text(c: ast.Comment) -> str:
    return c.text.rstrip(" \t\r\f\v")


@dataclass
class _Item:
    """One or more output lines that start at source line `first` and end at `last`."""

    first: int
    last: int
    lines: list[str]
    declaration: Optional[ast.Node] = None  # set for a top-level declaration
    starts_group: bool = False  # the first item of a declaration with its leading comments


@dataclass
class _Placed:
    """The comments that go with one statement."""

    leading: list[ast.Comment] = field(default_factory=list)  # own lines, before it
    inner: list[ast.Comment] = field(default_factory=list)  # written inside it
    trailing: Optional[ast.Comment] = None  # at the end of its last line


def _place(children: Sequence[ast.Node], comments: list[ast.Comment]) -> tuple[list[_Placed], list[ast.Comment]]:
    """Share the comments of a block (sorted by offset) among its statements; what is left
    after the last statement stays at the end of the block."""
    placed = [_Placed() for _ in children]
    i = 0
    for k, child in enumerate(children):
        span = child.span
        while i < len(comments) and comments[i].span.start < span.start:
            placed[k].leading.append(comments[i])
            i += 1
        while i < len(comments) and comments[i].span.start < span.end:
            placed[k].inner.append(comments[i])
            i += 1
        next_start = children[k + 1].span.start if k + 1 < len(children) else None
        if (
            i < len(comments)
            and comments[i].span.line == span.end_line
            and (next_start is None or comments[i].span.start < next_start)
        ):
            placed[k].trailing = comments[i]
            i += 1
    return placed, comments[i:]


def _statement_lines(node: ast.Node, place: _Placed, depth: int) -> list[str]:
    indent = INDENT * depth
    lines = [indent + _comment_text(c) for c in place.leading]
    shape = _shape(node)
    trailing = TRAILING_GAP + _comment_text(place.trailing) if place.trailing is not None else ""
    if shape.children is None:
        # a comment written inside a one-line statement moves to just before it
        lines.extend(indent + _comment_text(c) for c in place.inner)
        lines.append(indent + shape.head + trailing)
        return lines
    inner = place.inner
    header: Optional[ast.Comment] = None
    if inner and inner[0].span.line == node.span.line and (
        not shape.children or inner[0].span.start < shape.children[0].span.start
    ):
        header, inner = inner[0], inner[1:]
    if not shape.children and not inner and header is None:
        lines.append(indent + shape.head + ("" if not shape.braces_required else " {}") + trailing)
        return lines
    lines.append(indent + shape.head + " {" + (TRAILING_GAP + _comment_text(header) if header else ""))
    lines.extend(_body(shape.children, inner, depth + 1))
    lines.append(indent + "}" + trailing)
    return lines


def _items(children: Sequence[ast.Node], comments: list[ast.Comment], depth: int, top_level: bool) -> list[_Item]:
    placed, rest = _place(children, comments)
    items: list[_Item] = []
    indent = INDENT * depth
    for child, place in zip(children, placed):
        for n, c in enumerate(place.leading):
            items.append(_Item(c.span.line, c.span.line, [indent + _comment_text(c)], starts_group=n == 0))
        lead_free = _Placed(inner=place.inner, trailing=place.trailing)
        items.append(
            _Item(
                child.span.line,
                child.span.end_line,
                _statement_lines(child, lead_free, depth),
                declaration=child if top_level else None,
                starts_group=not place.leading,
            )
        )
    for c in rest:
        items.append(_Item(c.span.line, c.span.line, [indent + _comment_text(c)]))
    return items


def _body(children: Sequence[ast.Node], comments: list[ast.Comment], depth: int, top_level: bool = False) -> list[str]:
    items = _items(children, comments, depth, top_level)
    lines: list[str] = []
    previous: Optional[_Item] = None
    previous_declaration: Optional[ast.Node] = None
    for index, item in enumerate(items):
        if previous is not None:
            blank = item.first > previous.last + 1  # the author left a blank line: keep one
            if top_level and item.starts_group and previous_declaration is not None:
                following = item.declaration or _next_declaration(items, index)
                if following is not None and not _same_one_line_kind(previous_declaration, following):
                    blank = True
            if blank:
                lines.append("")
        lines.extend(item.lines)
        previous = item
        if item.declaration is not None:
            previous_declaration = item.declaration
    return lines


def _next_declaration(items: list[_Item], index: int) -> Optional[ast.Node]:
    for item in items[index:]:
        if item.declaration is not None:
            return item.declaration
    return None


def _same_one_line_kind(a: ast.Node, b: ast.Node) -> bool:
    """Runs of one-line declarations of one kind (rewards, redeems...) may stay together."""
    return type(a) is type(b) and isinstance(a, _ONE_LINE_DECLARATIONS)


def format_program(program: ast.Program) -> str:
    """The program in the canonical layout, with its comments; "" for an empty program."""
    comments = sorted(program.comments, key=lambda c: (c.span.start, c.span.line, c.span.column))
    lines = _body(program.declarations, comments, 0, top_level=True)
    return "\n".join(lines) + "\n" if lines else ""


def format_source(text: str, file: str = "<string>") -> str:
    """Parse and format; raises `LoyaltyError` with the syntax diagnostics."""
    return format_program(parse(text, file))
