"""Codes (`code "SUMMER25" limited to 2 uses`, `with code` on rules; runtime/mechanics/codes.py): a purchase's
codes are used once per member, up to a total claimed like a budget (exact however a simulation is split);
every code that is not used is counted with its reason, never dropped."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import given, settings, strategies as st

import loyalty
from loyalty.compiler import compile_program
from loyalty.runtime.evaluator import apply_event, new_member
from loyalty.runtime.internal import EventError
from loyalty.runtime.ledger import BudgetLedger
from loyalty.simulate.budgets import CutoffLedger, solve_budgets
from loyalty.simulate.engine import make_plan, program_info, replay_members
from loyalty.simulate.history import ReadOptions, build_history
from loyalty.simulate.orders import EventBuilder
from loyalty.simulate.result import merge_all
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector.support import supports
from loyalty.syntax.parser import parse

SUMMER = """program "codes" {
  currency NOK
}

points "points" {
  cost 0.01 NOK each
}

reward "mug" is a gift "mug"
redeem 1000000 points for "mug"

code "SUMMER25" limited to %(uses)d uses
code "WELCOME"

rule "base" {
  earn 1 point per 10 NOK
}

rule "summer" {
  with code "SUMMER25"
  earn 100 points
  when order total >= 200 NOK
}

campaign "welcome" {
  with code "WELCOME"

  rule "welcome points" {
    earn 50 points
  }

  rule "welcome discount" {
    get 10%% off
  }
}
"""


def source(uses: int = 2) -> str:
    return SUMMER % {"uses": uses}


def buy(p, state, ledger, n: int, amount: str, codes):
    return p.apply(state, {"type": "purchase", "time": f"2025-01-{n:02d}T10:00", "order": f"o{n}",
                           "lines": [{"item": "x", "amount": amount}], "codes": codes}, ledger)


def kinds(p, out) -> list[str]:
    return [p.explain(e).split(" (rule")[0] for e in out]


def test_a_code_is_used_once_per_member_only_where_a_rule_applies_and_up_to_its_total():
    p = loyalty.compile_source(source(uses=2))
    ledger = p.new_budget_ledger()
    a = p.new_member("a")
    a, out = buy(p, a, ledger, 1, "100", ["SUMMER25", "BOGUS", "WELCOME"])
    # the order is too small for "summer": SUMMER25 stays unused; WELCOME applies to both campaign rules
    assert kinds(p, out) == ["code SUMMER25 not used: no rule applies", "code BOGUS not used: unknown code",
                             "code WELCOME used", "10.00 NOK off order o1", "earned 9 points", "earned 50 points"]
    assert ledger.remaining("code:SUMMER25") == 2
    a, out = buy(p, a, ledger, 2, "300", ["SUMMER25", "WELCOME"])
    assert kinds(p, out) == ["code SUMMER25 used", "code WELCOME not used: already used by this member",
                             "earned 30 points", "earned 100 points"]
    a, out = buy(p, a, ledger, 3, "300", ["SUMMER25"])
    assert kinds(p, out) == ["code SUMMER25 not used: already used by this member", "earned 30 points"]
    _, out = buy(p, p.new_member("b"), ledger, 4, "300", ["SUMMER25", "SUMMER25"])  # twice on one order: once
    assert kinds(p, out) == ["code SUMMER25 used", "earned 30 points", "earned 100 points"]
    _, out = buy(p, p.new_member("c"), ledger, 5, "300", ["SUMMER25"])
    assert kinds(p, out) == ["code SUMMER25 not used: no uses left", "earned 30 points"]
    assert [(e.kind, e.scope, e.reason) for e in out][:1] == [("code_refused", "code:SUMMER25", "no uses left")]
    # without the code the rule never applies
    _, out = buy(p, p.new_member("d"), ledger, 6, "300", [])
    assert kinds(p, out) == ["earned 30 points"]


def test_the_member_state_keeps_the_codes_used_and_a_state_saved_before_codes_loads():
    p = loyalty.compile_source(source())
    ledger = p.new_budget_ledger()
    a, _ = buy(p, p.new_member("a"), ledger, 2, "300", ["WELCOME", "SUMMER25"])
    doc = json.loads(a.to_json())
    assert doc["codes"] == ["SUMMER25", "WELCOME"]
    again = p.state_from_json(a.to_json())
    _, out = buy(p, again, ledger, 3, "300", ["WELCOME"])
    assert kinds(p, out)[0] == "code WELCOME not used: already used by this member"
    # a member who never used a code has no `codes` in her state: as states saved before codes
    fresh = json.loads(p.new_member("b").to_json())
    assert "codes" not in fresh
    assert p.state_from_json(json.dumps(fresh)) == p.new_member("b")


def test_bad_codes_in_an_event_are_refused_naming_the_field():
    p = loyalty.compile_source(source())
    ledger = p.new_budget_ledger()
    for codes, message in ((["two words"], "one word"), ([""], "empty"), (["x" * 65], "at most 64"),
                           (["A"] * 17, "at most 16")):
        try:
            buy(p, p.new_member("a"), ledger, 1, "10", codes)
        except EventError as err:
            assert err.field.startswith("codes") and message in str(err), err
        else:
            raise AssertionError(codes)


def _history(prog, rows: int, members: int, seed: int):
    import random

    rnd = random.Random(seed)
    cols = {"member": [], "time": [], "amount": [], "codes": []}
    for _ in range(rows):
        cols["member"].append(f"m{rnd.randrange(members):02d}")
        cols["time"].append(f"2025-01-{1 + rnd.randrange(28):02d}T{rnd.randrange(8, 20):02d}:{rnd.randrange(60):02d}")
        cols["amount"].append(str(rnd.choice((100, 250, 300))))
        cols["codes"].append(" ".join(rnd.sample(["SUMMER25", "WELCOME", "NOPE"], rnd.randrange(3))))
    return build_history(cols, "h.csv", 2, ReadOptions(minor_units=prog.exponent, timezone=prog.timezone))


def _sequential(prog, h) -> Counter:
    """The oracle: every member's events interleaved in service order through one real ledger."""
    builder = EventBuilder(h, prog.catalog)
    states, queue = {}, []
    for member, start, end in h.member_slices():
        states[member] = new_member(prog, member, {})
        for i, ev in enumerate(builder.member(start, end).evs):
            queue.append((ev.time, member, i, ev))
    queue.sort(key=lambda q: q[:3])
    ledger = BudgetLedger(prog.budgets)
    outcomes: Counter = Counter()
    for _t, member, _i, ev in queue:
        out: list = []
        apply_event(prog, states[member], ev, ledger, out)
        for e in out:
            if e.kind == "code_used":
                outcomes[(member, e.scope, "used")] += 1
            elif e.kind == "code_refused":
                outcomes[(member, e.scope, e.reason)] += 1
            elif e.kind == "points_earned":
                outcomes[(member, e.rule)] += e.points
    return outcomes


