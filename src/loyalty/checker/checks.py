"""The checks: names, units, values and meaning. One `_Checker` walks the program
once per concern and collects diagnostics; `check` sorts them.

Every check is written for ASTs the parser can produce, including odd ones
(no program block, huge numbers, negative amounts): it reports, never raises.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import unicodedata
import functools
import os
import re
import zoneinfo
from decimal import Decimal
from typing import Iterable, Optional, Union

from loyalty import currencies, rates
from loyalty.checker.symbols import RuleEntry, Symbols, build_symbols
from loyalty.diagnostics import Diagnostic, sort_diagnostics
from loyalty.runtime.internal import code_problem  # the runtime refuses what the checker does
from loyalty.runtime.timeutil import is_iana_zone, machine_only_zone_name  # the runtime refuses what the checker does
from loyalty.spans import Span
from loyalty.syntax import ast

ACTIONS = (
    ast.PunchFree,
    ast.PunchDiscount,
    ast.PaidThenFree,
    ast.EarnPerSpend,
    ast.EarnPerEvent,
    ast.EarnFixed,
    ast.EarnMultiplier,
    ast.GiveReward,
    ast.Discount,
    ast.DiscountEach,
    ast.DiscountScale,
    ast.DiscountOrder,
    ast.FixedPrice,
    ast.BundleBuyGet,
    ast.BundlePriceOf,
)
TRIGGERS = (ast.OnSignup, ast.OnFirstPurchase, ast.OnAction, ast.OnNthVisit, ast.AfterEveryVisits, ast.AfterEverySpend,
            ast.AfterInactivity, ast.OnNthPurchase, ast.OnEachBirthday, ast.OnEachAnniversary, ast.OnReachingTier,
            ast.AfterGoal, ast.AfterStreak, ast.OnReferring, ast.OnReferred)
LIMITS = (ast.Cap, ast.Budget)
# stacking clauses (runtime/mechanics/stacking.py): neither conditions nor limits
STACKING = (ast.Exclusive, ast.Priority, ast.BestOf)
# the actions stacking decides between: what the discount phase takes off the lines
DISCOUNT_ACTIONS = (ast.Discount, ast.DiscountEach, ast.DiscountScale, ast.DiscountOrder, ast.FixedPrice,
                    ast.BundleBuyGet, ast.BundlePriceOf)
# ... and between gifts given on one order: a `give` rule whose trigger (if any) fires on a purchase's give step
GIFT_PURCHASE_TRIGGERS = (ast.OnFirstPurchase, ast.OnNthVisit, ast.AfterEveryVisits, ast.AfterEverySpend,
                          ast.OnNthPurchase)

# actions that may take a trigger (without one they fire on every qualifying purchase)
TRIGGERED_ACTIONS = (ast.EarnFixed, ast.GiveReward)
# actions acting on a purchase that may take a purchase trigger: a discount on the first or the Nth purchase
PURCHASE_TRIGGERED_ACTIONS = (ast.Discount, ast.DiscountEach)
PURCHASE_TRIGGERS = (ast.OnFirstPurchase, ast.OnNthPurchase)
# actions that may be narrowed to some items with `on "item"` / `on category "x"`
ITEM_FILTERED_ACTIONS = (ast.EarnPerSpend, ast.EarnMultiplier, ast.Discount, ast.DiscountEach, ast.DiscountOrder)
POINTS_ACTIONS = (ast.EarnPerSpend, ast.EarnPerEvent, ast.EarnFixed, ast.EarnMultiplier)
MONEY_VALUE_ACTIONS = (ast.PunchFree, ast.PunchDiscount, ast.PaidThenFree, ast.Discount, ast.DiscountEach,
                       ast.DiscountScale, ast.GiveReward, ast.DiscountOrder, ast.FixedPrice, ast.BundleBuyGet,
                       ast.BundlePriceOf)

_ACTION_WORDS = {
    ast.PunchFree: "a punch card (`every Nth ... is free`)",
    ast.PunchDiscount: "a punch card (`every Nth ... at P% off`)",
    ast.PaidThenFree: "a paid-then-free card (`N free ... after every M paid`)",
    ast.EarnPerSpend: "points per spend (`earn ... per <money>`)",
    ast.EarnPerEvent: "points per referral or visit",
    ast.EarnFixed: "a fixed number of points",
    ast.EarnMultiplier: "a points multiplier",
    ast.GiveReward: "a reward (`give ...`)",
    ast.Discount: "a discount (`get P% off`)",
    ast.DiscountEach: "an amount off each unit (`get 10 NOK off each`)",
    ast.DiscountScale: "a discount scale",
    ast.DiscountOrder: "an amount off the order (`get 50 NOK off orders over 500 NOK`)",
    ast.FixedPrice: "a member price (`\"item\" costs 25 NOK`)",
    ast.BundleBuyGet: "a bundle (`buy N ..., get M free`)",
    ast.BundlePriceOf: "a bundle (`N ... for the price of M`)",
}

_TRIGGER_WORDS = {
    ast.OnSignup: "`on signup`",
    ast.OnFirstPurchase: "`on first purchase`",
    ast.OnAction: "`on action`",
    ast.OnNthVisit: "`on the Nth visit`",
    ast.AfterEveryVisits: "`after every N visits`",
    ast.AfterEverySpend: "`after every <money> spent`",
    ast.AfterInactivity: "`after <duration> without a purchase`",
    ast.OnNthPurchase: "`on the Nth purchase`",
    ast.OnEachBirthday: "`on each birthday`",
    ast.OnEachAnniversary: "`on each membership anniversary`",
    ast.OnReachingTier: "`on reaching tier`",
    ast.AfterGoal: "a goal (`after 3 visits in a calendar month`)",
    ast.AfterStreak: "a streak (`after a purchase in 4 consecutive weeks`)",
    ast.OnReferring: "`on referring a friend`",
    ast.OnReferred: "`on being referred`",
}

_WEEKDAYS = {
    "mondays": {0},
    "tuesdays": {1},
    "wednesdays": {2},
    "thursdays": {3},
    "fridays": {4},
    "saturdays": {5},
    "sundays": {6},
    "weekdays": {0, 1, 2, 3, 4},
    "weekends": {5, 6},
}

_UNIT_NAME = re.compile(r"[a-z][a-z_]*\Z")

Unit = tuple[str, Optional[str]]  # ("money", code) | ("points", kind) | ("count", None) | ("percent", None)


def _bad_name(node: ast.Text) -> Diagnostic:
    return Diagnostic("LOY107", "a name must have visible text and no control characters (tabs, newlines, \\0 ...)",
                      node.span, hint="write the name as it should appear in reports, e.g. \"free coffee\"")


def check(program: ast.Program, source: Optional[str] = None) -> list[Diagnostic]:
    """Every diagnostic of a parsed program, sorted by place. With `source`, the text the program was
    parsed from, also the hidden characters in its strings and comments (LOY008, checker/hidden.py)."""
    from loyalty.syntax.params import origin_hint, substitute

    resolved = substitute(program)  # parameters' values in place of their references
    found = list(resolved.diagnostics)
    if resolved.program is not None:
        found += [origin_hint(resolved.origins, d) for d in _Checker(resolved.program).run()]
    # the params block is not part of the resolved program: its names are checked here
    found += [_bad_name(p.name) for d in program.declarations if isinstance(d, ast.ParamsDecl) for p in d.params
              if not p.name.value.strip() or _has_control(p.name.value)]
    if source is not None:
        from loyalty.checker.hidden import hidden_characters

        found += hidden_characters(program, source)
    return sort_diagnostics(found)


# ------------------------------------------------------------------ helpers


def _is_whole(d: Decimal) -> bool:
    return d == d.to_integral_value()


def decimal_places(d: Decimal) -> int:
    """Significant digits after the point: 1.50 -> 1, 2.000 -> 0, 0.004 -> 3."""
    sign, digits, exponent = d.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    places = -exponent
    digits = list(digits)
    while places > 0 and digits and digits[-1] == 0:
        digits.pop()
        places -= 1
    return places


def _fmt(d: Decimal) -> str:
    text = format(d, "f")
    return text if len(text) <= 30 else text[:27] + "..."


def _did_you_mean(word: str, candidates: Iterable[str]) -> Optional[str]:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def _tail_span(span: Span, length: int) -> Span:
    """The last `length` characters of a one-line span (e.g. the unit in `10 stars`)."""
    if span.line != span.end_line or span.end_column - length < span.column:
        return span
    return Span(span.file, span.end_line, span.end_column - length, span.end_line, span.end_column,
                max(span.end - length, 0), span.end)


def _head_span(span: Span, length: int) -> Span:
    if span.line != span.end_line or span.column + length > span.end_column:
        return span
    return Span(span.file, span.line, span.column, span.line, span.column + length, span.start, span.start + length)


@functools.lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    try:
        return frozenset(zoneinfo.available_timezones())
    except Exception:  # pragma: no cover - a platform without tz data
        return frozenset()


@functools.lru_cache(maxsize=1)
def _tzdata_zones() -> frozenset[str]:
    """The zones listed by the tzdata package (a dependency). zoneinfo.available_timezones() starts
    from this same list and adds the system's, so a name in it is a time zone without the walk of the
    system's tz directories that `_timezones` costs (~20 ms, most of a small program's check)."""
    try:
        import tzdata

        with open(os.path.join(os.path.dirname(tzdata.__file__), "zones"), encoding="utf-8") as f:
            return frozenset(zone for zone in (line.strip() for line in f) if zone)
    except Exception:  # pragma: no cover - no tzdata package: the full list decides
        return frozenset()


def is_timezone(name: str) -> bool:
    if name != "posixrules" and name in _tzdata_zones():  # available_timezones() drops "posixrules"
        return True
    names = _timezones()
    if names:
        return name in names
    try:  # pragma: no cover - only without an enumerable tz database
        zoneinfo.ZoneInfo(name)
        return True
    except Exception:
        return False


def _machine_zone_hint(name: str) -> str:
    rest = name.split("/", 1)[1] if "/" in name else ""
    if rest and is_iana_zone(rest):
        return f'did you mean "{rest}"? results must not depend on the machine running the program'
    return ('name the zone the program runs in, such as "Europe/Oslo" or "America/New_York": '
            f'"{name}" is whatever the machine running the program is set to')


def _timezone_hint(name: str) -> str:
    names = _timezones()
    lowered = {n.lower(): n for n in names}
    if name.lower() in lowered:
        return f'did you mean "{lowered[name.lower()]}"? time zone names are case-sensitive'
    close = _did_you_mean(name, names)
    if close:
        return f'did you mean "{close}"?'
    return 'use an IANA time zone name such as "Europe/Oslo" or "America/New_York"'


def _unit_words(unit: Unit) -> str:
    kind, name = unit
    if kind == "money":
        return f"money ({name})" if name else "money"
    if kind == "points":
        return f"in {name}" if name else "points"
    if kind == "count":
        return "a plain number"
    return "a percentage"


def _quantity_unit(q, sym: Symbols) -> Unit:
    if isinstance(q, ast.Money):
        return ("money", q.currency)
    if isinstance(q, ast.PointsAmount):
        return ("points", sym.point_kind(q.unit))
    if isinstance(q, ast.Count):
        return ("count", None)
    return ("percent", None)


def _quantity_value(q) -> Optional[Decimal]:
    if isinstance(q, (ast.Money, ast.PointsAmount)):
        return q.amount
    if isinstance(q, (ast.Count, ast.Percent)):
        return q.value
    return None


def _quantity_text(q) -> str:
    if isinstance(q, ast.Money):
        return f"{_fmt(q.amount)} {q.currency}"
    if isinstance(q, ast.PointsAmount):
        return f"{_fmt(q.amount)} {q.unit}"
    if isinstance(q, ast.Percent):
        return f"{_fmt(q.value)}%"
    if isinstance(q, ast.Count):
        return _fmt(q.value)
    return "?"


# ------------------------------------------------------------------ the checker


def _has_control(text: str) -> bool:
    # names become keys of report tables and columns of CSV files: no control characters
    return any(unicodedata.category(ch) == "Cc" for ch in text)


class _Checker:
    def __init__(self, program: ast.Program):
        self.program = program
        self.out: list[Diagnostic] = []
        self.sym, problems = build_symbols(program)
        self.out.extend(problems)
        self.file = program.span.file

    def report(self, code: str, message: str, span: Span, hint: Optional[str] = None) -> None:
        self.out.append(Diagnostic(code, message, span, hint))

    def run(self) -> list[Diagnostic]:
        self.check_program_block()
        self.check_point_kinds()
        self.check_rewards()
        self.check_codes()
        self.check_tiers()
        self.check_rules()
        self.check_campaigns()
        self.check_stacking()
        self.check_draws()
        self.check_values()
        self.check_redeemable()
        self.check_visit_points()
        return self.out

    # ---------------------------------------------------------------- program

    def check_program_block(self) -> None:
        decl = self.sym.program
        if decl is None:
            first = self.program.declarations[0].span if self.program.declarations else Span(self.file, 1, 1, 1, 1)
            self.report(
                "LOY104",
                "this file has no `program` block",
                Span(first.file, first.line, first.column, first.line, first.column + 1),
                hint='start the file with: program "My club" { currency NOK }',
            )
            return
        seen: dict[type, ast.Node] = {}
        for setting in decl.settings:
            # the two acceptance windows are different settings of one node type
            kind = (ast.AcceptanceWindow, setting.what) if isinstance(setting, ast.AcceptanceWindow) else type(setting)
            if kind in seen:
                self.report(
                    "LOY105",
                    f"`{_setting_word(setting)}` is given twice in the program block",
                    setting.span,
                    hint=f"keep one of them (the first is at line {seen[kind].span.line})",
                )
            else:
                seen[kind] = setting
        currency = seen.get(ast.CurrencySetting)
        if currency is None:
            self.report(
                "LOY106",
                f'program "{decl.name.value}" does not say its currency',
                decl.name.span,
                hint="add a line `currency NOK` (an ISO 4217 code) inside the program block",
            )
        elif not currencies.is_currency(currency.code):
            close = _did_you_mean(currency.code, currencies.MINOR_UNITS)
            self.report(
                "LOY210",
                f"{currency.code} is not an ISO 4217 currency code",
                _tail_span(currency.span, len(currency.code)),
                hint=f"did you mean {close}?" if close else "use a three-letter ISO 4217 code such as NOK, EUR or USD",
            )
        tz = seen.get(ast.TimezoneSetting)
        if tz is not None and not is_iana_zone(tz.name.value) and (
                machine_only_zone_name(tz.name.value) or is_timezone(tz.name.value)):
            self.report(
                "LOY211",
                f'"{tz.name.value}" is a time zone of this machine only, not an IANA time zone',
                tz.name.span,
                hint=_machine_zone_hint(tz.name.value),
            )
        elif tz is not None and not is_timezone(tz.name.value):
            self.report(
                "LOY209",
                f'"{tz.name.value}" is not a time zone',
                tz.name.span,
                hint=_timezone_hint(tz.name.value),
            )
        runs = seen.get(ast.RunsSetting)
        if runs is not None:
            self.check_date_range(runs.start, runs.end, "the program")
        self.check_enrolment(seen.get(ast.MembersJoinAtSignup), seen.get(ast.PreSignupWindow))

    def check_enrolment(self, joins: Optional[ast.Node], window: Optional[ast.Node]) -> None:
        """LOY218 for a pre-signup window without `members join at signup` (everyone is a member from her first
        event, so it would mean nothing); LOY328 for a window longer than a year (a purchase that old is hardly
        the member's first steps in the program: most likely a unit was mistyped)."""
        if not isinstance(window, ast.PreSignupWindow):
            return
        if joins is None:
            self.report(
                "LOY218",
                "`purchases up to ... before signup count` needs `members join at signup`",
                window.span,
                hint="add `members join at signup` to the program block; without it every customer is a member "
                "from her first event, so no purchase is before her signup",
            )
        d = window.duration
        longest = {"day": 366, "week": 52, "month": 12, "year": 1}.get(d.unit)  # a year, in the window's unit
        if duration_days(d) is not None and longest is not None and d.amount > longest:
            self.report(
                "LOY328",
                f"purchases up to {_fmt(window.duration.amount)} {window.duration.unit}s before signup count: a "
                f"window longer than a year",
                window.duration.span,
                hint="a window of a few days or weeks (e.g. 30 days) credits what a new member bought just before "
                "joining; for a program where everyone is a member, remove both enrolment lines",
            )

    def check_date_range(self, start: ast.DateValue, end: Optional[ast.DateValue], what: str) -> bool:
        """LOY306 when `end` is before `start`; True when the range is non-empty."""
        if end is None or start.value is None or end.value is None:
            return True
        if end.value < start.value:
            self.report(
                "LOY306",
                f"{what} runs from {start.text} to {end.text}: the end is before the start",
                end.span,
                hint="swap the dates, or correct the one that is wrong (both days are included)",
            )
            return False
        return True

    # ---------------------------------------------------------------- point kinds

    def check_point_kinds(self) -> None:
        for decl in self.program.declarations:
            if not isinstance(decl, ast.PointsDecl):
                continue
            if self.sym.point_kinds.get(decl.name.value) is not decl:
                continue  # a duplicate, already reported
            if not _UNIT_NAME.match(decl.name.value):
                self.report(
                    "LOY103",
                    f'point kind "{decl.name.value}" cannot be written as a unit in rules',
                    decl.name.span,
                    hint='name point kinds with lowercase letters and _, e.g. points "stars"',
                )
            seen: dict[type, ast.Node] = {}
            for setting in decl.settings:
                kind = type(setting)
                if kind in seen:
                    self.report(
                        "LOY105",
                        f'`{_points_setting_word(setting)}` is given twice for point kind "{decl.name.value}"',
                        setting.span,
                        hint=f"keep one of them (the first is at line {seen[kind].span.line})",
                    )
                else:
                    seen[kind] = setting
            if ast.PointCost not in seen:
                currency = self.sym.currency or "NOK"
                self.report(
                    "LOY312",
                    f'point kind "{decl.name.value}" has no cost, so the simulation cannot value it',
                    decl.name.span,
                    hint=f'say what one point costs the business: points "{decl.name.value}" '
                    f"{{ cost 0.01 {currency} each }}",
                )

    def resolve_unit(self, unit_word: str, span: Span, where_head: bool = False) -> Optional[str]:
        """The point kind a unit word names; LOY103 at the word when there is none."""
        kind = self.sym.point_kind(unit_word)
        if kind is not None:
            return kind
        word_span = _head_span(span, len(unit_word)) if where_head else _tail_span(span, len(unit_word))
        kinds = list(self.sym.point_kinds)
        if not kinds:
            hint = f'declare it first: points "{unit_word if unit_word.endswith("s") else unit_word + "s"}"'
        else:
            close = _did_you_mean(unit_word, kinds) or _did_you_mean(
                unit_word, [k[:-1] for k in kinds if k.endswith("s")]
            )
            hint = (
                f"did you mean '{close}'?"
                if close
                else "the declared point kinds are " + ", ".join(f"'{k}'" for k in kinds)
            )
        self.report("LOY103", f"unknown point kind '{unit_word}'", word_span, hint=hint)
        return None

    # ---------------------------------------------------------------- names

    def resolve(self, what: str, name: ast.Text, table: dict, declare_hint: str) -> bool:
        if name.value in table:
            return True
        close = _did_you_mean(name.value, table)
        hint = f'did you mean "{close}"?' if close else declare_hint
        self.report("LOY101", f'unknown {what} "{name.value}"', name.span, hint=hint)
        return False

    def resolve_item(self, name: ast.Text) -> None:
        if self.sym.has_catalog:
            self.resolve("item", name, self.sym.items, f'add it to the catalog: item "{name.value}" in category "..."')

    def resolve_category(self, name: ast.Text) -> None:
        if self.sym.has_catalog:
            self.resolve("category", name, self.sym.categories, f'add it to the catalog: category "{name.value}"')

    def resolve_selector(self, selector: ast.ItemSelector) -> None:
        for name in selector.names:
            if selector.kind == "items":
                self.resolve_item(name)
            elif selector.kind == "categories":
                self.resolve_category(name)

    def resolve_reward(self, name: ast.Text) -> None:
        self.resolve("reward", name, self.sym.rewards, f'declare it: reward "{name.value}" is ...')

    def resolve_condition_names(self, clause) -> None:
        sym = self.sym
        if isinstance(clause, ast.OnItems):
            for n in clause.names:
                self.resolve_item(n)
        elif isinstance(clause, ast.OnCategories):
            for n in clause.names:
                self.resolve_category(n)
        elif isinstance(clause, ast.ForSegments):
            for n in clause.names:
                self.resolve("segment", n, sym.segments,
                             f'segments must be declared before use: segment "{n.value}"')
        elif isinstance(clause, ast.ForTiers):
            for n in clause.names:
                hint = (f'add it to the tiers block: tier "{n.value}" from ...' if sym.tiers_decl
                        else "this program has no tiers: declare them with `tiers by spend { ... }`")
                self.resolve("tier", n, sym.tiers, hint)
        elif isinstance(clause, ast.InStores):
            for n in clause.names:
                self.resolve("store", n, sym.stores, f'stores must be declared before use: store "{n.value}"')
        elif isinstance(clause, ast.InRegions):
            for n in clause.names:
                self.resolve("region", n, sym.regions,
                             f'regions are declared by their stores: store "..." in region "{n.value}"')
        elif isinstance(clause, ast.WithCode):
            self.resolve("code", clause.code, sym.codes, f'declare it: code "{clause.code.value}"')
        elif isinstance(clause, ast.When):
            for node in clause.expr.walk():
                if isinstance(node, ast.HasItem):
                    self.resolve_item(node.name)
                elif isinstance(node, ast.HasCategory):
                    self.resolve_category(node.name)
                elif isinstance(node, ast.Comparison):
                    self.check_comparison(node)

    # ---------------------------------------------------------------- rewards

    def check_rewards(self) -> None:
        given = {n.node.value for n in self._given_rewards()}
        by_rules = {n.reward.value for n in self.program.walk() if isinstance(n, ast.GiveReward)}
        for decl in self.program.declarations:
            if isinstance(decl, ast.RewardDecl):
                self.check_stock(decl, by_rules)
                if isinstance(decl.kind, ast.FreeItemReward):
                    self.resolve_selector(decl.kind.selector)
                if isinstance(decl.kind, ast.PercentOffReward):
                    self.check_percent(decl.kind.percent, "a percent-off reward")
                if self.sym.rewards.get(decl.name.value) is decl and decl.name.value not in given:
                    self.report(
                        "LOY310",
                        f'reward "{decl.name.value}" is never given: no rule gives it and no `redeem` offers it',
                        decl.name.span,
                        hint=f'add `redeem 100 points for "{decl.name.value}"`, a rule with '
                        f'`give "{decl.name.value}"`, or remove the reward',
                    )
                elif (decl.valid_for or decl.valid_until) is not None and decl.name.value not in by_rules:
                    lifetime = (f"for {_duration_text(decl.valid_for)}" if decl.valid_for is not None else
                                f"until {decl.valid_until.text}" if decl.valid_until is not None else "")
                    where = decl.valid_for or decl.valid_until
                    assert where is not None
                    self.report(
                        "LOY317",
                        f'reward "{decl.name.value}" is valid {lifetime}, but no rule gives it: a reward bought '
                        "with points is not an offer, so its lifetime never applies",
                        where.span,
                        hint=f'remove `valid {lifetime}`, or give the offer with a rule (`give "{decl.name.value}"`)',
                    )
            elif isinstance(decl, ast.RedeemDecl):
                self.resolve_unit(decl.price.unit, decl.price.span)
                self.resolve_reward(decl.reward)

    def check_stock(self, decl: ast.RewardDecl, by_rules: set) -> None:
        """`limited to N` on a reward: N a whole number from 1 (LOY216 for 0), and some rule gives it (LOY327)."""
        stock = decl.stock
        if stock is None or isinstance(stock, ast.ParamRef):
            return
        if stock.value == 0:
            self.report("LOY216", f'reward "{decl.name.value}" is limited to 0: no rule could ever give it',
                        stock.span, hint="give the number of rewards in stock, e.g. `limited to 500`, "
                        "or remove the reward")
        elif not self.count_ok(stock):
            self.check_positive_count(stock, f'the stock of reward "{decl.name.value}"')
        elif decl.name.value not in by_rules and self.sym.rewards.get(decl.name.value) is decl:
            self.report("LOY327", f'reward "{decl.name.value}" is limited to {_fmt(stock.value)}, but no rule '
                        "gives it: the stock limits what rules give, not redemptions", stock.span,
                        hint=f'add a rule with `give "{decl.name.value}"`, or remove `limited to ...`')

    def count_ok(self, count: ast.Count) -> bool:
        return count.value > 0 and _is_whole(count.value)

    # ---------------------------------------------------------------- codes

    def check_codes(self) -> None:
        """A code's number of uses (LOY216 for 0), and a declared code that no rule requires (LOY326)."""
        required = {n.code.value for n in self.program.walk() if isinstance(n, ast.WithCode)}
        for decl in self.program.declarations:
            if not isinstance(decl, ast.CodeDecl):
                continue
            why = code_problem(decl.code.value)
            if why is not None:
                self.report("LOY217", f'"{decl.code.value}" cannot be a code: {why}', decl.code.span,
                            hint="write a code as members type it at the till, e.g. \"SUMMER25\"")
            uses = decl.uses
            if uses is not None and not isinstance(uses, ast.ParamRef):
                if uses.value == 0:
                    self.report("LOY216", f'code "{decl.code.value}" is limited to 0 uses: no purchase could '
                                "ever use it", uses.span,
                                hint="give how many times it may be used in all, e.g. `limited to 1000 uses`, "
                                "or leave `limited to ...` out for no limit")
                elif not self.count_ok(uses):
                    self.check_positive_count(uses, f'the uses of code "{decl.code.value}"')
            if decl.code.value not in required and self.sym.codes.get(decl.code.value) is decl:
                self.report("LOY326", f'code "{decl.code.value}" is declared, but no rule requires it: '
                            "purchases carrying it get nothing for it", decl.code.span,
                            hint=f'add `with code "{decl.code.value}"` to the rule it is for, or remove the code')

    def _given_rewards(self):
        for node in self.program.walk():
            if isinstance(node, ast.GiveReward):
                yield _Ref(node.reward)
            elif isinstance(node, ast.RedeemDecl):
                yield _Ref(node.reward)

    # ---------------------------------------------------------------- tiers

    def metric_unit(self, metric: ast.Metric) -> Unit:
        if metric.kind == "spend":
            return ("money", self.sym.currency)
        if metric.kind == "visits":
            return ("count", None)
        return ("points", self.sym.point_kind(metric.unit or ""))

    def check_metric(self, metric: ast.Metric) -> None:
        if metric.kind == "earned" and metric.unit is not None:
            self.resolve_unit(metric.unit, metric.span, where_head=not metric.lifetime)

    def check_tiers(self) -> None:
        decl = self.sym.tiers_decl
        if decl is None:
            return
        self.check_metric(decl.metric)
        expected = self.metric_unit(decl.metric)
        metric_words = _metric_words(decl.metric)
        previous: Optional[tuple[ast.TierDecl, Decimal]] = None
        for tier in decl.tiers:
            unit = _quantity_unit(tier.threshold, self.sym)
            if not self.unit_fits(unit, expected):
                self.report(
                    "LOY305",
                    f'tier "{tier.name.value}" starts at {_quantity_text(tier.threshold)}, '
                    f"but the tiers are measured by {metric_words}",
                    tier.threshold.span,
                    hint=f"write the threshold as {_unit_example(expected)}",
                )
                previous = None
                continue
            value = _quantity_value(tier.threshold)
            self.check_threshold_value(tier.threshold)
            if previous is not None and value is not None and value <= previous[1]:
                self.report(
                    "LOY304",
                    f'tier "{tier.name.value}" starts at {_quantity_text(tier.threshold)}, not above '
                    f'tier "{previous[0].name.value}" ({_quantity_text(previous[0].threshold)})',
                    tier.threshold.span,
                    hint="list tiers from the lowest threshold to the highest, each strictly above the one before",
                )
            if value is not None:
                previous = (tier, value)
            for benefit in tier.benefits:
                if isinstance(benefit, ast.BenefitMultiplier) and benefit.unit is not None:
                    self.resolve_unit(benefit.unit, benefit.span)
                elif isinstance(benefit, ast.BenefitDiscount):
                    self.check_percent(benefit.percent, "a tier discount")
            self.check_tier_fee(tier, value)

    def check_tier_fee(self, tier: ast.TierDecl, threshold: Optional[Decimal]) -> None:
        """A paid tier (runtime/mechanics/fees.py): one fee above zero, on a tier not everyone holds anyway
        (LOY219); and a fee that buys something: the tier's own benefits, or a rule for the tier (LOY329)."""
        fees = [b for b in tier.benefits if isinstance(b, ast.BenefitFee)]
        if not fees:
            return
        name = tier.name.value
        for extra in fees[1:]:
            self.report("LOY219", f'tier "{name}" has more than one fee', extra.span,
                        hint="keep one `fee ... per <period>` in the tier")
        fee = fees[0]
        if fee.money.amount <= 0:
            self.report("LOY219", f'tier "{name}" has a fee of {_quantity_text(fee.money)}: paying it buys nothing '
                        "a member does not already have", fee.money.span,
                        hint="a fee is an amount above zero; to make the tier free, remove the fee")
        elif threshold is not None and threshold <= 0:
            self.report("LOY219", f'tier "{name}" starts at {_quantity_text(tier.threshold)}: every member holds it, '
                        "so its fee buys nothing", fee.span,
                        hint="put the fee on a tier above the base tier, or raise the tier's threshold")
        others = [b for b in tier.benefits if not isinstance(b, ast.BenefitFee)]
        named = any(isinstance(n, (ast.ForTiers, ast.OnReachingTier)) and name in _tier_names_of(n)
                    for n in self.program.walk())
        if not others and not named:
            self.report("LOY329", f'tier "{name}" costs {_quantity_text(fee.money)} per {fee.period} but gives '
                        "nothing: it has no benefits and no rule is for it", fee.span,
                        hint="give the tier a benefit (earn 2x, get 5% off, perk ...) or a rule `for tier "
                        f'"{name}"`, or remove the fee')

    def unit_fits(self, unit: Unit, expected: Unit) -> bool:
        """Same kind of unit; money in another currency is LOY202's business, an unknown
        point kind LOY103's: neither is reported again here."""
        if unit[0] != expected[0]:
            return False
        if unit[0] == "points" and unit[1] is not None and expected[1] is not None:
            return unit[1] == expected[1]
        return True

    def check_threshold_value(self, q) -> None:
        if isinstance(q, ast.Count):
            if not _is_whole(q.value) or q.value < 0:
                self.report("LOY204", f"{_fmt(q.value)} is not a count: a threshold counts whole visits from 0 up",
                            q.span, hint="write a whole number such as 10")
        elif isinstance(q, (ast.Money, ast.PointsAmount)) and q.amount < 0:
            self.report("LOY207", f"the threshold {_quantity_text(q)} is negative", q.span,
                        hint="thresholds start at 0")

    # ---------------------------------------------------------------- rules

    def check_rules(self) -> None:
        for entry in self.sym.rule_entries:
            self.check_rule(entry)

    def check_rule(self, entry: RuleEntry) -> None:
        rule = entry.rule
        actions = [c for c in rule.clauses if isinstance(c, ACTIONS)]
        triggers = [c for c in rule.clauses if isinstance(c, TRIGGERS)]
        own_conditions = [c for c in rule.clauses if not isinstance(c, ACTIONS + TRIGGERS + LIMITS + STACKING)]
        own_limits = [c for c in rule.clauses if isinstance(c, LIMITS)]
        inherited = list(entry.inherited_clauses())
        inherited_conditions = [c for c in inherited if not isinstance(c, LIMITS + STACKING)]
        inherited_limits = [c for c in inherited if isinstance(c, LIMITS)]

        if not actions:
            self.report(
                "LOY301",
                f'rule "{rule.name.value}" does nothing: it has no action',
                rule.name.span,
                hint="add what the rule gives, e.g. `earn 1 point per 10 NOK`, `give \"...\"` or `get 10% off`",
            )
        for extra in actions[1:]:
            self.report(
                "LOY302",
                f'rule "{rule.name.value}" has a second action ({_ACTION_WORDS[type(extra)]})',
                extra.span,
                hint="a rule does one thing: move this action into a rule of its own",
            )
        for extra in triggers[1:]:
            self.report(
                "LOY311",
                f'rule "{rule.name.value}" has a second trigger {_TRIGGER_WORDS[type(extra)]}',
                extra.span,
                hint="a rule reacts to one kind of event: split it into one rule per trigger",
            )

        for action in actions:
            self.check_action(action)
        for trigger in triggers:
            self.check_trigger(trigger)
        for clause in own_conditions:
            self.resolve_condition_names(clause)
        for clause in own_limits:
            self.check_limit_names(clause)

        action = actions[0] if actions else None
        if action is not None:
            self.check_fit(rule, action, triggers, own_conditions, own_limits, inherited_from=None)
            if entry.campaign is not None:
                self.check_fit(rule, action, [], inherited_conditions, inherited_limits, inherited_from=entry.campaign)

        codes = [c for c in own_conditions + inherited_conditions if isinstance(c, ast.WithCode)]
        for second in codes[1:]:
            self.report("LOY105", f'rule "{rule.name.value}" requires a second code ("{second.code.value}"); a '
                        "rule takes one code", second.span,
                        hint="give each code a rule of its own, or put the rules in a campaign without a code")
        self.check_dates(rule.name.value, own_conditions, entry.campaign)
        self.check_never_fires(rule.name.value, rule.name.span, own_conditions + inherited_conditions, own_conditions)
        if isinstance(action, ast.EarnMultiplier):
            self.check_multiplier_has_points(rule, action)
        for trigger in triggers[:1]:
            if isinstance(trigger, ast.AfterInactivity):
                self.check_winback_after_expiry(rule, trigger)
            elif isinstance(trigger, (ast.AfterGoal, ast.AfterStreak)):
                self.check_goal_reachable(rule, trigger, own_conditions + inherited_conditions)
            elif isinstance(trigger, (ast.OnReferring, ast.OnReferred)):
                self.check_referral_qualifies(rule, trigger)
                self.check_referral_window(rule, trigger)

    def check_goal_reachable(self, rule: ast.RuleDecl, trigger, conditions) -> None:
        """LOY319: a count on different days that its window cannot hold; LOY320: a goal or streak that the
        rule's dates or weekdays leave no room for. Only certain cases: a warning means it can never be met."""
        name = rule.name.value
        counted, need = _goal_days(trigger)
        if isinstance(trigger, ast.AfterGoal) and need is not None:
            most = _window_most_days(trigger.window)
            if most is not None and need > most:
                self.report(
                    "LOY319",
                    f'rule "{name}" can never reach its goal: {need} {counted} on different days do not fit '
                    f"{_goal_window_text(trigger.window)}, which holds at most {most} day{'s' if most != 1 else ''}",
                    trigger.span,
                    hint=f"count at most {most} {counted} on different days, or give the goal a longer window",
                )
                return
        days = _allowed_weekdays(conditions)
        lo, hi = self._rule_dates(conditions)
        problem = None
        if isinstance(trigger, ast.AfterStreak) and _is_whole(trigger.count.value) and trigger.count.value >= 2:
            n = int(trigger.count.value)
            plural = f"{trigger.period}s"
            if lo is not None and hi is not None and n > _periods_touched(lo, hi, trigger.period):
                have = _periods_touched(lo, hi, trigger.period)
                problem = (f"a {trigger.counted} in {n} consecutive {plural} needs {n} {plural}, but the rule counts "
                           f"only from {lo.isoformat()} to {hi.isoformat()} ({have} {trigger.period}"
                           f"{'s' if have != 1 else ''})", "shorten the streak or widen the rule's dates")
            elif trigger.period == "day" and days is not None and n > _longest_run(days):
                run = _longest_run(days)
                problem = (f"a {trigger.counted} in {n} consecutive days needs {n} days in a row, but the rule counts "
                           f"only on {_weekday_words(days)} (at most {run} in a row)",
                           "count the streak in weeks (`in N consecutive weeks`), or let the rule count every day")
        elif need is not None:
            if lo is not None and hi is not None and need > (hi - lo).days + 1:
                problem = (f"{need} {counted} on different days need {need} days, but the rule counts only from "
                           f"{lo.isoformat()} to {hi.isoformat()} ({(hi - lo).days + 1} days)",
                           "count fewer days or widen the rule's dates")
            elif days is not None:
                most = _window_most_days(trigger.window)
                if most is not None and need > _most_weekdays_in(days, most):
                    problem = (f"{need} {counted} on different days do not fit {_goal_window_text(trigger.window)} "
                               f"when the rule counts only on {_weekday_words(days)} (at most "
                               f"{_most_weekdays_in(days, most)})", "count fewer days, or let the rule count every day")
        if problem:
            self.report("LOY320", f'rule "{name}" can never reach its goal: {problem[0]}', trigger.span,
                        hint=problem[1])

    def _rule_dates(self, conditions) -> tuple:
        """The first and last day the rule counts on (its own and its campaign's date windows within the
        program's `runs`); None for an open end."""
        sym = self.sym
        starts = [sym.runs_from] if sym.runs_from is not None else []
        ends = [sym.runs_to] if sym.runs_to is not None else []  # `to D` includes the day D
        for _node, start, end in self._windows(conditions):
            if start is not None and start.value is not None:
                starts.append(start.value)
            if end is not None and end.value is not None:
                ends.append(end.value)
        return (max(starts) if starts else None), (min(ends) if ends else None)

    def check_referral_window(self, rule: ast.RuleDecl, trigger) -> None:
        """LOY322: a qualifying window surely longer than the whole run of the program (`runs from ... to ...`): no
        purchase after the run qualifies, so no referral can use the window the terms promise."""
        sym = self.sym
        if trigger.qualifying is None or sym.runs_from is None or sym.runs_to is None:
            return
        days = duration_days(trigger.qualifying.duration)
        run_days = (sym.runs_to - sym.runs_from).days + 1  # `to` is the run's last day
        if days is None or run_days < 1 or days[0] <= run_days:
            return
        self.report(
            "LOY322",
            f'rule "{rule.name.value}" gives the new member {_duration_text(trigger.qualifying.duration)} to qualify, '
            f"but the program runs only {run_days} day{'s' if run_days != 1 else ''} "
            f"({sym.runs_from.isoformat()} to {sym.runs_to.isoformat()}): no referral can use that window",
            trigger.qualifying.duration.span,
            hint=f"make the window at most {run_days} day{'s' if run_days != 1 else ''}, or let the program run longer",
        )

    def check_referral_qualifies(self, rule: ast.RuleDecl, trigger) -> None:
        """LOY321: a referral reward without a qualifying purchase pays for a name alone: anyone can refer
        themselves or made-up friends, so the usual terms reward only once the friend buys (docs/semantics.md,
        "Referral")."""
        if trigger.qualifying is not None:
            return
        side = "referrer" if isinstance(trigger, ast.OnReferring) else "new member"
        currency = self.sym.currency or "NOK"
        example = ("on referring a friend who spends at least 300 " if isinstance(trigger, ast.OnReferring)
                   else "on being referred and spending at least 300 ") + f"{currency} within 30 days"
        self.report(
            "LOY321",
            f'rule "{rule.name.value}" rewards the {side} of a referral with no qualifying purchase: a referral '
            "alone can be made up, so it is open to abuse",
            trigger.span,
            hint=f"reward the referral once the new member buys, e.g. `{example}`, and limit it with "
                 "`at most 5 times per member per year`",
        )

    def check_winback_after_expiry(self, rule: ast.RuleDecl, trigger: ast.AfterInactivity) -> None:
        """LOY316: a win-back that fires only once a point kind's expiry after inactivity has emptied the
        member's balance: she is won back to nothing, where a reminder before the expiry keeps her points."""
        for kind, decl in self.sym.point_kinds.items():
            for setting in decl.settings:
                if not isinstance(setting, ast.ExpireAfterInactivity):
                    continue
                expires = duration_days(setting.duration)
                if expires is None or duration_days(trigger.duration) is None or \
                        not winback_after_expiry(trigger.duration, setting.duration):
                    continue  # fires before the expiry, cannot be sure it does not, or LOY205 already: no warning
                self.report(
                    "LOY316",
                    f'rule "{rule.name.value}" fires after {_duration_text(trigger.duration)} without a purchase, '
                    f"but by then the member's {kind} have expired (after {_duration_text(setting.duration)} "
                    "without a purchase): she is won back to an empty balance",
                    trigger.span,
                    hint=f"fire the win-back before the {kind} expire, e.g. `after "
                         f"{_shorter_days(expires[0])} without a purchase`, or let the {kind} last longer",
                )

    def check_multiplier_has_points(self, rule: ast.RuleDecl, action: ast.EarnMultiplier) -> None:
        """LOY309: a multiplier multiplies the points earned per spend or per visit (docs/semantics.md,
        "Multipliers"); with no rule earning such points of its kind it never changes anything."""
        kind = _earned_kind(action, self.sym)
        if action.unit is not None and kind is None:
            return  # an unknown point kind: LOY103 says so
        for entry in self.sym.rule_entries:
            for clause in entry.rule.clauses:
                if not isinstance(clause, (ast.EarnPerSpend, ast.EarnPerEvent)):
                    continue
                regular = isinstance(clause, ast.EarnPerSpend) or clause.event == "visit"
                if regular and (kind is None or self.sym.point_kind(clause.points.unit) == kind):
                    return
        what = f"{kind} " if kind else "points "
        self.report(
            "LOY309",
            f'rule "{rule.name.value}" can never fire: no rule earns {what}per spend or per visit, the points '
            "a multiplier multiplies",
            action.span,
            hint="multipliers do not apply to one-off bonuses (signup, first purchase, referral, action, fixed "
                 "earns); add e.g. `earn 1 point per 10 NOK`, or remove the multiplier",
        )

    def check_action(self, action) -> None:
        if isinstance(action, (ast.PunchFree, ast.PunchDiscount)):
            self.resolve_selector(action.selector)
            self.check_ordinal(action.ordinal)
            if isinstance(action, ast.PunchDiscount):
                self.check_percent(action.percent, "a punch-card discount")
        elif isinstance(action, ast.PaidThenFree):
            self.resolve_selector(action.selector)
            self.check_positive_count(action.free, "the number of free items")
            self.check_positive_count(action.paid, "the number of paid items")
        elif isinstance(action, ast.EarnPerSpend):
            self.resolve_unit(action.points.unit, action.points.span)
            self.check_positive(action.points, "the points earned")
            self.check_positive(action.per, "the amount the points are earned per")
        elif isinstance(action, (ast.EarnPerEvent, ast.EarnFixed)):
            self.resolve_unit(action.points.unit, action.points.span)
            self.check_positive(action.points, "the points earned")
        elif isinstance(action, ast.EarnMultiplier):
            if action.unit is not None:
                self.resolve_unit(action.unit, action.span)
        elif isinstance(action, ast.GiveReward):
            self.resolve_reward(action.reward)
        elif isinstance(action, ast.Discount):
            self.check_percent(action.percent, "a discount")
        elif isinstance(action, ast.DiscountEach):
            amount = self.money_only(action.amount, "an amount off each unit", "get 10 {c} off each")
            if amount is not None:
                self.check_positive(amount, "the amount off each unit")
        elif isinstance(action, ast.DiscountOrder):
            amount = self.money_only(action.amount, "an amount off the order", "get 50 {c} off orders over 500 {c}")
            if amount is not None:
                self.check_positive(amount, "the amount off the order")
            over = self.money_only(action.over, "an order total", "get 50 {c} off orders over 500 {c}")
            if over is not None:
                self.check_not_negative(over, "the order total")
        elif isinstance(action, ast.FixedPrice):
            self.resolve_selector(action.selector)
            price = self.money_only(action.price, "a price", '"basic wash" costs 25 {c}')
            if price is not None:
                self.check_not_negative(price, "the price")
        elif isinstance(action, ast.BundleBuyGet):
            self.resolve_selector(action.selector)
            self.check_positive_count(action.buy, "the number of items to buy")
            self.check_positive_count(action.free, "the number of free items")
        elif isinstance(action, ast.BundlePriceOf):
            self.resolve_selector(action.selector)
            self.check_positive_count(action.group, "the number of items in the bundle")
            self.check_positive_count(action.paid, "the number of items paid for")
            if _is_whole(action.group.value) and _is_whole(action.paid.value) and \
                    0 < action.group.value <= action.paid.value:
                self.report(
                    "LOY214",
                    f"{_fmt(action.group.value)} for the price of {_fmt(action.paid.value)} gives nothing free",
                    action.span,
                    hint=f"the bundle must hold more items than are paid for, e.g. "
                         f"`{_fmt(action.paid.value + 1)} ... for the price of {_fmt(action.paid.value)}`",
                )
        elif isinstance(action, ast.DiscountScale):
            self.check_scale(action)

    def money_only(self, q: Union[ast.Money, ast.PointsAmount], what: str, example: str) -> Optional[ast.Money]:
        """The amount when it is money; LOY201 and None for points where money must stand (the grammar takes
        both, to say so here)."""
        if not isinstance(q, ast.Money):
            currency = self.sym.currency or "NOK"
            self.report("LOY201", f"{what} is money, not points ({_quantity_text(q)})", q.span,
                        hint=f"write it in the program's currency, e.g. `{example.format(c=currency)}`; "
                             f"to give points, use `earn`")
            return None
        return q

    def check_scale(self, scale: ast.DiscountScale) -> None:
        self.check_metric(scale.metric)
        expected = self.metric_unit(scale.metric)
        previous: Optional[tuple[ast.ScaleStep, Decimal]] = None
        for step in scale.steps:
            self.check_percent(step.percent, "a discount step")
            unit = _quantity_unit(step.threshold, self.sym)
            if not self.unit_fits(unit, expected):
                self.report(
                    "LOY201",
                    f"this step starts at {_quantity_text(step.threshold)}, "
                    f"but the scale is measured by {_metric_words(scale.metric)}",
                    step.threshold.span,
                    hint=f"write the threshold as {_unit_example(expected)}",
                )
                previous = None
                continue
            self.check_threshold_value(step.threshold)
            value = _quantity_value(step.threshold)
            if previous is not None and value is not None and value <= previous[1]:
                self.report(
                    "LOY313",
                    f"the step from {_quantity_text(step.threshold)} is not above the step before it "
                    f"(from {_quantity_text(previous[0].threshold)})",
                    step.threshold.span,
                    hint="list the steps from the lowest threshold to the highest",
                )
            if value is not None:
                previous = (step, value)

    def check_trigger(self, trigger) -> None:
        if isinstance(trigger, (ast.OnNthVisit, ast.OnNthPurchase)):
            self.check_ordinal(trigger.ordinal)
        elif isinstance(trigger, ast.AfterEveryVisits):
            self.check_positive_count(trigger.count, "the number of visits")
        elif isinstance(trigger, ast.OnReachingTier):
            hint = (f'add it to the tiers block: tier "{trigger.tier.value}" from ...' if self.sym.tiers_decl
                    else "this program has no tiers: declare them with `tiers by spend { ... }`")
            self.resolve("tier", trigger.tier, self.sym.tiers, hint)
        elif isinstance(trigger, ast.AfterEverySpend):
            self.check_positive(trigger.money, "the amount spent")
        elif isinstance(trigger, ast.AfterGoal):
            if isinstance(trigger.target, ast.GoalCount):
                self.check_positive_count(trigger.target.count, f"the goal's number of {trigger.target.counted}")
            else:
                self.check_positive(trigger.target.money, "the goal's amount spent")
        elif isinstance(trigger, ast.AfterStreak):
            count = trigger.count
            self.check_positive_count(count, f"the number of {trigger.period}s in a row")
            if count.value == 1:
                self.report(
                    "LOY212",
                    f"a streak of 1 {trigger.period} is not a streak: `consecutive` needs at least 2",
                    count.span,
                    hint=f"for a {trigger.counted} in a {trigger.period}, write `after 1 {trigger.counted} in a "
                         f"calendar {trigger.period}`; for a streak, count 2 or more {trigger.period}s",
                )
        elif isinstance(trigger, (ast.OnReferring, ast.OnReferred)) and trigger.qualifying is not None:
            self.check_positive(trigger.qualifying.money, "the qualifying purchase")

    def check_limit_names(self, limit) -> None:
        amount = limit.amount
        if isinstance(amount, ast.PointsAmount):
            self.resolve_unit(amount.unit, amount.span)
        if isinstance(amount, ast.CapTimes):
            self.check_positive_count(amount.count, "the number of times")
        elif isinstance(amount, (ast.Money, ast.PointsAmount)):
            self.check_positive(amount, "a cap" if isinstance(limit, ast.Cap) else "a budget")

    def check_fit(self, rule, action, triggers, conditions, limits, inherited_from) -> None:
        """LOY303: triggers, item filters and limits that make no sense for the action."""
        name = rule.name.value
        via = f' (from campaign "{inherited_from.name.value}")' if inherited_from is not None else ""
        action_words = _ACTION_WORDS[type(action)]
        for trigger in triggers:
            if isinstance(action, PURCHASE_TRIGGERED_ACTIONS) and isinstance(trigger, PURCHASE_TRIGGERS):
                continue  # a discount on the first or the Nth purchase
            if not isinstance(action, TRIGGERED_ACTIONS):
                if isinstance(action, PURCHASE_TRIGGERED_ACTIONS) and isinstance(trigger, ast.OnNthVisit):
                    hint = (f"a discount needs a purchase: write `on the {trigger.ordinal.value}"
                            f"{_ordinal_suffix(trigger.ordinal.value)} purchase`")
                elif isinstance(action, PURCHASE_TRIGGERED_ACTIONS):
                    hint = "a discount takes only `on first purchase` or `on the Nth purchase`"
                elif isinstance(action, ast.EarnPerEvent):
                    hint = f"`earn ... per {action.event}` fires on each {action.event}: remove the trigger"
                else:
                    hint = ("this action applies to purchases; a trigger goes with `earn <points>` "
                            "or `give \"<reward>\"`")
                self.report(
                    "LOY303",
                    f'rule "{name}" gives {action_words}, which cannot be triggered by {_TRIGGER_WORDS[type(trigger)]}',
                    trigger.span,
                    hint=hint,
                )
        for clause in conditions:
            if isinstance(clause, ast.WithCode) and _no_order_event(action, triggers):
                self.report("LOY303", f'rule "{name}" does not fire on a purchase, so no code can come with it{via}',
                            clause.span, hint="codes come with purchases: remove the code, or make the rule fire "
                            "on purchases")
            if isinstance(clause, (ast.OnItems, ast.OnCategories)) and not isinstance(action, ITEM_FILTERED_ACTIONS):
                self.report(
                    "LOY303",
                    f'rule "{name}" gives {action_words}, which cannot be narrowed to some items{via}',
                    clause.span,
                    hint="only `earn ... per <money>`, `earn Nx` and `get P% off` take `on \"item\"` or "
                    "`on category \"...\"`; to require an item in the order, use `when order has \"item\"`",
                )
            if isinstance(clause, ast.When) and _no_order_event(action, triggers):
                for node in clause.expr.walk():
                    if isinstance(node, (ast.HasItem, ast.HasCategory)) or (
                        isinstance(node, ast.Comparison) and node.measure.kind in ("order_total", "order_items")
                    ):
                        self.report(
                            "LOY303",
                            f'rule "{name}" does not fire on a purchase, so there is no order to look at',
                            node.span,
                            hint="remove the order condition, or make the rule fire on purchases",
                        )
        for limit in limits:
            amount = limit.amount
            is_cap = isinstance(limit, ast.Cap)
            if isinstance(amount, ast.PointsAmount):
                if not isinstance(action, POINTS_ACTIONS):
                    self.report(
                        "LOY303",
                        f'rule "{name}" gives {action_words}, not points, so a {"cap" if is_cap else "budget"} '
                        f"in points cannot limit it{via}",
                        amount.span,
                        hint=("limit it in money, e.g. `at most 500 NOK per member`, or by count, "
                              "e.g. `at most 3 times per member`") if is_cap else "give the budget in money",
                    )
                else:
                    earned = _earned_kind(action, self.sym)
                    limit_kind = self.sym.point_kind(amount.unit)
                    if earned is not None and limit_kind is not None and earned != limit_kind:
                        self.report(
                            "LOY201",
                            f'rule "{name}" earns {earned}, but this limit is in {limit_kind}{via}',
                            amount.span,
                            hint=f"write the limit in {earned}",
                        )
            elif isinstance(amount, ast.Money) and is_cap and isinstance(action, POINTS_ACTIONS):
                self.report(
                    "LOY303",
                    f'rule "{name}" earns points, so a cap in money cannot limit it{via}',
                    amount.span,
                    hint="cap the points instead, e.g. `at most 1000 points per member per month`, "
                    "or give a `budget` in money",
                )

    # ---------------------------------------------------------------- dates and impossible rules

    def _windows(self, conditions) -> list[tuple[ast.Node, Optional[ast.DateValue], Optional[ast.DateValue]]]:
        out = []
        for c in conditions:
            if isinstance(c, ast.DateWindow):
                out.append((c, c.start, c.end))
            elif isinstance(c, ast.UntilDate):
                out.append((c, None, c.end))
        return out

    def check_dates(self, what_name: str, conditions, campaign: Optional[ast.CampaignDecl], kind: str = "rule") -> None:
        sym = self.sym
        for node, start, end in self._windows(conditions):
            if start is not None and not self.check_date_range(start, end, f'{kind} "{what_name}"'):
                continue
            if sym.runs_from is not None:
                problem = _outside(start, end, sym.runs_from, sym.runs_to)
                if problem:
                    runs = f"{sym.runs_from.isoformat()} to {sym.runs_to.isoformat()}" if sym.runs_to else \
                        f"{sym.runs_from.isoformat()} on"
                    self.report(
                        "LOY307",
                        f'{kind} "{what_name}" {problem}, outside the program, which runs from {runs}',
                        problem_span(node, start, end, problem),
                        hint="move the dates inside the program's `runs from ... to ...`, or widen the program",
                    )
                    continue
            if campaign is not None:
                for _cnode, cstart, cend in self._windows(campaign.clauses):
                    cfrom = cstart.value if cstart is not None else None
                    cto = cend.value if cend is not None else None
                    problem = _outside(start, end, cfrom, cto)
                    if problem:
                        self.report(
                            "LOY307",
                            f'rule "{what_name}" {problem}, outside its campaign "{campaign.name.value}"',
                            problem_span(node, start, end, problem),
                            hint="a rule in a campaign runs within the campaign's dates: move the dates inside them",
                        )

    def check_never_fires(self, name: str, name_span: Span, conditions, own_conditions) -> None:
        """LOY309, simple and certain cases only. Dates are compared within the rule's own
        clauses: a rule outside its campaign's dates is already LOY307."""
        def never(message: str, span: Span, hint: str) -> None:
            self.report("LOY309", f'rule "{name}" can never fire: {message}', span, hint=hint)

        weekday_sets = [c for c in conditions if isinstance(c, ast.OnWeekdays)]
        if len(weekday_sets) > 1:
            days = set(range(7))
            for c in weekday_sets:
                days &= set().union(*(_WEEKDAYS[d] for d in c.days))
            if not days:
                never("its weekday conditions have no day in common", weekday_sets[-1].span,
                      "list the days in one `on ...` clause")
        for c in conditions:
            if isinstance(c, ast.BetweenHours) and (c.start.hour, c.start.minute) == (c.end.hour, c.end.minute):
                never("the time window starts and ends at the same minute", c.span,
                      "give a window such as `between 15:00 and 17:00`")
            if isinstance(c, ast.When) and _always_false(c.expr, self.sym):
                never("its `when` condition is never true", c.expr.span,
                      "an order total, item count, spend or visit count is never below zero; check the comparison")
        windows = [(s.value if s else None, e.value if e else None) for _n, s, e in self._windows(own_conditions)]
        if len(windows) > 1:
            starts = [s for s, _ in windows if s is not None]
            ends = [e for _, e in windows if e is not None]
            if starts and ends and max(starts) > min(ends):
                never("its date windows do not overlap", name_span, "keep one date window per rule")

    # ---------------------------------------------------------------- campaigns and draws

    def check_campaigns(self) -> None:
        for campaign in self.sym.campaigns.values():
            conditions = [c for c in campaign.clauses if not isinstance(c, (ast.RuleDecl,) + LIMITS + STACKING)]
            for clause in conditions:
                self.resolve_condition_names(clause)
            for clause in campaign.clauses:
                if isinstance(clause, LIMITS):
                    self.check_limit_names(clause)
            self.check_dates(campaign.name.value, conditions, None, kind="campaign")

    # ---------------------------------------------------------------- stacking (runtime/mechanics/stacking.py)

    def check_stacking(self) -> None:
        """LOY215 a priority that is not a whole number from 1; LOY324 a stacking clause that decides nothing (on a
        rule that gives neither a discount nor a gift on a purchase); LOY323 two discounts that can apply to the
        same line with nothing saying whether they combine, LOY330 two gifts that can be given on the same order
        likewise; LOY325 two of them with the same priority; LOY220 a `best of` campaign over discounts and gifts."""
        decl = self.sym.program
        program_policy = decl is not None and any(isinstance(s, ast.StackingSetting) for s in decl.settings)
        gift_policy = decl is not None and any(isinstance(s, ast.GiftStackingSetting) for s in decl.settings)
        discounts = []  # (rule entry, the lines it can discount, exclusive, priority, best-of campaign)
        gifts = []  # (rule entry, None, exclusive, priority, best-of campaign) of gifts given on a purchase
        for entry in self.sym.rule_entries:
            rule = entry.rule
            own = [c for c in rule.clauses if isinstance(c, STACKING)]
            inherited = [c for c in entry.inherited_clauses() if isinstance(c, STACKING)]
            priorities = [c for c in own + inherited if isinstance(c, ast.Priority)]
            for p in priorities:
                value = p.rank.value
                if value != value.to_integral_value() or value < 1:
                    self.report("LOY215", f"priority {value} is not a whole number from 1", p.rank.span,
                                hint="priority 1 wins first, then 2, ...: write a whole number such as 1")
            for second in priorities[1:]:
                self.report("LOY105", f'rule "{rule.name.value}" has a second priority', second.span,
                            hint=f"keep one of them (the first is at line {priorities[0].span.line})")
            actions = [c for c in rule.clauses if isinstance(c, ACTIONS)]
            action = actions[0] if actions else None
            if action is None:
                continue
            group = entry.campaign if any(isinstance(c, ast.BestOf) for c in inherited) else None
            rank = priorities[0].rank.value if priorities else None
            excl = any(isinstance(c, ast.Exclusive) for c in own + inherited)
            if isinstance(action, ast.GiveReward):
                triggers = [c for c in rule.clauses + entry.inherited_clauses() if isinstance(c, TRIGGERS)]
                if all(isinstance(t, GIFT_PURCHASE_TRIGGERS) for t in triggers):
                    gifts.append((entry, None, excl, rank, group))
                    continue
                for c in own:
                    self.report("LOY324", f'rule "{rule.name.value}" gives its reward {_TRIGGER_WORDS[type(triggers[0])]}, '
                                f"not on a purchase: `{_stacking_word(c)}` decides nothing", c.span,
                                hint="stacking decides between the gifts one purchase gives: remove it")
                continue
            if not isinstance(action, DISCOUNT_ACTIONS):
                for c in own:
                    self.report("LOY324", f'rule "{rule.name.value}" gives {_ACTION_WORDS[type(action)]}, not a '
                                f"discount: `{_stacking_word(c)}` decides nothing", c.span,
                                hint="stacking decides between discounts (a percentage, an amount or a price off), "
                                     "and between the gifts one purchase gives: remove it")
                continue
            discounts.append((entry, self._discounted_items(entry, action), excl, rank, group))
        for campaign in self.sym.campaigns.values():
            best = [c for c in campaign.clauses if isinstance(c, ast.BestOf)]
            if not best:
                continue
            n_discounts = sum(1 for d in discounts if d[0].campaign is campaign)
            n_gifts = sum(1 for g in gifts if g[0].campaign is campaign)
            if n_discounts and n_gifts:
                self.report("LOY220", f'campaign "{campaign.name.value}" has `best of` over both discounts and gifts',
                            best[0].span, hint="`best of` chooses one discount, or one gift, per order: a discount and a "
                                               "gift are never weighed against each other, so put the gifts in a "
                                               "campaign of their own (with `best of` if one of them should win)")
            elif max(n_discounts, n_gifts) < 2:
                self.report("LOY324", f'campaign "{campaign.name.value}" has `best of` but fewer than two discounts '
                            f"or gifts", best[0].span,
                            hint="`best of` chooses one of the campaign's discounts (or gifts) per order: remove it, "
                                 "or move the offers it should choose between into the campaign")
        self._check_contests(discounts, program_policy)
        self._check_contests(gifts, gift_policy, gifts=True)

    def _check_contests(self, offers: list, program_policy: bool, gifts: bool = False) -> None:
        """LOY323 (discounts) or LOY330 (gifts): two offers that can meet, with no policy; LOY325 equal priorities."""
        noun = "gifts" if gifts else "discounts"
        for j, (b, b_items, b_excl, b_rank, b_group) in enumerate(offers):
            warned = False
            for a, a_items, a_excl, a_rank, a_group in offers[:j]:
                if a_items is not None and b_items is not None and not (a_items & b_items):
                    continue
                if gifts and _never_together(a, b):
                    continue
                if a_rank is not None and a_rank == b_rank:
                    span = next(c for c in b.rule.clauses + b.inherited_clauses() if isinstance(c, ast.Priority)).span
                    self.report("LOY325", f'{noun} "{a.name}" and "{b.name}" have the same priority {b_rank}', span,
                                hint="the one worth more to the member wins (on a tie, the earlier rule): give them "
                                     "different priorities to say which comes first")
                covered = program_policy or a_excl or b_excl or (a_rank is not None and b_rank is not None) or (
                    a_group is not None and a_group is b_group)
                if not covered and not warned and gifts:
                    warned = True
                    self.report("LOY330", f'gifts "{a.name}" and "{b.name}" can both be given on the same order, and '
                                f"nothing says whether both are", b.rule.name.span,
                                hint="add `exclusive` or `priority 1` / `priority 2` to them, put them in a campaign "
                                     "with `best of`, or say in the program block `at most one gift per order` "
                                     "(or `gifts stack` if both are given)")
                elif not covered and not warned:
                    warned = True
                    self.report("LOY323", f'discounts "{a.name}" and "{b.name}" can apply to the same line, and '
                                f"nothing says whether they combine", b.rule.name.span,
                                hint="add `exclusive` or `priority 1` / `priority 2` to them, put them in a campaign "
                                     "with `best of`, or say in the program block `at most one discount per order` "
                                     "(or `discounts stack` if they add up)")

    def _discounted_items(self, entry: RuleEntry, action) -> Optional[frozenset]:
        """The names of the catalog's items a discount rule can take something off, or None when that is not known
        (no catalog): two rules whose sets do not meet never discount the same line."""
        clauses = list(entry.rule.clauses) + list(entry.inherited_clauses())
        filters = [("items", c.names) for c in clauses if isinstance(c, ast.OnItems)]
        filters += [("categories", c.names) for c in clauses if isinstance(c, ast.OnCategories)]
        selector = getattr(action, "selector", None)
        if selector is not None and selector.kind != "any":
            filters.append((selector.kind, selector.names))
        if not self.sym.has_catalog:
            names = [frozenset(n.value for n in ns) for kind, ns in filters if kind == "items"]
            if not names or len(names) != len(filters):
                return None
            return frozenset.intersection(*names)
        items = {name: decl.category.value for name, decl in self.sym.items.items()}
        for kind, ns in filters:
            wanted = {n.value for n in ns}
            items = {i: c for i, c in items.items() if (i in wanted if kind == "items" else c in wanted)}
        return frozenset(items)

    def check_draws(self) -> None:
        for draw in self.sym.draws.values():
            seen: dict[type, ast.Node] = {}
            for clause in draw.clauses:
                if isinstance(clause, (ast.DrawSchedule, ast.DrawPrize, ast.DrawWinners, ast.DrawRate)):
                    if type(clause) in seen:
                        self.report(
                            "LOY105",
                            f'draw "{draw.name.value}" has a second `{_draw_word(clause)}`',
                            clause.span,
                            hint=f"keep one of them (the first is at line {seen[type(clause)].span.line})",
                        )
                    else:
                        seen[type(clause)] = clause
                else:
                    self.resolve_condition_names(clause)
            currency = self.sym.currency or "NOK"
            missing = [(word, example) for kind, word, example in (
                (ast.DrawSchedule, "schedule", "held every month"),
                (ast.DrawPrize, "prize", f"prize 5000 {currency}"),
                (ast.DrawRate, "entry rate", f"1 entry per 100 {currency}"),
            ) if kind not in seen]
            if missing:
                self.report(
                    "LOY308",
                    f'draw "{draw.name.value}" has no ' + " and no ".join(w for w, _ in missing),
                    draw.name.span,
                    hint="add " + ", ".join(f"`{e}`" for _, e in missing),
                )
            if ast.DrawPrize in seen:
                self.check_positive(seen[ast.DrawPrize].money, "the prize")
            if ast.DrawWinners in seen:
                self.check_positive_count(seen[ast.DrawWinners].count, "the number of winners")
            if ast.DrawRate in seen:
                rate = seen[ast.DrawRate]
                self.check_positive_count(rate.entries, "the number of entries")
                self.check_positive(rate.per, "the amount per entry")
            conditions = [c for c in draw.clauses if not isinstance(
                c, (ast.DrawSchedule, ast.DrawPrize, ast.DrawWinners, ast.DrawRate))]
            self.check_dates(draw.name.value, conditions, None, kind="draw")

    # ---------------------------------------------------------------- points that are (not) worth anything

    def _earning_rules(self):
        """(rule entry, action, point kind) of every rule that earns points of a declared kind."""
        for entry in self.sym.rule_entries:
            actions = [c for c in entry.rule.clauses if isinstance(c, ACTIONS)]
            if actions and isinstance(actions[0], (ast.EarnPerSpend, ast.EarnPerEvent, ast.EarnFixed)):
                kind = self.sym.point_kind(actions[0].points.unit)
                if kind is not None:
                    yield entry, actions[0], kind

    def check_redeemable(self) -> None:
        """LOY314: a point kind that rules earn, that no `redeem` spends and that nothing else reads (a tier or
        scale metric `K earned`, a `K balance` condition): members collect points that are worth nothing."""
        earned = {kind for _e, _a, kind in self._earning_rules()}
        used: set[str] = set()
        for node in self.program.walk():
            if isinstance(node, ast.RedeemDecl):
                used.add(self.sym.point_kind(node.price.unit) or "")
            elif isinstance(node, ast.Metric) and node.kind == "earned" and node.unit:
                used.add(self.sym.point_kind(node.unit) or "")
            elif isinstance(node, ast.Measure) and node.kind == "balance" and node.unit:
                used.add(self.sym.point_kind(node.unit) or "")
        for kind, decl in self.sym.point_kinds.items():
            if kind in earned and kind not in used:
                rewards = list(self.sym.rewards)
                example = f'"{rewards[0]}"' if rewards else '"<a reward>"'
                self.report(
                    "LOY314",
                    f'members earn {kind}, but nothing can redeem them: no `redeem` prices a reward in {kind}',
                    decl.name.span,
                    hint=f"add what they buy, e.g. `redeem 100 {kind} for {example}`; points that only count "
                    f"towards tiers are fine once a tier is measured by `{kind} earned`",
                )

    def check_visit_points(self) -> None:
        """LOY315: `earn N points per visit` that gives, on a typical order, at least OUT_OF_LINE_FACTOR times
        what the program's points per spend give (loyalty/rates.py holds the rule and the arithmetic)."""
        spend_rules: dict[str, list] = {}
        for entry, action, kind in self._earning_rules():
            if isinstance(action, ast.EarnPerSpend) and action.points.amount > 0 and action.per.amount > 0:
                spend_rules.setdefault(kind, []).append((entry, action))
        for entry, action, kind in self._earning_rules():
            if not (isinstance(action, ast.EarnPerEvent) and action.event == "visit" and action.points.amount > 0):
                continue
            candidates = spend_rules.get(kind)
            if not candidates:
                continue
            # the most generous per-spend rule of the kind: the comparison least likely to warn
            base_entry, base = max(candidates, key=lambda ea: (
                rates.points_per_money(ea[1].points.amount, ea[1].per.amount), -ea[1].span.start))
            comparison = rates.compare_visit_to_spend(action.points.amount, base.points.amount, base.per.amount)
            if not comparison.out_of_line:
                continue
            currency = base.per.currency
            order = f"{rates.decimal_text(comparison.order, 2)} {currency}"
            cost = _point_cost(self.sym.point_kinds[kind])
            if cost is not None:
                worth = (f"{rates.percent_text(comparison.visit_share(cost))} back at {_fmt(cost)} {currency} a "
                         f"point, against {rates.percent_text(comparison.spend_share(cost))} from")
            else:
                worth = f"{rates.decimal_text(comparison.visit_points, 2)} {kind} against " \
                        f"{rates.decimal_text(comparison.spend_points, 2)} {kind} from"
            self.report(
                "LOY315",
                f'rule "{entry.name}" gives {_fmt(action.points.amount)} {kind} per visit: on a typical order of '
                f'{order} that is {worth} rule "{base_entry.name}" ({rates.ratio_text(comparison.ratio)} times as '
                f"much)",
                action.span,
                hint=f"points per visit come on every order, however small; if points per amount spent were meant, "
                f"write `earn {_fmt(action.points.amount)} {action.points.unit} per <amount> {currency}`; a typical "
                f"order is {rates.TYPICAL_ORDER_STEPS} times the `per` amount of the points per spend",
            )

    # ---------------------------------------------------------------- values

    def check_values(self) -> None:
        """Checks that hold wherever a value appears: money's currency and decimals,
        durations, multipliers, and the amounts of declarations outside rules."""
        point_costs = {id(n.money) for n in self.program.walk() if isinstance(n, ast.PointCost)}
        # points are whole everywhere but in an earning rate (`earn 1.5 points per 1 EUR`),
        # whose fractions are settled by the point kind's rounding
        earning_rates = {id(n.points) for n in self.program.walk() if isinstance(n, ast.EarnPerSpend)}
        for node in self.program.walk():
            if isinstance(node, ast.Text) and (not node.value.strip() or _has_control(node.value)):
                self.out.append(_bad_name(node))
            if isinstance(node, ast.Money):
                self.check_money(node, allow_fractions=id(node) in point_costs)
            elif isinstance(node, ast.PointsAmount) and id(node) not in earning_rates and not _is_whole(node.amount):
                self.report(
                    "LOY204",
                    f"{_fmt(node.amount)} {node.unit} is not a whole number of points",
                    node.span,
                    hint="points are counted in whole points here; only an earning rate "
                    "(`earn 1.5 points per 1 EUR`) may have a fraction",
                )
            elif isinstance(node, ast.Duration):
                if node.amount <= 0 or not _is_whole(node.amount):
                    self.report(
                        "LOY205",
                        f"{_fmt(node.amount)} {node.unit}s is not a duration: it must be a positive whole number",
                        node.span,
                        hint="write e.g. 14 days or 12 months",
                    )
            elif isinstance(node, ast.Multiplier):
                if node.value <= 0:
                    self.report("LOY206", f"{_fmt(node.value)}x multiplies the points by zero", node.span,
                                hint="use a multiplier above 0, e.g. 2x; to give no points, remove the rule")
            elif isinstance(node, ast.ItemDecl) and node.cost is not None:
                self.check_not_negative(node.cost, f'the cost of item "{node.name.value}"')
            elif isinstance(node, ast.RewardDecl):
                if node.cost is not None:
                    self.check_not_negative(node.cost, f'the cost of reward "{node.name.value}"')
                kind = node.kind
                if isinstance(kind, ast.AmountOffReward):
                    self.check_positive(kind.money, "the amount off")
                elif isinstance(kind, ast.GiftCardReward):
                    self.check_positive(kind.face_value, "the gift card's value")
            elif isinstance(node, ast.RedeemDecl):
                self.check_positive(node.price, "the price in points")
            elif isinstance(node, ast.PointCost):
                self.check_not_negative(node.money, "the cost of a point")
            elif isinstance(node, ast.BenefitPerk) and node.cost_per_order is not None:
                self.check_not_negative(node.cost_per_order, f'the cost of perk "{node.name.value}"')

    def check_money(self, money: ast.Money, allow_fractions: bool) -> None:
        code = money.currency
        currency_span = _tail_span(money.span, len(code))
        if not currencies.is_currency(code):
            close = _did_you_mean(code, currencies.MINOR_UNITS)
            self.report("LOY210", f"{code} is not an ISO 4217 currency code", currency_span,
                        hint=f"did you mean {close}?" if close else "use the program's currency code")
            return
        program_currency = self.sym.currency
        if program_currency is not None and currencies.is_currency(program_currency) and code != program_currency:
            self.report(
                "LOY202",
                f"{_fmt(money.amount)} {code} is not in the program's currency, {program_currency}",
                currency_span,
                hint=f"write every amount in {program_currency}; a program has one currency",
            )
            return
        places = decimal_places(money.amount)
        if not allow_fractions and places > currencies.minor_units(code):
            allowed = currencies.minor_units(code)
            self.report(
                "LOY208",
                f"{_fmt(money.amount)} {code} has {places} decimals; {code} has "
                + (f"{allowed}" if allowed else "no") + " minor unit" + ("s" if allowed != 1 else ""),
                money.span,
                hint=f"round the amount to {allowed} decimals" if allowed else f"write a whole number of {code}",
            )

    def check_percent(self, percent: ast.Percent, what: str) -> None:
        if not (0 < percent.value <= 100):
            self.report(
                "LOY203",
                f"{_fmt(percent.value)}% is not a valid percentage for {what}",
                percent.span,
                hint="a percentage must be above 0% and at most 100%",
            )

    def check_ordinal(self, ordinal: ast.Ordinal) -> None:
        if ordinal.value <= 0:
            self.report("LOY204", f"{ordinal.value}th is not a position: counting starts at 1st", ordinal.span,
                        hint="write 1st, 2nd, 3rd, 6th...")

    def check_positive_count(self, count: ast.Count, what: str) -> None:
        if count.value <= 0 or not _is_whole(count.value):
            self.report("LOY204", f"{what} is {_fmt(count.value)}; it must be a positive whole number",
                        count.span, hint="write a whole number from 1 up")

    def check_positive(self, q: Union[ast.Money, ast.PointsAmount], what: str) -> None:
        if q.amount <= 0:
            self.report("LOY207", f"{what} must be more than zero, not {_quantity_text(q)}", q.span,
                        hint="write a positive amount" + ("; to remove the rule, delete it" if q.amount == 0 else ""))

    def check_not_negative(self, q: ast.Money, what: str) -> None:
        if q.amount < 0:
            self.report("LOY207", f"{what} cannot be negative ({_quantity_text(q)})", q.span,
                        hint="write 0 or a positive amount")

    def check_comparison(self, cmp: ast.Comparison) -> None:
        measure = cmp.measure
        if measure.kind == "balance" and measure.unit is not None:
            kind = self.resolve_unit(measure.unit, measure.span, where_head=True)
            expected: Unit = ("points", kind)
        elif measure.kind in ("order_total", "lifetime_spend"):
            expected = ("money", self.sym.currency)
        else:
            expected = ("count", None)
        value = cmp.value
        if isinstance(value, ast.PointsAmount) and not (measure.kind == "balance"):
            self.resolve_unit(value.unit, value.span)
        unit = _quantity_unit(value, self.sym)
        if not self.unit_fits(unit, expected):
            self.report(
                "LOY201",
                f"{_measure_words(measure)} is {_unit_words(expected)}, but it is compared with "
                f"{_quantity_text(value)}, which is {_unit_words(unit)}",
                value.span,
                hint=f"compare it with {_unit_example(expected)}",
            )
        elif isinstance(value, ast.Count) and not _is_whole(value.value):
            self.report("LOY204", f"{_measure_words(measure)} counts whole things, not {_fmt(value.value)}",
                        value.span, hint="compare with a whole number")


class _Ref:
    __slots__ = ("node",)

    def __init__(self, node: ast.Text):
        self.node = node


# ------------------------------------------------------------------ small pure helpers


def _never_together(a: RuleEntry, b: RuleEntry) -> bool:
    """Whether two rules' conditions can never hold on the same order (simple, certain cases only, as
    `_always_false`): `when` comparisons of one measure with no value in common, or different channels or stores."""
    ca = list(a.rule.clauses) + list(a.inherited_clauses())
    cb = list(b.rule.clauses) + list(b.inherited_clauses())
    by_measure: dict = {}
    for c in ca + cb:
        if isinstance(c, ast.When):
            operands = c.expr.operands if isinstance(c.expr, ast.And) else (c.expr,)
            for e in operands:
                if isinstance(e, ast.Comparison):
                    by_measure.setdefault((e.measure.kind, e.measure.unit), []).append(e)
    if any(_interval_empty(group) for group in by_measure.values()):
        return True
    for kind in (ast.OnChannels, ast.InStores):
        na = [frozenset(n.value for n in c.names) for c in ca if isinstance(c, kind)]
        nb = [frozenset(n.value for n in c.names) for c in cb if isinstance(c, kind)]
        if na and nb and not (frozenset.intersection(*na) & frozenset.intersection(*nb)):
            return True
    return False


def _stacking_word(clause) -> str:
    if isinstance(clause, ast.Priority):
        return f"priority {clause.rank.value}"
    return "exclusive" if isinstance(clause, ast.Exclusive) else "best of"


def _setting_word(setting) -> str:
    return {
        ast.CurrencySetting: "currency",
        ast.TimezoneSetting: "timezone",
        ast.RunsSetting: "runs from",
        ast.RewardsOnReturnSetting: "rewards are ... on return",
        ast.MembersJoinAtSignup: "members join at signup",
        ast.PreSignupWindow: "purchases up to ... before signup count",
        ast.StackingSetting: "at most one discount per order / per line, discounts stack",
        ast.GiftStackingSetting: "at most one gift per order, gifts stack",
    }.get(type(setting), f"{setting.what} accepted within" if isinstance(setting, ast.AcceptanceWindow) else "setting")


def _points_setting_word(setting) -> str:
    return {
        ast.PointCost: "cost ... each",
        ast.ExpireAfterEarning: "expire ... after earning",
        ast.ExpireAfterInactivity: "expire after ... without a purchase",
        ast.ExpireAtPeriodEnd: "expire at the end of ...",
        ast.PendingSetting: "available ... after purchase",
        ast.RoundingSetting: "round ... per ...",
        ast.BalancePolicy: "balance policy",
    }.get(type(setting), "setting")


def _draw_word(clause) -> str:
    return {
        ast.DrawSchedule: "held every ...",
        ast.DrawPrize: "prize",
        ast.DrawWinners: "winners",
        ast.DrawRate: "entry per ...",
    }[type(clause)]


def _metric_words(metric: ast.Metric) -> str:
    if metric.kind == "spend":
        return "spend (money)"
    if metric.kind == "visits":
        return "visits (a count)"
    return f"{metric.unit} earned (points)"


def _measure_words(measure: ast.Measure) -> str:
    return {
        "order_total": "order total",
        "order_items": "order items",
        "lifetime_spend": "lifetime spend",
        "visits": "visits",
        "balance": f"{measure.unit} balance",
    }[measure.kind]


def _unit_example(expected: Unit) -> str:
    kind, name = expected
    if kind == "money":
        return f"an amount of money, e.g. 500 {name or 'NOK'}"
    if kind == "points":
        return f"points, e.g. 1000 {name or 'points'}"
    if kind == "count":
        return "a plain number, e.g. 10"
    return "a percentage"


def _point_cost(decl: ast.PointsDecl) -> Optional[Decimal]:
    """A point kind's `cost ... each`, when it has one (a negative cost is LOY207's business)."""
    cost = next((s.money.amount for s in decl.settings if isinstance(s, ast.PointCost)), None)
    return cost if cost is not None and cost >= 0 else None


def _earned_kind(action, sym: Symbols) -> Optional[str]:
    if isinstance(action, (ast.EarnPerSpend, ast.EarnPerEvent, ast.EarnFixed)):
        return sym.point_kind(action.points.unit)
    if isinstance(action, ast.EarnMultiplier) and action.unit is not None:
        return sym.point_kind(action.unit)
    return None


# the fewest and most days a duration can span on the calendar (a month is 28 to 31 days)
_UNIT_DAYS = {"day": (1, 1), "week": (7, 7), "month": (28, 31), "year": (365, 366)}


def duration_days(d: ast.Duration) -> Optional[tuple[int, int]]:
    """The fewest and most days `d` spans, or None when it is not a positive whole number (LOY205 says so)."""
    if d.amount <= 0 or not _is_whole(d.amount) or d.unit not in _UNIT_DAYS:
        return None
    lo, hi = _UNIT_DAYS[d.unit]
    return int(d.amount) * lo, int(d.amount) * hi


def winback_after_expiry(winback: ast.Duration, expiry: ast.Duration) -> bool:
    """Whether a lapse of `winback` surely ends at or after an expiry of `expiry` after the same purchase
    (at the same moment the points expire first: docs/semantics.md, "Win-back")."""
    if winback.unit == expiry.unit:
        return winback.amount >= expiry.amount
    fires, expires = duration_days(winback), duration_days(expiry)
    return fires is not None and expires is not None and fires[0] >= expires[1]


def _duration_text(d: ast.Duration) -> str:
    return f"{_fmt(d.amount)} {d.unit if d.amount == 1 else d.unit + 's'}"


def _shorter_days(days: int) -> str:
    """A win-back duration a week (or a day) before `days`, for a hint."""
    n = days - 7 if days > 14 else max(days - 1, 1)
    return f"{n} day" + ("s" if n != 1 else "")


# the most days one calendar period holds
_PERIOD_MOST_DAYS = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 366}


