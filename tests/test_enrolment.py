"""Enrolment (runtime/mechanics/enrolment.py): under `members join at signup` only what a customer does as a
member counts; a pre-signup window; the simulation's enrolment assumption and its report section; generate's
late and missing signups."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import loyalty
from loyalty.simulate.generate import GenerateOptions, generate_text
from loyalty.simulate.scenario import Scenario, member_joins

ROOT = Path(__file__).resolve().parent.parent
WELCOME = ROOT / "examples" / "programs" / "welcome_club.loyalty"
WELCOME_CSV = ROOT / "examples" / "histories" / "welcome_club.csv"

BASE = """program "Shop" {{
  currency NOK
{settings}}}
points "points" {{ cost 0.10 NOK each }}
reward "mug" is a gift "mug" costing 30 NOK
redeem 100 points for "mug"
rule "base" {{
  earn 1 point per 10 NOK
}}
rule "welcome" {{
  earn 20 points
  on signup
}}
rule "fifth visit" {{
  give "mug"
  on the 5th visit
}}
"""


def program(*settings: str):
    return loyalty.compile_source(BASE.format(settings="".join(f"  {s}\n" for s in settings)))


def buy(day: int, amount: str = "100", eid=None, order=None) -> dict:
    return {"type": "purchase", "time": f"2025-03-{day:02d}T10:00", "order": order or f"o{day}",
            "lines": [{"item": "x", "amount": amount}], **({"id": eid} if eid else {})}


def signup(day: int) -> dict:
    return {"type": "signup", "time": f"2025-03-{day:02d}T12:00"}


def run(prog, events, member="m", attributes=None):
    s = prog.new_member(member, attributes or {})
    effects = []
    for ev in events:
        s, out = prog.apply(s, ev)
        effects.append(out)
    return s, effects


# ---------------------------------------------------------------- the language and the runtime


def test_without_the_clause_every_customer_is_a_member_from_her_first_event_as_before():
    plain = program()
    assert "enrolment" not in plain.compiled.doc  # the compiled document (and identity) of older programs is unchanged
    s, effects = run(plain, [buy(1), signup(2), buy(3)])
    assert [[e.kind for e in out] for out in effects] == [["points_earned"], ["points_earned"], ["points_earned"]]
    assert s.balance() == 10 + 20 + 10
    assert "enrolled" not in json.loads(s.to_json())


def test_an_event_that_does_not_count_changes_nothing_in_the_state():
    prog = program("members join at signup")
    s0 = prog.new_member("m")
    for ev in (buy(1), {"type": "visit", "time": "2025-03-01T09:00"}, {"type": "action", "name": "x",
                                                                      "time": "2025-03-01T09:00"}):
        s1, out = prog.apply(s0, ev)
        assert [(e.kind, e.reason) for e in out] == [("not_counted", "not a member")]
        assert s1.to_json() == s0.to_json()  # not her clock, counts, nor the event's id


def test_visits_before_signup_do_not_count_toward_the_nth_visit():
    prog = program("members join at signup")
    visits = [{"type": "visit", "time": f"2025-03-0{d}T09:00"} for d in range(1, 5)]
    s, effects = run(prog, visits + [signup(5)] + [{"type": "visit", "time": f"2025-03-{d:02d}T09:00"}
                                                  for d in range(6, 11)])
    gives = [i for i, out in enumerate(effects) if any(e.kind == "reward_issued" for e in out)]
    assert gives == [9]  # the 5th visit as a member, not the 1st after signup


def test_a_purchase_resent_after_signup_counts_inside_the_window_and_not_outside():
    prog = program("members join at signup", "purchases up to 2 weeks before signup count")
    s, effects = run(prog, [buy(1, eid="p1"), buy(10, eid="p10"), signup(20), buy(1, eid="p1"), buy(10, eid="p10"),
                            buy(10, eid="p10")])
    kinds = [[(e.kind, e.reason) for e in out] for out in effects]
    assert kinds[0] == kinds[1] == [("not_counted", "not a member")]
    assert kinds[3] == [("not_counted", "before signup")]  # 19 days before: outside 2 weeks
    assert kinds[4] == [("points_earned", None)]  # 10 days before: inside
    assert kinds[5] == [("duplicate_ignored", None)]  # once counted, its id is remembered
    assert s.balance() == 20 + 10


def test_the_state_keeps_her_signup_through_json():
    prog = program("members join at signup")
    s, _ = run(prog, [signup(2), signup(9)])
    doc = json.loads(s.to_json())
    assert doc["enrolled"] == "2025-03-02T12:00:00"  # the first signup
    again = prog.state_from_json(s.to_json())
    assert again == s
    _, out = prog.apply(again, buy(3))
    assert [e.kind for e in out] == ["points_earned"]


def test_a_return_of_an_order_she_does_not_have_is_refused_without_the_clause_and_not_counted_with_it():
    ret = {"type": "return", "time": "2025-03-05T10:00", "order": "o1"}
    with pytest.raises(loyalty.EventError):
        run(program(), [ret])
    _, effects = run(program("members join at signup"), [buy(1), signup(2), ret])
    assert [(e.kind, e.reason) for e in effects[2]] == [("not_counted", "order not counted")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days=st.lists(st.integers(1, 28), min_size=1, max_size=8), join=st.integers(1, 28),
       window=st.sampled_from([None, 3, 7, 30]))
def test_a_member_earns_exactly_on_the_purchases_from_her_signup_less_the_window(days, join, window):
    """Each purchase, sent after her signup, counts exactly when it is no earlier than the signup less the window:
    her balance is the welcome bonus plus one point per 10 NOK of those (each 100 NOK: 10 points)."""
    clauses = ["members join at signup"] + ([f"purchases up to {window} days before signup count"] if window else [])
    prog = program(*clauses)
    events = [signup(join)] + [buy(d, order=f"o{i}") for i, d in enumerate(days)]
    s, effects = run(prog, events)
    # signup at 12:00, purchases at 10:00: one on the day the window starts is just before it
    counted = [d for d in days if d > join - (window or 0)]
    assert s.balance() == 20 + 10 * len(counted)
    assert sum(1 for out in effects[1:] if out[0].kind == "not_counted") == len(days) - len(counted)


def test_the_signup_date_attribute_makes_her_a_member_from_the_start_of_that_day():
    prog = program("members join at signup")
    s, effects = run(prog, [buy(5), buy(4)], attributes={"signup_date": "2025-03-05"})
    assert [e.kind for e in effects[0]] == ["points_earned"]
    assert [(e.kind, e.reason) for e in effects[1]] == [("not_counted", "before signup")]


# ---------------------------------------------------------------- the simulation

HISTORY = """member,time,type,order,item,amount
a,2025-03-01 10:00,purchase,o1,x,100
a,2025-03-10 10:00,signup,,,
a,2025-03-12 10:00,purchase,o2,x,200
b,2025-03-02 10:00,purchase,o3,x,400
b,2025-03-20 10:00,purchase,o4,x,50
c,2025-03-02 10:00,signup,,,
c,2025-03-03 10:00,purchase,o5,x,300
"""


def _history(tmp_path, text=HISTORY) -> str:
    path = tmp_path / "h.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_simulation_counts_members_from_their_signup_row_and_the_window_before_it(tmp_path):
    h = _history(tmp_path)
    strict = loyalty.simulate(BASE.format(settings="  members join at signup\n"), h)
    e = strict.report["enrolment"]
    # a: o1 before her signup, o2 counts; b never joins; c joins before buying
    assert (e["members"], e["non_members"], e["member_orders"], e["non_member_orders"]) == (2, 1, 2, 3)
    assert (e["member_revenue"], e["non_member_revenue"]) == ("500.00", "550.00")
    assert strict.revenue == Decimal("1050.00")  # revenue is everyone's
    # points: a 20 + 20, c 20 + 30 = 90, at 0.10 NOK each; the cost is members' only
    assert strict.report["points"][0]["issued"] == 90
    window = loyalty.simulate(BASE.format(settings="  members join at signup\n  purchases up to 10 days before "
                                                   "signup count\n"), h)
    assert window.report["points"][0]["issued"] == 100  # a's o1, 9 days before her signup, counts too
    assert window.report["enrolment"]["non_member_revenue"] == "450.00"
    plain = loyalty.simulate(BASE.format(settings=""), h)
    assert "enrolment" not in plain.report  # a program without the clause reports as before
    assert plain.report["points"][0]["issued"] == 20 * 2 + 105


def test_the_enrolment_share_is_reproducible_by_seed_and_about_the_share():
    members = [f"m{i}" for i in range(4000)]
    scenario = Scenario(seed=7, enrolment_share=Decimal("0.4"))
    chosen = [m for m in members if member_joins(scenario, m, None)]
    assert chosen == [m for m in members if member_joins(Scenario(seed=7, enrolment_share=Decimal("0.4")), m, None)]
    assert 0.37 < len(chosen) / len(members) < 0.43
    other = [m for m in members if member_joins(Scenario(seed=8, enrolment_share=Decimal("0.4")), m, None)]
    assert other != chosen
    # a larger share keeps everyone a smaller one chose (the same hash, a higher bar)
    more = {m for m in members if member_joins(Scenario(seed=7, enrolment_share=Decimal("0.6")), m, None)}
    assert set(chosen) <= more


def test_the_enrolment_assumption_leaves_the_others_out_of_the_program(tmp_path):
    h = _history(tmp_path)
    everyone = loyalty.simulate(BASE.format(settings=""), h)
    nobody = loyalty.simulate(BASE.format(settings=""), h, assumptions={"enrolment": "0%"})
    assert nobody.total_cost == 0 and nobody.revenue == everyone.revenue
    assert nobody.report["enrolment"]["members"] == 0 and nobody.report["enrolment"]["member_revenue"] == "0.00"
    all_of_them = loyalty.simulate(BASE.format(settings=""), h, assumptions={"enrolment": "100%"})
    assert all_of_them.total_cost == everyone.total_cost
    assert all_of_them.report["by_rule"] == everyone.report["by_rule"]
    assert all_of_them.report["assumptions"]["enrolment"] == {"share": "1"}


def test_the_enrolment_column_of_the_attributes_says_who_is_a_member(tmp_path):
    h = _history(tmp_path)
    attrs = tmp_path / "a.csv"
    attrs.write_text("member,is_member\na,yes\nb,0\nc,TRUE\n", encoding="utf-8")
    sim = loyalty.simulate(BASE.format(settings=""), h, attributes=str(attrs),
                           assumptions={"enrolment": {"column": "is_member"}})
    e = sim.report["enrolment"]
    assert (e["members"], e["non_members"], e["non_member_revenue"]) == (2, 1, "450.00")
    attrs.write_text("member,is_member\na,maybe\n", encoding="utf-8")
    with pytest.raises(Exception) as err:
        loyalty.simulate(BASE.format(settings=""), h, attributes=str(attrs),
                         assumptions={"enrolment": {"column": "is_member"}})
    assert "is_member" in str(err.value) and "'a'" in str(err.value)


@pytest.mark.parametrize("value", ["40", "140%", "-1%", "many%"])
def test_an_enrolment_that_is_not_a_share_is_refused(tmp_path, value):
    scn = tmp_path / "s.yaml"
    scn.write_text(f"enrolment: '{value}'\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "loyalty.cli", "simulate", str(WELCOME), str(WELCOME_CSV),
                           "--scenario", str(scn)], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert "s.yaml:1:" in done.stderr and "enrolment" in done.stderr and "Traceback" not in done.stderr


def test_the_assumptions_schema_shows_enrolment():
    from loyalty.schemas import assumptions_schema

    schema = json.dumps(assumptions_schema())
    assert "enrolment" in schema and "EnrolmentColumn" in schema


# ---------------------------------------------------------------- generate


def test_generate_makes_late_and_missing_signups_keeping_the_row_count():
    options = GenerateOptions(rows=3000, seed=4, members=300, late_signups=0.3, never_join=0.2)
    text = generate_text(options)
    rows = text.splitlines()[1:]
    assert len(rows) == 3000
    first_buy, signed = {}, {}
    for r in rows:
        member, time, kind = r.split(",")[:3]
        if kind == "purchase":
            first_buy.setdefault(member, time)
            first_buy[member] = min(first_buy[member], time)
        elif kind == "signup":
            signed[member] = time
    buyers = set(first_buy)
    never = buyers - set(signed)
    late = {m for m in signed if m in first_buy and signed[m] > first_buy[m]}
    assert 0.12 < len(never) / len(buyers) < 0.28
    assert 0.2 < len(late) / len(buyers) < 0.4
    # without the options the file is the one it always was
    assert generate_text(GenerateOptions(rows=500, seed=4)) == generate_text(
        GenerateOptions(rows=500, seed=4, late_signups=0.0, never_join=0.0))


def test_the_example_history_has_members_who_buy_before_joining_and_customers_who_never_join():
    sim = loyalty.simulate(str(WELCOME), str(WELCOME_CSV))
    e = sim.report["enrolment"]
    assert e["non_members"] > 0 and e["members"] > 0
    assert e["non_member_orders"] > 0
    # the vectorised kernel runs it (tests/test_enrolment_kernel.py compares it with the scalar plan)
    assert sim.report["assumptions"]["kernel"] == "vector"


def test_the_out_folder_and_the_html_report_show_members_and_the_rest(tmp_path):
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    base = [sys.executable, "-m", "loyalty.cli", "simulate"]
    done = subprocess.run(base + [str(WELCOME), str(WELCOME_CSV), "--format", "json", "--out", str(tmp_path / "t"),
                                  "--html", str(tmp_path / "r.html")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    e = json.loads(done.stdout)["enrolment"]
    lines = (tmp_path / "t" / "enrolment.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1].split(",")[:6] == [str(e["members"]), str(e["non_members"]), str(e["member_orders"]),
                                       str(e["non_member_orders"]), e["member_revenue"], e["non_member_revenue"]]
    assert 'id="table-enrolment"' in (tmp_path / "r.html").read_text(encoding="utf-8")
    # a program without enrolment writes the folder it always wrote
    plain = tmp_path / "plain.loyalty"
    plain.write_text(WELCOME.read_text(encoding="utf-8").replace("  members join at signup\n", "").replace(
        "  purchases up to 30 days before signup count\n", ""), encoding="utf-8")
    done = subprocess.run(base + [str(plain), str(WELCOME_CSV), "--out", str(tmp_path / "p")], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "p" / "enrolment.csv").exists()


def test_explain_says_why_an_event_did_not_count():
    prog = program("members join at signup", "purchases up to 1 week before signup count")
    _, effects = run(prog, [buy(1), signup(20), buy(1)])
    assert effects[0][0].explain(2, "NOK").startswith("not counted: not a member")
    assert effects[2][0].explain(2, "NOK").startswith("not counted: before signup")


def test_describe_states_the_enrolment_terms():
    from loyalty.describe import describe

    terms = describe(program("members join at signup", "purchases up to 2 weeks before signup count")
                             .compiled)["terms"]
    assert ("Membership starts when you sign up: purchases before that earn nothing, except those made up to "
            "2 weeks before you sign up, which count once you have joined.") in terms
    assert not any("Membership" in t for t in describe(program().compiled)["terms"])


def test_under_a_returns_window_a_return_of_an_unknown_order_is_decided_by_moments_not_memory():
    """A return of an order she does not have is not counted while the returns window reaches back to when her
    events began to count; past that it is refused as outside the window, whether or not the state still
    holds the order (every 32 event ids the state lets go of orders older than the window: windows.prune),
    so a state saved and loaded, or kept in memory, gives the same answer."""
    import datetime as dt

    from loyalty.runtime.events import EventError

    prog = program("members join at signup", "returns accepted within 30 days")
    start = dt.datetime(2025, 3, 1, 10, 0)

    def at(days: int) -> str:
        return (start + dt.timedelta(days=days)).isoformat()

    s, _ = run(prog, [{"type": "purchase", "time": at(0), "order": "before", "lines": [{"item": "x", "amount": "50"}]},
                      {"type": "signup", "time": at(1)},
                      {"type": "purchase", "time": at(2), "order": "kept", "lines": [{"item": "x", "amount": "80"}]}])
    # the window (30 days back from day 20) reaches her signup: the order from before it is not counted
    _, out = prog.apply(s, {"type": "return", "time": at(20), "order": "before"})
    assert [(e.kind, e.reason) for e in out] == [("not_counted", "order not counted")]
    # 40 purchases with ids over the next months: the state lets go of "kept" (bought on day 2)
    for i in range(40):
        s, _ = prog.apply(s, {"type": "purchase", "time": at(40 + i), "id": f"p{i}", "order": f"n{i}",
                              "lines": [{"item": "x", "amount": "10"}]})
    for order in ("kept", "before", "never bought"):
        with pytest.raises(EventError, match="within the return window"):
            prog.apply(s, {"type": "return", "time": at(80), "order": order})