def _outcomes(result) -> Counter:
    cells = result.cells
    return Counter({key: value for key, value in cells.items() if key[0] == "code" and value})


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 12), st.integers(1, 6))
def test_any_grouping_of_members_uses_the_codes_as_one_sequential_service(seed, uses, groups):
    prog = compile_program(parse(source(uses), "p.loyalty"), "p.loyalty")
    h = _history(prog, 200, 25, seed)
    expected = _sequential(prog, h)
    plan = make_plan(prog, program_info(prog, "p.loyalty"), Scenario(redemption_policy="none"), h)
    slices = h.member_slices()
    parts = [slices[i::groups] for i in range(groups)]

    def run_pass(known):
        return merge_all([replay_members(plan, h, part, lambda: CutoffLedger(known)) for part in parts])

    grouped = solve_budgets(prog.budgets, run_pass)
    want: Counter = Counter()
    for key, n in expected.items():
        if len(key) == 3:
            want[("code", key[1][len("code:"):], key[2].replace(" ", "_"))] += n
    assert _outcomes(grouped) == want
    assert sum(n for (m, scope, what), n in ((k, v) for k, v in expected.items() if len(k) == 3)
               if scope == "code:SUMMER25" and what == "used") <= uses
    issued = Counter({row.member: row.points_earned for row in grouped.members if row.points_earned})
    by_member: Counter = Counter()
    for key, n in expected.items():
        if len(key) == 2:
            by_member[key[0]] += n
    assert issued == +by_member


