"""Where the live API (`program.apply`) and `loyalty simulate` used to disagree, they now agree."""

from __future__ import annotations

import json
import subprocess
import sys
import os
from pathlib import Path

import pytest

import loyalty

from evaluator_helpers import buy, kinds, prog
from loyalty.runtime.events import EventError

ROOT = Path(__file__).resolve().parent.parent
BODY = 'points "stars" { }\nrule "stars" { earn 1 star per 1 NOK }\n'


def _simulate(tmp_path: Path, program: str, history: str, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "p.loyalty").write_text(program)
    (tmp_path / "h.csv").write_text(history)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "loyalty.cli", "simulate", "p.loyalty", "h.csv", "--jobs", "1",
                           "--format", "json", *extra], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_api_refuses_a_purchase_that_reuses_an_order_id():
    p = prog(BODY)
    s, _ = p.apply(p.new_member("m"), buy("O1", "2025-03-01T10:00", ("tea", 1, "80"), eid="e1"))
    with pytest.raises(EventError) as err:
        p.apply(s, buy("O1", "2025-03-01T11:00", ("tea", 1, "10"), eid="e2"))
    assert err.value.field == "order"
    s, eff = p.apply(s, {"return": {"time": "2025-03-02T10:00", "order": "O1", "id": "r1"}})
    assert sum(e.points for e in kinds(eff, "points_clawed_back")) == 80


HISTORY = ("member,time,type,order,item,amount,event\n"
           "m,2025-03-01T10:00,purchase,O1,tea,80,e1\n"
           "m,2025-03-01T11:00,purchase,O1,tea,10,e2\n"
           "m,2025-03-02T10:00,return,O1,,80,r1\n")


def test_simulate_refuses_the_rows_of_a_purchase_that_reuses_an_order_id(tmp_path):
    program = 'program "t" {\n  currency NOK\n  timezone "Europe/Oslo"\n}\n' + BODY
    stop = _simulate(tmp_path, program, HISTORY)
    assert stop.returncode == 1, stop.stderr
    assert stop.stderr.startswith("loyalty: error: h.csv:3: column \"order\": order id 'O1' is already used by "
                                  "event 'e1' of this member"), stop.stderr
    skip = _simulate(tmp_path, program, HISTORY, "--on-bad-row", "skip")
    assert skip.returncode == 0, skip.stderr
    report = json.loads(skip.stdout)
    points = report["points"][0]
    assert (points["issued"], points["clawed_back"]) == (80, 80)  # as the API: the first purchase, returned whole


BUDGET = '''program "b" {
  currency NOK
  timezone "Europe/Oslo"
}

points "stars" { }

campaign "launch" {
  from 2025-01-01 to 2025-12-31
  budget 150 stars

  rule "stars" {
    earn 1 star per 1 NOK
  }
}
'''


def test_explain_applies_program_budgets_as_simulate_does(tmp_path):
    history = ("member,time,type,order,item,amount\n"
               "a,2025-03-01T10:00,purchase,O1,tea,100\nb,2025-03-02T10:00,purchase,O2,tea,100\n")
    _simulate(tmp_path, BUDGET, history)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "loyalty.cli", "explain", "p.loyalty", "h.csv", "--member", "b",
                           "--format", "json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    effects = [e for step in json.loads(done.stdout)["timeline"] for e in step["effects"]]
    assert sum(e["points"] for e in effects if e["kind"] == "points_earned") == 50  # as simulate: 150 - 100
    assert [e["truncated"] for e in effects if e["kind"] == "budget_reached"] == [50]
    report = json.loads(_simulate(tmp_path, BUDGET, history).stdout)
    assert report["headline"]["points_issued"] == 150


OSLO = 'program "t" {\n  currency NOK\n  timezone "Europe/Oslo"\n}\n' + BODY


def test_on_the_dst_fall_back_night_a_return_after_its_purchase_is_applied_on_both_paths(tmp_path):
    p = prog(BODY)
    s, _ = p.apply(p.new_member("m"), buy("O1", "2025-10-26T02:50:00+02:00", ("tea", 1, "80"), eid="e1"))
    s, eff = p.apply(s, {"return": {"time": "2025-10-26T02:35:00+01:00", "order": "O1", "id": "r1"}})
    api = sum(e.points for e in kinds(eff, "points_clawed_back"))
    assert api == 80
    history = ("member,time,type,order,item,amount,event\n"
               "m,2025-10-26T02:50:00+02:00,purchase,O1,tea,80,e1\n"
               "m,2025-10-26T02:35:00+01:00,return,O1,,80,r1\n")
    report = json.loads(_simulate(tmp_path, OSLO, history).stdout)
    assert report["points"][0]["clawed_back"] == api


