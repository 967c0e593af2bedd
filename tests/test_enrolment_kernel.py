"""Enrolment on the vectorised kernel (runtime/mechanics/enrolment.py `VectorEnrolment`): the kernel's result
equals the scalar plan's, member by member and as a whole (every cell: per rule, per month, per cost type,
the members' rows, the enrolment counts), on hand-written histories and on generated programs and histories."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import loyalty
from loyalty.simulate.engine import make_plan, program_info, simulate
from loyalty.simulate.history import MemberAttributes, ReadOptions, build_history
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import Unsupported, simulate_vector, supports
# budgets (a code's uses, a stock) solved by passes, as `simulate`
from test_vector_kernel import _vector_solved, assert_member_by_member, history_of

PROGRAM = """program "Shop" {{
  currency NOK
  runs from 2025-01-01
{settings}}}
points "points" {{ cost 0.10 NOK each }}
catalog {{
  category "shop"
  item "tea" in category "shop" costing 30.00 NOK
  item "cup" in category "shop" costing 8.00 NOK
}}
rule "base" {{
  earn 1 point per 10 NOK
}}
rule "welcome" {{
  earn 20 points
  on signup
}}
rule "cup card" {{
  every 4th "cup" is free
}}
"""

CLAUSE = "  members join at signup\n"
WINDOW = "  purchases up to 30 days before signup count\n"
HEADER = ["member", "time", "type", "order", "item", "category", "quantity", "amount"]

# (member, time, type, order, item, quantity, amount)
ROWS = [
    # A: a purchase 39 days before her signup (outside the window), one 9 days before (inside), both returned
    ("A", "2025-02-01T10:00", "purchase", "a1", "tea", 1, "30.00"),
    ("A", "2025-03-03T10:00", "purchase", "a2", "cup", 2, "16.00"),
    ("A", "2025-03-10T09:00", "return", "a1", "tea", 1, "30.00"),
    ("A", "2025-03-12T12:00", "signup", "", "", "", ""),
    ("A", "2025-03-20T10:00", "return", "a2", "cup", 1, "8.00"),
    ("A", "2025-03-21T10:00", "purchase", "a3", "cup", 3, "24.00"),
    # B: a purchase exactly at the window's edge (30 days before signup), one a minute before
    ("B", "2025-03-01T11:59", "purchase", "b1", "tea", 2, "60.00"),
    ("B", "2025-03-01T12:00", "purchase", "b2", "tea", 1, "30.00"),
    ("B", "2025-03-31T12:00", "signup", "", "", "", ""),
    ("B", "2025-04-02T12:00", "signup", "", "", "", ""),  # a second signup changes nothing
    ("B", "2025-04-03T12:00", "purchase", "b3", "cup", 4, "32.00"),
    # C: never signs up; her return of an order she does not have counts as not counted, not refused
    ("C", "2025-02-10T10:00", "purchase", "c1", "tea", 3, "90.00"),
    ("C", "2025-02-11T10:00", "return", "c1", "tea", 1, "30.00"),
    ("C", "2025-02-12T10:00", "return", "zz", "tea", 1, "30.00"),
    ("C", "2025-02-13T10:00", "visit", "", "", "", ""),
    # D: her signup_date attribute (1 April) wins over her signup row (1 February)
    ("D", "2025-01-20T10:00", "purchase", "d1", "tea", 1, "30.00"),
    ("D", "2025-02-01T10:00", "signup", "", "", "", ""),
    ("D", "2025-02-20T10:00", "purchase", "d2", "cup", 3, "24.00"),
    ("D", "2025-03-05T10:00", "purchase", "d3", "cup", 3, "24.00"),
    ("D", "2025-04-10T10:00", "purchase", "d4", "cup", 3, "24.00"),
    ("D", "2025-04-11T10:00", "return", "d2", "cup", 3, "24.00"),
    # E: a purchase before the program runs, and one before her signup without a window
    ("E", "2024-12-30T10:00", "purchase", "e1", "tea", 1, "30.00"),
    ("E", "2025-01-05T10:00", "purchase", "e2", "tea", 1, "30.00"),
    ("E", "2025-01-06T10:00", "signup", "", "", "", ""),
    ("E", "2025-01-07T10:00", "purchase", "e3", "tea", 1, "30.00"),
]
ATTRIBUTES = {"D": MemberAttributes(signup_date=dt.date(2025, 4, 1)),
              "A": MemberAttributes(others=(("card", "yes"),)), "B": MemberAttributes(others=(("card", "no"),))}


def _history(rows, exponent: int = 2, stores: bool = False):
    cols = {h: [] for h in HEADER}
    for member, time, typ, order, item, qty, amount in rows:
        for h, v in zip(HEADER, (member, time, typ, order, item, "", qty, amount)):
            cols[h].append(str(v) if v not in ("", None) else None)
    if stores:  # each row in one of two stores, by its place (a timer books its effects at its event's store)
        cols["store"] = ["north" if i % 2 else "south" for i in range(len(rows))]
    return build_history(cols, "enrolment.csv", 2, ReadOptions(minor_units=exponent, currency="NOK",
                                                               timezone="UTC"))


def _compare(prog, history, scenario: Scenario, attributes: dict):
    """The kernel's result against the scalar plan's, each member alone and the whole history; the whole."""
    plan = make_plan(prog, program_info(prog, "shop.loyalty"), scenario, history, attributes)
    assert supports(prog, plan) is None
    for member, _, _ in history.member_slices():
        alone = history.select_members([member])
        assert _vector_solved(plan, alone, tail_members=0).canonical() == simulate(plan, alone).canonical(), member
    whole = simulate_vector(plan, history)
    for tail in (0, 10**9):
        assert simulate_vector(plan, history, tail_members=tail).canonical() == whole.canonical()
    assert whole.canonical() == simulate(plan, history).canonical()
    return whole


def _program(settings: str):
    return loyalty.compile_source(PROGRAM.format(settings=settings), "shop.loyalty").compiled


@pytest.mark.parametrize("settings", [CLAUSE, CLAUSE + WINDOW])
def test_the_kernel_leaves_out_what_the_scalar_plan_does_not_count(settings):
    prog = _program(settings)
    result = _compare(prog, _history(ROWS), Scenario(), ATTRIBUTES)
    counts = result.counts
    # members: A, B, D (attribute), E (signup row); C never joins
    assert (counts["enrolled_members"], counts["non_members"]) == (4, 1)
    if settings == CLAUSE:
        # not counted: a1 a2 (A), b1 b2 (B), c1 (C), d1 d2 d3 (D: before 1 April), e1 e2 (E)
        assert counts["non_member_orders"] == 10
    else:
        # outside the window: a1 (39 days before), b1 (a minute before its edge), c1, d1 d2 (before 2 March);
        # a2 (9 days before), b2 (exactly 30 days), d3 and e1 e2 count (e1 is before the program runs: nothing)
        assert counts["non_member_orders"] == 5
    assert "rejected" not in result.canonical() or not result.canonical()["rejected"]


def test_what_comes_before_her_signup_earns_nothing_on_the_kernel():
    """A (no window): a1 and a2 before her signup earn no points and their cups do not fill the card; only a3
    earns (24 NOK: 2 points) with the welcome bonus; the returns of a1 and a2 are not counted, not refused."""
    prog = _program(CLAUSE)
    alone = _history([r for r in ROWS if r[0] == "A"])
    plan = make_plan(prog, program_info(prog, "shop.loyalty"), Scenario(), alone, {})
    got = simulate_vector(plan, alone).canonical()
    assert got["tables"]["rule"] == {"base": {"effects": "1", "points_issued": "2"},
                                     "welcome": {"effects": "1", "points_issued": "20"}}
    counts = got["counts"]
    assert (counts["non_member_orders"], counts["non_member_revenue"], counts["effects_not_counted"]) == \
        ("2", str(3000 + 1600 - 3000 - 800), "4")
    assert "rejected" not in got["tables"]


@pytest.mark.parametrize("settings", ["", CLAUSE, CLAUSE + WINDOW])
@pytest.mark.parametrize("scenario", [Scenario(seed=3, enrolment_share=Decimal("0.4")),
                                      Scenario(seed=1, enrolment_share=Decimal("0.6")),
                                      Scenario(enrolment_column="card")])
def test_the_scenarios_enrolment_on_the_kernel(settings, scenario):
    prog = _program(settings)
    result = _compare(prog, _history(ROWS), scenario, ATTRIBUTES)
    counts = result.counts
    assert counts.get("enrolled_members", 0) + counts.get("non_members", 0) == 5
    if scenario.enrolment_column is not None:  # A says yes; B no; the others have no value
        assert counts["enrolled_members"] == 1


# ------------------------------------------------------------------------------------------ generated


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_programs_with_enrolment_member_by_member(data):
    """Generated programs cut down to what the kernel runs, with `members join at signup` (and a window,
    sometimes) or the scenario's share: each member's result from the kernel equals the scalar plan's, and
    so does the whole history's."""
    from hypothesis import assume

    from event_strategies import history_rows, member_histories, vectorisable
    from loyalty.diagnostics import LoyaltyError
    from loyalty.syntax import ast
    from loyalty.syntax.formatter import format_program
    from strategies import valid_programs

    generated = vectorisable(data.draw(valid_programs(), label="program"))
    decl = next(d for d in generated.declarations if isinstance(d, ast.ProgramDecl))
    settings_ = tuple(s for s in decl.settings if not isinstance(s, (ast.MembersJoinAtSignup, ast.PreSignupWindow)))
    clause = data.draw(st.sampled_from(["none", "clause", "window"]), label="clause")
    if clause != "none":
        settings_ += (ast.MembersJoinAtSignup(),)
    if clause == "window":
        settings_ += (ast.PreSignupWindow(ast.Duration(Decimal(data.draw(st.integers(1, 12))),
                                                       data.draw(st.sampled_from(["day", "week", "month"])))),)
    generated = ast.Program(tuple(ast.ProgramDecl(d.name, settings_) if d is decl else d
                                  for d in generated.declarations))
    try:
        program = loyalty.compile_source(format_program(generated), "generated.loyalty")
    except LoyaltyError:
        assume(False)
    prog = program.compiled
    share = data.draw(st.sampled_from([None, "0.4", "0.7"]), label="share")
    assume(clause != "none" or share is not None)
    scenario = Scenario(seed=data.draw(st.integers(0, 9)),
                        enrolment_share=None if share is None else Decimal(share))
    histories = [data.draw(member_histories(program, member=f"m{i}", max_events=14), label=f"m{i}")
                 for i in range(data.draw(st.integers(1, 4), label="members"))]
    rows = history_rows(histories, prog.exponent)
    assume(rows)
    history = history_of(prog, rows)
    plan = make_plan(prog, program_info(prog, "generated.loyalty"), scenario, history, {})
    assume(supports(prog, plan) is None)
    try:
        whole = _vector_solved(plan, history)
    except Unsupported:
        assume(False)
    assert_member_by_member(plan, history, whole)


