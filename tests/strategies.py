"""Hypothesis strategies that generate loyalty programs as typed ASTs.

- `programs()`: anything the parser can produce (every construct of the grammar, odd
  names full of quotes, backslashes, newlines and unicode, negative and high-scale
  numbers). For syntax round-trips: parse(format_program(p)) == p.
- `valid_programs()`: programs the checker accepts with no diagnostic at all: one
  program block, declared names used consistently, money in the program currency,
  tiers strictly increasing... For the compiler and the evaluator.

Both build nodes without spans (NO_SPAN); AST equality ignores spans.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
import operator
import re
from decimal import Decimal
from typing import Optional

from hypothesis import assume, strategies as st

from loyalty import rates
from loyalty.checker import resolve_point_kind
from loyalty.checker.checks import winback_after_expiry
from loyalty.checker.hidden import HIDDEN

from loyalty.syntax import ast
from loyalty.syntax.parser import grammar_text

# Every word the grammar quotes is a keyword somewhere; keywords are contextual, so a
# point kind spelled like one would lex as the keyword in some positions.
KEYWORDS = frozenset(re.findall(r'"([a-z]+)"', grammar_text())) | {"lifetime"}
# `points` only starts a declaration, where no unit can stand, so it is safe (and common) as a unit
UNIT_KEYWORDS = KEYWORDS - {"points"}

PERIODS = ("day", "week", "month", "quarter", "year")
DURATION_UNITS = ("day", "week", "month", "year")
WEEKDAYS = ("mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays", "weekdays", "weekends")
COMPARATORS = (">=", "<=", "!=", ">", "<", "=")

# ================================================================== programs(): anything that parses

_AWKWARD_NAMES = (
    "latte",
    "",
    " ",
    'a "quoted" name',
    "back\\slash",
    "ends with backslash\\",
    "tab\there",
    "new\nline",
    "cr\rlf\n",
    "nul\0byte",
    "bell\x07 and del\x7f",
    "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e",
    "\u65e5\u672c\u8336",
    "party \U0001f389",
    "zero\u200bwidth",
    "line\u2028separator",
    "rtl \u202e override",
    "# not a comment",
    "}{",
    "\\u0041 is not an escape here",
)


# the largest number the checker accepts (20 digits, LOY403): extreme but valid durations and multipliers
LARGEST = Decimal("99999999999999999999")


@functools.lru_cache(maxsize=None)
def texts() -> st.SearchStrategy[ast.Text]:
    return st.builds(ast.Text, st.one_of(st.sampled_from(_AWKWARD_NAMES), st.text(max_size=12)))


def text_lists(min_size: int = 1) -> st.SearchStrategy[tuple[ast.Text, ...]]:
    return st.lists(texts(), min_size=min_size, max_size=3).map(tuple)


_LOWER = "abcdefghijklmnopqrstuvwxyz"


@functools.lru_cache(maxsize=None)
def units() -> st.SearchStrategy[str]:
    """A point kind as written bare (`stars`): a NAME that is not a keyword."""
    return st.one_of(
        st.sampled_from(["points", "point", "stars", "star", "miles", "bonus_points"]),
        st.builds(operator.add, st.sampled_from(_LOWER), st.text(_LOWER + "_", max_size=9)),
    ).filter(lambda u: u not in UNIT_KEYWORDS)


def decimals(min_value: int = -(10**9), max_value: int = 10**9, max_places: int = 4) -> st.SearchStrategy[Decimal]:
    """Decimals as a user writes them: 5, 5.0, 0.125, -3, and the odd 1E+2 built in code."""
    written = st.builds(
        lambda digits, places: Decimal(digits).scaleb(-places),
        st.integers(min_value, max_value),
        st.integers(0, max_places),
    )
    exponent_form = st.builds(lambda d: Decimal(f"{d}E+2"), st.integers(0, 99))
    return st.one_of(written, exponent_form.filter(lambda d: min_value <= d <= max_value))


@functools.lru_cache(maxsize=None)
def non_negative_decimals() -> st.SearchStrategy[Decimal]:
    return decimals(0, 10**9)


@functools.lru_cache(maxsize=None)
def currencies() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["NOK", "USD", "EUR", "JPY", "KWD"]), st.from_regex(r"[A-Z]{3}", fullmatch=True))


def moneys(currency: Optional[st.SearchStrategy[str]] = None) -> st.SearchStrategy[ast.Money]:
    return st.builds(ast.Money, decimals(), currency or currencies())


@functools.lru_cache(maxsize=None)
def points_amounts() -> st.SearchStrategy[ast.PointsAmount]:
    return st.builds(ast.PointsAmount, decimals(), units())


@functools.lru_cache(maxsize=None)
def counts() -> st.SearchStrategy[ast.Count]:
    return st.builds(ast.Count, decimals())


@functools.lru_cache(maxsize=None)
def percents() -> st.SearchStrategy[ast.Percent]:
    return st.builds(ast.Percent, decimals(-1000, 1000))


@functools.lru_cache(maxsize=None)
def multipliers() -> st.SearchStrategy[ast.Multiplier]:
    return st.builds(ast.Multiplier, non_negative_decimals())


@functools.lru_cache(maxsize=None)
def param_refs() -> st.SearchStrategy[ast.ParamRef]:
    return st.builds(ast.ParamRef, texts())


def or_ref(values: st.SearchStrategy) -> st.SearchStrategy:
    """A literal, or (one time in four) a parameter reference in its place: for the places the grammar takes one."""
    return st.one_of(values, values, values, param_refs())


@functools.lru_cache(maxsize=None)
def quantities() -> st.SearchStrategy[ast.Quantity]:
    return st.one_of(moneys(), points_amounts(), counts(), percents(), param_refs())


def _param_values_list() -> list:
    return [moneys(), points_amounts(), counts(), durations(), percents(), multipliers(), ordinals()]


@functools.lru_cache(maxsize=None)
def params_decls() -> st.SearchStrategy[ast.ParamsDecl]:
    param = st.builds(ast.ParamDecl, texts(), st.one_of(*_param_values_list()))
    return st.builds(ast.ParamsDecl, st.lists(param, max_size=4).map(tuple))


@functools.lru_cache(maxsize=None)
def durations() -> st.SearchStrategy[ast.Duration]:
    return st.builds(ast.Duration, st.one_of(st.just(Decimal(1)), decimals()), st.sampled_from(DURATION_UNITS))


@functools.lru_cache(maxsize=None)
def dates() -> st.SearchStrategy[ast.DateValue]:
    return st.dates().map(lambda d: ast.DateValue(d, d.isoformat()))


@functools.lru_cache(maxsize=None)
def times() -> st.SearchStrategy[ast.TimeOfDay]:
    return st.one_of(
        st.builds(ast.TimeOfDay, st.integers(0, 23), st.integers(0, 59)),
        st.just(ast.TimeOfDay(24, 0)),
    )


@functools.lru_cache(maxsize=None)
def ordinals() -> st.SearchStrategy[ast.Ordinal]:
    return st.builds(ast.Ordinal, st.one_of(st.integers(0, 200), st.integers(0, 10**6)))


@functools.lru_cache(maxsize=None)
def periods() -> st.SearchStrategy[str]:
    return st.sampled_from(PERIODS)


@functools.lru_cache(maxsize=None)
def selectors() -> st.SearchStrategy[ast.ItemSelector]:
    return st.one_of(
        st.builds(ast.ItemSelector, st.just("items"), text_lists()),
        st.just(ast.ItemSelector("any", ())),
        st.builds(ast.ItemSelector, st.just("categories"), text_lists()),
    )


@functools.lru_cache(maxsize=None)
def windows() -> st.SearchStrategy[Optional[ast.Node]]:
    return st.one_of(
        st.none(), st.builds(ast.RollingWindow, or_ref(durations())), st.builds(ast.CalendarWindow, periods())
    )


@functools.lru_cache(maxsize=None)
def metrics() -> st.SearchStrategy[ast.Metric]:
    kind_unit = st.one_of(
        st.tuples(st.just("spend"), st.none()),
        st.tuples(st.just("visits"), st.none()),
        st.tuples(st.just("earned"), units()),
    )
    return st.builds(lambda ku, lifetime, window: ast.Metric(ku[0], ku[1], lifetime, window), kind_unit, st.booleans(), windows())


# ---------------------------------------------------------------- expressions


@functools.lru_cache(maxsize=None)
def measures() -> st.SearchStrategy[ast.Measure]:
    return st.one_of(
        st.builds(ast.Measure, st.sampled_from(["order_total", "order_items", "lifetime_spend", "visits"]), st.none()),
        st.builds(ast.Measure, st.just("balance"), units()),
    )


@functools.lru_cache(maxsize=None)
def _comparisons() -> st.SearchStrategy[ast.Comparison]:
    return st.builds(ast.Comparison, measures(), st.sampled_from(COMPARATORS), quantities())


def expressions(atoms: Optional[st.SearchStrategy[ast.Expr]] = None) -> st.SearchStrategy[ast.Expr]:
    """Nested and/or/not trees; operands of And/Or may themselves be And/Or (written in parentheses)."""
    atoms = atoms or st.one_of(
        _comparisons(),
        st.builds(ast.HasItem, texts()),
        st.builds(ast.HasCategory, texts()),
        st.just(ast.IsFirstPurchase()),
    )
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.builds(ast.Not, inner),
            st.builds(ast.And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
            st.builds(ast.Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        ),
        max_leaves=8,
    )


# ---------------------------------------------------------------- clauses


@functools.lru_cache(maxsize=None)
def actions() -> st.SearchStrategy[ast.Node]:
    return st.one_of(*_actions_list())


@functools.lru_cache(maxsize=None)
def _actions_list() -> list:
    return [
        st.builds(ast.PunchFree, or_ref(ordinals()), selectors()),
        st.builds(ast.PunchDiscount, or_ref(ordinals()), selectors(), or_ref(percents())),
        st.builds(ast.PaidThenFree, or_ref(counts()), selectors(), or_ref(counts())),
        st.builds(ast.EarnPerSpend, or_ref(points_amounts()), or_ref(moneys())),
        st.builds(ast.EarnPerEvent, or_ref(points_amounts()), st.sampled_from(["referral", "visit"])),
        st.builds(ast.EarnFixed, or_ref(points_amounts())),
        st.one_of(st.builds(ast.EarnMultiplier, multipliers(), st.none() | units()),
                  st.builds(ast.EarnMultiplier, param_refs(), units())),  # a reference takes its unit
        st.builds(ast.GiveReward, texts()),
        st.builds(ast.Discount, or_ref(percents())),
        # (points parse where an amount of money stands, for the checker to refuse them: LOY201)
        st.builds(ast.DiscountEach, or_ref(moneys() | points_amounts())),
        st.builds(ast.DiscountOrder, or_ref(moneys() | points_amounts()), or_ref(moneys() | points_amounts())),
        st.builds(ast.FixedPrice, selectors(), or_ref(moneys() | points_amounts())),
        st.builds(ast.BundleBuyGet, or_ref(counts()), selectors(), or_ref(counts())),
        st.builds(ast.BundlePriceOf, or_ref(counts()), selectors(), or_ref(counts())),
        st.builds(
            ast.DiscountScale,
            metrics(),
            st.lists(st.builds(ast.ScaleStep, or_ref(percents()), quantities()), min_size=1, max_size=3).map(tuple),
        ),
    ]


@functools.lru_cache(maxsize=None)
def triggers() -> st.SearchStrategy[ast.Node]:
    return st.one_of(*_triggers_list())


@functools.lru_cache(maxsize=None)
def _triggers_list() -> list:
    return [
        st.just(ast.OnSignup()),
        st.just(ast.OnFirstPurchase()),
        st.builds(ast.OnAction, texts()),
        st.builds(ast.OnNthVisit, or_ref(ordinals())),
        st.builds(ast.AfterEveryVisits, or_ref(counts())),
        st.builds(ast.AfterEverySpend, or_ref(moneys())),
        st.builds(ast.AfterInactivity, or_ref(durations())),
        st.builds(ast.OnNthPurchase, or_ref(ordinals())),
        st.just(ast.OnEachBirthday()),
        st.just(ast.OnEachAnniversary()),
        st.builds(ast.OnReachingTier, texts()),
        st.builds(ast.AfterGoal, goal_counts(), st.builds(ast.GoalInCalendar, periods())),
        st.builds(ast.AfterGoal, st.builds(ast.GoalSpend, moneys()), st.builds(ast.GoalWithin, durations())),
        st.builds(ast.AfterGoal, goal_counts() | st.builds(ast.GoalSpend, moneys()),
                  st.builds(ast.GoalInCalendar, periods()) | st.builds(ast.GoalWithin, durations())),
        st.builds(ast.AfterStreak, st.sampled_from(["visit", "purchase"]), counts(), periods()),
        st.builds(ast.OnReferring, st.builds(ast.QualifyingPurchase, moneys(), durations())),
        st.builds(ast.OnReferred, st.builds(ast.QualifyingPurchase, moneys(), durations())),
        st.just(ast.OnReferring()),
        st.just(ast.OnReferred()),
    ]


def goal_counts() -> st.SearchStrategy[ast.GoalCount]:
    return st.builds(ast.GoalCount, counts(), st.sampled_from(["visits", "purchases"]), st.booleans())


@functools.lru_cache(maxsize=None)
def conditions() -> st.SearchStrategy[ast.Node]:
    return st.one_of(*_conditions_list())


@functools.lru_cache(maxsize=None)
def _conditions_list() -> list:
    return [
        st.builds(ast.DateWindow, dates(), st.none() | dates()),
        st.builds(ast.UntilDate, dates()),
        st.builds(ast.OnItems, text_lists()),
        st.builds(ast.OnCategories, text_lists()),
        st.builds(ast.OnWeekdays, st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3).map(tuple)),
        st.builds(ast.BetweenHours, times(), times()),
        st.builds(ast.ForSegments, text_lists()),
        st.builds(ast.ForTiers, text_lists()),
        st.builds(ast.InStores, text_lists()),
        st.builds(ast.InRegions, text_lists()),
        st.builds(ast.OnChannels, text_lists()),
        st.just(ast.InBirthdayMonth()),
        st.just(ast.OnBirthday()),
        st.builds(ast.When, expressions()),
    ]


@functools.lru_cache(maxsize=None)
def limits() -> st.SearchStrategy[ast.Node]:
    cap_amounts = st.one_of(
        st.just(ast.CapOnce()), st.builds(ast.CapTimes, or_ref(counts())), points_amounts(), moneys(), param_refs()
    )
    return st.one_of(
        st.builds(ast.Cap, cap_amounts, st.none() | periods()),
        st.builds(ast.Budget, st.one_of(moneys(), points_amounts(), param_refs())),
    )


@functools.lru_cache(maxsize=None)
def stacking_clauses() -> st.SearchStrategy[ast.Node]:
    return st.one_of(st.just(ast.Exclusive()), st.builds(ast.Priority, or_ref(counts())))


@functools.lru_cache(maxsize=None)
def rules() -> st.SearchStrategy[ast.RuleDecl]:
    clauses = st.one_of(actions(), triggers(), conditions(), limits(), st.builds(ast.WithCode, texts()),
                        stacking_clauses())
    return st.builds(ast.RuleDecl, texts(), st.lists(clauses, min_size=1, max_size=6).map(tuple))


# ---------------------------------------------------------------- declarations


@functools.lru_cache(maxsize=None)
def _program_decls() -> st.SearchStrategy[ast.ProgramDecl]:
    settings = st.one_of(
        st.builds(ast.CurrencySetting, currencies()),
        st.builds(ast.TimezoneSetting, texts()),
        st.builds(ast.RunsSetting, dates(), st.none() | dates()),
        st.builds(ast.RewardsOnReturnSetting, st.booleans()),
        st.builds(ast.AcceptanceWindow, st.sampled_from(["returns", "late events"]), durations()),
        st.builds(ast.MembersJoinAtSignup),
        st.builds(ast.PreSignupWindow, durations()),
        st.builds(ast.StackingSetting, st.sampled_from(["one per order", "one per line", "stack"])),
        st.builds(ast.GiftStackingSetting, st.sampled_from(["one per order", "stack"])),
    )
    return st.builds(ast.ProgramDecl, texts(), st.lists(settings, max_size=5).map(tuple))


@functools.lru_cache(maxsize=None)
def _points_settings_list() -> list:
    return [
        st.builds(ast.PointCost, or_ref(moneys())),
        st.builds(ast.ExpireAfterEarning, or_ref(durations())),
        st.builds(ast.ExpireAfterInactivity, or_ref(durations())),
        st.builds(ast.ExpireAtPeriodEnd, periods(), st.booleans()),
        st.builds(ast.PendingSetting, or_ref(durations())),
        st.builds(
            ast.RoundingSetting, st.sampled_from(["down", "up", "half even", "half up"]), st.sampled_from(["order", "line"])
        ),
        st.builds(ast.BalancePolicy, st.sampled_from(["negative", "zero", "pending_only"])),
    ]


@functools.lru_cache(maxsize=None)
def _points_decls() -> st.SearchStrategy[ast.PointsDecl]:
    settings = st.one_of(*_points_settings_list())
    return st.builds(ast.PointsDecl, texts(), st.lists(settings, max_size=5).map(tuple))


@functools.lru_cache(maxsize=None)
def _reward_kinds() -> st.SearchStrategy[ast.Node]:
    return st.one_of(*_reward_kinds_list())


@functools.lru_cache(maxsize=None)
def _reward_kinds_list() -> list:
    return [
        st.builds(ast.FreeItemReward, selectors()),
        st.builds(ast.AmountOffReward, moneys()),
        st.builds(ast.PercentOffReward, percents()),
        st.builds(ast.GiftCardReward, or_ref(moneys()), st.none() | texts()),
        st.builds(ast.GiftReward, texts()),
        st.just(ast.PerkReward()),
    ]


@functools.lru_cache(maxsize=None)
def _tiers_decls() -> st.SearchStrategy[ast.TiersDecl]:
    benefits = st.one_of(
        st.builds(ast.BenefitMultiplier, or_ref(multipliers()), st.none() | units()),
        st.builds(ast.BenefitDiscount, or_ref(percents())),
        st.builds(ast.BenefitPerk, texts(), st.none() | or_ref(moneys())),
        st.builds(ast.BenefitFee, moneys(), periods()),
    )
    tier = st.builds(ast.TierDecl, texts(), quantities(), st.lists(benefits, max_size=3).map(tuple))
    downgrade = st.builds(ast.Downgrade, periods(), st.none() | or_ref(durations()))
    return st.builds(
        ast.TiersDecl, metrics(), st.lists(tier, min_size=1, max_size=3).map(tuple), st.none() | downgrade
    )


@functools.lru_cache(maxsize=None)
def _draw_decls() -> st.SearchStrategy[ast.DrawDecl]:
    clauses = st.one_of(
        st.builds(ast.DrawSchedule, periods()),
        st.builds(ast.DrawPrize, or_ref(moneys())),
        st.builds(ast.DrawWinners, or_ref(counts())),
        st.builds(ast.DrawRate, or_ref(counts()), or_ref(moneys())),
        conditions(),
    )
    return st.builds(ast.DrawDecl, texts(), st.lists(clauses, max_size=5).map(tuple))


@functools.lru_cache(maxsize=None)
def declarations() -> st.SearchStrategy[ast.Node]:
    catalog_entry = st.one_of(
        st.builds(ast.CategoryDecl, texts()), st.builds(ast.ItemDecl, texts(), texts(), st.none() | or_ref(moneys()))
    )
    campaign_clause = st.one_of(conditions(), limits(), rules(), st.builds(ast.WithCode, texts()), stacking_clauses(),
                                st.just(ast.BestOf()))
    return st.one_of(
        _program_decls(),
        _points_decls(),
        st.builds(ast.CatalogDecl, st.lists(catalog_entry, max_size=4).map(tuple)),
        st.builds(ast.SegmentDecl, texts()),
        st.builds(ast.StoreDecl, texts(), st.none() | texts()),
        st.builds(lambda name, kind, cost, lifetime, stock: ast.RewardDecl(name, kind, cost, *lifetime, stock=stock),
                  texts(), _reward_kinds(), st.none() | or_ref(moneys()),
                  st.tuples(st.none(), st.none()) | st.tuples(or_ref(durations()), st.none())
                  | st.tuples(st.none(), dates()), st.none() | or_ref(counts())),
        st.builds(ast.RedeemDecl, or_ref(points_amounts()), texts()),
        st.builds(ast.CodeDecl, texts(), st.none() | or_ref(counts())),
        rules(),
        st.builds(ast.CampaignDecl, texts(), st.lists(campaign_clause, max_size=4).map(tuple)),
        _tiers_decls(),
        _draw_decls(),
        params_decls(),
    )


CONSTRUCT_PARTS = ("declarations", "punch cards", "other actions", "triggers and limits", "conditions", "expressions",
                   "parameters")


@st.composite
def every_construct(draw, part: Optional[str] = None) -> ast.Program:
    """A program holding every construct of one part of the language (declarations and
    settings, actions, triggers and limits, conditions, expressions), with random values.
    Parts keep each example small enough for Hypothesis; over a run every part comes up."""

    def each(strategies: list) -> list:
        return [draw(s) for s in strategies]

    name = texts()
    part = part or draw(st.sampled_from(CONSTRUCT_PARTS))
    if part == "punch cards":
        return ast.Program((ast.RuleDecl(draw(name), tuple(each(_actions_list()[:3]))),))
    if part == "other actions":
        scale_metric = ast.Metric(draw(st.sampled_from(["spend", "visits"])), None, draw(st.booleans()),
                                  ast.CalendarWindow(draw(periods())))
        scale = ast.DiscountScale(scale_metric, (ast.ScaleStep(draw(percents()), draw(quantities())),))
        return ast.Program((ast.RuleDecl(draw(name), tuple(each(_actions_list()[3:-1])) + (scale,)),))
    if part == "triggers and limits":
        limits_each = (
            ast.Cap(ast.CapOnce(), draw(st.none() | periods())),
            ast.Cap(draw(st.builds(ast.CapTimes, counts())), draw(periods())),
            ast.Cap(draw(points_amounts()), None),
            ast.Cap(draw(moneys()), draw(periods())),
            ast.Budget(draw(moneys())),
            ast.Budget(draw(points_amounts())),
        )
        return ast.Program((ast.RuleDecl(draw(name), tuple(each(_triggers_list())) + limits_each),))
    if part == "conditions":
        return ast.Program((ast.RuleDecl(draw(name), tuple(each(_conditions_list()))),))
    if part == "parameters":
        # a value of every kind, and a reference in every kind of place that takes one
        params = ast.ParamsDecl(tuple(ast.ParamDecl(draw(name), v) for v in each(_param_values_list())))
        ref = param_refs()
        rule = ast.RuleDecl(draw(name), (
            ast.PunchFree(draw(ref), draw(selectors())), ast.PaidThenFree(draw(ref), draw(selectors()), draw(ref)),
            ast.EarnPerSpend(draw(ref), draw(ref)), ast.EarnFixed(draw(ref)), ast.EarnMultiplier(draw(ref), draw(units())),
            ast.Discount(draw(ref)), ast.OnNthVisit(draw(ref)), ast.AfterEverySpend(draw(ref)),
            ast.Cap(draw(ref), None), ast.Cap(ast.CapTimes(draw(ref)), draw(periods())), ast.Budget(draw(ref)),
            ast.When(ast.Comparison(draw(measures()), draw(st.sampled_from(COMPARATORS)), draw(ref))),
        ))
        points_decl = ast.PointsDecl(draw(name), (ast.PointCost(draw(ref)), ast.ExpireAfterEarning(draw(ref)),
                                                  ast.PendingSetting(draw(ref))))
        tiers = ast.TiersDecl(
            ast.Metric("spend", None, False, ast.RollingWindow(draw(ref))),
            (ast.TierDecl(draw(name), draw(ref), (ast.BenefitMultiplier(draw(ref), None), ast.BenefitDiscount(draw(ref)),
                                                   ast.BenefitPerk(draw(name), draw(ref)))),),
            ast.Downgrade(draw(periods()), draw(ref)))
        return ast.Program((params, points_decl, rule, tiers))
    if part == "expressions":
        measures_each = [ast.Measure(kind, None) for kind in ("order_total", "order_items", "lifetime_spend", "visits")]
        measures_each.append(ast.Measure("balance", draw(units())))
        comparisons = tuple(
            ast.Comparison(m, draw(st.sampled_from(COMPARATORS)), draw(quantities())) for m in measures_each
        )
        expression = ast.Or(
            (
                ast.And((ast.Not(comparisons[0]), draw(st.builds(ast.HasItem, name)))),
                ast.And(comparisons[1:]),
                draw(st.builds(ast.HasCategory, name)),
                ast.IsFirstPurchase(),
            )
        )
        return ast.Program((ast.RuleDecl(draw(name), (ast.When(expression),)),))

    program_decl = ast.ProgramDecl(
        draw(name),
        (
            ast.CurrencySetting(draw(currencies())),
            ast.TimezoneSetting(draw(name)),
            ast.RunsSetting(draw(dates()), draw(st.none() | dates())),
            ast.RewardsOnReturnSetting(draw(st.booleans())),
            ast.AcceptanceWindow("returns", draw(durations())),
            ast.AcceptanceWindow("late events", draw(durations())),
            ast.MembersJoinAtSignup(),
            ast.PreSignupWindow(draw(durations())),
            ast.StackingSetting(draw(st.sampled_from(["one per order", "one per line", "stack"]))),
            ast.GiftStackingSetting(draw(st.sampled_from(["one per order", "stack"]))),
        ),
    )
    points_decl = ast.PointsDecl(draw(name), tuple(each(_points_settings_list())))
    catalog = ast.CatalogDecl(
        (draw(st.builds(ast.CategoryDecl, name)), draw(st.builds(ast.ItemDecl, name, name, st.none() | moneys())))
    )
    rewards = [ast.RewardDecl(draw(name), kind, draw(st.none() | moneys()), stock=draw(st.none() | counts()))
               for kind in each(_reward_kinds_list())]
    tiers = ast.TiersDecl(
        ast.Metric("earned", draw(units()), draw(st.booleans()), ast.RollingWindow(draw(durations()))),
        (
            ast.TierDecl(draw(name), draw(quantities()), ()),
            ast.TierDecl(
                draw(name),
                draw(quantities()),
                (
                    ast.BenefitMultiplier(draw(multipliers()), draw(st.none() | units())),
                    ast.BenefitDiscount(draw(percents())),
                    ast.BenefitPerk(draw(name), draw(st.none() | moneys())),
                    ast.BenefitFee(draw(moneys()), draw(periods())),
                ),
            ),
        ),
        ast.Downgrade(draw(periods()), draw(st.none() | durations())),
    )
    draw_decl = ast.DrawDecl(
        draw(name),
        (
            ast.DrawSchedule(draw(periods())),
            ast.DrawPrize(draw(moneys())),
            ast.DrawWinners(draw(counts())),
            ast.DrawRate(draw(counts()), draw(moneys())),
            ast.OnBirthday(),
        ),
    )
    campaign = ast.CampaignDecl(
        draw(name), (ast.InBirthdayMonth(), ast.Cap(ast.CapOnce(), None), ast.WithCode(draw(name)), ast.BestOf(),
                     ast.RuleDecl(draw(name), (ast.Exclusive(), ast.Priority(draw(counts())))))
    )
    declarations_each = [
        program_decl,
        points_decl,
        catalog,
        draw(st.builds(ast.SegmentDecl, name)),
        draw(st.builds(ast.StoreDecl, name, st.none() | name)),
        *rewards,
        draw(st.builds(ast.RedeemDecl, points_amounts(), name)),
        draw(st.builds(ast.CodeDecl, name, st.none() | counts())),
        campaign,
        tiers,
        draw_decl,
    ]
    order = draw(st.permutations(range(len(declarations_each))))
    return ast.Program(tuple(declarations_each[i] for i in order))


def programs(min_declarations: int = 0, max_declarations: int = 8) -> st.SearchStrategy[ast.Program]:
    """Any program the parser can produce (not necessarily one the checker accepts); about
    one example in three is `every_construct()`."""
    some = st.builds(ast.Program, st.lists(declarations(), min_size=min_declarations, max_size=max_declarations).map(tuple))
    return st.one_of(some, some, every_construct())


# ================================================================== valid_programs(): the checker accepts them

VALID_CURRENCIES = ("NOK", "USD", "EUR", "JPY", "KWD", "CLF")  # 2, 2, 2, 0, 3 and 4 decimals
VALID_TIMEZONES = ("Europe/Oslo", "America/New_York", "UTC", "Asia/Tokyo", "Asia/Kolkata", "Australia/Lord_Howe")
_EPOCH = dt.date(2020, 1, 1)
_OPEN_END_SPAN = 2000  # days generated after the start of an open-ended program


def _is_valid_name(name: str) -> bool:
    # the checker's rule (LOY107): visible text, no control characters
    return bool(name.strip()) and not any(unicodedata.category(ch) == "Cc" for ch in name)


def _name_values() -> st.SearchStrategy[str]:
    # drawn from valid names directly: filtering st.text() would discard most draws
    awkward = st.sampled_from([n for n in _AWKWARD_NAMES if _is_valid_name(n)])
    # no hidden characters (bidi controls, invisible tags): a name holding one is LOY008, not a valid program
    text = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=[chr(c) for c in HIDDEN]),
                   min_size=1, max_size=12)
    return st.one_of(awkward, text.filter(lambda name: bool(name.strip())))


def _unique_names(draw, min_size: int, max_size: int) -> list[str]:
    return draw(st.lists(_name_values(), min_size=min_size, max_size=max_size, unique=True))


class _Valid:
    """What a valid program has declared so far, and how to draw values that fit it."""

    def __init__(self, draw, currency: str, start: Optional[dt.date], end: Optional[dt.date]):
        self.draw = draw
        self.currency = currency
        self.minor = _minor_units(currency)
        self.start, self.end = start, end
        self.kinds: list[str] = []
        self.items: list[str] = []
        self.categories: list[str] = []
        self.segments: list[str] = []
        self.stores: list[str] = []
        self.regions: list[str] = []
        self.tiers: list[str] = []
        self.rewards: list[str] = []

    # ---------------------------------------------------------------- values
    def money(self, lo: int = 1, hi: int = 100_000, extra_places: int = 0) -> ast.Money:
        """Amounts in the program currency with at most its decimals (plus `extra_places`)."""
        places = self.draw(st.integers(0, self.minor + extra_places))
        minor_units = self.draw(st.integers(lo * 10**places, hi * 10**places))
        if lo > 0 and minor_units == 0:
            minor_units = 1
        return ast.Money(Decimal(minor_units).scaleb(-places), self.currency)

    def decimal(self, lo: int, hi: int, max_places: int = 2) -> Decimal:
        places = self.draw(st.integers(0, max_places))
        return Decimal(self.draw(st.integers(max(lo * 10**places, 1 if lo > 0 else 0), hi * 10**places))).scaleb(-places)

    def whole(self, lo: int = 1, hi: int = 20) -> Decimal:
        return Decimal(self.draw(st.integers(lo, hi)))

    def percent(self) -> ast.Percent:
        """In (0, 100]: 0.5%, 5%, 12.25%, 100%."""
        places = self.draw(st.integers(0, 2))
        return ast.Percent(Decimal(self.draw(st.integers(1, 100 * 10**places))).scaleb(-places))

    def multiplier(self) -> ast.Multiplier:
        if self.draw(st.integers(0, 19)) == 0:  # the largest the number limit allows (LOY403: 20 digits)
            return ast.Multiplier(LARGEST)
        return ast.Multiplier(self.decimal(1, 5, max_places=1))

    def duration(self) -> ast.Duration:
        if self.draw(st.integers(0, 9)) == 0:  # past the calendar's end: "never" (docs/semantics.md)
            return ast.Duration(LARGEST, self.draw(st.sampled_from(DURATION_UNITS)))
        return ast.Duration(self.whole(1, 24), self.draw(st.sampled_from(DURATION_UNITS)))

    def unit_word(self, kind: Optional[str] = None) -> str:
        """A word naming a declared point kind: the kind itself, or its singular (`1 star`)."""
        kind = kind or self.draw(st.sampled_from(self.kinds))
        singular = kind[:-1]
        if kind.endswith("s") and singular and singular not in self.kinds and singular not in UNIT_KEYWORDS:
            if self.draw(st.booleans()):
                return singular
        return kind

    def points(self, kind: Optional[str] = None, lo: int = 1, hi: int = 10_000, fractions: bool = False) -> ast.PointsAmount:
        """Whole points, as balances, prices and limits are; an earning rate may be 0.5 points."""
        amount = self.decimal(lo, hi) if fractions else self.whole(lo, hi)
        return ast.PointsAmount(amount, self.unit_word(kind))

    def pick(self, names: list[str], max_size: int = 2) -> tuple[ast.Text, ...]:
        chosen = self.draw(st.lists(st.sampled_from(names), min_size=1, max_size=max_size, unique=True))
        return tuple(ast.Text(n) for n in chosen)

    def item_names(self) -> tuple[ast.Text, ...]:
        return self.pick(self.items)

    def category_names(self) -> tuple[ast.Text, ...]:
        return self.pick(self.categories)

    def selector(self) -> ast.ItemSelector:
        kind = self.draw(st.sampled_from(["items", "any", "categories"]))
        if kind == "items":
            return ast.ItemSelector("items", self.item_names())
        if kind == "categories":
            return ast.ItemSelector("categories", self.category_names())
        return ast.ItemSelector("any", ())

    # ---------------------------------------------------------------- dates
    def date_range(self) -> tuple[dt.date, dt.date]:
        start = self.start or _EPOCH
        end = self.end or start + dt.timedelta(days=_OPEN_END_SPAN)
        return start, end

    def date(self, lo: dt.date, hi: dt.date) -> ast.DateValue:
        d = lo + dt.timedelta(days=self.draw(st.integers(0, (hi - lo).days)))
        return ast.DateValue(d, d.isoformat())

    def window(self, lo: dt.date, hi: dt.date) -> ast.Node:
        """`from a to b`, `from a` or `until b`, inside [lo, hi] (lo is the program's start)."""
        shape = self.draw(st.sampled_from(["from to", "from", "until"]))
        if shape == "until":
            return ast.UntilDate(self.date(lo, hi))
        first = self.date(lo, hi)
        if shape == "from" and self.end is None and hi == self.date_range()[1]:
            return ast.DateWindow(first, None)
        return ast.DateWindow(first, self.date(first.value, hi))

    # ---------------------------------------------------------------- metrics and thresholds
    def metric(self) -> ast.Metric:
        kind = self.draw(st.sampled_from(["spend", "visits", "earned"] if self.kinds else ["spend", "visits"]))
        unit = self.unit_word() if kind == "earned" else None
        window = self.draw(
            st.one_of(
                st.none(),
                st.builds(ast.RollingWindow, st.builds(ast.Duration, st.integers(1, 24).map(Decimal), st.sampled_from(DURATION_UNITS))),
                st.builds(ast.CalendarWindow, periods()),
            )
        )
        lifetime = window is None and self.draw(st.booleans())
        return ast.Metric(kind, unit, lifetime, window)

    def thresholds(self, metric: ast.Metric, n: int) -> list[ast.Quantity]:
        """`n` strictly increasing thresholds in the metric's unit, from 0 up."""
        scale = 10 ** (self.minor if metric.kind == "spend" else 0)
        steps = sorted(self.draw(st.lists(st.integers(0, 50_000), min_size=n, max_size=n, unique=True)))
        out: list[ast.Quantity] = []
        for step in steps:
            if metric.kind == "spend":
                out.append(ast.Money(Decimal(step * scale).scaleb(-self.minor) if self.minor else Decimal(step), self.currency))
            elif metric.kind == "visits":
                out.append(ast.Count(Decimal(step)))
            else:
                out.append(ast.PointsAmount(Decimal(step), self.unit_word(_kind_of(metric.unit or "", self.kinds))))
        return out


def _minor_units(currency: str) -> int:
    from loyalty import currencies

    return currencies.minor_units(currency)


def _kind_of(word: str, kinds: list[str]) -> str:
    return word if word in kinds else word + "s"


_POINTS_ACTIONS = (ast.EarnPerSpend, ast.EarnPerEvent, ast.EarnFixed, ast.EarnMultiplier)
_ITEM_FILTERED_ACTIONS = (ast.EarnPerSpend, ast.EarnMultiplier, ast.Discount, ast.DiscountEach, ast.DiscountOrder)
_TRIGGERED_ACTIONS = (ast.EarnFixed, ast.GiveReward)


def _valid_action(v: _Valid, kind: str) -> ast.Node:
    draw = v.draw
    if kind == "punch free":
        return ast.PunchFree(ast.Ordinal(draw(st.integers(1, 12))), v.selector())
    if kind == "punch discount":
        return ast.PunchDiscount(ast.Ordinal(draw(st.integers(1, 12))), v.selector(), v.percent())
    if kind == "paid then free":
        return ast.PaidThenFree(ast.Count(v.whole(1, 3)), v.selector(), ast.Count(v.whole(1, 12)))
    if kind == "earn per spend":
        return ast.EarnPerSpend(v.points(hi=100, fractions=True), v.money(hi=1000))
    if kind == "earn per event":
        return ast.EarnPerEvent(v.points(hi=1000), draw(st.sampled_from(["referral", "visit"])))
    if kind == "earn fixed":
        return ast.EarnFixed(v.points(hi=1000))
    if kind == "earn multiplier":
        return ast.EarnMultiplier(v.multiplier(), v.unit_word() if draw(st.booleans()) else None)
    if kind == "give":
        return ast.GiveReward(ast.Text(draw(st.sampled_from(v.rewards))))
    if kind == "discount":
        return ast.Discount(v.percent())
    if kind == "discount each":
        return ast.DiscountEach(v.money(hi=5000))
    if kind == "discount order":
        return ast.DiscountOrder(v.money(hi=5000), v.money(lo=0, hi=50_000))
    if kind == "fixed price":
        return ast.FixedPrice(v.selector(), v.money(lo=0, hi=5000))
    if kind == "bundle buy get":
        return ast.BundleBuyGet(ast.Count(v.whole(1, 4)), v.selector(), ast.Count(v.whole(1, 2)))
    if kind == "bundle price of":
        paid = v.whole(1, 4)
        return ast.BundlePriceOf(ast.Count(paid + v.whole(1, 2)), v.selector(), ast.Count(paid))
    metric = v.metric()
    n = draw(st.integers(1, 3))
    return ast.DiscountScale(metric, tuple(ast.ScaleStep(v.percent(), q) for q in v.thresholds(metric, n)))


_ACTION_KINDS = (
    "punch free", "punch discount", "paid then free", "earn per spend", "earn per event",
    "earn fixed", "earn multiplier", "give", "discount", "discount each", "discount scale",
    "discount order", "fixed price", "bundle buy get", "bundle price of",
)


def _valid_trigger(v: _Valid, goals: bool = True) -> ast.Node:
    kind = v.draw(st.sampled_from(["signup", "first purchase", "action", "nth visit", "every visits", "every spend",
                                   "inactivity", "nth purchase", "birthday", "anniversary", "referring",
                                   "referred"]
                                  + (["tier reached"] if v.tiers else []) + (["goal", "streak"] if goals else [])
                                  # goals twice as often: four kinds of node under one trigger, each in 150 programs
                                  + (["goal"] if goals else [])))
    if kind in ("goal", "streak"):
        return _valid_goal(v, streak=kind == "streak")
    if kind in ("referring", "referred"):  # with a qualifying purchase (without one is LOY321)
        if v.start is not None and v.end is not None:  # a window no longer than the run (else LOY322)
            window = ast.Duration(v.whole(1, min(60, (v.end - v.start).days + 1)), "day")
        else:
            window = v.duration()
        qualifying = ast.QualifyingPurchase(v.money(lo=1, hi=5000), window)
        return ast.OnReferring(qualifying) if kind == "referring" else ast.OnReferred(qualifying)
    if kind == "birthday":
        return ast.OnEachBirthday()
    if kind == "anniversary":
        return ast.OnEachAnniversary()
    if kind == "tier reached":
        return ast.OnReachingTier(ast.Text(v.draw(st.sampled_from(v.tiers))))
    if kind == "nth purchase":
        return ast.OnNthPurchase(ast.Ordinal(v.draw(st.integers(1, 20))))
    if kind == "inactivity":  # mostly short, so that generated histories see lapses fire
        if v.draw(st.integers(0, 9)) == 0:
            return ast.AfterInactivity(v.duration())
        return ast.AfterInactivity(ast.Duration(v.whole(1, 60), v.draw(st.sampled_from(["day", "week"]))))
    if kind == "signup":
        return ast.OnSignup()
    if kind == "first purchase":
        return ast.OnFirstPurchase()
    if kind == "action":
        return ast.OnAction(ast.Text(v.draw(st.sampled_from(["review", "app download", "share", "survey"]))))
    if kind == "nth visit":
        return ast.OnNthVisit(ast.Ordinal(v.draw(st.integers(1, 20))))
    if kind == "every visits":
        return ast.AfterEveryVisits(ast.Count(v.whole(1, 20)))
    return ast.AfterEverySpend(v.money())


def _periods_between(lo: dt.date, hi: dt.date, period: str) -> int:
    """The calendar periods the days lo to hi (both included) touch (weeks from Monday)."""
    starts = set()
    d = lo
    while d <= hi and len(starts) < 10:
        starts.add((d - dt.timedelta(days=d.weekday())) if period == "week" else d if period == "day"
                   else (d.year, d.month))
        d += dt.timedelta(days=1)
    return len(starts)


def _valid_goal(v: _Valid, streak: bool) -> ast.Node:
    """A goal or streak the program's dates leave room for (else LOY319/LOY320), small enough for generated
    histories to reach."""
    draw = v.draw
    span = (v.end - v.start).days + 1 if v.start is not None and v.end is not None else None
    if streak:
        period = draw(st.sampled_from(["day", "week", "month"]))
        most = 6 if span is None else min(6, _periods_between(v.start, v.end, period))
        if most >= 2:
            return ast.AfterStreak(draw(st.sampled_from(["visit", "purchase"])), ast.Count(Decimal(draw(st.integers(2, most)))),
                                   period)
    if draw(st.booleans()):
        period = draw(st.sampled_from(["week", "month", "quarter"]))
        window: ast.Node = ast.GoalInCalendar(period)
        days = {"week": 7, "month": 31, "quarter": 92}[period]
    else:
        unit = draw(st.sampled_from(["day", "week"]))
        amount = v.whole(1, 30)
        window = ast.GoalWithin(ast.Duration(amount, unit))
        days = int(amount) * (7 if unit == "week" else 1)
    if draw(st.booleans()):
        return ast.AfterGoal(ast.GoalSpend(v.money(lo=1, hi=300)), window)
    different = draw(st.booleans())
    most = min(6, days, span or days) if different else 6
    return ast.AfterGoal(ast.GoalCount(ast.Count(Decimal(draw(st.integers(1, most)))),
                                       draw(st.sampled_from(["visits", "purchases"])), different), window)


def _valid_expression(v: _Valid, on_purchase: bool) -> ast.Expr:
    """A `when` condition that can be true: comparisons in the measure's unit, and no two
    comparisons of one measure side by side in an `and` (they could contradict)."""
    measures = ["lifetime_spend", "visits"] + (["balance"] if v.kinds else [])
    if on_purchase:
        measures += ["order_total", "order_items"]

    draw = v.draw

    def comparison() -> ast.Comparison:
        kind = draw(st.sampled_from(measures))
        op = draw(st.sampled_from(COMPARATORS))
        lo = 1 if op == "<" else 0
        if kind in ("order_total", "lifetime_spend"):
            return ast.Comparison(ast.Measure(kind, None), op, v.money(lo=lo, hi=5000))
        if kind == "balance":
            word = v.unit_word()
            return ast.Comparison(ast.Measure("balance", word), op, v.points(_kind_of(word, v.kinds), lo=lo, hi=5000))
        return ast.Comparison(ast.Measure(kind, None), op, ast.Count(v.whole(lo, 50)))

    def atom() -> ast.Expr:
        kind = draw(st.sampled_from(["comparison", "has item", "has category", "first purchase"] if on_purchase else ["comparison"]))
        if kind == "has item":
            return ast.HasItem(ast.Text(draw(st.sampled_from(v.items))))
        if kind == "has category":
            return ast.HasCategory(ast.Text(draw(st.sampled_from(v.categories))))
        if kind == "first purchase":
            return ast.IsFirstPurchase()
        return comparison()

    def measure_of(e: ast.Expr):
        return (e.measure.kind, _kind_of(e.measure.unit, v.kinds) if e.measure.unit else None)

    def expression(depth: int) -> ast.Expr:
        if depth == 0 or draw(st.booleans()):
            return atom()
        kind = draw(st.sampled_from(["not", "and", "or"]))
        if kind == "not":
            return ast.Not(expression(depth - 1))
        operands = [expression(depth - 1) for _ in range(draw(st.integers(2, 3)))]
        if kind == "or":
            return ast.Or(tuple(operands))
        kept, measures_seen = [], set()
        for e in operands:
            if isinstance(e, ast.Comparison):
                if measure_of(e) in measures_seen:
                    continue
                measures_seen.add(measure_of(e))
            kept.append(e)
        return ast.And(tuple(kept)) if len(kept) >= 2 else kept[0]

    return expression(3)


def _valid_conditions(v: _Valid, allowed: set[str], lo: dt.date, hi: dt.date, on_purchase: bool) -> list[ast.Node]:
    kinds = v.draw(st.lists(st.sampled_from(sorted(allowed)), unique=True, max_size=3))
    if "items" in kinds and "categories" in kinds:
        kinds.remove("categories")
    out: list[ast.Node] = []
    for kind in kinds:
        if kind == "window":
            out.append(v.window(lo, hi))
        elif kind == "items":
            out.append(ast.OnItems(v.item_names()))
        elif kind == "categories":
            out.append(ast.OnCategories(v.category_names()))
        elif kind == "weekdays":
            out.append(ast.OnWeekdays(tuple(v.draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True)))))
        elif kind == "hours":
            start = ast.TimeOfDay(v.draw(st.integers(0, 23)), v.draw(st.sampled_from([0, 15, 30, 45])))
            end = v.draw(st.one_of(st.just(ast.TimeOfDay(24, 0)), st.builds(ast.TimeOfDay, st.integers(0, 23), st.sampled_from([0, 30]))))
            if (end.hour, end.minute) == (start.hour, start.minute):
                end = ast.TimeOfDay(24, 0) if start.hour else ast.TimeOfDay(12, 0)
            out.append(ast.BetweenHours(start, end))
        elif kind == "segments":
            out.append(ast.ForSegments(v.pick(v.segments)))
        elif kind == "tiers":
            out.append(ast.ForTiers(v.pick(v.tiers)))
        elif kind == "stores":
            out.append(ast.InStores(v.pick(v.stores)))
        elif kind == "regions":
            out.append(ast.InRegions(v.pick(v.regions)))
        elif kind == "channels":
            out.append(ast.OnChannels(v.pick(["app", "web", "store"])))
        elif kind == "birthday month":
            out.append(ast.InBirthdayMonth())
        elif kind == "birthday":
            out.append(ast.OnBirthday())
        elif kind == "when":
            out.append(ast.When(_valid_expression(v, on_purchase)))
    return out


