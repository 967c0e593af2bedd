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


def texts() -> st.SearchStrategy[ast.Text]:
    return st.builds(ast.Text, st.one_of(st.sampled_from(_AWKWARD_NAMES), st.text(max_size=12)))


def text_lists(min_size: int = 1) -> st.SearchStrategy[tuple[ast.Text, ...]]:
    return st.lists(texts(), min_size=min_size, max_size=3).map(tuple)


def units() -> st.SearchStrategy[str]:
    """A point kind as written bare (`stars`): a NAME that is not a keyword."""
    return st.one_of(
        st.sampled_from(["points", "point", "stars", "star", "miles", "bonus_points"]),
        st.from_regex(r"[a-z][a-z_]{0,9}", fullmatch=True),
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


def non_negative_decimals() -> st.SearchStrategy[Decimal]:
    return decimals(0, 10**9)


def currencies() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["NOK", "USD", "EUR", "JPY", "KWD"]), st.from_regex(r"[A-Z]{3}", fullmatch=True))


def moneys(currency: Optional[st.SearchStrategy[str]] = None) -> st.SearchStrategy[ast.Money]:
    return st.builds(ast.Money, decimals(), currency or currencies())


def points_amounts() -> st.SearchStrategy[ast.PointsAmount]:
    return st.builds(ast.PointsAmount, decimals(), units())


def counts() -> st.SearchStrategy[ast.Count]:
    return st.builds(ast.Count, decimals())


def percents() -> st.SearchStrategy[ast.Percent]:
    return st.builds(ast.Percent, decimals(-1000, 1000))


def multipliers() -> st.SearchStrategy[ast.Multiplier]:
    return st.builds(ast.Multiplier, non_negative_decimals())


def quantities() -> st.SearchStrategy[ast.Quantity]:
    return st.one_of(moneys(), points_amounts(), counts(), percents())


def durations() -> st.SearchStrategy[ast.Duration]:
    return st.builds(ast.Duration, st.one_of(st.just(Decimal(1)), decimals()), st.sampled_from(DURATION_UNITS))


def dates() -> st.SearchStrategy[ast.DateValue]:
    return st.dates().map(lambda d: ast.DateValue(d, d.isoformat()))


def times() -> st.SearchStrategy[ast.TimeOfDay]:
    return st.one_of(
        st.builds(ast.TimeOfDay, st.integers(0, 23), st.integers(0, 59)),
        st.just(ast.TimeOfDay(24, 0)),
    )


def ordinals() -> st.SearchStrategy[ast.Ordinal]:
    return st.builds(ast.Ordinal, st.one_of(st.integers(0, 200), st.integers(0, 10**6)))


def periods() -> st.SearchStrategy[str]:
    return st.sampled_from(PERIODS)


def selectors() -> st.SearchStrategy[ast.ItemSelector]:
    return st.one_of(
        st.builds(ast.ItemSelector, st.just("items"), text_lists()),
        st.just(ast.ItemSelector("any", ())),
        st.builds(ast.ItemSelector, st.just("categories"), text_lists()),
    )


def windows() -> st.SearchStrategy[Optional[ast.Node]]:
    return st.one_of(
        st.none(), st.builds(ast.RollingWindow, durations()), st.builds(ast.CalendarWindow, periods())
    )


def metrics() -> st.SearchStrategy[ast.Metric]:
    kind_unit = st.one_of(
        st.tuples(st.just("spend"), st.none()),
        st.tuples(st.just("visits"), st.none()),
        st.tuples(st.just("earned"), units()),
    )
    return st.builds(lambda ku, lifetime, window: ast.Metric(ku[0], ku[1], lifetime, window), kind_unit, st.booleans(), windows())


# ---------------------------------------------------------------- expressions


def measures() -> st.SearchStrategy[ast.Measure]:
    return st.one_of(
        st.builds(ast.Measure, st.sampled_from(["order_total", "order_items", "lifetime_spend", "visits"]), st.none()),
        st.builds(ast.Measure, st.just("balance"), units()),
    )


