"""Every hostile input in tests/hostile/ gives exactly its expected outcome.

Each folder holds the inputs and an `expected.yaml` (format: tests/hostile/README.md).
A file without an entry, an entry without a file, or a folder without a runner fails:
nothing in the corpus is skipped silently.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import yaml

from loyalty.diagnostics import CODES, Severity, diagnostics_json, render_all
from loyalty.frontend import check_file

HOSTILE = Path(__file__).resolve().parent / "hostile"
RUNNERS = {"programs", "histories", "yaml"}  # histories/, yaml/: run by tests/test_hostile_histories.py, test_hostile_yaml.py


def _load(folder: str) -> dict:
    with open(HOSTILE / folder / "expected.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _line_col(text: str) -> tuple[int, int]:
    line, col = text.split(":")
    return int(line), int(col)


def test_every_corpus_folder_has_a_runner_and_every_file_an_expectation():
    folders = {p.parent.name for p in HOSTILE.glob("*/expected.yaml")}
    assert "programs" in folders
    assert folders <= RUNNERS, f"no runner for {folders - RUNNERS}: add one to this module"
    for folder in folders:
        on_disk = {p.name for p in (HOSTILE / folder).iterdir() if p.name != "expected.yaml"}
        listed = set(_load(folder))
        assert on_disk == listed, (on_disk - listed, listed - on_disk)


PROGRAMS = _load("programs")


def _warnings_only(name: str) -> bool:
    """The expected outcome is only warnings: the program is usable and `check` exits 0."""
    expected = PROGRAMS[name]
    return expected == "ok" or all(CODES[code].severity is Severity.WARNING for code in expected["codes"])


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_hostile_program(name):
    expected = PROGRAMS[name]
    path = HOSTILE / "programs" / name
    result = check_file(path)
    got = [(d.code, d.span.line, d.span.column) for d in result.diagnostics]

    if expected == "ok":
        assert got == [], got
        assert result.ok
        return

    assert set(expected) <= {"codes", "first", "count"}, expected
    assert all(code in CODES for code in expected["codes"])
    assert {code for code, _, _ in got} == set(expected["codes"]), got
    if "first" in expected:
        assert got[0][1:] == _line_col(expected["first"]), got
    if "count" in expected:
        assert len(got) == expected["count"], got
    assert result.ok == _warnings_only(name)
    for d in result.diagnostics:
        assert d.span.file == str(path)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_reports_on_hostile_programs_carry_no_control_characters(name):
    # a name full of terminal escapes or bidi overrides must not reach the terminal raw
    result = check_file(HOSTILE / "programs" / name)
    shown = render_all(result.diagnostics, result.text)
    bad = {ch for ch in shown if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")}
    assert not bad, sorted(map(hex, map(ord, bad)))
    diagnostics_json(result.diagnostics)  # JSON escapes them itself


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_loyalty_check_exits_1_or_0_and_never_shows_a_traceback(name):
    from click.testing import CliRunner

    from loyalty.cli import cli

    path = HOSTILE / "programs" / name
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == (0 if _warnings_only(name) else 1), result.output
    assert "Traceback" not in result.output
    if PROGRAMS[name] != "ok":
        first = PROGRAMS[name].get("first")
        assert f"{path}:{first}:" in result.output if first else str(path) in result.output