def _goal_days(trigger) -> tuple[str, Optional[int]]:
    """(what a goal counts, how many different days it needs), the days None unless it counts `on different
    days` a positive whole number of times."""
    if isinstance(trigger, ast.AfterGoal) and isinstance(trigger.target, ast.GoalCount):
        t = trigger.target
        if t.different_days and t.count.value > 0 and _is_whole(t.count.value):
            return t.counted, int(t.count.value)
        return t.counted, None
    return "", None


def _window_most_days(window) -> Optional[int]:
    """The most days a goal's window can hold: a calendar period's longest, a rolling window's most days
    (it holds the day of the event and the days before it)."""
    if isinstance(window, ast.GoalInCalendar):
        return _PERIOD_MOST_DAYS[window.period]
    span = duration_days(window.duration)
    return span[1] if span is not None else None


def _goal_window_text(window) -> str:
    if isinstance(window, ast.GoalInCalendar):
        return f"a calendar {window.period}"
    return f"within {_duration_text(window.duration)}"


def _periods_touched(lo: _dt.date, hi: _dt.date, period: str) -> int:
    """How many calendar periods the days lo to hi (both included) fall in (weeks start on Monday)."""
    if period == "day":
        return (hi - lo).days + 1
    if period == "week":
        return ((hi - _dt.timedelta(days=hi.weekday())) - (lo - _dt.timedelta(days=lo.weekday()))).days // 7 + 1
    if period == "year":
        return hi.year - lo.year + 1
    months = 3 if period == "quarter" else 1
    return (hi.year * 12 + hi.month - 1) // months - (lo.year * 12 + lo.month - 1) // months + 1


