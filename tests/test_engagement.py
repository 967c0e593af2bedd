"""Engagement mechanics (docs/semantics.md, "Win-back", "Moments", "Offers with a lifetime"): a win-back
(`after <duration> without a purchase`) fires once per lapse at its own moment, in the simulation too (the
end-of-history tick reaches members who never come back); offers are used or lapse; birthdays and
anniversaries come on the calendar; a discount on the Nth purchase; their state round-trips; the vectorised
kernel runs them (tests/test_kernel_timers.py) and declines what it does not, with the rule named."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings, strategies as st

import loyalty
from loyalty.cli import cli as main
from loyalty.runtime.state_check import StateProblem
from loyalty.simulate.render import to_json
from loyalty.simulate.vector.support import supports

from test_simulate import history, program, run

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "programs" / "comeback_cafe.loyalty")

WIN_BACK = """
program "Shop" {
  currency NOK
  runs from 2025-01-01
}
reward "coffee" is a gift "coffee" costing 12 NOK
rule "win back" {
  give "coffee"
  after %d days without a purchase
}
"""


def _purchases(start: _dt.datetime, members: list) -> tuple[list, _dt.datetime]:
    """History rows of 10.00 purchases, member m{i} buying at each of `members[i]`'s hours after `start`, and
    the history's last moment."""
    rows, n = [], 0
    for m, hours in enumerate(members):
        for h in sorted(hours):
            n += 1
            rows.append((f"m{m}", (start + _dt.timedelta(hours=h)).isoformat(), "10.00", "x", 1, f"o{n}"))
    return rows, max(start + _dt.timedelta(hours=h) for hours in members for h in hours)


def _rule_row(report, name: str) -> dict:
    doc = to_json(report)
    doc = json.loads(doc) if isinstance(doc, str) else doc
    return next(r for r in doc["by_rule"] if r.get("rule") == name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days=st.integers(1, 40),
       members=st.lists(st.lists(st.integers(0, 24 * 150), min_size=1, max_size=6, unique=True), min_size=1,
                        max_size=4))
def test_simulation_gives_one_reward_per_lapse_counted_from_the_history(days, members):
    """Counted independently of the runtime: a member's lapse ends `days` after each purchase; it fires when
    her next purchase comes at or after that moment, or, after her last purchase, when the history's last
    moment (the end-of-history tick) reaches it."""
    prog = program(WIN_BACK % days)
    start = _dt.datetime(2025, 1, 1)
    rows, end = _purchases(start, members)
    lapse = _dt.timedelta(days=days)
    expected = 0
    for hours in members:
        times = sorted(start + _dt.timedelta(hours=h) for h in hours) + [end]
        expected += sum(1 for a, b in zip(times, times[1:]) if b >= a + lapse)
    _plan, _result, report = run(prog, history(rows, prog))
    row = _rule_row(report, "win back")
    assert row["rewards"] == expected
    assert row["reward_cost"] == f"{12 * expected}.00"


def test_a_member_who_never_comes_back_is_won_back_by_the_end_of_history_tick():
    prog = program(WIN_BACK % 30)
    # a buys once on 1 January; the history ends with b's purchase on 20 March: a's lapse (31 January) fired
    h = history([("a", "2025-01-01T10:00", "10.00", "x", 1, "o1"), ("b", "2025-03-20T10:00", "10.00", "x", 1, "o2")],
                prog)
    _plan, _result, report = run(prog, h)
    assert _rule_row(report, "win back")["rewards"] == 1


def _lapsed_member():
    p = loyalty.load(EXAMPLE)
    m = p.new_member("m1")
    m, _ = p.apply(m, {"purchase": {"time": "2025-03-03T10:00", "order": "o1",
                                    "lines": [{"item": "cappuccino", "amount": "45.00"}]}})
    return p, m


def test_open_lapses_round_trip_through_the_state_json():
    p, m = _lapsed_member()
    doc = json.loads(m.to_json())
    # rules 1 and 2 ("we miss you", "still missing you"): 60 and 120 days after the purchase
    assert doc["lapses"] == {"1": "2025-05-02T10:00:00", "2": "2025-07-01T10:00:00"}
    back = p.state_from_json(m.to_json())
    assert back.to_json() == m.to_json()
    later, out = p.apply(back, {"tick": {"time": "2025-05-02T10:00"}})
    assert [(e.kind, e.rule) for e in out] == [("reward_issued", "we miss you")]
    assert json.loads(later.to_json())["lapses"] == {"2": "2025-07-01T10:00:00"}