def _declared_condition_kinds(v: _Valid) -> set[str]:
    kinds = {"window", "weekdays", "hours", "channels", "birthday month", "birthday", "when"}
    for kind, names in (("segments", v.segments), ("tiers", v.tiers), ("stores", v.stores), ("regions", v.regions)):
        if names:
            kinds.add(kind)
    return kinds


def _valid_rule(v: _Valid, name: str, lo: dt.date, hi: dt.date, action_kind: Optional[str] = None,
                campaign_has_weekdays: bool = False, in_campaign: bool = False) -> ast.RuleDecl:
    draw = v.draw
    kinds = [k for k in _ACTION_KINDS if (k != "give" or v.rewards) and (not k.startswith("earn") or v.kinds)]
    action = _valid_action(v, action_kind or draw(st.sampled_from(kinds)))
    clauses: list[ast.Node] = [action]
    trigger = None
    if isinstance(action, _TRIGGERED_ACTIONS) and draw(st.booleans()):
        trigger = _valid_trigger(v, goals=not in_campaign)  # a campaign's dates could leave a goal no room (LOY320)
        clauses.append(trigger)
    elif isinstance(action, (ast.Discount, ast.DiscountEach)) and draw(st.integers(0, 3)) == 0:
        # a discount on the first or the Nth purchase (the triggers a discount takes)
        trigger = ast.OnFirstPurchase() if draw(st.booleans()) else ast.OnNthPurchase(ast.Ordinal(v.draw(st.integers(1, 8))))
        clauses.append(trigger)
    on_purchase = not (
        isinstance(trigger, (ast.OnSignup, ast.OnAction, ast.AfterInactivity, ast.OnEachBirthday,
                             ast.OnEachAnniversary, ast.OnReachingTier, ast.OnReferring))
        or (isinstance(action, ast.EarnPerEvent) and action.event == "referral")
    )
    allowed = _declared_condition_kinds(v)
    if isinstance(action, _ITEM_FILTERED_ACTIONS):
        allowed |= {"items", "categories"}
    if campaign_has_weekdays:
        allowed.discard("weekdays")
    if isinstance(trigger, (ast.AfterGoal, ast.AfterStreak)):  # dates or weekdays could leave no room (LOY320)
        allowed -= {"weekdays", "window"}
    clauses += _valid_conditions(v, allowed, lo, hi, on_purchase)
    clauses += _valid_limits(v, action, for_campaign=False)
    order = draw(st.permutations(range(len(clauses))))
    return ast.RuleDecl(ast.Text(name), tuple(clauses[i] for i in order))