# ------------------------------------------------------------------------------------------ time passing
# Under enrolment an event that does not count does not move the member's clock (the scalar plan returns before
# time passes): on the kernel's timeline it sits at her clock (VectorEnrolment.clock_times). These programs
# have something that happens as time passes: expiry after earning and after inactivity, pending points, tiers
# with reviews and grace or a calendar window, birthdays, anniversaries, win-back, offers with a lifetime.

TIMERS = """program "Shop" {{
  currency NOK
  runs from 2025-01-01
{settings}}}
points "points" {{
  cost 0.10 NOK each
  {expiry}
}}
catalog {{
  category "shop"
  item "tea" in category "shop" costing 30.00 NOK
  item "cup" in category "shop" costing 8.00 NOK
}}
reward "free cup" is a free "cup" costing 8 NOK
reward "treat" is a free "cup" costing 8 NOK valid for 20 days
redeem 12 points for "free cup"
rule "base" {{
  earn 1 point per 10 NOK
}}
rule "welcome" {{
  earn 20 points
  on signup
}}
{extra}
tiers by {metric} {{
  tier "blue" from 0 {unit}
  tier "gold" from {gold} {unit} {{
    earn 2x points
  }}
  {downgrade}
}}
"""

BIRTHDAY = """rule "birthday" {
  earn 15 points
  on each birthday
}
rule "anniversary" {
  earn 25 points
  on each membership anniversary
}"""
WINBACK = """rule "come back" {
  give "treat"
  after 25 days without a purchase
}"""

