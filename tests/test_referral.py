"""Two-sided referral (docs/semantics.md, "Referral"): the new member's qualifying purchase rewards both sides,
each by a rule of its own; in a simulation the pass over the history (simulate/referrals.py) finds the
referrer's moments, so the figures are counted independently from the history, equal whether members are
replayed together or split and merged; the pending referral round-trips in the state JSON; the history
reader refuses a self-referral by row and column; the vectorised kernel gives the same report."""

from __future__ import annotations

import datetime as _dt
import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import loyalty
from loyalty.cli import cli as main
from loyalty.runtime.state_check import StateProblem
from loyalty.simulate.engine import make_plan, program_info, replay_members, simulate
from loyalty.simulate.parallel import evaluate_range
from loyalty.simulate.history import HistoryError, ReadOptions, build_history, read_history
from loyalty.simulate.result import merge_all
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector.support import supports

from test_simulate import program, run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "programs" / "bring_a_friend.loyalty")

PROGRAM = """
program "Shop" {
  currency NOK
  runs from 2025-01-01
}
points "points" { cost 0.01 NOK each }
reward "voucher" is 100 NOK off the next order costing 100 NOK
redeem 100000 points for "voucher"
rule "referrer" {
  earn 500 points
  on referring a friend who spends at least 300 NOK within 30 days
  at most 2 times per member per month
}
rule "welcome" {
  give "voucher"
  on being referred and spending at least 300 NOK within 30 days
}
"""


def _history(rows, prog, file="h.csv"):
    """rows: (member, time, type, amount, item, order)"""
    cols = {"member": [], "time": [], "type": [], "amount": [], "item": [], "order": []}
    for row in rows:
        for k, v in zip(cols, row):
            cols[k].append(v)
    return build_history(cols, file, 2, ReadOptions(minor_units=prog.exponent, timezone=prog.timezone))


def _by_rule(report, name):
    return next(r for r in report["by_rule"] if r.get("rule") == name)


START = _dt.datetime(2025, 1, 1)
# a referral: (referrer, new member, day); a purchase: (member, day, amount in NOK)
_referrals = st.lists(st.tuples(st.integers(0, 3), st.integers(4, 9), st.integers(0, 60)), max_size=8)
_purchases = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 120), st.sampled_from([100, 299, 300, 450])),
                      max_size=25)


def _rows(referrals, purchases):
    rows = []
    for n, (referrer, friend, day) in enumerate(referrals):
        rows.append((f"m{referrer}", (START + _dt.timedelta(days=day, minutes=n)).isoformat(), "referral", "",
                     f"m{friend}", ""))
    for n, (member, day, amount) in enumerate(purchases):
        rows.append((f"m{member}", (START + _dt.timedelta(days=day, hours=12, minutes=n)).isoformat(), "purchase",
                     f"{amount}.00", "x", f"o{n}"))
    return rows


def _expected(referrals, purchases):
    """Counted from the rows alone: each new member is referred by her earliest referral; her first purchase of
    300 NOK or more within 30 days of it qualifies (one voucher for her, and a claim of the referrer's); the
    referrer is paid at most 2 claims per calendar month, in time order."""
    first = {}
    for n, (referrer, friend, day) in enumerate(referrals):
        t = START + _dt.timedelta(days=day, minutes=n)
        if friend not in first or t < first[friend][0]:
            first[friend] = (t, referrer)
    vouchers, claims = 0, defaultdict(list)
    for friend, (since, referrer) in first.items():
        mine = sorted(START + _dt.timedelta(days=day, hours=12, minutes=n)
                      for n, (m, day, amount) in enumerate(purchases) if m == friend and amount >= 300)
        hit = next((t for t in mine if since <= t <= since + _dt.timedelta(days=30)), None)
        if hit is not None:
            vouchers += 1
            claims[referrer].append(hit)
    paid = 0
    for times in claims.values():
        per_month = defaultdict(int)
        for t in sorted(times):
            if per_month[(t.year, t.month)] < 2:
                per_month[(t.year, t.month)] += 1
                paid += 1
    return vouchers, paid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(referrals=_referrals, purchases=_purchases)