def _valid_limits(v: _Valid, action: Optional[ast.Node], for_campaign: bool) -> list[ast.Node]:
    """A cap and a budget, each maybe. Campaign limits apply to every rule inside, so they
    are the ones that fit any action: once, N times, a budget in money."""
    draw = v.draw
    out: list[ast.Node] = []
    earns_points = isinstance(action, _POINTS_ACTIONS)
    earned = None
    if isinstance(action, (ast.EarnPerSpend, ast.EarnPerEvent, ast.EarnFixed)):
        earned = _kind_of(action.points.unit, v.kinds)
    elif isinstance(action, ast.EarnMultiplier) and action.unit is not None:
        earned = _kind_of(action.unit, v.kinds)
    if draw(st.booleans()):
        options = ["once", "times"]
        if not for_campaign:
            options.append("points" if earns_points else "money")
        amount_kind = draw(st.sampled_from(options))
        if amount_kind == "once":
            amount: ast.Node = ast.CapOnce()
        elif amount_kind == "times":
            amount = ast.CapTimes(ast.Count(v.whole(1, 10)))
        elif amount_kind == "points":
            amount = v.points(earned)
        else:
            amount = v.money()
        out.append(ast.Cap(amount, draw(st.none() | periods())))
    if draw(st.booleans()):
        if not for_campaign and earns_points and draw(st.booleans()):
            out.append(ast.Budget(v.points(earned, hi=1_000_000)))
        else:
            out.append(ast.Budget(v.money(hi=1_000_000)))
    return out


