"""Goals, challenges and streaks (docs/semantics.md, "Goals and streaks"): a goal fires on the event that reaches
it, judged within its calendar period or its rolling window by the events' moments; a streak after N calendar
periods in a row; progress is in the member state, round-trips mid-goal, and old states load; a return lowers
a spend goal's progress; the simulation runs them, on the vectorised kernel too (tests/test_vector_goals.py)."""

from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import loyalty
from loyalty.cli import cli as main
from loyalty.runtime.state_check import StateProblem
from loyalty.simulate.vector.support import supports

from test_simulate import program

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "programs" / "coffee_challenge.loyalty"

HEADER = """
program "Shop" {
  currency NOK
  runs from 2025-01-01
}
points "points" { cost 0.10 NOK each }
reward "cake" is a gift "cake"
redeem 100 points for "cake"
"""

START = _dt.datetime(2025, 1, 1)  # a Wednesday


def _goal_program(trigger: str) -> loyalty.Program:
    return loyalty.compile_source(HEADER + f'rule "goal" {{\n  earn 7 points\n  {trigger}\n}}\n')


def _events(steps):
    """(hours after START, "purchase" | "visit", amount in NOK) -> events for program.apply."""
    out = []
    for n, (hours, kind, amount) in enumerate(steps):
        time = (START + _dt.timedelta(hours=hours)).isoformat()
        if kind == "visit":
            out.append({"visit": {"time": time, "id": f"v{n}"}})
        else:
            out.append({"purchase": {"time": time, "order": f"o{n}", "lines": [{"item": "x", "amount": f"{amount}.00"}]}})
    return out


def _fired_at(p: loyalty.Program, events) -> list[_dt.datetime]:
    m = p.new_member("m1")
    fired = []
    for ev in events:
        m, out = p.apply(m, ev)
        fired += [e.time for e in out if e.rule == "goal"]
    return fired


# ---------------------------------------------------------------- counted independently of the runtime


def _period_index(t: _dt.datetime, period: str) -> int:
    """The calendar period of t as a number: consecutive periods have consecutive numbers."""
    d = t.date()
    if period == "day":
        return d.toordinal()
    if period == "week":
        return (d.toordinal() - 1) // 7  # 0001-01-01 was a Monday
    if period == "month":
        return d.year * 12 + d.month
    if period == "quarter":
        return d.year * 4 + (d.month - 1) // 3
    return d.year


def _expected_goal(steps, counts, target, different_days, window):
    """When the goal fires, from the steps alone: in a calendar period, the first event at which what the
    period has counted so far reaches the target (once a period); within N days, the first event at which what
    falls on its day and the N-1 days before, and after the last firing, reaches it."""
    kind, size = window
    fired = []
    counted = []  # (moment, amount) of what counts, after the last firing
    for hours, what, amount in steps:
        t = START + _dt.timedelta(hours=hours)
        if counts != "visits" and what == "visit":
            continue
        value = amount * 100 if counts == "spend" else 1  # spend in minor units
        if value <= 0:
            continue
        if kind == "calendar":
            if any(_period_index(f, size) == _period_index(t, size) for f in fired):
                continue  # reached in this period already
            inside = [c for c in counted if _period_index(c[0], size) == _period_index(t, size)]
        else:
            first = t.date() - _dt.timedelta(days=size - 1)
            inside = [c for c in counted if c[0].date() >= first]
        inside.append((t, value))
        counted.append((t, value))
        have = len({c[0].date() for c in inside}) if different_days else sum(c[1] for c in inside)
        if have >= target:
            fired.append(t)
            counted = []
    return fired


def _expected_streak(steps, counts, n, period):
    """A streak fires at the first event of a period that ends n periods in a row with something counted,
    none of them part of an earlier streak that fired."""
    fired, seen, used_up_to = [], set(), None
    for hours, what, _amount in steps:
        t = START + _dt.timedelta(hours=hours)
        if counts == "purchases" and what == "visit":
            continue
        p = _period_index(t, period)
        if p in seen:
            continue
        seen.add(p)
        run = range(p - n + 1, p + 1)
        if all(q in seen for q in run) and (used_up_to is None or run[0] > used_up_to):
            fired.append(t)
            used_up_to = p
    return fired