# Purchase at 02:50 summer time, a return 45 minutes later at 02:35 winter time, and a second member whose
# rows stay in wall-clock order; with and without event ids (ids send a member to the scalar replay, so
# without them the vectorised kernel sees the rows), in a layout the fast reader takes and in one it leaves
# to the exact per-value parser.
FALL_BACK = ("member,time,type,order,item,amount{id}\n"
             "m,2025-10-26T02:50:00+02:00,purchase,O1,tea,80{e1}\n"
             "m,2025-10-26T02:35:00+01:00,return,O1,,80{r1}\n"
             "n,2025-10-26T01:00:00+02:00,purchase,O2,tea,20{e2}\n"
             "n,2025-10-26T04:00:00+01:00,purchase,O3,tea,30{e3}\n")


@pytest.mark.parametrize("ids", [True, False], ids=["event ids", "no ids"])
@pytest.mark.parametrize("layout", ["iso", "space"], ids=["fast reader", "per-value parser"])
@pytest.mark.parametrize("path", [(), ("--grouped",), ("--jobs", "2")], ids=["in memory", "grouped", "jobs"])
def test_the_fall_back_night_orders_rows_by_instant_on_every_path(tmp_path, ids, layout, path):
    history = FALL_BACK.format(**({"id": ",event", "e1": ",e1", "r1": ",r1", "e2": ",e2", "e3": ",e3"} if ids
                                  else dict.fromkeys(("id", "e1", "r1", "e2", "e3"), "")))
    if layout == "space":  # a space between date and time: not the fast path's layout
        history = history.replace("T0", " 0")
    done = _simulate(tmp_path, OSLO, history, *path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    points = report["points"][0]
    assert (points["issued"], points["clawed_back"]) == (130, 80)
    assert (points["outstanding"], report["headline"]["revenue"]) == (50, "50.00")


def test_a_strftime_layout_with_an_offset_orders_the_fall_back_night_by_instant(tmp_path):
    history = FALL_BACK.format(**dict.fromkeys(("id", "e1", "r1", "e2", "e3"), "")).replace("+02:00", "+0200") \
        .replace("+01:00", "+0100").replace("T0", " 0")
    done = _simulate(tmp_path, OSLO, history, "--time-format", "%Y-%m-%d %H:%M:%S%z")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["points"][0]["clawed_back"] == 80


WINDOWED = '''program "w" {
  currency NOK
  timezone "Europe/Oslo"
  returns accepted within 10 days
  late events accepted within 2 days
}
points "stars" { }
rule "stars" { earn 1 star per 1 NOK }
'''


def test_a_return_outside_the_return_window_is_refused_alike_by_the_api_and_counted_by_simulate(tmp_path):
    history = ("member,time,type,order,item,amount,event\n"
               "m,2025-03-01T10:00,purchase,O1,tea,80,e1\n"
               "m,2025-03-05T10:00,purchase,O2,tea,50,e2\n"
               "m,2025-03-14T10:00,return,O1,,80,r1\n"
               "m,2025-03-14T11:00,return,O2,,50,r2\n")
    run = _simulate(tmp_path, WINDOWED, history)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["rejected_events"] == [{"events": 1, "reason": "return outside the return window"}]
    assert (report["points"][0]["issued"], report["points"][0]["clawed_back"]) == (130, 50)
    p = loyalty.compile_source(WINDOWED)
    s, _ = p.apply(p.new_member("m"), buy("O1", "2025-03-01T10:00", ("tea", 1, "80"), eid="e1"))
    s, _ = p.apply(s, buy("O2", "2025-03-05T10:00", ("tea", 1, "50"), eid="e2"))
    with pytest.raises(EventError) as err:
        p.apply(s, {"return": {"time": "2025-03-14T10:00", "order": "O1", "id": "r1"}})
    assert err.value.field == "order" and "within the return window" in str(err.value)
    s, eff = p.apply(s, {"return": {"time": "2025-03-14T11:00", "order": "O2", "id": "r2"}})
    assert sum(e.points for e in kinds(eff, "points_clawed_back")) == 50