@st.composite
def valid_programs(draw) -> ast.Program:
    """Programs the checker accepts without a single diagnostic (warnings included), using
    every declaration, action, trigger, condition, limit, reward kind, setting, metric,
    window, benefit and draw clause across examples."""
    currency = draw(st.sampled_from(VALID_CURRENCIES))
    runs = draw(st.booleans()) or draw(st.booleans())
    start = _EPOCH + dt.timedelta(days=draw(st.integers(0, 3650))) if runs else None
    end = start + dt.timedelta(days=draw(st.integers(0, 1500))) if start and draw(st.booleans()) else None
    v = _Valid(draw, currency, start, end)
    decls: list[ast.Node] = []

    # program block, settings in any order
    settings: list[ast.Node] = [ast.CurrencySetting(currency)]
    if start is not None:
        settings.append(ast.RunsSetting(ast.DateValue(start, start.isoformat()),
                                        ast.DateValue(end, end.isoformat()) if end else None))
    if draw(st.booleans()):
        settings.append(ast.TimezoneSetting(ast.Text(draw(st.sampled_from(VALID_TIMEZONES)))))
    if draw(st.booleans()):
        settings.append(ast.RewardsOnReturnSetting(draw(st.booleans())))
    # acceptance windows (docs/semantics.md, "What the state keeps"), sometimes, short enough to be met
    for what in ("returns", "late events"):
        if draw(st.integers(0, 3)) == 0:
            settings.append(ast.AcceptanceWindow(what, ast.Duration(Decimal(draw(st.integers(1, 60))),
                                                                    draw(st.sampled_from(["day", "week", "month"])))))
    # enrolment (runtime/mechanics/enrolment.py), sometimes, with a pre-signup window of up to a year or none
    if draw(st.integers(0, 3)) == 0:
        settings.append(ast.MembersJoinAtSignup())
        if draw(st.booleans()):
            settings.append(ast.PreSignupWindow(ast.Duration(Decimal(draw(st.integers(1, 12))),
                                                             draw(st.sampled_from(["day", "week", "month"])))))
    settings = [settings[i] for i in draw(st.permutations(range(len(settings))))]
    decls.append(ast.ProgramDecl(ast.Text(draw(_name_values())), tuple(settings)))

    # point kinds, each with a cost
    v.kinds = draw(st.lists(units(), min_size=0, max_size=3, unique=True))
    for kind in v.kinds:
        point_settings: list[ast.Node] = [ast.PointCost(v.money(lo=0, hi=2, extra_places=3))]
        for extra in draw(st.lists(st.sampled_from(["earning", "inactivity", "period end", "pending", "rounding", "balance"]),
                                   unique=True, max_size=4)):
            if extra == "earning":
                point_settings.append(ast.ExpireAfterEarning(v.duration()))
            elif extra == "inactivity":
                point_settings.append(ast.ExpireAfterInactivity(v.duration()))
            elif extra == "period end":
                point_settings.append(ast.ExpireAtPeriodEnd(draw(periods()), draw(st.booleans())))
            elif extra == "pending":
                point_settings.append(ast.PendingSetting(v.duration()))
            elif extra == "rounding":
                point_settings.append(ast.RoundingSetting(draw(st.sampled_from(["down", "up", "half even", "half up"])),
                                                          draw(st.sampled_from(["order", "line"]))))
            else:
                point_settings.append(ast.BalancePolicy(draw(st.sampled_from(["negative", "zero", "pending_only"]))))
        decls.append(ast.PointsDecl(ast.Text(kind), tuple(point_settings)))

    # catalog (without one, item and category names are not checked)
    v.categories = _unique_names(draw, 1, 3)
    v.items = _unique_names(draw, 1, 4)
    if draw(st.booleans()) or draw(st.booleans()):
        entries: list[ast.Node] = [ast.CategoryDecl(ast.Text(c)) for c in v.categories[:-1]]
        for item in v.items:
            cost = v.money(lo=0, hi=500) if draw(st.booleans()) else None
            entries.append(ast.ItemDecl(ast.Text(item), ast.Text(draw(st.sampled_from(v.categories))), cost))
        entries.append(ast.CategoryDecl(ast.Text(v.categories[-1])))
        decls.append(ast.CatalogDecl(tuple(entries)))

    v.segments = _unique_names(draw, 0, 2)
    decls += [ast.SegmentDecl(ast.Text(s)) for s in v.segments]
    v.stores = _unique_names(draw, 0, 3)
    regions = _unique_names(draw, 1, 2)
    for store in v.stores:
        region = draw(st.none() | st.sampled_from(regions))
        if region is not None and region not in v.regions:
            v.regions.append(region)
        decls.append(ast.StoreDecl(ast.Text(store), ast.Text(region) if region is not None else None))

    # tiers
    if v.kinds or draw(st.booleans()):
        metric = v.metric() if v.kinds else ast.Metric(draw(st.sampled_from(["spend", "visits"])), None, False, None)
        v.tiers = _unique_names(draw, 1, 3)
        tiers = []
        for name, threshold in zip(v.tiers, v.thresholds(metric, len(v.tiers))):
            benefits: list[ast.Node] = []
            for kind in draw(st.lists(st.sampled_from(["multiplier", "discount", "perk"]), max_size=3)):
                if kind == "multiplier":
                    benefits.append(ast.BenefitMultiplier(v.multiplier(), v.unit_word() if v.kinds and draw(st.booleans()) else None))
                elif kind == "discount":
                    benefits.append(ast.BenefitDiscount(v.percent()))
                else:
                    cost = v.money(lo=0, hi=100) if draw(st.booleans()) else None
                    benefits.append(ast.BenefitPerk(ast.Text(draw(_name_values())), cost))
            if tiers and draw(st.integers(0, 3)) == 0:  # a paid tier (mechanics/fees.py), above the first
                if not benefits:  # a fee buys something (LOY329)
                    benefits.append(ast.BenefitDiscount(v.percent()))
                benefits.append(ast.BenefitFee(v.money(lo=1, hi=500), draw(periods())))
            tiers.append(ast.TierDecl(ast.Text(name), threshold, tuple(benefits)))
        downgrade = ast.Downgrade(draw(periods()), v.duration() if draw(st.booleans()) else None) if draw(st.booleans()) else None
        decls.append(ast.TiersDecl(metric, tuple(tiers), downgrade))

    # rewards: each one redeemable for points or given by a rule
    v.rewards = _unique_names(draw, 0, 4)
    given_by_rule = []
    for name in v.rewards:
        kind_name = draw(st.sampled_from(["free item", "amount off", "percent off", "gift card", "gift", "perk"]))
        if kind_name == "free item":
            kind: ast.Node = ast.FreeItemReward(v.selector())
        elif kind_name == "amount off":
            kind = ast.AmountOffReward(v.money(hi=500))
        elif kind_name == "percent off":
            kind = ast.PercentOffReward(v.percent())
        elif kind_name == "gift card":
            kind = ast.GiftCardReward(v.money(hi=1000), ast.Text(draw(_name_values())) if draw(st.booleans()) else None)
        elif kind_name == "gift":
            kind = ast.GiftReward(ast.Text(draw(_name_values())))
        else:
            kind = ast.PerkReward()
        cost = v.money(lo=0, hi=500) if draw(st.booleans()) else None
        # an offer with a lifetime, mostly short, so that generated histories see offers used and lapse
        valid, until = None, None
        lifetime = draw(st.integers(0, 5))
        if lifetime == 0:
            valid = v.duration() if draw(st.integers(0, 4)) == 0 else ast.Duration(v.whole(1, 30), "day")
        elif lifetime == 1:  # or up to a day within the program's dates
            until = v.date(*v.date_range())
        if v.kinds and draw(st.booleans()):
            decls.append(ast.RewardDecl(ast.Text(name), kind, cost, valid, until))
            decls.append(ast.RedeemDecl(v.points(hi=5000), ast.Text(name)))
        else:
            # a reward a rule gives may have a stock (runtime/mechanics/stock.py): small, so it runs out
            stock = ast.Count(Decimal(draw(st.integers(1, 6)))) if draw(st.integers(0, 2)) == 0 else None
            decls.append(ast.RewardDecl(ast.Text(name), kind, cost, valid, until, stock))
            given_by_rule.append(name)

    # rules, campaigns and a draw
    lo, hi = v.date_range()
    rule_names = iter(_unique_names(draw, 12, 12))
    for _ in range(draw(st.integers(1, 4))):
        decls.append(_valid_rule(v, next(rule_names), lo, hi))
    for reward in given_by_rule:
        rule = _valid_rule(v, next(rule_names), lo, hi, action_kind="give")
        clauses = tuple(ast.GiveReward(ast.Text(reward)) if isinstance(c, ast.GiveReward) else c for c in rule.clauses)
        decls.append(ast.RuleDecl(rule.name, clauses))
    # codes (runtime/mechanics/codes.py): some rules that fire on purchases require one, with or without a total
    if draw(st.integers(0, 2)) == 0:
        code_names = draw(st.lists(st.sampled_from(["SUMMER25", "WELCOME", "VIP-10", "x_y.z"]), min_size=1,
                                   max_size=2, unique=True))
        takers = [i for i, d in enumerate(decls) if isinstance(d, ast.RuleDecl) and _fires_on_purchase(d)]
        chosen = draw(st.lists(st.sampled_from(takers), unique=True, min_size=1, max_size=len(takers))) \
            if takers else []
        if chosen:
            for j, i in enumerate(chosen):
                code = ast.Text(code_names[j % len(code_names)])
                decls[i] = ast.RuleDecl(decls[i].name, decls[i].clauses + (ast.WithCode(code),))
            for code in code_names[:len(chosen)]:
                uses = ast.Count(Decimal(draw(st.integers(1, 4)))) if draw(st.booleans()) else None
                decls.append(ast.CodeDecl(ast.Text(code), uses))
    campaign_names = _unique_names(draw, 0, 2)
    for name in campaign_names:
        window = v.window(lo, hi) if draw(st.booleans()) else None
        c_lo, c_hi = lo, hi
        if isinstance(window, ast.DateWindow):
            c_lo = window.start.value
            c_hi = window.end.value if window.end is not None else hi
        elif isinstance(window, ast.UntilDate):
            c_hi = window.end.value
        conditions = _valid_conditions(v, _declared_condition_kinds(v) - {"window", "when"}, c_lo, c_hi, False)
        if draw(st.booleans()):
            conditions.append(ast.When(_valid_expression(v, on_purchase=False)))
        has_weekdays = any(isinstance(c, ast.OnWeekdays) for c in conditions)
        clauses: list[ast.Node] = ([window] if window else []) + conditions + _valid_limits(v, None, for_campaign=True)
        clauses += [_valid_rule(v, next(rule_names), c_lo, c_hi, campaign_has_weekdays=has_weekdays,
                               in_campaign=True)
                    for _ in range(draw(st.integers(1, 2)))]
        decls.append(ast.CampaignDecl(ast.Text(name), tuple(clauses)))
    if draw(st.booleans()):
        clauses = [ast.DrawSchedule(draw(periods())), ast.DrawPrize(v.money(hi=10_000)),
                   ast.DrawRate(ast.Count(v.whole(1, 5)), v.money(hi=500))]
        if draw(st.booleans()):
            clauses.append(ast.DrawWinners(ast.Count(v.whole(1, 5))))
        clauses += _valid_conditions(v, _declared_condition_kinds(v) - {"when"}, lo, hi, False)
        clauses = [clauses[i] for i in draw(st.permutations(range(len(clauses))))]
        decls.append(ast.DrawDecl(ast.Text(draw(_name_values())), tuple(clauses)))

    # a multiplier needs regular points of its kind to multiply (else LOY309): one rule earning each kind per spend
    def multiplies(d) -> bool:
        if isinstance(d, ast.CampaignDecl):
            return any(multiplies(c) for c in d.clauses)
        return isinstance(d, ast.RuleDecl) and any(isinstance(c, ast.EarnMultiplier) for c in d.clauses)

    if any(multiplies(d) for d in decls):
        for kind in v.kinds:
            decls.append(ast.RuleDecl(ast.Text(f"regular {kind} {len(decls)}"), (
                ast.EarnPerSpend(ast.PointsAmount(Decimal(1), v.unit_word(kind)), v.money(hi=1000)),)))

    # points that nothing can redeem are LOY314: something to spend each earned kind on
    redeemed = {resolve_point_kind(d.price.unit, v.kinds) for d in decls if isinstance(d, ast.RedeemDecl)}
    for kind in v.kinds:
        if kind not in redeemed:
            name = ast.Text(f"spend {kind} {len(decls)}")
            decls.append(ast.RewardDecl(name, ast.PerkReward(), None))
            decls.append(ast.RedeemDecl(ast.PointsAmount(Decimal(100), v.unit_word(kind)), name))

    # points per visit out of line with the points per spend of their kind are LOY315 (loyalty/rates.py)
    earns = [n for d in decls for n in d.walk() if isinstance(n, (ast.EarnPerSpend, ast.EarnPerEvent))]
    for visit in (n for n in earns if isinstance(n, ast.EarnPerEvent) and n.event == "visit"):
        kind = resolve_point_kind(visit.points.unit, v.kinds)
        for spend in (n for n in earns if isinstance(n, ast.EarnPerSpend)):
            if resolve_point_kind(spend.points.unit, v.kinds) == kind and spend.points.amount > 0:
                assume(not rates.compare_visit_to_spend(visit.points.amount, spend.points.amount,
                                                        spend.per.amount).out_of_line)

    # a dozen triggers: one more triggered rule, often, so that each comes in a test's 150 programs
    rewards = [d.name.value for d in decls if isinstance(d, ast.RewardDecl)]
    if (v.kinds or rewards) and draw(st.booleans()):
        action = ast.GiveReward(ast.Text(draw(st.sampled_from(rewards)))) if rewards and (
            not v.kinds or draw(st.booleans())) else ast.EarnFixed(v.points(draw(st.sampled_from(v.kinds)), lo=1, hi=500))
        decls.append(ast.RuleDecl(ast.Text(f"triggered {len(decls)}"), (action, _valid_trigger(v))))

    # a win-back after the points' expiry after inactivity emptied the balance is LOY316: such an expiry goes
    lapses = [n.duration for d in decls for n in d.walk() if isinstance(n, ast.AfterInactivity)]
    decls = [ast.PointsDecl(d.name, tuple(s for s in d.settings if not (
        isinstance(s, ast.ExpireAfterInactivity) and any(winback_after_expiry(lp, s.duration) for lp in lapses))))
        if isinstance(d, ast.PointsDecl) else d for d in decls]

    # an offer's lifetime on a reward no rule gives is LOY317: such a reward has none
    by_rules = {n.reward.value for d in decls for n in d.walk() if isinstance(n, ast.GiveReward)}
    decls = [ast.RewardDecl(d.name, d.kind, d.cost, stock=d.stock)
             if isinstance(d, ast.RewardDecl) and (d.valid_for or d.valid_until) is not None
             and d.name.value not in by_rules else d
             for d in decls]

    # stacking (runtime/mechanics/stacking.py): two discounts that can meet on a line need a policy (else LOY323):
    # the program's, or each discount's own (`exclusive`, or a priority of its own: equal ones are LOY325); and a
    # campaign with two discounts may choose the best of them
    decls = _with_stacking(draw, decls)
    # ... and two gifts that can be given on one order likewise (else LOY330)
    decls = _with_gift_stacking(draw, decls)

    # the program block first, the rest in any order (declarations may be used before they appear)
    rest = decls[1:]
    rest = [rest[i] for i in draw(st.permutations(range(len(rest))))]
    program = ast.Program(tuple([decls[0]] + rest))
    return draw(lifted_into_params(program)) if draw(st.integers(0, 2)) == 0 else program