_steps = st.lists(st.tuples(st.integers(0, 24 * 120), st.sampled_from(["purchase", "purchase", "visit"]),
                            st.integers(0, 80)), min_size=1, max_size=25).map(
    lambda s: sorted(s, key=lambda x: x[0]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps, counts=st.sampled_from(["visits", "purchases", "spend"]), target=st.integers(1, 6),
       different_days=st.booleans(),
       window=st.one_of(st.tuples(st.just("calendar"), st.sampled_from(["day", "week", "month", "quarter"])),
                        st.tuples(st.just("rolling"), st.integers(1, 40))))
def test_goals_fire_where_the_history_counted_independently_says(steps, counts, target, different_days, window):
    different_days = different_days and counts != "spend"
    if counts == "spend":
        what = f"{target * 20} NOK spent"
        target *= 2000  # minor units
    else:
        what = f"{target} {counts}" + (" on different days" if different_days else "")
    where = f"in a calendar {window[1]}" if window[0] == "calendar" else f"within {window[1]} days"
    p = _goal_program(f"after {what} {where}")
    assert _fired_at(p, _events(steps)) == _expected_goal(steps, counts, target, different_days, window)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps, counts=st.sampled_from(["visits", "purchases"]), n=st.integers(2, 5),
       period=st.sampled_from(["day", "week", "month"]))
def test_streaks_fire_where_the_history_counted_independently_says(steps, counts, n, period):
    p = _goal_program(f"after a {counts[:-1]} in {n} consecutive {period}s")
    assert _fired_at(p, _events(steps)) == _expected_streak(steps, counts, n, period)


# ---------------------------------------------------------------- moments and windows by hand


def test_a_calendar_goal_is_judged_within_its_period():
    p = _goal_program("after 3 visits in a calendar month")
    # 30 and 31 March, then 1 April: three visits within a month's time, but two months
    assert _fired_at(p, [{"visit": {"time": "2025-03-30T10:00", "id": "a"}}, {"visit": {"time": "2025-03-31T10:00", "id": "b"}},
                         {"visit": {"time": "2025-04-01T10:00", "id": "c"}}]) == []
    fired = _fired_at(p, [{"visit": {"time": f"2025-04-{d:02d}T10:00", "id": str(d)}} for d in (1, 2, 29, 30)])
    assert fired == [_dt.datetime(2025, 4, 29, 10)]  # once in April, on the third


def test_a_rolling_window_holds_the_day_of_the_event_and_the_days_before_it():
    p = _goal_program("after 2 purchases within 7 days")
    buy = [{"purchase": {"time": t, "order": t, "lines": [{"item": "x", "amount": "5.00"}]}}
           for t in ("2025-03-03T23:00", "2025-03-09T00:30")]  # 3 and 9 March: 7 days, the 9th included
    assert _fired_at(p, buy) == [_dt.datetime(2025, 3, 9, 0, 30)]
    late = [{"purchase": {"time": t, "order": t, "lines": [{"item": "x", "amount": "5.00"}]}}
            for t in ("2025-03-03T00:00", "2025-03-10T23:59")]  # 8 days apart by the calendar
    assert _fired_at(p, late) == []


def test_the_rule_s_conditions_choose_what_counts():
    p = loyalty.compile_source(HEADER + 'rule "goal" {\n  earn 7 points\n  after 2 purchases in a calendar week\n'
                                        '  on weekends\n}\n')
    # Friday 7 March does not count; Saturday 8 and Sunday 9 do
    buys = [{"purchase": {"time": f"2025-03-0{d}T10:00", "order": str(d), "lines": [{"item": "x", "amount": "5.00"}]}}
            for d in (7, 8, 9)]
    assert _fired_at(p, buys) == [_dt.datetime(2025, 3, 9, 10)]


# ---------------------------------------------------------------- state


def _mid_goal():
    p = loyalty.load(EXAMPLE)
    m = p.new_member("m1")
    for ev in [{"purchase": {"time": "2025-03-03T08:00", "order": "o1", "lines": [{"item": "latte", "amount": "60.00"}]}},
               {"visit": {"time": "2025-03-05T12:00", "id": "v1"}}]:
        m, _ = p.apply(m, ev)
    return p, m


def test_goal_progress_is_in_the_state_json_and_round_trips():
    p, m = _mid_goal()
    doc = json.loads(m.to_json())
    # rules 1 to 4: three visits a month, big spender, four week streak, weekday warm-up
    assert doc["goals"] == {
        "1": {"period": "2025-03-01", "reached": False,
              "entries": [["2025-03-03T08:00:00", 1, "o1"], ["2025-03-05T12:00:00", 1, None]]},
        "2": {"entries": [["2025-03-03T08:00:00", 6000, "o1"]]},
        "3": {"period": "2025-03-03", "run": 1},
        "4": {"entries": [["2025-03-03T08:00:00", 1, "o1"]]},
    }
    back = p.state_from_json(m.to_json())
    assert back.to_json() == m.to_json()
    assert back.goals == {"three visits a month": 2, "big spender": Decimal("60.00"), "four week streak": 1,
                          "weekday warm-up": 1}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps, cuts=st.sets(st.integers(1, 24)))