TIMER_PROGRAMS = {
    "expiry, pending, reviews with grace": dict(
        expiry="expire 2 months after earning\n  available 3 days after purchase", extra=BIRTHDAY,
        metric="spend in the calendar year", unit="NOK", gold="60",
        downgrade="downgrade at the end of each month with 2 weeks grace"),
    "inactivity, win-back, offers, reviews": dict(
        expiry="expire after 40 days without a purchase", extra=WINBACK,
        metric="spend in the last 60 days", unit="NOK", gold="60", downgrade="downgrade at the end of each month"),
    "win-back points, birthdays, quarterly grace": dict(
        expiry="expire 3 months after earning", extra=BIRTHDAY.split("rule \"anniversary\"")[0] + WINBACK.replace(
            'give "treat"', "earn 10 points"), metric="spend in the calendar year", unit="NOK", gold="100",
        downgrade="downgrade at the end of each quarter with 1 month grace"),
    "expiry at a period's end, earned points": dict(
        expiry="expire at the end of the calendar year", extra=BIRTHDAY + "\n" + WINBACK,
        metric="points earned", unit="points", gold="8", downgrade=""),
}

# (member, time, type, order, item, quantity, amount): each member's events that do not count sit where time
# would pass on the kernel if they were moments of her timeline (an expiry, a maturing batch, a review, a grace
# period's end, a birthday or a lapse between them and her next counted event)
TIMER_ROWS = [
    # F: bought 70 days before signing up (outside any window), then a minute before the window's edge, then
    # exactly at it; a review and a grace end fall between her uncounted purchases
    ("F", "2025-01-02T10:00", "purchase", "f1", "tea", 3, "90.00"),
    ("F", "2025-02-10T11:59", "purchase", "f2", "tea", 1, "30.00"),
    ("F", "2025-02-10T12:00", "purchase", "f3", "tea", 2, "60.00"),
    ("F", "2025-03-12T12:00", "signup", "", "", "", ""),
    ("F", "2025-03-14T10:00", "purchase", "f4", "tea", 3, "90.00"),
    # a return of an order bought before she joined, after she joined, in a month that reviews her tier
    ("F", "2025-04-20T10:00", "return", "f1", "tea", 1, "30.00"),
    ("F", "2025-06-03T10:00", "purchase", "f5", "cup", 2, "16.00"),
    # G: signs up, earns, then buys nothing that counts... under the scenario; her clock is what counts
    ("G", "2025-01-05T10:00", "signup", "", "", "", ""),
    ("G", "2025-01-06T10:00", "purchase", "g1", "tea", 4, "120.00"),
    ("G", "2025-01-07T10:00", "purchase", "g2", "cup", 1, "8.00"),
    ("G", "2025-02-20T10:00", "return", "g2", "cup", 1, "8.00"),
    ("G", "2025-05-25T10:00", "purchase", "g3", "tea", 1, "30.00"),
    # H: never signs up; her purchases span reviews, birthdays and lapses, all uncounted
    ("H", "2025-01-03T10:00", "purchase", "h1", "tea", 3, "90.00"),
    ("H", "2025-03-03T10:00", "purchase", "h2", "tea", 3, "90.00"),
    ("H", "2025-03-04T10:00", "return", "h2", "tea", 1, "30.00"),
    ("H", "2025-07-03T10:00", "purchase", "h3", "cup", 1, "8.00"),
    # I: her signup_date (1 June) is after her signup row and her purchases; one a minute before the day
    ("I", "2025-01-10T10:00", "signup", "", "", "", ""),
    ("I", "2025-01-11T10:00", "purchase", "i1", "tea", 3, "90.00"),
    ("I", "2025-05-31T23:59", "purchase", "i2", "tea", 3, "90.00"),
    ("I", "2025-06-01T00:00", "purchase", "i3", "tea", 1, "30.00"),
    ("I", "2025-08-15T10:00", "purchase", "i4", "cup", 2, "16.00"),
    # J: a purchase a minute before her signup, one at the very moment of it
    ("J", "2025-02-01T09:59", "purchase", "j1", "tea", 2, "60.00"),
    ("J", "2025-02-01T10:00", "signup", "", "", "", ""),
    ("J", "2025-02-01T10:00", "purchase", "j2", "tea", 2, "60.00"),
    ("J", "2025-04-15T10:00", "return", "j1", "tea", 2, "60.00"),
    ("J", "2025-04-16T10:00", "purchase", "j3", "cup", 2, "16.00"),
    # K: gold from her first counted purchase; once the rolling window has passed it she keeps gold until the
    # month's review, and the return of her order from before she joined, in between, changes no tier (her
    # second signup moves her clock past the window's end first)
    ("K", "2025-01-01T10:00", "purchase", "k0", "cup", 3, "24.00"),
    ("K", "2025-01-02T10:00", "signup", "", "", "", ""),
    ("K", "2025-01-03T10:00", "purchase", "k1", "tea", 4, "120.00"),
    ("K", "2025-03-05T10:00", "signup", "", "", "", ""),  # (changes nothing but her clock: past the window)
    ("K", "2025-03-10T10:00", "return", "k0", "cup", 3, "24.00"),
    ("K", "2025-03-20T10:00", "purchase", "k2", "tea", 2, "60.00"),
]
TIMER_ATTRIBUTES = {
    "I": MemberAttributes(signup_date=dt.date(2025, 6, 1), birthday=dt.date(1990, 3, 1), others=(("card", "yes"),)),
    "F": MemberAttributes(birthday=dt.date(1985, 2, 20), others=(("card", "yes"),)),
    "H": MemberAttributes(birthday=dt.date(1979, 5, 5), others=(("card", "no"),)),
    "G": MemberAttributes(birthday=dt.date(2000, 1, 20), others=(("card", "no"),)),
    "J": MemberAttributes(birthday=dt.date(1995, 3, 10), others=(("card", "yes"),)),
}