def _allowed_weekdays(conditions) -> Optional[frozenset]:
    """The weekdays (0 = Monday) the rule's `on mondays, ...` conditions leave, or None when they leave all."""
    days = set(range(7))
    for c in conditions:
        if isinstance(c, ast.OnWeekdays):
            days &= set().union(*(_WEEKDAYS[d] for d in c.days))
    return frozenset(days) if len(days) < 7 else None


def _longest_run(days: frozenset) -> int:
    """The most consecutive days (across the week's end) whose weekdays are all in `days` (fewer than 7)."""
    best = run = 0
    for i in range(14):
        run = run + 1 if i % 7 in days else 0
        best = max(best, run)
    return best


def _most_weekdays_in(days: frozenset, span: int) -> int:
    """The most days of the weekdays `days` that any `span` consecutive days hold."""
    return span // 7 * len(days) + max(sum(1 for i in range(span % 7) if (s + i) % 7 in days) for s in range(7))


def _weekday_words(days: frozenset) -> str:
    names = ["mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays"]
    if days == frozenset({5, 6}):
        return "weekends"
    if days == frozenset(range(5)):
        return "weekdays"
    return ", ".join(names[d] for d in sorted(days)) or "no day"


def _ordinal_suffix(n: int) -> str:
    return "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _no_order_event(action, triggers) -> bool:
    """True when the rule fires on something other than a purchase (so no order exists)."""
    if isinstance(action, ast.EarnPerEvent):
        return action.event == "referral"
    return any(isinstance(t, (ast.OnSignup, ast.OnAction, ast.AfterInactivity, ast.OnEachBirthday,
                              ast.OnEachAnniversary, ast.OnReachingTier, ast.OnReferring)) for t in triggers) or any(
        isinstance(t, ast.OnReferred) and t.qualifying is None for t in triggers)