def test_replaying_in_pieces_with_the_state_saved_between_equals_one_go(steps, cuts):
    p = loyalty.load(EXAMPLE)
    events = _events(steps)
    one = p.new_member("m1")
    all_out = []
    for ev in events:
        one, out = p.apply(one, ev)
        all_out += out
    pieces = p.new_member("m1")
    piece_out = []
    for i, ev in enumerate(events):
        if i in cuts:
            pieces = p.state_from_json(pieces.to_json())
        pieces, out = p.apply(pieces, ev)
        piece_out += out
    assert piece_out == all_out
    assert pieces.to_json() == one.to_json()


def test_a_state_saved_before_goals_loads_with_no_progress():
    p, m = _mid_goal()
    doc = json.loads(m.to_json())
    del doc["goals"]  # a loyalty-state/1 document written before goals existed
    old = p.state_from_json(json.dumps(doc))
    assert "goals" not in json.loads(old.to_json())
    assert old.goals == {"three visits a month": 0, "big spender": Decimal("0"), "four week streak": 0,
                         "weekday warm-up": 0}
    plain = loyalty.compile_source(HEADER + 'rule "base" { earn 1 point per 1 NOK }\n')
    s, _ = plain.apply(plain.new_member("m1"), _events([(1, "purchase", 10)])[0])
    assert "goals" not in json.loads(s.to_json()) and "goals" not in s.summary()


@pytest.mark.parametrize("goals, problem", [
    ({"0": {"entries": []}}, "not a goal or streak rule"),  # rule 0 earns per spend
    ({"3": {"period": "2025-03-04", "run": 1}}, "not the start of a calendar week"),
    ({"3": {"entries": []}}, "a streak's progress"),
    ({"1": {"entries": [["2025-03-03T08:00:00", -1, None]], "period": "2025-03-01"}}, "negative"),
])
def test_goal_progress_that_does_not_fit_its_rule_is_refused(goals, problem):
    p, m = _mid_goal()
    doc = json.loads(m.to_json())
    doc["goals"] = goals
    with pytest.raises((StateProblem, ValueError), match=problem):
        p.state_from_json(json.dumps(doc))


def test_a_return_lowers_spend_progress_only_while_the_order_counts():
    p = _goal_program("after 100 NOK spent within 30 days")
    m = p.new_member("m1")
    m, _ = p.apply(m, {"purchase": {"time": "2025-03-01T10:00", "order": "o1",
                                    "lines": [{"item": "x", "quantity": 2, "amount": "80.00"}]}})
    m, _ = p.apply(m, {"return": {"time": "2025-03-02T10:00", "order": "o1", "lines": [{"item": "x", "quantity": 1}]}})
    assert m.goals == {"goal": Decimal("40.00")}
    m, out = p.apply(m, {"purchase": {"time": "2025-03-03T10:00", "order": "o2", "lines": [{"item": "x", "amount": "60.00"}]}})
    assert [e.rule for e in out if e.rule == "goal"] == ["goal"]  # 40 + 60: reached
    # o2 no longer counts (the goal was reached with it): its return takes nothing from the new progress
    m, _ = p.apply(m, {"purchase": {"time": "2025-03-04T10:00", "order": "o3", "lines": [{"item": "x", "amount": "30.00"}]}})
    m, _ = p.apply(m, {"return": {"time": "2025-03-05T10:00", "order": "o2"}})
    assert m.goals == {"goal": Decimal("30.00")}


# ---------------------------------------------------------------- simulation


def test_the_vectorised_kernel_runs_goals_and_declines_goal_points_that_wait_naming_the_rule(tmp_path):
    for trigger in ["after 3 visits in a calendar month", "after a purchase in 4 consecutive weeks",
                    "after 50 NOK spent within 30 days"]:
        assert supports(program(HEADER + f'rule "goal" {{\n  earn 7 points\n  {trigger}\n}}\n')) is None
    pending = HEADER.replace("{ cost 0.10 NOK each }", "{\n  cost 0.10 NOK each\n  available 14 days after purchase\n}")
    why = supports(program(pending + 'rule "goal" {\n  earn 7 points\n  after 3 visits in a calendar month\n}\n'))
    assert why is not None and "'goal'" in why and "pending" in why
    src = tmp_path / "p.loyalty"
    src.write_text(HEADER + 'rule "coffee goal" {\n  earn 7 points\n  after 2 purchases within 7 days\n}\n')
    hist = tmp_path / "h.csv"
    hist.write_text("member,time,type,order,item,amount\nm1,2025-01-01T10:00,purchase,o1,x,10.00\n"
                    "m1,2025-01-03T10:00,purchase,o2,x,10.00\n")
    for kernel in ("auto", "python"):
        res = CliRunner().invoke(main, ["simulate", str(src), str(hist), "--format", "json", "--kernel", kernel,
                                        "--jobs", "1"])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.output)
        assert doc["assumptions"]["kernel"] == ("vector" if kernel == "auto" else "python")
        assert next(r for r in doc["by_rule"] if r.get("rule") == "coffee goal")["points_issued"] == 7


