"""Every hostile YAML file in tests/hostile/yaml/ is refused with its expected message and place.

`X.test.yaml` runs as a program's scenario tests (`loyalty test`), `X.assumptions.yaml` as the scenario file of
`loyalty simulate --scenario`. Each must exit 1, never show a traceback, and name the file, line and column.
The format of expected.yaml is explained at its top; test_hostile_corpus.py checks that every file in the folder
has an entry. The alias bombs run in a subprocess with a memory cap (`capped: true`), so a regression that
expands one fails by running out of memory instead of taking the machine's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loyalty.cli import cli

FOLDER = Path(__file__).resolve().parent / "hostile" / "yaml"
with open(FOLDER / "expected.yaml", encoding="utf-8") as _f:
    EXPECTED: dict = yaml.safe_load(_f)
CASES = sorted(name for name, entry in EXPECTED.items() if entry not in ("program", "history"))
SRC = Path(__file__).resolve().parents[1] / "src"


def _cap(memory_mb: int, cpu_seconds: int):
    resource = pytest.importorskip("resource")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))

    return limit


def run_case(name: str, tmp_path: Path) -> tuple[str, str, int]:
    """(the file the messages name, the command's output, its exit code). A `capped` case runs the command in
    a subprocess with 600 MB of address space (a simulation needs ~300 MB): a reader that expanded an alias
    bomb would die there of MemoryError (exit 3) instead of taking the machine's memory."""
    if name.endswith(".test.yaml"):
        shutil.copy(FOLDER / "program.loyalty", tmp_path / "case.loyalty")
        shutil.copy(FOLDER / name, tmp_path / "case.test.yaml")
        file, args = str(tmp_path / "case.test.yaml"), ["test", str(tmp_path / "case.loyalty")]
    else:
        assert name.endswith(".assumptions.yaml"), name
        file = str(FOLDER / name)
        args = ["simulate", str(FOLDER / "program.loyalty"), str(FOLDER / "history.csv"), "--scenario", file,
                "--jobs", "1", "--format", "json"]
    if EXPECTED[name].get("capped"):
        done = subprocess.run([sys.executable, "-m", "loyalty.cli", *args], capture_output=True, text=True,
                              preexec_fn=_cap(600, 60), timeout=600, env={**os.environ, "PYTHONPATH": str(SRC)})
        return file, done.stdout + done.stderr, done.returncode
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return file, result.output, result.exit_code


def test_every_entry_is_an_outcome_this_runner_knows():
    for name in CASES:
        assert name.endswith((".test.yaml", ".assumptions.yaml")), name
        assert set(EXPECTED[name]) <= {"at", "says", "hint", "capped"} and {"at", "says"} <= set(EXPECTED[name]), name


@pytest.mark.parametrize("name", CASES)
def test_hostile_yaml_is_refused_at_its_place(name, tmp_path):
    want = EXPECTED[name]
    file, output, code = run_case(name, tmp_path)
    assert code == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    lines = output.splitlines()
    prefix = f"{file}:{want['at']}: "
    found = [i for i, line in enumerate(lines) if prefix in line]
    assert found, (prefix, output)
    assert want["says"] in lines[found[0]], output
    if "hint" in want:
        assert found[0] + 1 < len(lines) and lines[found[0] + 1].strip().startswith("= hint:"), output
        assert want["hint"] in lines[found[0] + 1], output
    if name.endswith(".test.yaml"):
        assert "0 passed, 0 failed, 1 could not run" in output, output