_DISCOUNTS = (ast.Discount, ast.DiscountEach, ast.DiscountScale, ast.DiscountOrder, ast.FixedPrice, ast.BundleBuyGet,
              ast.BundlePriceOf)


def _with_policies(draw, decls: list, is_member, setting, policies: list) -> Optional[list]:
    """The rules `is_member` picks, two or more, in the program or in its campaigns: the program's policy for them
    (one of `policies`, as `setting`) or each one's own (`exclusive`, or a priority of its own). None when there
    are fewer than two."""
    places = [(i, None) for i, d in enumerate(decls) if isinstance(d, ast.RuleDecl) and is_member(d)]
    places += [(i, j) for i, d in enumerate(decls) if isinstance(d, ast.CampaignDecl)
               for j, c in enumerate(d.clauses) if isinstance(c, ast.RuleDecl) and is_member(c)]
    if len(places) < 2:
        return None
    decls = list(decls)
    policy = draw(st.sampled_from(policies + ["rules"]))
    if policy != "rules":
        program = decls[0]
        decls[0] = ast.ProgramDecl(program.name, program.settings + (setting(policy),))
    else:
        ranks = draw(st.permutations(range(1, len(places) + 1)))
        for (i, j), rank in zip(places, ranks):
            clause = ast.Exclusive() if draw(st.integers(0, 2)) == 0 else ast.Priority(ast.Count(Decimal(rank)))
            if j is None:
                decls[i] = ast.RuleDecl(decls[i].name, decls[i].clauses + (clause,))
            else:
                c = list(decls[i].clauses)
                c[j] = ast.RuleDecl(c[j].name, c[j].clauses + (clause,))
                decls[i] = ast.CampaignDecl(decls[i].name, tuple(c))
    return decls


