"""Where the live API (`program.apply`) and `loyalty simulate` used to disagree, they now agree."""

from __future__ import annotations

import json
import subprocess
import sys
import os
from pathlib import Path

import pytest

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


@pytest.mark.xfail(strict=True, reason="not fixed yet: the simulation sorts a member's events by wall-clock time, so on "
                                       "the fall-back night a return 45 minutes after its purchase sorts before it")
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
