"""Coverage diagnostics: a history the program does not match never simulates to a silent zero."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.simulate.coverage import did_you_mean

REPO = Path(__file__).resolve().parents[1]
CAR_WASH = str(REPO / "examples/programs/car_wash.loyalty")
CAR_WASH_CSV = REPO / "examples/histories/car_wash.csv"

SEGMENT_PROGRAM = """
program "Campus cafe" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2025-01-01
}
segment "students"
rule "student discount" {
  get 10% off
  for segment "students"
}
"""
SEGMENT_HISTORY = "member,time,amount,item\nM1,2025-01-02T10:00,100.00,coffee\nM2,2025-01-03T10:00,50.00,coffee\n"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def renamed(tmp_path):
    path = tmp_path / "renamed.csv"
    path.write_text(CAR_WASH_CSV.read_text(encoding="utf-8").replace("basic wash", "Basic Wash"), encoding="utf-8")
    return path


@pytest.fixture
def campus(tmp_path):
    (tmp_path / "cafe.loyalty").write_text(SEGMENT_PROGRAM, encoding="utf-8")
    (tmp_path / "sales.csv").write_text(SEGMENT_HISTORY, encoding="utf-8")
    (tmp_path / "members.csv").write_text("member,segments\nM1,students\nM2,Students\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("kernel", ["vector", "python"])
def test_renamed_items_are_reported_with_counts_and_a_did_you_mean(renamed, kernel):
    result = invoke("simulate", CAR_WASH, renamed, "--format", "json", "--kernel", kernel)
    assert result.exit_code == 0
    coverage = json.loads(result.stdout)["coverage"]
    rows = CAR_WASH_CSV.read_text(encoding="utf-8").count("basic wash")
    assert coverage["unknown"] == [{"kind": "item", "name": "Basic Wash", "rows": rows, "did_you_mean": "basic wash"}]
    assert {"kind": "item", "name": "basic wash", "reason": "no rows with this item", "severity": "note"} \
        in coverage["unreached"]
    assert coverage["warnings"] == 1
    text = invoke("simulate", CAR_WASH, renamed, "--kernel", kernel).stdout
    assert f"{rows} rows name the item 'Basic Wash', which the program does not know; did you mean 'basic wash'?" \
        in text


def test_the_original_history_has_no_coverage_warning_and_strict_passes():
    result = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--format", "json", "--strict")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["coverage"]["warnings"] == 0


@pytest.mark.parametrize("command", ["simulate", "compare", "explain"])
def test_strict_makes_coverage_warnings_errors_in_every_command_that_reads_a_history(renamed, command, tmp_path):
    def args(out):
        return {"simulate": ["simulate", CAR_WASH, renamed, "--out", out],
                "compare": ["compare", CAR_WASH, CAR_WASH, renamed],
                "explain": ["explain", CAR_WASH, renamed, "--member", "M05"]}[command]

    relaxed = invoke(*args(tmp_path / "relaxed"))
    assert relaxed.exit_code == 0 and "'Basic Wash'" in relaxed.stdout
    strict = invoke(*args(tmp_path / "strict"), "--strict")
    assert strict.exit_code == 1
    assert strict.stdout == ""  # no report: the warnings are errors
    assert "does not know; did you mean 'basic wash'?" in strict.stderr and "--strict" in strict.stderr
    assert not (tmp_path / "strict").exists()  # nor any table


def test_a_segment_program_without_attributes_warns_and_names_the_rule(campus):
    result = invoke("simulate", campus / "cafe.loyalty", campus / "sales.csv", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["headline"]["total_cost"] == "0.00"
    kinds = {f["kind"]: f for f in report["coverage"]["findings"]}
    assert "'student discount'" in kinds["missing_attributes"]["message"]
    assert kinds["unreached_rule"]["severity"] == "warning"
    assert "no attributes given for a segment rule" in kinds["unreached_rule"]["message"]
    strict = invoke("simulate", campus / "cafe.loyalty", campus / "sales.csv", "--strict")
    assert strict.exit_code == 1 and "no member attributes given" in strict.stderr


def test_with_attributes_the_rule_applies_and_a_miscased_segment_is_reported(campus):
    result = invoke("simulate", campus / "cafe.loyalty", campus / "sales.csv", "--attributes", campus / "members.csv",
                    "--format", "json")
    report = json.loads(result.stdout)
    assert report["headline"]["discounts"] == "10.00"  # M1 is a student; M2's "Students" is not the program's
    coverage = report["coverage"]
    assert coverage["attributes_given"] is True
    assert coverage["unknown"] == [{"kind": "segment", "name": "Students", "members": 1, "did_you_mean": "students"}]
    assert not [u for u in coverage["unreached"] if u["kind"] == "rule"]


def test_a_row_category_that_disagrees_with_the_catalog_is_counted(tmp_path):
    text = CAR_WASH_CSV.read_text(encoding="utf-8")
    lines = text.splitlines()
    changed = [ln.replace(",wash and wax,washes,", ",wash and wax,detailing,") for ln in lines]
    moved = sum(a != b for a, b in zip(lines, changed))
    (tmp_path / "h.csv").write_text("\n".join(changed) + "\n", encoding="utf-8")
    coverage = json.loads(invoke("simulate", CAR_WASH, tmp_path / "h.csv", "--format", "json").stdout)["coverage"]
    assert coverage["category_mismatches"] == [{"item": "wash and wax", "row_category": "detailing",
                                                "catalog_category": "washes", "rows": moved}]
    assert any(u["kind"] == "category" and u["name"] == "detailing" for u in coverage["unknown"])


def test_unknown_stores_and_a_region_nothing_reached(tmp_path):
    text = CAR_WASH_CSV.read_text(encoding="utf-8").replace("Sparkle Lysaker", "SPARKLE LYSAKER")
    (tmp_path / "h.csv").write_text(text, encoding="utf-8")
    coverage = json.loads(invoke("simulate", CAR_WASH, tmp_path / "h.csv", "--format", "json").stdout)["coverage"]
    [store] = [u for u in coverage["unknown"] if u["kind"] == "store"]
    assert store["name"] == "SPARKLE LYSAKER" and store["did_you_mean"] == "Sparkle Lysaker"
    assert {(u["kind"], u["name"]) for u in coverage["unreached"]} >= {("store", "Sparkle Lysaker"),
                                                                         ("region", "Akershus")}


@pytest.mark.parametrize("engine", [["--jobs", "2"], ["--grouped"], ["--kernel", "python", "--jobs", "1"]])
def test_coverage_is_the_same_on_every_path(renamed, engine):
    header, *rows = renamed.read_text(encoding="utf-8").splitlines()
    rows.sort(key=lambda line: line.split(",")[0])  # each member's rows together, for --grouped
    renamed.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    base = json.loads(invoke("simulate", CAR_WASH, renamed, "--format", "json").stdout)["coverage"]
    other = json.loads(invoke("simulate", CAR_WASH, renamed, "--format", "json", *engine).stdout)["coverage"]
    assert other == base


def test_did_you_mean_takes_case_spacing_and_near_misses():
    known = ["basic wash", "wash and wax", "Sparkle Ensjø"]
    assert did_you_mean("Basic Wash", known) == "basic wash"
    assert did_you_mean("basic_wash", known) == "basic wash"
    assert did_you_mean("wash & wax", known) == "wash and wax"
    assert did_you_mean("sparkle ensjo", known) == "Sparkle Ensjø"
    assert did_you_mean("interior cleaning", known) is None


from hypothesis import given, settings, strategies as st  # noqa: E402

ROW = st.tuples(st.sampled_from(["m1", "m2", "m3", "m4", "m5"]), st.integers(1, 28),
                st.sampled_from(["purchase", "return", "visit", "custom"]),
                st.sampled_from(["basic wash", "Basic Wash", "wash and wax", "interior cleaning", "tyres", ""]),
                st.sampled_from(["washes", "detailing", ""]), st.sampled_from(["Sparkle Ensjø", "Oslo 1", ""]),
                st.sampled_from(["store", "app", ""]))


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=40), groups=st.lists(st.integers(0, 2), min_size=5, max_size=5))
def test_coverage_of_members_split_into_groups_and_merged_is_the_wholes(tmp_path_factory, rows, groups):
    from loyalty.simulate.coverage import count_rows, coverage_report, history_counts
    from loyalty.simulate.history import ReadOptions, read_history
    from loyalty.simulate.result import SimResult, merge_all
    from loyalty.simulate.run import load_program

    prog = load_program(CAR_WASH)
    lines = ["member,time,type,order,item,category,quantity,amount,store,channel"]
    for i, (member, day, kind, item, category, store, channel) in enumerate(rows):
        amount = "10.00" if kind in ("purchase", "return") else ""
        order = f"o{i}" if kind == "purchase" else ""
        item = item or ("app download" if kind == "custom" else "")
        lines.append(f"{member},2025-01-{day:02d}T10:00,{kind},{order},{item},{category},1,{amount},{store},{channel}")
    path = tmp_path_factory.mktemp("h") / "h.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    h = read_history(path, ReadOptions(timezone=prog.timezone, on_bad_row="skip"))
    whole = count_rows(h, SimResult())
    members = sorted({m for m, _, _ in h.member_slices()})
    parts = [count_rows(h.select_members([m for j, m in enumerate(members) if groups[j % 5] == g]), SimResult())
             for g in range(3)]
    merged = merge_all(parts)
    assert history_counts(merged) == history_counts(whole)
    assert coverage_report(merged, prog, {}) == coverage_report(whole, prog, {})
    assert sum(n for key, n in history_counts(whole).items() if key[0] == "type") == len(h)


def test_loyalty_test_warns_of_names_the_program_does_not_know_without_failing(tmp_path):
    program = tmp_path / "wash.loyalty"
    program.write_text(Path(CAR_WASH).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "wash.test.yaml").write_text(
        "- name: a misspelt wash earns nothing\n"
        "  events:\n"
        "    - purchase: {time: 2025-03-01T10:00, order: o1, store: Sparkle Ensjø,\n"
        "                 lines: [{item: Basic Wash, quantity: 6, amount: 360}]}\n"
        "  expect: {effects: []}\n", encoding="utf-8")
    result = invoke("test", program)
    assert result.exit_code == 0
    assert "PASS" in result.stdout
    assert "warning: event 1: the item 'Basic Wash' is not one the program knows; did you mean 'basic wash'?" \
        in result.stdout
    assert "Sparkle" not in result.stdout  # a store the program declares is no warning


STRICT_SCENARIO = ("- name: a misspelt wash\n"
                   "  events:\n"
                   "    - purchase: {time: 2025-03-01T10:00, order: o1, store: Sparkle Ensjø,\n"
                   "                 lines: [{item: Basic Wash, quantity: 1, amount: 60}]}\n"
                   "  expect: {effects: []}\n")


def test_loyalty_test_strict_fails_a_scenario_naming_an_item_the_catalog_lacks(tmp_path):
    program = tmp_path / "wash.loyalty"
    program.write_text(Path(CAR_WASH).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "wash.test.yaml").write_text(STRICT_SCENARIO, encoding="utf-8")
    lenient = invoke("test", program)
    assert lenient.exit_code == 0, lenient.output
    assert lenient.stdout.splitlines()[-1] == "1 passed, 0 failed, 1 warning (--strict makes them errors)"
    junit = tmp_path / "out.xml"
    strict = invoke("test", "--strict", program, "--junit", junit)
    assert strict.exit_code == 1, strict.output
    assert "FAIL " in strict.stdout and "PASS" not in strict.stdout
    assert ("  error (--strict): event 1: the item 'Basic Wash' is not one the program knows; did you mean "
            "'basic wash'?") in strict.stdout.splitlines()
    assert strict.stdout.splitlines()[-1] == "0 passed, 1 failed"
    assert 'failures="1"' in junit.read_text(encoding="utf-8")
    # the same scenario with the catalog's name passes under --strict
    (tmp_path / "wash.test.yaml").write_text(STRICT_SCENARIO.replace("Basic Wash", "basic wash")
                                             .replace("{effects: []}", "{}"), encoding="utf-8")
    assert invoke("test", "--strict", program).exit_code == 0


def test_loyalty_test_strict_makes_the_checkers_warnings_errors(tmp_path):
    program = tmp_path / "wash.loyalty"
    # a reward nothing gives: LOY310, a warning `loyalty check` passes and `check --strict` fails
    program.write_text(Path(CAR_WASH).read_text(encoding="utf-8") + '\nreward "mug" is a free "basic wash"\n',
                       encoding="utf-8")
    (tmp_path / "wash.test.yaml").write_text("- name: nothing\n  events: []\n  expect: {effects: []}\n",
                                             encoding="utf-8")
    assert invoke("check", program).exit_code == 0
    assert invoke("check", "--strict", program).exit_code == 1
    lenient = invoke("test", program)
    assert lenient.exit_code == 0
    assert "warning[LOY310]" in lenient.stderr and 'reward "mug" is never given' in lenient.stderr
    assert lenient.stdout.splitlines()[-1] == "1 passed, 0 failed, 1 warning (--strict makes them errors)"
    junit = tmp_path / "out.xml"
    strict = invoke("test", "--strict", program, "--junit", junit)
    assert strict.exit_code == 1
    assert "warning[LOY310]" in strict.stderr
    assert strict.stdout.splitlines()[-1] == "1 passed, 0 failed, 1 program with checker warnings (--strict)"
    assert 'errors="1"' in junit.read_text(encoding="utf-8") and "LOY310" in junit.read_text(encoding="utf-8")