def _timer_program(name: str, settings: str):
    text = TIMERS.format(settings=settings, **TIMER_PROGRAMS[name])
    return loyalty.compile_source(text, "shop.loyalty").compiled


@pytest.mark.parametrize("name", sorted(TIMER_PROGRAMS))
@pytest.mark.parametrize("settings", [CLAUSE, CLAUSE + WINDOW, CLAUSE + "  returns accepted within 60 days\n",
                                      CLAUSE + WINDOW + "  late events accepted within 7 days\n"])
def test_time_passing_under_enrolment_on_the_kernel(name, settings):
    """What does not count moves no clock on the kernel either: expiry, pending points, reviews, grace periods,
    birthdays, anniversaries, lapses and offers come at the same moments as on the scalar plan."""
    prog = _timer_program(name, settings)
    scenario = Scenario()  # every member redeems as soon as her balance allows
    result = _compare(prog, _history(TIMER_ROWS, stores=True), scenario, TIMER_ATTRIBUTES)
    counts = result.counts
    assert counts["enrolled_members"] == 5 and counts["non_members"] == 1  # H never signs up
    assert counts["non_member_orders"] >= 6


@pytest.mark.parametrize("name", sorted(TIMER_PROGRAMS))
@pytest.mark.parametrize("settings", ["", CLAUSE, CLAUSE + WINDOW])
@pytest.mark.parametrize("scenario", [Scenario(seed=3, enrolment_share=Decimal("0.4")),
                                      Scenario(seed=5, enrolment_share=Decimal("0.7")),
                                      Scenario(enrolment_column="card")])