def test_both_sides_are_rewarded_as_counted_from_the_history(referrals, purchases):
    prog = program(PROGRAM)
    rows = _rows(referrals, purchases)
    if not rows:
        return
    _plan, _result, report = run(prog, _history(rows, prog))
    vouchers, paid = _expected(referrals, purchases)
    assert _by_rule(report, "welcome")["rewards"] == vouchers
    assert _by_rule(report, "referrer")["points_issued"] == 500 * paid


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(referrals=_referrals, purchases=_purchases, chunks=st.integers(2, 4))
def test_members_split_and_merged_give_the_one_run_figures(referrals, purchases, chunks):
    """The referrer and the new member may be replayed in different parts: the pass before the replay gives
    every part the same events, so the merged parts equal one run, part by part over any split."""
    prog = program(PROGRAM)
    rows = _rows(referrals, purchases)
    if not rows:
        return
    h = _history(rows, prog)
    plan = make_plan(prog, program_info(prog, "p.loyalty"), Scenario(), h)
    slices = h.member_slices()
    whole = replay_members(plan, h, slices)
    parts = [replay_members(plan, h, slices[i::chunks]) for i in range(chunks)]
    assert merge_all(parts) == whole
    # every engine's unit of work (it adds the coverage and customer cells): split by member, merged
    entire = evaluate_range(plan, h, None)
    split = merge_all([evaluate_range(plan, h.select_members([m for m, _, _ in slices[i::chunks]]), None)
                       for i in range(chunks)])
    assert split.canonical() == entire.canonical()
    assert simulate(plan, h, chunks=chunks) == simulate(plan, h)


def _referred_member():
    p = loyalty.load(EXAMPLE)
    m = p.new_member("f1")
    m, _ = p.apply(m, {"referred": {"time": "2025-03-01T10:00", "referred_by": "r1"}})
    m, _ = p.apply(m, {"purchase": {"time": "2025-03-05T10:00", "order": "o1",
                                    "lines": [{"item": "socks", "amount": "100.00"}]}})
    return p, m


def test_a_pending_referral_round_trips_through_the_state_json():
    p, m = _referred_member()
    doc = json.loads(m.to_json())
    # rules 1 and 2 ("thanks for bringing a friend", "welcome gift") wait for her qualifying purchase
    assert doc["referral"] == {"by": "r1", "at": "2025-03-01T10:00:00", "open": [1, 2]}
    back = p.state_from_json(m.to_json())
    assert back.to_json() == m.to_json()
    later, out = p.apply(back, {"purchase": {"time": "2025-03-20T10:00", "order": "o2",
                                             "lines": [{"item": "rain jacket", "amount": "300.00"}]}})
    assert [(e.kind, e.rule, e.scope) for e in out if e.kind != "points_earned"] == [
        ("referral_qualified", "thanks for bringing a friend", "r1"), ("reward_issued", "welcome gift", None)]
    assert json.loads(later.to_json())["referral"]["open"] == []


def test_a_state_saved_before_referrals_loads_and_a_member_is_referred_afresh():
    p, m = _referred_member()
    doc = json.loads(m.to_json())
    del doc["referral"]  # a loyalty-state/1 document written before two-sided referral existed
    old = p.state_from_json(json.dumps(doc))
    assert "referral" not in json.loads(old.to_json())
    _, out = p.apply(old, {"purchase": {"time": "2025-03-20T10:00", "order": "o2",
                                        "lines": [{"item": "rain jacket", "amount": "300.00"}]}})
    assert [e.kind for e in out] == ["points_earned"]


def test_a_saved_referral_naming_a_rule_without_a_qualifying_purchase_is_refused():
    p, m = _referred_member()
    doc = json.loads(m.to_json())
    doc["referral"]["open"] = [0]  # rule 0 earns per spend
    with pytest.raises((StateProblem, ValueError), match="referral"):
        p.state_from_json(json.dumps(doc))