def _is_discount(rule) -> bool:
    return any(isinstance(c, _DISCOUNTS) for c in rule.clauses)


def _with_stacking(draw, decls: list) -> list:
    """Discounts, two or more: a policy for them (`_with_policies`), and a campaign of two discounts (and no gift
    given on a purchase: else LOY220) may choose the best of them."""
    decided = _with_policies(draw, decls, _is_discount, ast.StackingSetting, ["one per order", "one per line", "stack"])
    if decided is None:
        return decls
    decls = decided
    for i, d in enumerate(decls):
        if isinstance(d, ast.CampaignDecl) and sum(1 for c in d.clauses if isinstance(c, ast.RuleDecl)
                                                   and _is_discount(c)) >= 2 and draw(st.booleans()) and not any(
                isinstance(c, ast.RuleDecl) and _is_purchase_gift(c) for c in d.clauses):  # (else LOY220)
            decls[i] = ast.CampaignDecl(d.name, d.clauses + (ast.BestOf(),))
    return decls


_GIFT_PURCHASE_TRIGGERS = (ast.OnFirstPurchase, ast.OnNthVisit, ast.AfterEveryVisits, ast.AfterEverySpend,
                           ast.OnNthPurchase)


def _is_purchase_gift(rule) -> bool:
    """A rule giving a reward on a purchase: what stacking decides between as gifts (checker GIFT_PURCHASE_TRIGGERS)."""
    triggers = tuple(getattr(ast.Trigger, "__args__", ()))
    return any(isinstance(c, ast.GiveReward) for c in rule.clauses) and all(
        isinstance(c, _GIFT_PURCHASE_TRIGGERS) for c in rule.clauses if isinstance(c, triggers))


