"""Every hostile history in tests/hostile/histories/ gives exactly its expected outcome.

Each file runs through `loyalty simulate` (the command a user runs), once as is and, when
its entry says what skipping gives, once with `--on-bad-row skip`. A stop must name the
file and the line the bad row starts on, exit 1, and show no traceback. A history that runs
is also shown as text, which must carry no control character and show every name as written,
explained for the members its entry lists, and written as CSV tables (`--out`), where no text
cell may start a spreadsheet formula. The format of expected.yaml is explained at its
top; test_hostile_corpus.py checks that every file in the folder has an entry.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loyalty.cli import cli

FOLDER = Path(__file__).resolve().parent / "hostile" / "histories"
with open(FOLDER / "expected.yaml", encoding="utf-8") as _f:
    EXPECTED: dict = yaml.safe_load(_f)
HISTORIES = sorted(name for name, entry in EXPECTED.items() if entry != "program")
PROGRAMS = sorted(name for name, entry in EXPECTED.items() if entry == "program")


def simulate(program: Path, history: Path, *args: str):
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--format", "json", "--jobs", "1",
                                      *args])
    # a crash would surface as an exception other than the exit
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def check_figures(report: dict, want: dict) -> None:
    headline, history = report["headline"], report["history"]
    got = {}
    for key in want:
        if key == "rows":
            got[key] = history["rows"]
        elif key in ("first", "last"):
            got[key] = history[key]
        elif key == "rejected":
            got[key] = {r["reason"]: r["events"] for r in report["rejected_events"]}
        elif key == "skipped":
            got[key] = history["skipped_by_reason"]
        else:
            got[key] = headline[key]
    assert got == want


def test_every_entry_is_an_outcome_this_runner_knows():
    for name in HISTORIES:
        entry = EXPECTED[name]
        assert set(entry) <= {"program", "args", "ok", "stop", "hint", "skip", "explain", "out"}, (name, entry)
        assert ("ok" in entry) != ("stop" in entry), name
        assert (FOLDER / entry.get("program", "oslo.loyalty")).exists()


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_corpus_programs_check_clean(name):
    result = CliRunner().invoke(cli, ["check", "--strict", str(FOLDER / name)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", HISTORIES)
def test_hostile_history(name):
    entry = EXPECTED[name]
    path = FOLDER / name
    program = FOLDER / entry.get("program", "oslo.loyalty")
    result = simulate(program, path, *entry.get("args", []))
    if "ok" in entry:
        assert result.exit_code == 0, result.output
        check_figures(json.loads(result.stdout), entry["ok"])
        return
    assert result.exit_code == 1, result.output
    stop = entry["stop"]
    where = f"{path}:{stop}" if stop[0].isdigit() else f"{path}: {stop}"
    assert where in result.output, result.output
    if "hint" in entry:
        assert entry["hint"] in result.output
    assert result.stdout == "" or not result.stdout.lstrip().startswith("{"), "no report after a stop"


def raw_controls(text: str) -> list[str]:
    """Characters a terminal would act on or hide (loyalty.terminal.UNSAFE_CATEGORIES), line breaks aside."""
    return sorted({hex(ord(ch)) for ch in text
                   if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")})


@pytest.mark.parametrize("name", [n for n in HISTORIES if "ok" in EXPECTED[n]])
def test_hostile_history_as_text_shows_every_name_as_written_and_no_control_character(name):
    from loyalty.terminal import visible

    entry = EXPECTED[name]
    program = FOLDER / entry.get("program", "oslo.loyalty")
    report = json.loads(simulate(program, FOLDER / name, *entry.get("args", [])).stdout)
    result = CliRunner().invoke(cli, ["simulate", str(program), str(FOLDER / name), "--jobs", "1",
                                      *entry.get("args", [])])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert not raw_controls(result.output), result.output
    # the same renderer on a console wide enough that no cell wraps: every name shown as written
    from rich.console import Console

    from loyalty.simulate.render import render_terminal
    from loyalty.simulate.run import load_program

    out = io.StringIO()
    render_terminal(report, Console(file=out, width=1000), load_program(str(program)).exponent)
    names = [report["program"]["name"]]
    for table, key in (("by_rule", "rule"), ("by_reward", "reward"), ("by_tier", "tier"), ("draws", "draw")):
        names += [row[key] for row in report[table]]
    names += [winner for draw in report["draws"] for winner in draw["winners"]]
    for shown in map(visible, names):
        assert shown in out.getvalue(), shown


NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


@pytest.mark.parametrize("name", [n for n in HISTORIES if "ok" in EXPECTED[n]])
def test_hostile_history_as_csv_tables_starts_no_formula(name, tmp_path):
    entry = EXPECTED[name]
    result = simulate(FOLDER / entry.get("program", "oslo.loyalty"), FOLDER / name, "--out", str(tmp_path),
                      *entry.get("args", []))
    assert result.exit_code == 0, result.output
    tables = {}
    for path in sorted(tmp_path.glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            tables[path.name] = list(csv.DictReader(fh))
    for table, rows in tables.items():
        for row in rows:
            for column, cell in row.items():
                # a number stays a number (a negative amount too); text never starts a formula
                assert NUMBER.fullmatch(cell) or not cell.startswith(FORMULA_START), (table, column, cell)
    for table, columns in entry.get("out", {}).items():
        for column, values in columns.items():
            assert [row[column] for row in tables[table]] == values, (table, column)


@pytest.mark.parametrize("name, member", [(n, m) for n in HISTORIES for m in EXPECTED[n].get("explain", [])])
def test_hostile_member_explained_shows_the_member_as_written(name, member):
    from loyalty.terminal import visible

    entry = EXPECTED[name]
    result = CliRunner().invoke(cli, ["explain", str(FOLDER / entry.get("program", "oslo.loyalty")),
                                      str(FOLDER / name), "--member", member, *entry.get("args", [])])
    assert result.exit_code == 0, result.output
    assert not raw_controls(result.output), result.output
    assert result.stdout.startswith(f"{visible(member)} under ")


@pytest.mark.parametrize("name", [n for n in HISTORIES if "skip" in EXPECTED[n]])
def test_hostile_history_skipped_and_counted(name):
    entry = EXPECTED[name]
    result = simulate(FOLDER / entry.get("program", "oslo.loyalty"), FOLDER / name, "--on-bad-row", "skip",
                      *entry.get("args", []))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    check_figures(report, entry["skip"])
    history = report["history"]
    assert history["skipped_rows"] == sum(entry["skip"]["skipped"].values())
    # every skipped row is shown with its place, up to the examples kept
    assert len(history["skipped_examples"]) == history["skipped_rows"]
    assert all(example.startswith(f"{FOLDER / name}:") for example in history["skipped_examples"])


# ------------------------------------------------------------------ Parquet (typed columns), made here


def _parquet(tmp_path: Path, columns: dict) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "history.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_with_typed_columns_reads_exactly(tmp_path):
    import pyarrow as pa

    # decimals keep their digits, aware timestamps convert to Oslo time (UTC+1 in January)
    path = _parquet(tmp_path, {
        "member": pa.array(["M1", "M1", "M2"]),
        "time": pa.array([datetime(2025, 1, 1, 11, tzinfo=timezone.utc), datetime(2025, 1, 2, 23, 30,
                                                                                    tzinfo=timezone.utc),
                          datetime(2025, 1, 3, tzinfo=timezone.utc)], pa.timestamp("us", tz="UTC")),
        "amount": pa.array([Decimal("10.25"), Decimal("0.75"), Decimal("92233720368547758.07")],
                           pa.decimal128(19, 2)),
    })
    result = simulate(FOLDER / "oslo.loyalty", path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    check_figures(report, {"rows": 3, "orders": 3, "revenue": "92233720368547769.07",
                           "points_issued": 10 + 0 + 92233720368547758,
                           "first": "2025-01-01T12:00:00", "last": "2025-01-03T01:00:00"})


def test_parquet_bad_row_is_named_by_its_row(tmp_path):
    import pyarrow as pa

    path = _parquet(tmp_path, {"member": ["M1", "M1", "M1"], "time": ["2025-01-01", "2025-01-02", "2025-01-03"],
                               "type": ["purchase", "purchase", "purchase"],
                               "amount": pa.array([5, -5, 5], pa.int64())})
    result = simulate(FOLDER / "oslo.loyalty", path)
    assert result.exit_code == 1
    # Parquet has no lines: rows are numbered from 1, the first data row being row 1
    assert f'{path}:2: column "amount": negative amount on a purchase' in result.output


def test_parquet_that_is_not_parquet_stops_with_the_file_named(tmp_path):
    path = tmp_path / "history.parquet"
    path.write_bytes(b"member,time,amount\nM1,2025-01-01,5\n")
    result = simulate(FOLDER / "oslo.loyalty", path)
    assert result.exit_code == 1
    assert f"{path}: cannot read as Parquet" in result.output