def test_the_scenarios_enrolment_with_time_passing_on_the_kernel(name, settings, scenario):
    """A customer the scenario leaves out is not replayed (no tier, no birthday, no lapse); the others are."""
    prog = _timer_program(name, settings)
    result = _compare(prog, _history(TIMER_ROWS), scenario, TIMER_ATTRIBUTES)
    assert result.counts.get("enrolled_members", 0) + result.counts.get("non_members", 0) == 6


def test_a_return_takes_back_no_gift_the_stock_refused_on_the_kernel():
    """A gift the reward's stock refused was never given, so a whole return of its order takes nothing back (the
    kernel weighs the stock before the returns: found by the generated programs, with and without enrolment)."""
    text = PROGRAM.format(settings="  rewards are taken back on return\n" + CLAUSE) + '''
reward "mug" is a gift "mug" costing 30 NOK limited to 1
rule "mug with every order" {
  give "mug"
}
'''
    prog = loyalty.compile_source(text, "shop.loyalty").compiled
    rows = [("A", "2025-02-01T10:00", "signup", "", "", "", ""),
            ("A", "2025-02-02T10:00", "purchase", "a1", "tea", 1, "30.00"),  # the one mug
            ("B", "2025-02-01T11:00", "signup", "", "", "", ""),
            ("B", "2025-02-03T10:00", "purchase", "b1", "tea", 1, "30.00"),  # none left
            ("B", "2025-02-04T10:00", "return", "b1", "tea", 1, "30.00")]
    for scenario in (Scenario(), Scenario(seed=1, enrolment_share=Decimal("1"))):
        history = _history(rows)
        plan = make_plan(prog, program_info(prog, "shop.loyalty"), scenario, history, {})
        got = _vector_solved(plan, history).canonical()
        assert got == simulate(plan, history).canonical()
        assert got["tables"]["reward"]["mug"].get("taken_back") is None
        assert got["tables"]["stock"]["mug"]["refused"] == "1"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_histories_of_time_passing_programs_with_enrolment(data):
    """The programs above (expiry, pending points, reviews and grace, birthdays, win-back, offers) with the clause,
    a window or the scenario's share, on generated histories: the kernel equals the scalar plan member by
    member and as a whole."""
    from hypothesis import assume

    from event_strategies import history_rows, member_histories

    name = data.draw(st.sampled_from(sorted(TIMER_PROGRAMS)), label="program")
    settings_ = data.draw(st.sampled_from(["", CLAUSE, CLAUSE + WINDOW, CLAUSE + "  returns accepted within 60 days\n"]),
                          label="settings")
    share = data.draw(st.sampled_from([None, "0.5"]), label="share")
    assume(settings_ or share)
    program = loyalty.compile_source(TIMERS.format(settings=settings_, **TIMER_PROGRAMS[name]), "shop.loyalty")
    prog = program.compiled
    scenario = Scenario(seed=data.draw(st.integers(0, 9)), enrolment_share=None if share is None else Decimal(share))
    histories = [data.draw(member_histories(program, member=f"m{i}", max_events=14), label=f"m{i}")
                 for i in range(data.draw(st.integers(1, 3), label="members"))]
    rows = history_rows(histories, prog.exponent)
    assume(rows)
    history = history_of(prog, rows)
    signup_day = data.draw(st.sampled_from([None, dt.date(2025, 3, 1)]), label="signup_date")
    attributes = {h.member: MemberAttributes(
        birthday=dt.date.fromisoformat(h.attributes["birthday"]) if h.attributes.get("birthday") else None,
        signup_date=signup_day if i == 0 else None) for i, h in enumerate(histories)}
    plan = make_plan(prog, program_info(prog, "shop.loyalty"), scenario, history, attributes)
    assert supports(prog, plan) is None
    whole = _vector_solved(plan, history)
    assert_member_by_member(plan, history, whole)


