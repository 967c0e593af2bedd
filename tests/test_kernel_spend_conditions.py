"""Points per visit `when lifetime spend ...`, in a history with a return: the vectorised kernel's returns pass
reads which rules matched a returned order before it has settled the members' spend, so such a rule is the
scalar plan's (context.reads_spend_too_early, saying why); it was an internal error (AttributeError
'spend_before') found by tests/test_vector_kernel.py's generated programs."""

from __future__ import annotations

import json

from loyalty.cli import main

PROGRAM = """\
program "Spend club" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2025-01-01
}

points "points" {
  cost 0.01 NOK each
}

catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
}

rule "visits of big spenders" {
  earn 2 points per visit
  when lifetime spend >= 100 NOK
}
"""

HISTORY = """\
member,time,type,order,item,category,quantity,amount
m1,2025-02-01T10:00,purchase,o1,basic wash,washes,1,80
m1,2025-02-02T10:00,purchase,o2,basic wash,washes,1,80
m1,2025-02-03T10:00,return,o2,basic wash,washes,1,-80
m1,2025-02-04T10:00,purchase,o3,basic wash,washes,1,80
m1,2025-02-05T10:00,purchase,o4,basic wash,washes,1,80
"""


def test_points_per_visit_on_the_lifetime_spend_with_a_return_run_and_equal_the_scalar_plan(tmp_path, capsys):
    program, history = tmp_path / "p.loyalty", tmp_path / "h.csv"
    program.write_text(PROGRAM, encoding="utf-8")
    history.write_text(HISTORY, encoding="utf-8")
    reports = {}
    for kernel in ("auto", "python"):
        assert main(["simulate", str(program), str(history), "--format", "json", "--kernel", kernel]) == 0
        reports[kernel] = json.loads(capsys.readouterr().out)
    auto, scalar = reports["auto"], reports["python"]
    assert "lifetime spend" in auto["assumptions"]["kernel_why"]
    auto.pop("assumptions"), scalar.pop("assumptions")
    assert auto == scalar