def expressions(atoms: Optional[st.SearchStrategy[ast.Expr]] = None) -> st.SearchStrategy[ast.Expr]:
    """Nested and/or/not trees; operands of And/Or may themselves be And/Or (written in parentheses)."""
    atoms = atoms or st.one_of(
        st.builds(ast.Comparison, measures(), st.sampled_from(COMPARATORS), quantities()),
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


def actions() -> st.SearchStrategy[ast.Node]:
    return st.one_of(
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
    )


def triggers() -> st.SearchStrategy[ast.Node]:
    return st.one_of(
        st.just(ast.OnSignup()),
        st.just(ast.OnFirstPurchase()),
        st.builds(ast.OnAction, texts()),
        st.builds(ast.OnNthVisit, ordinals()),
        st.builds(ast.AfterEveryVisits, counts()),
        st.builds(ast.AfterEverySpend, moneys()),
    )


def conditions() -> st.SearchStrategy[ast.Node]:
    return st.one_of(
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
    )


def limits() -> st.SearchStrategy[ast.Node]:
    cap_amounts = st.one_of(
        st.just(ast.CapOnce()), st.builds(ast.CapTimes, counts()), points_amounts(), moneys()
    )
    return st.one_of(
        st.builds(ast.Cap, cap_amounts, st.none() | periods()),
        st.builds(ast.Budget, st.one_of(moneys(), points_amounts())),
    )


def rules() -> st.SearchStrategy[ast.RuleDecl]:
    clauses = st.one_of(actions(), triggers(), conditions(), limits())
    return st.builds(ast.RuleDecl, texts(), st.lists(clauses, max_size=6).map(tuple))


# ---------------------------------------------------------------- declarations


def _program_decls() -> st.SearchStrategy[ast.ProgramDecl]:
    settings = st.one_of(
        st.builds(ast.CurrencySetting, currencies()),
        st.builds(ast.TimezoneSetting, texts()),
        st.builds(ast.RunsSetting, dates(), st.none() | dates()),
        st.builds(ast.RewardsOnReturnSetting, st.booleans()),
    )
    return st.builds(ast.ProgramDecl, texts(), st.lists(settings, max_size=5).map(tuple))


def _points_decls() -> st.SearchStrategy[ast.PointsDecl]:
    settings = st.one_of(
        st.builds(ast.PointCost, moneys()),
        st.builds(ast.ExpireAfterEarning, durations()),
        st.builds(ast.ExpireAfterInactivity, durations()),
        st.builds(ast.ExpireAtPeriodEnd, periods(), st.booleans()),
        st.builds(ast.PendingSetting, durations()),
        st.builds(
            ast.RoundingSetting, st.sampled_from(["down", "up", "half even", "half up"]), st.sampled_from(["order", "line"])
        ),
        st.builds(ast.BalancePolicy, st.sampled_from(["negative", "zero", "pending_only"])),
    )
    return st.builds(ast.PointsDecl, texts(), st.lists(settings, max_size=5).map(tuple))


def _reward_kinds() -> st.SearchStrategy[ast.Node]:
    return st.one_of(
        st.builds(ast.FreeItemReward, selectors()),
        st.builds(ast.AmountOffReward, moneys()),
        st.builds(ast.PercentOffReward, percents()),
        st.builds(ast.GiftCardReward, moneys(), st.none() | texts()),
        st.builds(ast.GiftReward, texts()),
        st.just(ast.PerkReward()),
    )


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


def _draw_decls() -> st.SearchStrategy[ast.DrawDecl]:
    clauses = st.one_of(
        st.builds(ast.DrawSchedule, periods()),
        st.builds(ast.DrawPrize, moneys()),
        st.builds(ast.DrawWinners, counts()),
        st.builds(ast.DrawRate, counts(), moneys()),
        conditions(),
    )
    return st.builds(ast.DrawDecl, texts(), st.lists(clauses, max_size=5).map(tuple))


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


def programs() -> st.SearchStrategy[ast.Program]:
    """Any program the parser can produce (not necessarily one the checker accepts)."""
    return st.builds(ast.Program, st.lists(declarations(), max_size=8).map(tuple))
