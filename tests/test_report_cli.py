"""The simulate, compare, explain and generate commands end to end: outputs, files, errors and exit codes."""

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli

REPO = Path(__file__).resolve().parents[1]
CAR_WASH = str(REPO / "examples/programs/car_wash.loyalty")
CAR_WASH_CSV = str(REPO / "examples/histories/car_wash.csv")


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_simulate_json_is_byte_identical_and_matches_the_by_member_table(tmp_path):
    a = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--format", "json", "--out", str(tmp_path / "out"))
    b = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--format", "json")
    assert a.exit_code == 0 and a.stdout == b.stdout
    report = json.loads(a.stdout)
    assert report["format"] == "loyalty-simulation/1"
    with open(tmp_path / "out" / "by_member.csv", encoding="utf-8") as fh:
        members = list(csv.DictReader(fh))
    assert len(members) == report["headline"]["members"]
    # the discounts in the by-member table add up to the rule's discount in the report
    from decimal import Decimal

    assert sum(Decimal(m["discount"]) for m in members) == Decimal(report["by_rule"][0]["discount"])
    for name in ("summary", "by_rule", "by_month", "by_reward", "by_tier", "draws"):
        assert (tmp_path / "out" / f"{name}.csv").exists()


@pytest.mark.parametrize("kernel", ["python", "vector"])
def test_per_member_rows_are_built_only_for_out_and_leave_the_report_alone(tmp_path, kernel):
    """Without --out no per-member rows are built (the report never reads them); with it, by_member.csv
    holds every member, and the JSON report is byte for byte the same either way, on both kernels."""
    from loyalty.simulate.run import load_program, plan_for, read_inputs, run_and_report

    prog = load_program(CAR_WASH)
    inputs = read_inputs(prog, CAR_WASH_CSV, None, None, None, None, "stop")
    lean, lean_report = run_and_report(plan_for(prog, CAR_WASH, inputs, None, member_rows=False), inputs, False,
                                       kernel=kernel)
    full, full_report = run_and_report(plan_for(prog, CAR_WASH, inputs, None), inputs, False, kernel=kernel)
    assert lean.members == [] and len(full.members) == full_report["headline"]["members"] > 0
    assert json.dumps(lean_report, sort_keys=True) == json.dumps(full_report, sort_keys=True)
    a = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--format", "json", "--kernel", kernel, "--out", str(tmp_path))
    b = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--format", "json", "--kernel", kernel)
    assert a.exit_code == b.exit_code == 0 and a.stdout == b.stdout
    with open(tmp_path / "by_member.csv", encoding="utf-8") as fh:
        assert [row["member"] for row in csv.DictReader(fh)] == [m.member for m in full.members]


DECLINED = """program "Wash bonus" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "wash and wax" in category "washes" costing 55 NOK
  item "interior cleaning" in category "washes" costing 90 NOK
}
reward "free wash" is a free "basic wash"
redeem 500 points for "free wash"
rule "weekend spend bonus" {
  earn 30 points
  on saturdays, sundays
  after every 100 NOK spent
}
"""


def test_the_report_says_which_kernel_replayed_the_history_and_why_not_the_vectorised_one(tmp_path):
    vec = invoke("simulate", CAR_WASH, CAR_WASH_CSV)
    assert vec.exit_code == 0 and "replayed by the vectorised kernel" in vec.stdout
    forced = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--kernel", "python", "--format", "json")
    assert json.loads(forced.stdout)["assumptions"]["kernel_why"] == "--kernel python"
    # a program the kernel still declines (every shipped program runs on it): a rule counting its own spend
    (tmp_path / "declined.loyalty").write_text(DECLINED, encoding="utf-8")
    coffee = [str(tmp_path / "declined.loyalty"), CAR_WASH_CSV]
    auto = json.loads(invoke("simulate", *coffee, "--format", "json").stdout)["assumptions"]
    text = invoke("simulate", *coffee).stdout
    assert auto["kernel"] == "python" and "'weekend spend bonus'" in auto["kernel_why"]
    assert f"the vectorised kernel does not take this program: {auto['kernel_why']}" in " ".join(text.split())