def _with_gift_stacking(draw, decls: list) -> list:
    """Gifts given on a purchase, two or more: a policy for them (`_with_policies`), and a campaign of two gifts
    (and no discount) may choose the best of them."""
    decided = _with_policies(draw, decls, _is_purchase_gift, ast.GiftStackingSetting, ["one per order", "stack"])
    if decided is None:
        return decls
    decls = decided
    for i, d in enumerate(decls):
        rules = [c for c in d.clauses if isinstance(c, ast.RuleDecl)] if isinstance(d, ast.CampaignDecl) else []
        if sum(1 for c in rules if _is_purchase_gift(c)) >= 2 and not any(
                isinstance(c, ast.BestOf) for c in d.clauses) and not any(
                any(isinstance(x, _DISCOUNTS) for x in c.clauses) for c in rules) and draw(st.booleans()):
            decls[i] = ast.CampaignDecl(d.name, d.clauses + (ast.BestOf(),))
    return decls


def _fires_on_purchase(rule: ast.RuleDecl) -> bool:
    """Whether a purchase can fire the rule (so a code can come with it: else LOY303)."""
    for c in rule.clauses:
        if isinstance(c, (ast.OnSignup, ast.OnAction, ast.AfterInactivity, ast.OnEachBirthday, ast.OnEachAnniversary,
                          ast.OnReachingTier, ast.OnReferring)) or (isinstance(c, ast.EarnPerEvent) and c.event == "referral") \
                or (isinstance(c, ast.OnReferred) and c.qualifying is None):
            return False
    return True