def test_the_shipped_history_exercises_every_goal_of_the_example():
    """examples/histories/coffee_challenge.csv (loyalty generate --rows 400 --seed 1 --members 10) reaches each
    goal and the streak: docs/language.md shows this report."""
    res = CliRunner().invoke(main, ["simulate", str(EXAMPLE), str(ROOT / "examples" / "histories" / "coffee_challenge.csv"),
                                    "--format", "json", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    rows = {r.get("rule"): r for r in doc["by_rule"]}
    assert rows["three visits a month"]["points_issued"] == 5200
    assert rows["four week streak"]["points_issued"] == 2000
    assert rows["weekday warm-up"]["points_issued"] == 300  # 6 members, once each
    latte = next(r for r in doc["by_reward"] if r["reward"] == "free latte")
    assert (latte["given"], latte["redeemed"], latte["lapsed"]) == (21, 19, 2)


def test_explain_shows_progress_where_it_changes():
    res = CliRunner().invoke(main, ["explain", str(EXAMPLE), str(ROOT / "examples" / "histories" / "coffee_challenge.csv"),
                                    "--member", "M03"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    first = lines.index(next(ln for ln in lines if "purchase" in ln))
    assert lines[first + 2:first + 6] == [
        '    progress: goal "three visits a month": 1 of 3 visits on different days in this calendar month',
        '    progress: goal "big spender": 18.00 NOK of 200.00 NOK spent within 30 days',
        '    progress: goal "four week streak": 1 of 4 weeks in a row with a purchase',
        '    progress: goal "weekday warm-up": 1 of 3 purchases within 14 days',
    ]
    assert any("(reached)" in ln for ln in lines)


def test_describe_words_goals_and_streaks_in_the_member_s_terms():
    res = CliRunner().invoke(main, ["describe", str(EXAMPLE)])
    assert res.exit_code == 0, res.output
    for words in [
        "three visits a month: Earn 100 beans when you make 3 visits on different days in one calendar month, "
        "once a month.",
        'big spender: Get "free latte" (a free "latte") when you spend 200 NOK within 30 days, each time.',
        "four week streak: Earn 200 beans when you make a purchase in each of 4 weeks in a row (calendar weeks), "
        "each time.",
        "A returned purchase no longer counts towards a spending challenge not yet reached.",
    ]:
        assert words in res.output


def test_a_late_event_counts_only_within_the_period_or_window_counted_now():
    p = _goal_program("after 3 visits on different days in a calendar month")
    visits = [{"visit": {"time": t, "id": t}} for t in ("2025-04-10T10:00", "2025-04-12T10:00",
                                                        "2025-03-31T10:00",  # late: March is over
                                                        "2025-04-11T10:00")]  # late, within April: the third day
    assert _fired_at(p, visits) == [_dt.datetime(2025, 4, 11, 10)]
    p = _goal_program("after 2 purchases on different days within 7 days")
    buys = [{"purchase": {"time": t, "order": t, "lines": [{"item": "x", "amount": "5.00"}]}}
            for t in ("2025-04-10T10:00", "2025-04-02T10:00", "2025-04-10T18:00", "2025-04-05T10:00")]
    # 2 April is before the window of 10 April (4 to 10 April); a second purchase on the 10th is the same day;
    # 5 April is within it: two days
    assert _fired_at(p, buys) == [_dt.datetime(2025, 4, 5, 10)]


@pytest.mark.parametrize("change, field", [
    (lambda t: t.update(target=0), "trigger.target"),
    (lambda t: t["window"].update(period="fortnight"), "trigger.window.period"),
    (lambda t: t.update(counts="stars"), "trigger.counts"),
])
def test_a_compiled_goal_out_of_its_range_is_refused_naming_the_field(change, field):
    doc = json.loads(loyalty.load(EXAMPLE).to_json())
    change(doc["rules"][1]["trigger"])  # "three visits a month"
    with pytest.raises(loyalty.ProgramFormatError, match=f"rules\\[1\\].{field}"):
        loyalty.Program.from_json(json.dumps(doc))