def _outside(start: Optional[ast.DateValue], end: Optional[ast.DateValue], lo, hi) -> Optional[str]:
    """How the window [start, end] leaves [lo, hi] (None bounds are open), or None."""
    s = start.value if start is not None else None
    e = end.value if end is not None else None
    if lo is not None and s is not None and s < lo:
        return f"starts on {start.text}"
    if hi is not None and s is not None and s > hi:
        return f"starts on {start.text}"
    if hi is not None and e is not None and e > hi:
        return f"ends on {end.text}"
    if lo is not None and e is not None and e < lo:
        return f"ends on {end.text}"
    return None


def problem_span(node, start, end, problem: str) -> Span:
    if problem.startswith("starts") and start is not None:
        return start.span
    if problem.startswith("ends") and end is not None:
        return end.span
    return node.span


# --- `when` conditions that are never true (simple, certain cases only)

_NON_NEGATIVE_MEASURES = ("order_total", "order_items", "lifetime_spend", "visits")


def _always_false(expr, sym: Symbols) -> bool:
    if isinstance(expr, ast.Comparison):
        return _interval_empty([expr])
    if isinstance(expr, ast.Or):
        return all(_always_false(e, sym) for e in expr.operands)
    if isinstance(expr, ast.And):
        if any(_always_false(e, sym) for e in expr.operands):
            return True
        comparisons = [e for e in expr.operands if isinstance(e, ast.Comparison)]
        by_measure: dict[tuple, list[ast.Comparison]] = {}
        for c in comparisons:
            by_measure.setdefault((c.measure.kind, c.measure.unit), []).append(c)
        return any(_interval_empty(group) for group in by_measure.values())
    return False


