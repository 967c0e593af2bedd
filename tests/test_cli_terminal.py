"""The command line at a terminal and in scripts and CI (issue 15, part 5): reports readable at any width
without a cut number, COLUMNS / NO_COLOR / FORCE_COLOR, `-` for standard input and output, directories,
-q/--verbose, check's GitHub and SARIF output, test --junit, the version tag of every JSON output, and
progress."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import loyalty
from loyalty.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[1]
PROGRAMS = REPO / "examples" / "programs"
HISTORIES = REPO / "examples" / "histories"
BEAUTY = (str(PROGRAMS / "beauty_points.loyalty"), str(HISTORIES / "beauty_points.csv"))
CAR_WASH = (str(PROGRAMS / "car_wash.loyalty"), str(HISTORIES / "car_wash.csv"))
BAD = 'program "x" {\n  currency NOK\n}\nrule "a" { earn 1 point per 10 USD }\n'
ANSI = "\x1b["


def run(*args: str, env: dict | None = None, input: str | bytes | None = None):
    base = {"COLUMNS": None, "NO_COLOR": None, "FORCE_COLOR": None}
    return CliRunner().invoke(cli, list(args), env={**base, **(env or {})}, input=input, catch_exceptions=False)


# ------------------------------------------------------------------ width


def money_cells(report: dict) -> list[str]:
    """Every number of the by-month and by-rule tables as the terminal report prints it."""
    from loyalty.simulate.render import _money

    out = []
    for r in report["by_month"]:
        out += [_money(r["revenue"], 2), _money(r["cost"], 2), r["month"]]
    for r in report["by_rule"]:
        out.append(_money(r["cost"], 2))
    return out


@pytest.mark.parametrize("width", [60, 80, 100])
def test_the_report_fits_the_width_and_never_cuts_a_number(width):
    text = run("simulate", *BEAUTY, env={"COLUMNS": str(width)})
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in text.stdout
    report = json.loads(run("simulate", *BEAUTY, "--format", "json").stdout)
    for cell in money_cells(report):
        assert re.search(rf"(?<![\d,.]){re.escape(cell)}(?![\d,])", text.stdout), cell
    # a rule name wraps over at most two lines at 80 columns (it was four)
    if width >= 80:
        assert "redeem for deluxe sample set" in text.stdout or "redeem for deluxe" in text.stdout


def test_piped_output_follows_columns_and_is_wide_without_it():
    wide = run("simulate", *BEAUTY).stdout
    assert 80 < max(len(line) for line in wide.splitlines()) <= 140
    narrow = run("simulate", *BEAUTY, env={"COLUMNS": "72"}).stdout
    assert max(len(line) for line in narrow.splitlines()) <= 72


@settings(max_examples=60, deadline=None)
@given(width=st.integers(30, 160),
       names=st.lists(st.text("abcdefgh ", min_size=1, max_size=40).map(str.strip).filter(bool), min_size=1,
                      max_size=6),
       columns=st.integers(1, 9), seed=st.integers(0, 10**6))
def test_fitted_tables_fit_and_keep_every_number_whole(width, names, columns, seed):
    import io
    import random

    from rich.console import Console
    from rich.table import Table

    from loyalty.commands.fitting import fit_table

    rng = random.Random(seed)
    table = Table(title="By rule")
    table.add_column("rule", justify="left")
    headers = [rng.choice(["cost", "of revenue", "points value", "cumulative cost", "members reached", "x"])
               for _ in range(columns)]
    for h in headers:
        table.add_column(h, justify="right")
    numbers = [[f"{Decimal(rng.randrange(10**9)).scaleb(-2):,}" for _ in range(columns)] for _ in names]
    for name, row in zip(names, numbers):
        table.add_row(name, *row)
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    parts = fit_table(table, width)
    for part in parts:
        console.print(part)
    text = out.getvalue()
    widest_number = max(len(n) for row in numbers for n in row)
    if widest_number + 18 + 7 <= width:  # room for one number beside a name: everything fits
        assert max(len(line) for line in text.splitlines()) <= width, text
        assert "…" not in text
        for row in numbers:
            for n in row:
                assert n in text
    assert sum(len(p.columns) - 1 for p in parts) == columns  # every number column printed once


# ------------------------------------------------------------------ colour


def test_no_color_and_force_color_in_diagnostics(tmp_path):
    bad = tmp_path / "bad.loyalty"
    bad.write_text(BAD, encoding="utf-8")
    assert ANSI not in run("check", str(bad)).stderr  # piped: plain
    assert ANSI in run("check", str(bad), env={"FORCE_COLOR": "1"}).stderr
    assert ANSI not in run("check", str(bad), env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stderr


def test_no_color_and_force_color_in_reports():
    assert ANSI not in run("simulate", *CAR_WASH).stdout
    forced = run("simulate", *CAR_WASH, env={"FORCE_COLOR": "1"})
    assert ANSI in forced.stdout
    assert ANSI not in run("simulate", *CAR_WASH, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    # forced colour is still laid out for the width, and carries no progress bar
    assert "replaying" not in forced.stderr


# ------------------------------------------------------------------ standard input and output


def test_dash_reads_standard_input_in_check_and_compile():
    program = (PROGRAMS / "car_wash.loyalty").read_text(encoding="utf-8")
    checked = run("check", "-", input=BAD)
    assert checked.exit_code == 1 and "<stdin>:4:" in checked.stderr
    assert run("check", "-", input=program).exit_code == 0
    compiled = run("compile", "-", input=program)
    assert compiled.exit_code == 0
    assert loyalty.load_compiled(compiled.stdout).identity == loyalty.load(PROGRAMS / "car_wash.loyalty").identity


def test_generate_to_standard_output_piped_into_simulate():
    history = run("generate", "--rows", "400", "--seed", "3", "--program", CAR_WASH[0], "-o", "-")
    assert history.exit_code == 0 and history.stdout.startswith("member,")
    piped = run("simulate", CAR_WASH[0], "-", "--format", "json", input=history.stdout)
    assert piped.exit_code == 0, piped.output
    report = json.loads(piped.stdout)
    assert report["history"]["file"] == "<stdin>" and report["history"]["rows"] == 400


def test_simulate_from_empty_standard_input_says_so():
    result = run("simulate", CAR_WASH[0], "-", input="")
    assert result.exit_code == 1 and "standard input is empty" in result.stderr


# ------------------------------------------------------------------ directories


def test_check_and_fmt_take_directories_recursively_in_sorted_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    program = (PROGRAMS / "car_wash.loyalty").read_text(encoding="utf-8")
    for rel in ("b/z.loyalty", "a/deep/y.loyalty", "a/x.loyalty"):
        (tmp_path / rel).write_text(program, encoding="utf-8")
    (tmp_path / "a" / "notes.txt").write_text("not a program", encoding="utf-8")
    checked = run("check", "--format", "json", str(tmp_path))
    files = [Path(f["file"]).relative_to(tmp_path).as_posix() for f in json.loads(checked.stdout)["files"]]
    assert files == ["a/deep/y.loyalty", "a/x.loyalty", "b/z.loyalty"]
    messy = program.replace("  currency NOK", "      currency    NOK")
    (tmp_path / "a" / "deep" / "y.loyalty").write_text(messy, encoding="utf-8")
    assert run("fmt", "--check", str(tmp_path)).stdout.strip().endswith("y.loyalty")
    assert run("fmt", str(tmp_path)).exit_code == 0
    assert (tmp_path / "a" / "deep" / "y.loyalty").read_text(encoding="utf-8") == program


# ------------------------------------------------------------------ -q and --verbose


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_quiet_and_verbose(name):
    help_text = run(name, "--help").stdout
    assert "-q, --quiet" in help_text and "--verbose" in help_text


def test_quiet_leaves_out_the_summary_and_verbose_adds_the_stages(tmp_path):
    assert "checked 1 file" in run("check", CAR_WASH[0]).stderr
    assert run("check", "-q", CAR_WASH[0]).stderr == ""
    assert re.search(r"loyalty: checked .* in \d+ ms", run("check", "--verbose", CAR_WASH[0]).stderr)
    out = tmp_path / "out"
    quiet = run("simulate", *CAR_WASH, "-q", "--format", "json", "--out", str(out))
    assert quiet.exit_code == 0 and quiet.stderr == "" and (out / "summary.csv").is_file()
    verbose = run("simulate", *CAR_WASH, "--verbose", "--format", "json")
    assert re.search(r"loyalty: reading car_wash\.csv .*: \d+\.\d\d s", verbose.stderr)
    assert re.search(r"loyalty: replaying: \d+\.\d\d s", verbose.stderr)
    # a -q in one run does not carry over to the next
    assert "checked 1 file" in run("check", CAR_WASH[0]).stderr


# ------------------------------------------------------------------ check --format github / sarif


def test_github_workflow_commands_name_file_line_and_column(tmp_path):
    bad = tmp_path / "shop, main.loyalty"
    bad.write_text(BAD, encoding="utf-8")
    result = run("check", "--format", "github", str(bad))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        match = re.fullmatch(r"::error file=([^,]+),line=(\d+),col=(\d+),endLine=\d+,endColumn=\d+,"
                             r"title=(LOY\d{3}) [^:]+::(.+)", line)
        assert match, line
        assert match.group(1) == str(bad).replace(",", "%2C")  # a comma in a property is escaped
        assert match.group(2) == "4"
    assert "col=32" in result.stdout and "LOY202" in result.stdout


def validate_sarif(log: dict) -> None:
    """The structure SARIF 2.1.0 requires (OASIS standard, sections 3.13-3.30): what a consumer such as
    GitHub code scanning refuses a log without."""
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and log["runs"]
    for run_ in log["runs"]:
        driver = run_["tool"]["driver"]
        assert isinstance(driver["name"], str) and driver["name"]
        rule_ids = [r["id"] for r in driver.get("rules", [])]
        assert len(rule_ids) == len(set(rule_ids))
        for result in run_["results"]:
            assert isinstance(result["message"]["text"], str) and result["message"]["text"]
            assert result["level"] in ("none", "note", "warning", "error")
            assert rule_ids[result["ruleIndex"]] == result["ruleId"]
            for location in result["locations"]:
                physical = location["physicalLocation"]
                assert isinstance(physical["artifactLocation"]["uri"], str)
                region = physical["region"]
                assert region["startLine"] >= 1 and region["startColumn"] >= 1
                assert (region["endLine"], region["endColumn"]) >= (region["startLine"], region["startColumn"])
        for invocation in run_.get("invocations", []):
            assert isinstance(invocation["executionSuccessful"], bool)


def test_sarif_log_is_valid_and_locates_every_diagnostic(tmp_path):
    bad = tmp_path / "bad.loyalty"
    bad.write_text(BAD, encoding="utf-8")
    result = run("check", "--format", "sarif", str(bad), CAR_WASH[0])
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    validate_sarif(log)
    results = log["runs"][0]["results"]
    assert sorted(r["ruleId"] for r in results) == ["LOY103", "LOY202"]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {bad.as_uri()}
    assert log["runs"][0]["properties"]["loyalty_version"] == loyalty.__version__
    clean = json.loads(run("check", "--format", "sarif", CAR_WASH[0]).stdout)
    validate_sarif(clean)
    assert clean["runs"][0]["results"] == []


# ------------------------------------------------------------------ test --junit


def test_junit_report_counts_passes_failures_and_errors(tmp_path):
    import shutil

    for name in ("car_wash.loyalty", "car_wash.test.yaml"):
        shutil.copy(PROGRAMS / name, tmp_path / name)
    scenarios = (tmp_path / "car_wash.test.yaml").read_text(encoding="utf-8")
    (tmp_path / "broken.loyalty").write_text(BAD, encoding="utf-8")
    (tmp_path / "broken.test.yaml").write_text(scenarios, encoding="utf-8")
    junit = tmp_path / "results.xml"
    result = run("test", str(tmp_path), "--junit", str(junit))
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = {Path(s.get("name")).name: s for s in root.findall("testsuite")}
    passing = suites["car_wash.loyalty"]
    assert int(passing.get("tests")) == len(passing.findall("testcase")) >= 3
    assert passing.get("failures") == "0" and passing.findall("testcase/failure") == []
    broken = suites["broken.loyalty"]
    assert broken.get("errors") == "1" and "LOY202" in broken.find("testcase/error").text
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites.values())


def test_a_failing_scenario_is_a_junit_failure(tmp_path):
    import shutil

    shutil.copy(PROGRAMS / "car_wash.loyalty", tmp_path / "car_wash.loyalty")
    text = (PROGRAMS / "car_wash.test.yaml").read_text(encoding="utf-8")
    changed = re.sub(r"(\bbalance:\s*)(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1), text, count=1)
    if changed == text:
        changed = re.sub(r"(\bpunches:.*?:\s*)(\d+)", lambda m: m.group(1) + str(int(m.group(2)) + 1), text,
                         count=1, flags=re.S)
    assert changed != text
    (tmp_path / "car_wash.test.yaml").write_text(changed, encoding="utf-8")
    junit = tmp_path / "results.xml"
    assert run("test", str(tmp_path), "--junit", str(junit)).exit_code == 1
    failures = ET.parse(junit).getroot().findall(".//testcase/failure")
    assert len(failures) == 1 and failures[0].get("message")


# ------------------------------------------------------------------ the version tag of every JSON output


def test_every_json_output_carries_format_and_loyalty_version(tmp_path):
    documents = {
        "simulate": run("simulate", *CAR_WASH, "--format", "json").stdout,
        "compare": run("compare", CAR_WASH[0], CAR_WASH[0], CAR_WASH[1], "--format", "json").stdout,
        "compile": run("compile", CAR_WASH[0]).stdout,
        "check": run("check", "--format", "json", CAR_WASH[0]).stdout,
        "explain": run("explain", *CAR_WASH, "--member", "M03", "--format", "json").stdout,
    }
    formats = {}
    for name, text in documents.items():
        doc = json.loads(text)
        assert doc["loyalty_version"] == loyalty.__version__, name
        formats[name] = doc["format"]
    assert formats == {"simulate": "loyalty-simulation/1", "compare": "loyalty-comparison/1",
                       "compile": "loyalty-compiled/1", "check": "loyalty-check/1",
                       "explain": "loyalty-explanation/1"}


def test_the_version_tag_does_not_change_a_programs_identity():
    program = loyalty.load(PROGRAMS / "car_wash.loyalty")
    doc = json.loads(program.to_json())
    doc["loyalty_version"] = "99.0"
    assert loyalty.load_compiled(json.dumps(doc)).identity == program.identity


# ------------------------------------------------------------------ progress


def test_reading_progress_follows_the_bytes_read(tmp_path, monkeypatch):
    import time

    import loyalty.progress as progress

    path = tmp_path / "h.csv"
    path.write_bytes(b"x" * 4_000_000)
    seen = []
    monkeypatch.setattr(progress, "SHOW_AFTER", 0)
    monkeypatch.setattr(progress, "wanted", lambda stream=None: True)
    monkeypatch.setattr(progress.Bar, "_refresh", lambda bar: seen.append((bar.completed, bar.description)))
    with progress.reading(str(path)):
        with path.open("rb") as fh:
            while fh.read(400_000):
                time.sleep(0.06)
            # the poller (every 0.2 s) reads the position of an open file: keep it open until a poll has seen
            # the end (it raced the close before, and failed on a loaded machine)
            deadline = time.monotonic() + 10
            while not (seen and seen[-1][0] == 4_000_000) and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(0.3)
    read = [done for done, _ in seen]
    assert read == sorted(read) and read[-1] == 4_000_000
    assert len(set(read)) >= 3  # it moved while the file was read, not only at the end
    assert seen[-1][1].startswith("preparing the rows")


def test_generate_reports_every_row_made_and_written():
    import io

    from loyalty.simulate.generate import DEFAULT_CATALOG, GenerateOptions, generate

    counts: dict = {}
    options = GenerateOptions(rows=600_000 // 10, seed=1, members=None, start=__import__("datetime").date(2025, 1, 1),
                              days=365, catalog=DEFAULT_CATALOG, stores=("Store 1",), minor_units=2, grouped=False,
                              skew=None)
    generate(options, io.StringIO(), lambda stage, n: counts.__setitem__(stage, counts.get(stage, 0) + n))
    assert set(counts) <= {"making", "writing", "generating"} and counts
    assert all(n == 60_000 for n in counts.values()), counts


def test_workers_report_rows_as_they_go_not_per_group():
    """A pool of two on one group each: the bar hears of rows many times per group, and exactly every row."""
    from loyalty.simulate.parallel import simulate_in_pool
    from loyalty.simulate.run import load_program, plan_for, read_inputs

    prog = load_program(BEAUTY[0])
    inputs = read_inputs(prog, BEAUTY[1], None, None, None, None, "stop")
    plan = plan_for(prog, BEAUTY[0], inputs, None)
    import loyalty.simulate.parallel as parallel

    calls = []
    old_step = parallel.PROGRESS_STEP_ROWS
    parallel.PROGRESS_STEP_ROWS = 10
    try:
        simulate_in_pool(plan, inputs.history, 2, calls.append)
    finally:
        parallel.PROGRESS_STEP_ROWS = old_step
    assert sum(calls) == len(inputs.history)
    assert all(n > 0 for n in calls)