def test_a_history_s_codes_column_reaches_the_rules_and_the_report(tmp_path):
    program = tmp_path / "p.loyalty"
    program.write_text(source(uses=2), encoding="utf-8")
    history = tmp_path / "h.csv"
    # o2's codes are on its two rows: the order carries both, each once
    history.write_text("member,time,order,item,amount,codes\n"
                       "a,2025-01-01 10:00,o1,x,100,SUMMER25 BOGUS\n"
                       "a,2025-01-02 10:00,o2,x,300,SUMMER25\n"
                       "a,2025-01-02 10:00,o2,y,300,WELCOME SUMMER25\n"
                       "b,2025-01-03 10:00,o3,x,300,SUMMER25\n"
                       "c,2025-01-04 10:00,o4,x,300,SUMMER25\n", encoding="utf-8")
    report = loyalty.simulate(loyalty.load(program), str(history)).report
    rows = {r["code"]: r for r in report["codes"]}
    assert rows["SUMMER25"] == {"code": "SUMMER25", "declared": True, "limit": 2, "used": 2,
                                "already_used_by_this_member": 0, "no_rule_applies": 1, "no_uses_left": 1,
                                "unknown_code": 0}
    assert rows["WELCOME"]["used"] == 1 and rows["BOGUS"] == {
        "code": "BOGUS", "declared": False, "limit": None, "used": 0, "already_used_by_this_member": 0,
        "no_rule_applies": 0, "no_uses_left": 0, "unknown_code": 1}
    summer = next(r for r in report["by_rule"] if r["rule"] == "summer")
    assert summer["points_issued"] == 200
    findings = [f["message"] for f in report["coverage"]["findings"]]
    assert "1 row names the code 'BOGUS', which the program does not know" in findings


def test_the_kernel_weighs_codes_and_declines_a_code_on_a_rule_with_a_trigger():
    prog = compile_program(parse(source(), "p.loyalty"), "p.loyalty")
    assert supports(prog) is None
    triggered = compile_program(parse(source().replace('with code "SUMMER25"',
                                                       'with code "SUMMER25"\n  on first purchase'), "p.loyalty"),
                                "p.loyalty")
    assert supports(triggered) == ("rule 'summer' requires code 'SUMMER25' and has a trigger or a condition on the "
                                   "member's balance or spend: codes on such rules are not vectorised yet")
    plain = loyalty.compile_source('program "p" { currency NOK }\npoints "points" { cost 0.01 NOK each }\n'
                                   'reward "mug" is a gift "mug"\nredeem 100 points for "mug"\n'
                                   'rule "base" { earn 1 point per 10 NOK }\n')
    table = pa.table({"member": ["a", "a", "b"], "time": ["2025-01-01T10:00", "2025-01-02T10:00", "2025-01-02T10:00"],
                      "amount": ["100", "200", "300"], "codes": ["X1 X2", "", None]})
    vector = loyalty.simulate(plain, table, kernel="vector").report
    python = loyalty.simulate(plain, table, kernel="python").report
    assert vector["codes"] == python["codes"] == [
        {"code": c, "declared": False, "limit": None, "used": 0, "already_used_by_this_member": 0,
         "no_rule_applies": 0, "no_uses_left": 0, "unknown_code": 1} for c in ("X1", "X2")]
    for r in (vector, python):
        r["assumptions"].pop("kernel", None)
        r["assumptions"].pop("kernel_why", None)
    assert vector == python


def test_a_rule_whose_code_no_row_carries_is_reported_unreached(tmp_path):
    report = loyalty.simulate(loyalty.compile_source(source()), pa.table({
        "member": ["a"], "time": ["2025-01-01T10:00"], "amount": ["300"]})).report
    reasons = {u["name"]: u["reason"] for u in report["coverage"]["unreached"] if u["kind"] == "rule"}
    assert reasons["summer"] == "no matching rows (no purchase carries code 'SUMMER25')"