def _interval_empty(comparisons: list[ast.Comparison]) -> bool:
    """True when no value satisfies every comparison (all on one measure, numeric bounds)."""
    lo: Optional[Decimal] = None
    lo_open = False
    hi: Optional[Decimal] = None
    hi_open = False
    kind = comparisons[0].measure.kind
    if kind in _NON_NEGATIVE_MEASURES:
        lo, lo_open = Decimal(0), False
    units = {type(c.value) for c in comparisons}
    if len(units) != 1 or isinstance(comparisons[0].value, ast.Percent):
        return False  # mixed units are LOY201's business
    for c in comparisons:
        v = _quantity_value(c.value)
        if v is None:
            return False
        if c.op in (">", ">="):
            if lo is None or v > lo or (v == lo and c.op == ">"):
                lo, lo_open = v, c.op == ">"
        elif c.op in ("<", "<="):
            if hi is None or v < hi or (v == hi and c.op == "<"):
                hi, hi_open = v, c.op == "<"
        elif c.op == "=":
            if (lo is not None and (v < lo or (v == lo and lo_open))) or (
                hi is not None and (v > hi or (v == hi and hi_open))
            ):
                return True
            lo, lo_open, hi, hi_open = v, False, v, False
    if lo is None or hi is None:
        return False
    return lo > hi or (lo == hi and (lo_open or hi_open))


def _tier_names_of(node) -> tuple:
    """The tier names a `for tier` condition or an `on reaching tier` trigger names."""
    if isinstance(node, ast.ForTiers):
        return tuple(n.value for n in node.names)
    return (node.tier.value,)