def test_the_vectorised_kernel_runs_referral_with_the_same_report(tmp_path):
    """`--kernel auto` takes two-sided referral (tests/test_vector_goals.py compares it member by member), and
    its report is the scalar plan's but for the kernel's name, split over processes or not."""
    assert supports(program(PROGRAM)) is None
    src = tmp_path / "p.loyalty"
    src.write_text(PROGRAM)
    hist = tmp_path / "h.csv"
    hist.write_text("member,time,type,amount,item,order\n"
                    "m1,2025-01-02T10:00,referral,,m2,\nm1,2025-01-03T10:00,referral,,m3,\n"
                    "m2,2025-01-20T10:00,purchase,300.00,x,o1\nm3,2025-02-20T10:00,purchase,300.00,x,o2\n")
    docs = {}
    for kernel, jobs in (("auto", "1"), ("auto", "2"), ("python", "1")):
        res = CliRunner().invoke(main, ["simulate", str(src), str(hist), "--format", "json", "--kernel", kernel,
                                        "--jobs", jobs])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.output)
        assert doc["assumptions"].pop("kernel") == ("vector" if kernel == "auto" else "python")
        doc["assumptions"].pop("kernel_why", None)
        docs[kernel, jobs] = doc
    assert docs["auto", "1"] == docs["auto", "2"] == docs["python", "1"]
    assert next(r for r in docs["auto", "1"]["by_rule"] if r.get("rule") == "referrer")["points_issued"] == 500


def test_a_self_referral_is_a_bad_row_named_by_row_and_column(tmp_path):
    prog = program(PROGRAM)
    f = tmp_path / "h.csv"
    f.write_text("member,time,type,amount,item,order\n"
                 "m1,2025-01-02T10:00,purchase,300.00,x,o1\n"
                 "m1,2025-01-03T10:00,referral,,m1,\n")
    options = ReadOptions(minor_units=prog.exponent, timezone=prog.timezone, referrals=True)
    with pytest.raises(HistoryError) as err:
        read_history(f, options)
    assert str(err.value).startswith(f'{f}:3: column "item": a referral names the member referred')
    skipped = read_history(f, ReadOptions(minor_units=prog.exponent, timezone=prog.timezone, on_bad_row="skip",
                                          referrals=True))
    assert len(skipped) == 1 and skipped.skipped == {"item: a member referring herself": 1}
    # for a program without referral rules the item of a referral row means nothing: every engine reads it alike
    assert len(read_history(f, ReadOptions(minor_units=prog.exponent, timezone=prog.timezone))) == 2
    # through the command: the row and column, exit 1, no traceback
    (tmp_path / "p.loyalty").write_text(PROGRAM)
    res = CliRunner().invoke(main, ["simulate", str(tmp_path / "p.loyalty"), str(f)])
    assert res.exit_code == 1 and f'{f}:3: column "item"' in res.output and "Traceback" not in res.output