REFERRAL_RULES = '''
rule "friend" {
  earn 50 points
  on being referred
}
rule "bring a friend" {
  earn 100 points
  on referring a friend who spends at least 20 NOK within 30 days
}
'''


def _referral_program():
    return loyalty.compile_source(PROGRAM.format(settings=CLAUSE) + REFERRAL_RULES, "shop.loyalty").compiled


def _alone(prog, rows, member):
    """Member by member, the kernel's result equals the scalar plan's (`assert_member_by_member`, and for the
    whole history); then `member` alone, by the scalar plan: her `not_counted` effects and the rules that fired."""
    history = _history(rows)
    plan = make_plan(prog, program_info(prog, "shop.loyalty"), Scenario(), history, {})
    assert supports(prog, plan) is None
    assert_member_by_member(plan, history, _vector_solved(plan, history))
    alone = simulate(plan, history.select_members([member])).canonical()
    return int(alone["counts"].get("effects_not_counted", "0")), alone["tables"].get("rule", {})


def test_a_referral_of_someone_who_never_joins_is_not_counted_on_the_kernel():
    """N never signs up: the referral pass's `referred` event for her (from R's referral row) needs her to be a
    member, so it is not counted, as her return of an order she does not have: two `not_counted` effects, and
    "friend" gives her nothing (found by the generated fee-rows programs: the kernel gave one)."""
    rows = [("R", "2025-02-01T10:00", "signup", "", "", "", ""),
            ("R", "2025-02-07T23:00", "referral", "", "N", "", ""),
            ("N", "2025-05-01T10:00", "return", "o1", "", "", "0.74")]
    effects, fired = _alone(_referral_program(), rows, "N")
    assert effects == 2
    assert "friend" not in fired