def test_simulate_text_report_and_svg_chart(tmp_path):
    r = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--chart", str(tmp_path / "c.svg"))
    assert r.exit_code == 0
    assert "total program cost" in r.stdout and "every 6th wash is free" in r.stdout
    svg = (tmp_path / "c.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "polyline" in svg and "Cumulative cost" in svg  # tests/test_html_report.py: the rest


def test_png_chart_is_a_usage_error():
    r = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--chart", "c.png")
    assert r.exit_code == 2 and ".svg or .html" in r.stderr


def test_bad_row_exits_1_naming_row_and_column_and_skip_reports_it(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("member,time,amount,item\nA,2025-01-01,105,basic wash\nB,yesterday,105,basic wash\n", encoding="utf-8")
    r = invoke("simulate", CAR_WASH, str(p))
    assert r.exit_code == 1
    assert 'h.csv:3: column "time"' in r.stderr and "Traceback" not in r.stderr
    r = invoke("simulate", CAR_WASH, str(p), "--on-bad-row", "skip", "--format", "json")
    report = json.loads(r.stdout)
    assert report["history"]["skipped_rows"] == 1 and report["headline"]["orders"] == 1


def test_program_errors_are_diagnostics_with_exit_1(tmp_path):
    bad = tmp_path / "bad.loyalty"
    bad.write_text('program "x" {\n  currency NOK\n}\nrule "r" { every }\n', encoding="utf-8")
    r = invoke("simulate", str(bad), CAR_WASH_CSV)
    assert r.exit_code == 1 and "bad.loyalty:" in r.stderr


def test_compare_counts_members_who_get_less(tmp_path):
    stingy = tmp_path / "stingy.loyalty"
    stingy.write_text(Path(CAR_WASH).read_text(encoding="utf-8").replace('"punch every" = 6th', '"punch every" = 10th'),
                      encoding="utf-8")
    r = invoke("compare", CAR_WASH, str(stingy), CAR_WASH_CSV, "--format", "json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert Decimal(out["total_cost_difference"]) < 0
    assert out["members"]["get_less"] > 0
    same = json.loads(invoke("compare", CAR_WASH, CAR_WASH, CAR_WASH_CSV, "--format", "json").stdout)
    assert same["members"]["get_less"] == 0 and Decimal(same["total_cost_difference"]) == 0


def test_explain_shows_effects_with_rule_and_line(tmp_path):
    p = tmp_path / "h.csv"
    rows = "".join(f"A,2025-02-{d:02d},105,basic wash,o{d}\n" for d in range(1, 7))
    p.write_text("member,time,amount,item,order\n" + rows, encoding="utf-8")
    r = invoke("explain", CAR_WASH, str(p), "--member", "A")
    assert r.exit_code == 0
    assert '105.00 NOK off order o6 (rule "every 6th wash is free", line 26)' in r.stdout
    r = invoke("explain", CAR_WASH, str(p), "--member", "Z")
    assert r.exit_code == 1 and "not in" in r.stderr


def test_generate_is_seeded_and_uses_the_program_catalog(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert invoke("generate", "--rows", "50", "--seed", "3", "--program", CAR_WASH, "-o", str(a)).exit_code == 0
    invoke("generate", "--rows", "50", "--seed", "3", "--program", CAR_WASH, "-o", str(b))
    assert a.read_bytes() == b.read_bytes()
    items = {row["item"] for row in csv.DictReader(a.open(encoding="utf-8"))} - {""}
    assert items <= {"basic wash", "wash and wax", "interior cleaning"}


from decimal import Decimal  # noqa: E402


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    import loyalty.simulate.run as run

    import loyalty.progress

    monkeypatch.setattr(run, "PROGRESS_MIN_ROWS", 1)  # the example history is small
    monkeypatch.setattr(loyalty.progress, "SHOW_AFTER", 0)  # and replays in less than the second it waits
    prog = run.load_program(CAR_WASH)
    inputs = run.read_inputs(prog, CAR_WASH_CSV, None, None, None, None, "stop")
    plan = run.plan_for(prog, CAR_WASH, inputs, None)
    on_terminal, piped = io.StringIO(), io.StringIO()
    _, with_bar = run.run_and_report(plan, inputs, True, Console(file=on_terminal, force_terminal=True))
    _, without = run.run_and_report(plan, inputs, True, Console(file=piped, force_terminal=False))
    assert "replaying" in on_terminal.getvalue()
    assert piped.getvalue() == ""
    assert with_bar == without  # the bar changes nothing else
    # the command itself: standard error is not a terminal here, so nothing but the report comes out
    r = CliRunner().invoke(cli, ["simulate", CAR_WASH, CAR_WASH_CSV, "--format", "json"])
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["headline"]["orders"] > 0


def test_csv_tables_quote_text_that_would_start_a_formula_and_leave_numbers_alone(tmp_path):
    """OWASP's advice against CSV injection: a text cell starting with =, +, -, @, tab or CR gets a single
    quote first, so a spreadsheet shows it as text instead of running it. Numbers are never touched: a
    negative amount stays a number. (tests/hostile/histories/formula_member_ids.csv: end to end.)"""
    from loyalty.simulate.render import write_rows

    path = tmp_path / "by_member.csv"
    header = ["member", "orders", "revenue", "discount", "value_received", "tier"]
    write_rows(path, [
        {"member": "=HYPERLINK(\"http://x\",\"y\")", "orders": 1, "revenue": "-12.50", "discount": "-0.50",
         "value_received": "=1+1", "tier": "+gold"},
        {"member": "-12.50", "orders": -1, "revenue": "+3", "discount": "-1E+2", "value_received": "-7",
         "tier": "@SUM(A1)"},
        {"member": "\tM3", "orders": 0, "revenue": "0.00", "discount": None, "value_received": "1.5", "tier": "\rx"},
        {"member": "M4 =1+1", "orders": 2, "revenue": "1.00", "discount": "0", "value_received": "0", "tier": ""},
    ], header=header)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        header,
        ["'=HYPERLINK(\"http://x\",\"y\")", "1", "-12.50", "-0.50", "'=1+1", "'+gold"],  # not a number: quoted
        ["'-12.50", "-1", "+3", "-1E+2", "-7", "'@SUM(A1)"],  # member ids are text, even when they look like numbers
        ["'\tM3", "0", "0.00", "", "1.5", "'\rx"],
        ["M4 =1+1", "2", "1.00", "0", "0", ""],
    ]


def test_the_text_report_shows_each_store_and_region_of_a_pilot():
    program = str(REPO / "examples/programs/summer_pilot.loyalty")
    history = str(REPO / "examples/histories/summer_pilot.csv")
    report = json.loads(invoke("simulate", program, history, "--format", "json").stdout)
    text = invoke("simulate", program, history).stdout
    assert "By store" in text and "By region" in text
    lines = text.splitlines()
    for key, rows in (("store", report["by_store"]), ("region", report["by_region"])):
        for r in rows:
            line = next(ln for ln in lines if f" {r[key]} " in ln)
            assert f" {r['orders']} " in line and f" {r['members']} " in line, line