def test_the_grouped_engine_declines_a_referral_program(tmp_path):
    hist = tmp_path / "grouped.csv"
    res = CliRunner().invoke(main, ["generate", "--rows", "200", "--grouped", "--program", EXAMPLE, "-o", str(hist)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["simulate", EXAMPLE, str(hist), "--grouped"])
    assert res.exit_code == 1
    assert "two-sided referral" in res.output and "Traceback" not in res.output


def test_the_shipped_history_is_generated_and_exercises_both_sides(tmp_path):
    """examples/histories/bring_a_friend.csv is `loyalty generate`'s (referral rows name the new member), and
    its simulation rewards both sides: docs/language.md shows this report."""
    hist = ROOT / "examples" / "histories" / "bring_a_friend.csv"
    out = tmp_path / "h.csv"
    res = CliRunner().invoke(main, ["generate", "--rows", "600", "--seed", "1", "--members", "60", "--program",
                                    EXAMPLE, "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == hist.read_bytes()
    res = CliRunner().invoke(main, ["simulate", EXAMPLE, str(hist), "--format", "json", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert _by_rule(doc, "thanks for bringing a friend")["points_issued"] == 3000
    assert _by_rule(doc, "welcome gift")["rewards"] == 6
    # the same, member by member across two processes' worth of parts
    res2 = CliRunner().invoke(main, ["simulate", EXAMPLE, str(hist), "--format", "json", "--jobs", "2"])
    assert json.loads(res2.output)["by_rule"] == doc["by_rule"]


def test_the_referral_pass_travels_to_worker_processes_with_the_plan():
    """--jobs ships the plan as JSON (simulate/wire.py): the pass's events go with it, so workers replay
    both sides as one process does (tests/test_scale_jobs.py runs the shipped example on two workers)."""
    from loyalty.simulate.wire import plan_from_json, plan_to_json

    prog = program(PROGRAM)
    h = _history(_rows([(0, 5, 1)], [(5, 3, 450)]), prog)
    plan = make_plan(prog, program_info(prog, "p.loyalty"), Scenario(), h)
    assert sorted(plan.referrals) == ["m0", "m5"]
    again = plan_from_json(plan_to_json(plan))
    assert again.referrals == plan.referrals
    assert simulate(again, h) == simulate(plan, h)


TWO_WINDOWS = PROGRAM.replace('rule "welcome"', '''rule "quick referrer" {
  earn 100 points
  on referring a friend who spends at least 100 NOK within 3 days
}
rule "welcome"''')

# a purchase line: (member, day, hour, amount in NOK, order); orders reused across members and times make
# members whose rows are grouped by key (History.event_index's irregular members)
# (three referrers, three new members who buy: lines of one order add up to a qualifying amount)
# (days in steps of 3: purchases fall at a referral's moment and at the end of its window, 3 or 30 days on)
_few_referrals = st.lists(st.tuples(st.integers(0, 2), st.integers(3, 5), st.sampled_from(range(0, 21, 3))),
                          min_size=1, max_size=5)
_lines = st.lists(st.tuples(st.integers(2, 5), st.sampled_from(range(0, 55, 3)), st.sampled_from([0, 0, 12]),
                            st.sampled_from([50, 150, 300]), st.integers(0, 2)), min_size=3, max_size=30)


def _referral_events_member_by_member(prog, history):
    """The referral pass as first written: each new member's whole replay built (orders.EventBuilder), her
    purchases (time, gross) handed to qualifying_times, the referral rows looked at one by one."""
    from loyalty.runtime.internal import Ev
    from loyalty.runtime.mechanics.referral import qualifying_times
    from loyalty.simulate.orders import EventBuilder
    from loyalty.simulate.referrals import _ORDER

    kinds, items, members = history.type, history.item, history.member
    micros, rows = history.column("time"), history.column("row")
    first = {}
    for i, kind in enumerate(kinds):
        if kind == "referral" and items[i] is not None:
            key = (micros[i], rows[i], members[i], i)
            if items[i] not in first or key < first[items[i]]:
                first[items[i]] = key
    slices = {m: (s, e) for m, s, e in history.member_slices()}
    builder = EventBuilder(history, prog.catalog)
    added = {}
    for friend in sorted(first):
        _, _, referrer, i = first[friend]
        since = builder.time(i)
        added.setdefault(friend, []).append(Ev("referred", f"referred:{referrer}", since, name=referrer))
        if friend not in slices:
            continue
        events = builder.member(*slices[friend])
        purchases = [(ev.time, total) for ev, kind, total in zip(events.evs, events.kinds, events.totals)
                     if kind == "purchase"]
        for t, rule in qualifying_times(prog, since, purchases):
            added.setdefault(referrer, []).append(
                Ev("referral_qualified", f"referral_qualified:{friend}:{rule.name}", t, name=rule.name))
    return {m: tuple(sorted(evs, key=lambda e: (e.time, _ORDER[e.type]))) for m, evs in added.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(referrals=_few_referrals, lines=_lines, two_windows=st.booleans())
def test_the_referral_pass_finds_what_each_new_members_own_replay_finds(referrals, lines, two_windows):
    """The pass reads the new members' purchases from the history's events at once, only those from the referral
    to the first past the longest window: the same events as building each new member's whole replay, on
    multi-line orders, an order id used at two times (grouped by key) and purchases before the referral."""
    from loyalty.simulate.referrals import referral_events

    prog = program(TWO_WINDOWS if two_windows else PROGRAM)
    rows = [(f"m{referrer}", (START + _dt.timedelta(days=day)).isoformat(), "referral", "", f"m{friend}", "")
            for referrer, friend, day in referrals]
    for member, day, hour, amount, order in lines:
        rows.append((f"m{member}", (START + _dt.timedelta(days=day, hours=hour)).isoformat(), "purchase",
                     f"{amount}.00", "x", f"o{order}"))
    if not rows:
        return
    h = _history(rows, prog)
    assert referral_events(prog, h) == _referral_events_member_by_member(prog, h)