def test_a_referral_before_she_joins_is_not_counted_on_the_kernel():
    """N is referred, buys, then signs up (no pre-signup window): the `referred` event and the purchase come
    before she is a member, so neither counts (two `not_counted`): "friend" does not fire, only her later
    purchase earns; R never joins, so nothing of hers counts (found by the generated pending-points
    programs: the kernel counted N's `referred` event)."""
    rows = [("R", "2025-02-07T23:00", "referral", "", "N", "", ""),
            ("N", "2025-02-10T10:00", "purchase", "n1", "tea", 1, "30.00"),
            ("N", "2025-02-12T10:00", "signup", "", "", "", ""),
            ("N", "2025-02-14T10:00", "purchase", "n2", "tea", 1, "30.00")]
    prog = _referral_program()
    effects, fired = _alone(prog, rows, "N")
    assert effects == 2
    assert fired == {"base": {"effects": "1", "points_issued": "3"},
                     "welcome": {"effects": "1", "points_issued": "20"}}
    _, fired = _alone(prog, rows, "R")
    assert fired == {}  # R never joins: neither her referral nor any `referral_qualified` counts


EXPIRING = """program "Shop" {
  currency NOK
  runs from 2025-01-01
  members join at signup
}
points "points" {
  cost 0.10 NOK each
  expire at the end of the calendar day
}
reward "sticker" is a perk
redeem 1 point for "sticker"
rule "base" {
  earn 1 point per 10 NOK
}
"""


def test_no_simulated_redemption_after_an_event_that_does_not_count():
    """A simulated member redeems after an event that counts, on the scalar plan as on the kernel: after a
    purchase before her signup (which moves no clock) her balance still holds yesterday's points, which expire
    when her next counted event comes; redeeming on that stale balance was refused a thousand times."""
    prog = loyalty.compile_source(EXPIRING, "shop.loyalty").compiled
    rows = [("A", "2025-02-01T10:00", "adjustment", "points +2500"),  # counts: she redeems 1,000 (the bound)
            ("A", "2025-02-02T10:00", "purchase", ""),  # before her signup: not counted
            ("A", "2025-02-02T11:00", "signup", "")]
    cols = {"member": [r[0] for r in rows], "time": [r[1] for r in rows], "type": [r[2] for r in rows],
            "order": ["", "a1", ""], "item": ["", "tea", ""], "quantity": ["", "1", ""],
            "amount": ["", "30.00", ""], "adjust": [r[3] for r in rows], "reason": ["opening balance", "", ""]}
    cols = {h: [v or None for v in vs] for h, vs in cols.items()}
    history = build_history(cols, "expiring.csv", 2, ReadOptions(minor_units=2, currency="NOK", timezone="UTC"))
    result = _compare(prog, history, Scenario(), {})
    document = result.canonical()
    assert result.counts["simulated_redemptions"] == 1000
    assert not document["tables"].get("refused"), document["tables"].get("refused")
    assert result.counts["non_member_orders"] == 1