def test_the_garden_centre_example_history_uses_up_its_codes_and_its_stock_however_it_is_split():
    from pathlib import Path

    from loyalty.simulate.engine import simulate
    from loyalty.simulate.history import read_history

    root = Path(__file__).resolve().parents[1]
    program = root / "examples" / "programs" / "garden_centre.loyalty"
    history = root / "examples" / "histories" / "garden_centre.csv"
    report = loyalty.simulate(loyalty.load(program), str(history)).report
    codes = {c["code"]: c for c in report["codes"]}
    # SPRING's 4 uses are all taken and a later member is refused; WELCOME has no total
    assert codes["SPRING"]["used"] == 4 and codes["SPRING"]["no_uses_left"] > 0
    assert codes["WELCOME"]["used"] > 4 and codes["WELCOME"]["no_uses_left"] == 0
    assert all(c["already_used_by_this_member"] > 0 for c in codes.values())
    [stock] = report["stock"]
    assert stock["given"] == stock["limit"] == 5 and stock["refused"] > 0
    # members brought opening balances (loyalty generate --opening-balances), apart from the rules
    [opening] = report["adjustments"]
    assert opening["reason"] == "opening balance" and opening["members"] > 0 and opening["points_added"] > 0
    # members split into groups replay the totals as one sequential service
    prog = compile_program(parse(program.read_text(encoding="utf-8"), str(program)), str(program))
    h = read_history(history, ReadOptions(minor_units=prog.exponent, timezone=prog.timezone))
    plan = make_plan(prog, program_info(prog, str(program)), Scenario(), h)
    whole, split = simulate(plan, h, chunks=1), simulate(plan, h, chunks=3)
    assert split.canonical() == whole.canonical()
    assert whole.cells[("code", "SPRING", "used")] == 4
    # and the vectorised kernel, every member on it, in budget passes over any grouping of members
    from loyalty.simulate.budgets import solve_budgets
    from loyalty.simulate.result import merge_all
    from loyalty.simulate.vector import simulate_vector, supports as kernel_supports
    from loyalty.simulate.vector.kernel import ROUTED

    assert kernel_supports(prog, plan) is None
    members = [m for m, _, _ in h.member_slices()]
    before = sum(ROUTED.values())
    for groups in (1, 3):
        parts = [h.select_members(members[i::groups]) for i in range(groups)]
        kernel = solve_budgets(prog.budgets, lambda known: merge_all([simulate_vector(plan, p, known=known)
                                                                     for p in parts]))
        assert kernel.canonical() == whole.canonical(), groups
    assert sum(ROUTED.values()) == before  # no member went to the scalar plan


def _pairs_one_by_one(row_ev, row_value, values, declared):
    """The (event, code) pairs as read row by row: each event's codes once, in the order written."""
    words = [v.split() if v else [] for v in values]
    index = {c: i for i, c in enumerate(declared)}
    pair_ev, pair_code = [], []
    last, seen = -1, set()
    for e, v in zip(row_ev, row_value):
        if e != last:
            last, seen = e, set()
        for c in words[v]:
            if c not in seen:
                seen.add(c)
                pair_ev.append(e)
                pair_code.append(index.setdefault(c, len(index)))
    return pair_ev, pair_code, list(index)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_kernels_code_pairs_are_the_codes_of_each_event_once_in_the_order_written(data):
    """Orders of several lines each carrying codes (repeated in a line and across lines, declared or not, lines
    with an empty text): the kernel's pairs (codes.event_code_pairs) are those read row by row, numbered alike."""
    from loyalty.runtime.mechanics.codes import event_code_pairs

    word = st.sampled_from(["SPRING", "WELCOME", "X1", "y2", "Z"])
    values = data.draw(st.lists(st.lists(word, max_size=4).map(" ".join), min_size=1, max_size=6, unique=True))
    declared = data.draw(st.lists(st.sampled_from(["SPRING", "WELCOME", "Q"]), max_size=3, unique=True))
    steps = data.draw(st.lists(st.integers(0, 2), max_size=30))
    row_ev = np.cumsum(steps).tolist()
    row_value = data.draw(st.lists(st.integers(0, len(values) - 1), min_size=len(steps), max_size=len(steps)))
    ev, code, names = event_code_pairs(np.array(row_ev, dtype=np.int64), np.array(row_value, dtype=np.int64),
                                       values, declared)
    assert (ev.tolist(), code.tolist(), names) == _pairs_one_by_one(row_ev, row_value, values, declared)