def test_a_state_saved_before_win_back_loads_and_starts_lapses_from_the_next_purchase():
    p, m = _lapsed_member()
    doc = json.loads(m.to_json())
    del doc["lapses"]  # a loyalty-state/1 document written before win-back existed
    old = p.state_from_json(json.dumps(doc))
    assert "lapses" not in json.loads(old.to_json())
    _, out = p.apply(old, {"tick": {"time": "2026-01-01T00:00"}})
    assert [e.kind for e in out if e.kind == "reward_issued"] == []


def test_a_saved_lapse_on_a_rule_that_is_not_a_win_back_is_refused():
    p, m = _lapsed_member()
    doc = json.loads(m.to_json())
    doc["lapses"] = {"0": "2025-05-02T10:00:00"}  # rule 0 earns per spend
    with pytest.raises((StateProblem, ValueError), match="lapses"):
        p.state_from_json(json.dumps(doc))


def test_the_vectorised_kernel_runs_win_back_and_declines_a_capped_gift_naming_the_rule(tmp_path):
    assert supports(program(WIN_BACK % 30)) is None
    capped = WIN_BACK.replace("  after %d days", "  at most once per member per year\n  after %d days") % 30
    why = supports(program(capped))
    assert why is not None and "'win back'" in why and "after 30 days without a purchase" in why
    src = tmp_path / "p.loyalty"
    src.write_text(capped)
    hist = tmp_path / "h.csv"
    hist.write_text("member,time,type,order,item,amount\nm1,2025-01-01T10:00,purchase,o1,x,10.00\n"
                    "m1,2025-03-01T10:00,purchase,o2,x,10.00\n")
    res = CliRunner().invoke(main, ["simulate", str(src), str(hist), "--format", "json", "--kernel", "auto", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["assumptions"]["kernel"] == "python"
    assert "win back" in doc["assumptions"]["kernel_why"]


OFFER = """
program "Shop" {
  currency NOK
  runs from 2025-01-01
}
reward "coffee" is a gift "coffee" costing 12 NOK valid for %d days
rule "win back" {
  give "coffee"
  after %d days without a purchase
}
"""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(last_day=st.integers(0, 150), days=st.integers(1, 40),
       members=st.lists(st.lists(st.integers(0, 24 * 150), min_size=1, max_size=6, unique=True), min_size=1,
                        max_size=4))
@example(last_day=0, days=18, members=[[0, 432]])  # given after its day, on a purchase's moment: lapsed
def test_an_offer_valid_until_a_day_is_used_by_its_end_or_lapses(last_day, days, members):
    """`valid until D`: an offer given at g can be used up to the end of day D; it lapses as D ends, or at once
    when given after that. Counted from the history alone, as for `valid for`."""
    until = _dt.date(2025, 1, 1) + _dt.timedelta(days=last_day)
    prog = program(OFFER.replace("valid for %d days", f"valid until {until.isoformat()}") % days)
    start = _dt.datetime(2025, 1, 1)
    ends_at = _dt.datetime.combine(until + _dt.timedelta(days=1), _dt.time())
    rows, n = [], 0
    for m, hours in enumerate(members):
        for h in sorted(hours):
            n += 1
            rows.append((f"m{m}", (start + _dt.timedelta(hours=h)).isoformat(), "10.00", "x", 1, f"o{n}"))
    end = max(start + _dt.timedelta(hours=h) for hours in members for h in hours)
    given_, redeemed, lapsed = 0, 0, 0
    for hours in members:
        times = sorted(start + _dt.timedelta(hours=h) for h in hours)
        for a, b in zip(times, times[1:] + [None]):
            g = a + _dt.timedelta(days=days)
            lapses_at = max(g, ends_at)
            if b is not None and b >= g:
                given_ += 1
                redeemed += b < lapses_at
                lapsed += b >= lapses_at
            elif b is None and end >= g:
                given_ += 1
                lapsed += end >= lapses_at
    _plan, _result, report = run(prog, history(rows, prog))
    doc = to_json(report)
    doc = json.loads(doc) if isinstance(doc, str) else doc
    row = {r["reward"]: r for r in doc["by_reward"]}.get("coffee", {"given": 0, "redeemed": 0, "lapsed": 0})
    assert (row["given"], row["redeemed"], row["lapsed"]) == (given_, redeemed, lapsed)
    if given_:
        assert row["cost"] == f"{12 * (given_ - lapsed)}.00"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid=st.integers(1, 30), days=st.integers(1, 40),
       members=st.lists(st.lists(st.integers(0, 24 * 150), min_size=1, max_size=6, unique=True), min_size=1,
                        max_size=4))
def test_offers_are_redeemed_or_lapse_and_a_lapsed_one_costs_nothing(valid, days, members):
    """Counted from the history alone: the win-back's offer is given when a lapse ends (moment g); the member's
    next purchase uses it when it comes before g + valid, else it lapses at g + valid if the history reaches
    that moment, else it is still held at the end (and counted at cost)."""
    prog = program(OFFER % (valid, days))
    start = _dt.datetime(2025, 1, 1)
    rows, end = _purchases(start, members)
    lapse, life = _dt.timedelta(days=days), _dt.timedelta(days=valid)
    given_, redeemed, lapsed = 0, 0, 0
    for hours in members:
        times = sorted(start + _dt.timedelta(hours=h) for h in hours)
        for a, b in zip(times, times[1:] + [None]):
            g = a + lapse
            if b is not None and b >= g:
                given_ += 1
                redeemed += b < g + life
                lapsed += b >= g + life
            elif b is None and end >= g:
                given_ += 1
                lapsed += end >= g + life
    _plan, _result, report = run(prog, history(rows, prog))
    doc = to_json(report)
    doc = json.loads(doc) if isinstance(doc, str) else doc
    rows_by_reward = {r["reward"]: r for r in doc["by_reward"]}
    if not given_:
        assert "coffee" not in rows_by_reward or rows_by_reward["coffee"]["given"] == 0
        return
    row = rows_by_reward["coffee"]
    assert (row["given"], row["redeemed"], row["lapsed"]) == (given_, redeemed, lapsed)
    assert row["cost"] == f"{12 * (given_ - lapsed)}.00"
    assert _rule_row(report, "win back")["cost"] == f"{12 * (given_ - lapsed)}.00"


def test_held_offers_round_trip_and_old_states_without_them_load():
    p = loyalty.load(EXAMPLE)
    m = p.new_member("m1")
    m, _ = p.apply(m, {"purchase": {"time": "2025-03-03T10:00", "order": "o1",
                                    "lines": [{"item": "cappuccino", "amount": "45.00"}]}})
    m, out = p.apply(m, {"tick": {"time": "2025-05-02T10:00"}})
    doc = json.loads(m.to_json())
    # rule 1 ("we miss you") gave the free coffee at 2025-05-02 10:00, valid for 30 days
    assert doc["offers"] == [["free coffee", "2025-06-01T10:00:00", 1]]
    back = p.state_from_json(m.to_json())
    assert back.to_json() == m.to_json()
    _, out = p.apply(back, {"purchase": {"time": "2025-05-20T10:00", "order": "o2",
                                         "lines": [{"item": "cappuccino", "amount": "45.00"}]}})
    assert [e.kind for e in out][:1] == ["reward_used"]
    bad = dict(doc, offers=[["no such reward", "2025-06-01T10:00:00", 1]])
    with pytest.raises((StateProblem, ValueError), match="offers"):
        p.state_from_json(json.dumps(bad))


def test_the_vectorised_kernel_runs_offers():
    assert supports(program(OFFER.replace("after %d days without a purchase", "on first purchase") % 30)) is None


def test_the_shipped_history_exercises_win_back_and_offers():
    """examples/histories/comeback_cafe.csv (loyalty generate) has members who lapse, come back within an
    offer's lifetime, and never come back: docs/language.md shows this report."""
    root = Path(EXAMPLE).parents[1]
    res = CliRunner().invoke(main, ["simulate", EXAMPLE, str(root / "histories" / "comeback_cafe.csv"),
                                    "--format", "json", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    coffee = next(r for r in doc["by_reward"] if r["reward"] == "free coffee")
    assert (coffee["given"], coffee["redeemed"], coffee["lapsed"], coffee["cost"]) == (41, 24, 14, "162.00")
    half = next(r for r in doc["by_rule"] if r.get("rule") == "5th cup at half price")
    assert half["discount"] == "319.50"
    bonus = next(r for r in doc["by_rule"] if r.get("rule") == "still missing you")
    assert bonus["points_issued"] == 500


NTH = """
program "Shop" {
  currency NOK
  runs from 2025-01-01
}
rule "nth" {
  get 50% off
  on the NTH purchase
}
"""


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 6), kinds=st.lists(st.sampled_from(["purchase", "visit"]), min_size=1, max_size=9))
def test_a_discount_on_the_nth_purchase_counts_purchases_only(n, kinds):
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    p = loyalty.compile_source(NTH.replace("NTH", f"{n}{suffix}"))
    m = p.new_member("m1")
    discounted = []
    purchases = 0
    for i, kind in enumerate(kinds):
        t = f"2025-02-{i + 1:02d}T10:00"
        if kind == "purchase":
            purchases += 1
            ev = {"purchase": {"time": t, "order": f"o{i}", "lines": [{"item": "x", "amount": "30.00"}]}}
        else:
            ev = {"visit": {"time": t, "id": f"v{i}"}}
        m, out = p.apply(m, ev)
        discounted += [(purchases, str(e.amount)) for e in out if e.kind == "discount_applied"]
    # exactly the nth purchase, 50% of 30.00 NOK = 15.00 NOK (1500 minor units)
    assert discounted == ([(n, "1500")] if purchases >= n else [])


MOMENTS = str(Path(__file__).resolve().parents[1] / "examples" / "programs" / "member_moments.loyalty")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(birthday=st.dates(_dt.date(1950, 1, 1), _dt.date(2005, 12, 31)),
       offsets=st.lists(st.integers(0, 24 * 365 * 3), min_size=1, max_size=6, unique=True))
def test_birthdays_come_on_the_calendar_after_the_first_event(birthday, offsets):
    """Counted from the calendar alone: one gift card per birthday moment (00:00 on the day; 28 February for
    29 February in other years) after the member's first event and up to her last."""
    p = loyalty.load(MOMENTS)
    m = p.new_member("m1", attributes={"birthday": birthday.isoformat()})
    start = _dt.datetime(2025, 1, 1, 10, 0)
    times = sorted(start + _dt.timedelta(hours=h) for h in offsets)
    given_at = []
    for i, t in enumerate(times):
        m, out = p.apply(m, {"tick": {"time": t.isoformat()}} if i else
                         {"purchase": {"time": t.isoformat(), "order": "o1",
                                       "lines": [{"item": "paperback", "amount": "10.00"}]}})
        given_at += [e.time for e in out if e.kind == "reward_issued" and e.rule == "birthday gift card"]
    expected = []
    for year in range(times[0].year, times[-1].year + 1):
        day = birthday.day
        if birthday.month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 or year % 400 == 0)):
            day = 28
        moment = _dt.datetime(year, birthday.month, day)
        if times[0] < moment <= times[-1]:
            expected.append(moment)
    assert given_at == expected