# where the grammar takes `param "name"` in place of a literal: node class -> fields
PARAM_PLACES: dict[type, tuple[str, ...]] = {
    ast.PointCost: ("money",), ast.ExpireAfterEarning: ("duration",), ast.ExpireAfterInactivity: ("duration",),
    ast.PendingSetting: ("duration",), ast.ItemDecl: ("cost",), ast.RewardDecl: ("cost", "stock", "valid_for"),
    ast.AfterInactivity: ("duration",), ast.OnNthPurchase: ("ordinal",),
    ast.CodeDecl: ("uses",),
    ast.GiftCardReward: ("face_value",), ast.RedeemDecl: ("price",), ast.PunchFree: ("ordinal",),
    ast.PunchDiscount: ("ordinal", "percent"), ast.PaidThenFree: ("free", "paid"), ast.EarnPerSpend: ("points", "per"),
    ast.EarnPerEvent: ("points",), ast.EarnFixed: ("points",), ast.EarnMultiplier: ("multiplier",),
    ast.Discount: ("percent",), ast.DiscountEach: ("amount",), ast.DiscountOrder: ("amount", "over"),
    ast.FixedPrice: ("price",), ast.Priority: ("rank",), ast.BundleBuyGet: ("buy", "free"), ast.BundlePriceOf: ("group", "paid"),
    ast.ScaleStep: ("percent", "threshold"),
    ast.OnNthVisit: ("ordinal",), ast.AfterEveryVisits: ("count",), ast.AfterEverySpend: ("money",),
    ast.CapTimes: ("count",), ast.Cap: ("amount",), ast.Budget: ("amount",), ast.BenefitMultiplier: ("multiplier",),
    ast.BenefitDiscount: ("percent",), ast.BenefitPerk: ("cost_per_order",), ast.Downgrade: ("grace",),
    ast.RollingWindow: ("duration",), ast.DrawPrize: ("money",), ast.DrawWinners: ("count",),
    ast.DrawRate: ("entries", "per"), ast.TierDecl: ("threshold",), ast.Comparison: ("value",),
}
_PARAM_VALUES = (ast.Money, ast.PointsAmount, ast.Count, ast.Duration, ast.Percent, ast.Multiplier, ast.Ordinal)


@st.composite
def lifted_into_params(draw, program: ast.Program) -> ast.Program:
    """`program` with some of its literals moved into a `params` block and referred to by name where they
    stood (equal values may share one parameter): the same program, as the checker and compiler see it."""
    params: dict[ast.Node, str] = {}

    def lift(value: ast.Node) -> ast.Node:
        if not isinstance(value, _PARAM_VALUES) or not draw(st.booleans()):
            return value
        name = params.get(value) if draw(st.booleans()) else None
        if name is None:
            name = f"p{len(named) + 1}"
            params.setdefault(value, name)
            named.append(ast.ParamDecl(ast.Text(name), value))
        return ast.ParamRef(ast.Text(name))

    named: list[ast.ParamDecl] = []

    def rebuild(node: ast.Node) -> ast.Node:
        places = PARAM_PLACES.get(type(node), ())
        if isinstance(node, ast.EarnMultiplier) and node.unit is None:
            places = ()  # `earn param "x"` is read as fixed points: a multiplier reference names its unit
        fields = []
        for name in node._node_fields:
            v = getattr(node, name)
            if name in places and v is not None:
                v = lift(v)
            if isinstance(v, ast.Node) and not isinstance(v, ast.ParamRef):
                v = rebuild(v)
            elif isinstance(v, tuple):
                v = tuple(rebuild(x) if isinstance(x, ast.Node) else x for x in v)
            fields.append(v)
        return type(node)(*fields, span=node.span)

    lifted = rebuild(program)
    if not named:
        return program
    decls = list(lifted.declarations)
    decls.insert(draw(st.integers(0, len(decls))), ast.ParamsDecl(tuple(named)))
    return ast.Program(tuple(decls))
