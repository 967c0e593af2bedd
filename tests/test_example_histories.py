"""Every example program has a small history to try it on (examples/histories/), made by the
command examples/histories/README.md shows, and `loyalty simulate` runs on each cleanly."""

from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = sorted((ROOT / "examples" / "programs").glob("*.loyalty"))
HISTORIES = ROOT / "examples" / "histories"
MAX_ROWS = 2000  # small enough to check in and to read


def _documented_commands() -> dict[str, list[str]]:
    """The `loyalty generate` lines of examples/histories/README.md, by the history they write."""
    commands = {}
    for line in (HISTORIES / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("loyalty generate "):
            words = shlex.split(line)[1:]
            output = words[words.index("-o") + 1]
            commands[Path(output).stem] = words
    return commands


def test_every_example_program_has_a_history_and_a_documented_command():
    names = {p.stem for p in PROGRAMS}
    assert names == {p.stem for p in HISTORIES.glob("*.csv")}
    assert names == set(_documented_commands())


@pytest.mark.parametrize("name", sorted(_documented_commands()))
def test_history_is_what_its_documented_command_makes(name, tmp_path, monkeypatch):
    words = _documented_commands()[name]
    out = tmp_path / f"{name}.csv"
    words[words.index("-o") + 1] = str(out)
    monkeypatch.chdir(ROOT)  # the command names the program relative to the repository root
    result = CliRunner().invoke(cli, words, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (HISTORIES / f"{name}.csv").read_bytes()


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_simulate_runs_cleanly_on_each_example_history(program):
    history = HISTORIES / f"{program.stem}.csv"
    with history.open(encoding="utf-8", newline="") as f:
        rows = sum(1 for _ in csv.reader(f)) - 1
    assert 0 < rows <= MAX_ROWS
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # every row of the history was read (none skipped as bad) and no event was rejected
    assert report["history"]["rows"] == rows and report["history"]["skipped_rows"] == 0, report["history"]
    assert report["rejected_events"] in ([], {}, 0), report["rejected_events"]
    assert report["headline"]["orders"] > 0