def test_joined_round_trips_and_anniversaries_follow_it():
    p = loyalty.load(MOMENTS)
    m = p.new_member("m1")
    m, _ = p.apply(m, {"signup": {"time": "2025-02-28T09:00", "id": "s1"}})
    doc = json.loads(m.to_json())
    assert doc["joined"] == "2025-02-28"
    back = p.state_from_json(m.to_json())
    assert back.to_json() == m.to_json()
    _, out = p.apply(back, {"tick": {"time": "2026-02-28T00:00"}})
    assert [(e.kind, e.rule, e.points) for e in out] == [("points_earned", "anniversary bonus", 250)]
    del doc["joined"]  # a state saved before moments: no anniversary until a signup_date says when
    old = p.state_from_json(json.dumps(doc))
    _, out = p.apply(old, {"tick": {"time": "2026-02-28T00:00"}})
    assert out == []


def test_simulation_gives_birthdays_to_members_who_never_buy_again(tmp_path):
    hist = tmp_path / "h.csv"
    hist.write_text("member,time,type,order,item,amount\n"
                    "m1,2025-02-01T10:00,purchase,o1,paperback,100.00\n"
                    "m2,2025-02-02T10:00,purchase,o2,paperback,100.00\n"
                    "m2,2025-12-31T10:00,purchase,o3,paperback,100.00\n")
    attrs = tmp_path / "a.csv"
    # m1's birthday comes while she never buys again; m2's birthday (2025-01-15) is before her first purchase
    attrs.write_text("member,birthday\nm1,1980-07-04\nm2,1990-01-15\n")
    res = CliRunner().invoke(main, ["simulate", MOMENTS, str(hist), "--attributes", str(attrs), "--format", "json",
                                    "--jobs", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    card = next(r for r in doc["by_reward"] if r["reward"] == "birthday gift card")
    # given 2025-07-04, unused by 2025-08-03: lapsed, costing nothing
    assert (card["given"], card["redeemed"], card["lapsed"], card["cost"]) == (1, 0, 1, "0.00")


def test_the_vectorised_kernel_declines_a_capped_gift_on_a_moment_naming_the_rule():
    prog = program("""
program "Shop" {
  currency NOK
}
reward "cake" is a gift "cake" costing 30 NOK
rule "cake day" {
  give "cake"
  on each birthday
  at most once per member per year
}
""")
    why = supports(prog)
    assert why is not None and "'cake day'" in why and "on each birthday" in why


def test_generate_writes_a_birthday_for_every_member_without_changing_the_history(tmp_path):
    runner = CliRunner()
    plain, with_attrs, attrs = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "attrs.csv"
    assert runner.invoke(main, ["generate", "--rows", "300", "--seed", "5", "-o", str(plain)]).exit_code == 0
    res = runner.invoke(main, ["generate", "--rows", "300", "--seed", "5", "-o", str(with_attrs),
                               "--attributes-output", str(attrs)])
    assert res.exit_code == 0, res.output
    assert plain.read_bytes() == with_attrs.read_bytes()
    lines = attrs.read_text().splitlines()
    assert lines[0] == "member,birthday"
    rows = dict(line.split(",") for line in lines[1:])
    members = {line.split(",")[0] for line in plain.read_text().splitlines()[1:]}
    assert members <= set(rows)
    assert all(_dt.date(1950, 1, 1) <= _dt.date.fromisoformat(b) <= _dt.date(2005, 12, 31) for b in rows.values())


def test_the_shipped_moments_history_exercises_birthdays_anniversaries_and_tiers():
    root = Path(MOMENTS).parents[1] / "histories"
    attributes = root.parent / "attributes" / "member_moments.csv"
    res = CliRunner().invoke(main, ["simulate", MOMENTS, str(root / "member_moments.csv"), "--attributes",
                                    str(attributes), "--format", "json", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    rules = {r["rule"]: r for r in doc["by_rule"] if r.get("rule")}
    card = next(r for r in doc["by_reward"] if r["reward"] == "birthday gift card")
    assert (card["given"], card["redeemed"], card["lapsed"]) == (57, 16, 39)
    assert rules["anniversary bonus"]["points_issued"] == 9000
    assert rules["welcome to gold"]["rewards"] == 10


TAKEN_BACK = """
program "Shop" {
  currency NOK
  rewards are taken back on return
}
reward "voucher" is 20 NOK off the next order valid for 30 days
rule "welcome" {
  give "voucher"
  on first purchase
}
"""


def _buy(order: str, time: str) -> dict:
    return {"purchase": {"time": time, "order": order, "lines": [{"item": "x", "amount": "100.00"}]}}


def test_a_whole_return_takes_back_an_offer_only_while_it_is_held():
    p = loyalty.compile_source(TAKEN_BACK)
    m = p.new_member("m1")
    m, _ = p.apply(m, _buy("o1", "2025-03-01T10:00"))
    held, out = p.apply(m, {"return": {"time": "2025-03-02T10:00", "order": "o1", "id": "r1"}})
    assert [e.kind for e in out] == ["reward_taken_back"]
    assert "offers" not in json.loads(held.to_json())
    _, out = p.apply(held, _buy("o2", "2025-03-03T10:00"))
    assert "reward_used" not in [e.kind for e in out]
    # used first, then the order returned: the offer stays used, nothing is taken back
    used, out = p.apply(m, _buy("o2", "2025-03-03T10:00"))
    assert [e.kind for e in out] == ["reward_used"]
    _, out = p.apply(used, {"return": {"time": "2025-03-04T10:00", "order": "o1", "id": "r1"}})
    assert "reward_taken_back" not in [e.kind for e in out]


def test_a_new_program_version_carries_held_offers_lapses_and_the_joining_day():
    old = loyalty.load(EXAMPLE)
    text = Path(EXAMPLE).read_text(encoding="utf-8")
    # v2: the free coffee is no longer an offer, "still missing you" fires after 150 days, and a new
    # win-back rule comes in
    v2 = (text.replace('a free "filter coffee" valid for 30 days', 'a free "filter coffee"')
          .replace("after 120 days without a purchase", "after 150 days without a purchase")
          + '\nrule "a year away" {\n  earn 300 points\n  after 365 days without a purchase\n}\n')
    new = loyalty.compile_source(v2)
    m = old.new_member("m1")
    m, _ = old.apply(m, {"signup": {"time": "2025-03-01T09:00", "id": "s1"}})
    m, _ = old.apply(m, {"purchase": {"time": "2025-03-03T10:00", "order": "o1",
                                      "lines": [{"item": "cappuccino", "amount": "45.00"}]}})
    m, _ = old.apply(m, {"tick": {"time": "2025-05-02T10:00"}})  # the free coffee, valid until 06-01
    before = json.loads(m.to_json())
    assert before["offers"] == [["free coffee", "2025-06-01T10:00:00", 1]] and "2" in before["lapses"]
    migrated, report = new.migrate(m, from_program=old)
    doc = json.loads(migrated.to_json())
    assert "offers" not in doc and doc["rewards"] == before["rewards"] == {"free coffee": 1}
    assert doc["lapses"] == {"2": before["lapses"]["2"]}
    assert doc.get("joined") == before.get("joined")
    items = {(part, name): (outcome, detail) for part, name, outcome, detail in report.items}
    assert items["offer held", "free coffee"][0] == "re-evaluated"
    assert items["win-back lapse", "still missing you"] == (
        "carried", "due 2025-07-01T10:00:00, set under the old duration; the new one applies from the next purchase")
    assert items["win-back lapse", "a year away"] == ("re-evaluated", "starts at the member's next purchase")
    # the same program carries everything unchanged
    same, rep = old.migrate(m, from_program=old)
    assert same.to_json() == m.to_json() and not rep.changed()
    # and the carried lapse fires when it is due under the new program
    _, out = new.apply(migrated, {"tick": {"time": "2025-07-01T10:00"}})
    assert ("points_earned", "still missing you") in [(e.kind, e.rule) for e in out]


TIER_GIFT = """
program "Shop" {
  currency NOK
  runs from 2025-01-01
}
points "points" { cost 0.01 NOK each }
reward "bag" is a gift "bag" costing 40 NOK valid for 10 days
rule "points" {
  earn 1 point per 1 NOK
}
rule "we miss you" {
  earn 300 points
  after 30 days without a purchase
}
rule "welcome to gold" {
  give "bag"
  on reaching tier "gold"
}
tiers by points earned {
  tier "gold" from 300 points
}
"""


def test_a_tier_reached_at_a_lapse_gives_its_offer_there_and_it_lapses_before_a_later_purchase():
    """The lapse's points (31 January) reach gold then, and gold's gift lives from then: 10 days, over on 10
    February, long before her purchase on 15 March, which must not use it (it was used when the gift came
    only after that purchase's own steps)."""
    p = loyalty.compile_source(TIER_GIFT, "shop.loyalty")
    m = p.new_member("m1")
    m, _ = p.apply(m, {"purchase": {"time": "2025-01-01T10:00", "order": "o1", "lines": [{"item": "x", "amount": "10.00"}]}})
    m, out = p.apply(m, {"purchase": {"time": "2025-03-15T10:00", "order": "o2",
                                      "lines": [{"item": "x", "amount": "10.00"}]}})
    kinds_ = [(e.kind, e.time.isoformat()) for e in out if e.kind in ("tier_changed", "reward_issued", "reward_used",
                                                                      "reward_lapsed")]
    assert kinds_ == [("tier_changed", "2025-01-31T10:00:00"), ("reward_issued", "2025-01-31T10:00:00"),
                      ("reward_lapsed", "2025-02-10T10:00:00")]
    assert json.loads(m.to_json()).get("offers", []) == []
