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
import operator
import re
from decimal import Decimal
from typing import Optional

from hypothesis import strategies as st

from loyalty.syntax import ast
from loyalty.syntax.parser import grammar_text

# Every word the grammar quotes is a keyword somewhere; keywords are contextual, so a
# point kind spelled like one would lex as the keyword in some positions.
KEYWORDS = frozenset(re.findall(r'"([a-z]+)"', grammar_text())) | {"lifetime"}

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
    ).filter(lambda u: u not in KEYWORDS)


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
def quantities() -> st.SearchStrategy[ast.Quantity]:
    return st.one_of(moneys(), points_amounts(), counts(), percents())


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
        st.none(), st.builds(ast.RollingWindow, durations()), st.builds(ast.CalendarWindow, periods())
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
        st.builds(ast.PunchFree, ordinals(), selectors()),
        st.builds(ast.PunchDiscount, ordinals(), selectors(), percents()),
        st.builds(ast.PaidThenFree, counts(), selectors(), counts()),
        st.builds(ast.EarnPerSpend, points_amounts(), moneys()),
        st.builds(ast.EarnPerEvent, points_amounts(), st.sampled_from(["referral", "visit"])),
        st.builds(ast.EarnFixed, points_amounts()),
        st.builds(ast.EarnMultiplier, multipliers(), st.none() | units()),
        st.builds(ast.GiveReward, texts()),
        st.builds(ast.Discount, percents()),
        st.builds(
            ast.DiscountScale,
            metrics(),
            st.lists(st.builds(ast.ScaleStep, percents(), quantities()), min_size=1, max_size=3).map(tuple),
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
        st.builds(ast.OnNthVisit, ordinals()),
        st.builds(ast.AfterEveryVisits, counts()),
        st.builds(ast.AfterEverySpend, moneys()),
    ]


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
        st.just(ast.CapOnce()), st.builds(ast.CapTimes, counts()), points_amounts(), moneys()
    )
    return st.one_of(
        st.builds(ast.Cap, cap_amounts, st.none() | periods()),
        st.builds(ast.Budget, st.one_of(moneys(), points_amounts())),
    )


@functools.lru_cache(maxsize=None)
def rules() -> st.SearchStrategy[ast.RuleDecl]:
    clauses = st.one_of(actions(), triggers(), conditions(), limits())
    return st.builds(ast.RuleDecl, texts(), st.lists(clauses, min_size=1, max_size=6).map(tuple))


# ---------------------------------------------------------------- declarations


@functools.lru_cache(maxsize=None)
def _program_decls() -> st.SearchStrategy[ast.ProgramDecl]:
    settings = st.one_of(
        st.builds(ast.CurrencySetting, currencies()),
        st.builds(ast.TimezoneSetting, texts()),
        st.builds(ast.RunsSetting, dates(), st.none() | dates()),
        st.builds(ast.RewardsOnReturnSetting, st.booleans()),
    )
    return st.builds(ast.ProgramDecl, texts(), st.lists(settings, max_size=5).map(tuple))


@functools.lru_cache(maxsize=None)
def _points_settings_list() -> list:
    return [
        st.builds(ast.PointCost, moneys()),
        st.builds(ast.ExpireAfterEarning, durations()),
        st.builds(ast.ExpireAfterInactivity, durations()),
        st.builds(ast.ExpireAtPeriodEnd, periods(), st.booleans()),
        st.builds(ast.PendingSetting, durations()),
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
        st.builds(ast.GiftCardReward, moneys(), st.none() | texts()),
        st.builds(ast.GiftReward, texts()),
        st.just(ast.PerkReward()),
    ]


@functools.lru_cache(maxsize=None)
def _tiers_decls() -> st.SearchStrategy[ast.TiersDecl]:
    benefits = st.one_of(
        st.builds(ast.BenefitMultiplier, multipliers(), st.none() | units()),
        st.builds(ast.BenefitDiscount, percents()),
        st.builds(ast.BenefitPerk, texts(), st.none() | moneys()),
    )
    tier = st.builds(ast.TierDecl, texts(), quantities(), st.lists(benefits, max_size=3).map(tuple))
    downgrade = st.builds(ast.Downgrade, periods(), st.none() | durations())
    return st.builds(
        ast.TiersDecl, metrics(), st.lists(tier, min_size=1, max_size=3).map(tuple), st.none() | downgrade
    )


@functools.lru_cache(maxsize=None)
def _draw_decls() -> st.SearchStrategy[ast.DrawDecl]:
    clauses = st.one_of(
        st.builds(ast.DrawSchedule, periods()),
        st.builds(ast.DrawPrize, moneys()),
        st.builds(ast.DrawWinners, counts()),
        st.builds(ast.DrawRate, counts(), moneys()),
        conditions(),
    )
    return st.builds(ast.DrawDecl, texts(), st.lists(clauses, max_size=5).map(tuple))


@functools.lru_cache(maxsize=None)
def declarations() -> st.SearchStrategy[ast.Node]:
    catalog_entry = st.one_of(
        st.builds(ast.CategoryDecl, texts()), st.builds(ast.ItemDecl, texts(), texts(), st.none() | moneys())
    )
    campaign_clause = st.one_of(conditions(), limits(), rules())
    return st.one_of(
        _program_decls(),
        _points_decls(),
        st.builds(ast.CatalogDecl, st.lists(catalog_entry, max_size=4).map(tuple)),
        st.builds(ast.SegmentDecl, texts()),
        st.builds(ast.StoreDecl, texts(), st.none() | texts()),
        st.builds(ast.RewardDecl, texts(), _reward_kinds(), st.none() | moneys()),
        st.builds(ast.RedeemDecl, points_amounts(), texts()),
        rules(),
        st.builds(ast.CampaignDecl, texts(), st.lists(campaign_clause, max_size=4).map(tuple)),
        _tiers_decls(),
        _draw_decls(),
    )


CONSTRUCT_PARTS = ("declarations", "punch cards", "other actions", "triggers and limits", "conditions", "expressions")


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
        ),
    )
    points_decl = ast.PointsDecl(draw(name), tuple(each(_points_settings_list())))
    catalog = ast.CatalogDecl(
        (draw(st.builds(ast.CategoryDecl, name)), draw(st.builds(ast.ItemDecl, name, name, st.none() | moneys())))
    )
    rewards = [ast.RewardDecl(draw(name), kind, draw(st.none() | moneys())) for kind in each(_reward_kinds_list())]
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
        draw(name), (ast.InBirthdayMonth(), ast.Cap(ast.CapOnce(), None), ast.RuleDecl(draw(name), ()))
    )
    declarations_each = [
        program_decl,
        points_decl,
        catalog,
        draw(st.builds(ast.SegmentDecl, name)),
        draw(st.builds(ast.StoreDecl, name, st.none() | name)),
        *rewards,
        draw(st.builds(ast.RedeemDecl, points_amounts(), name)),
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
