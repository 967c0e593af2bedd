"""`loyalty check`: exit codes, output on stderr/stdout, JSON shape, hostile files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"

VALID = """\
program "Cafe" {
  currency NOK
}
points "points" { cost 0.01 NOK each }
rule "base" { earn 1 point per 10 NOK }
reward "mug" is a perk
redeem 100 points for "mug"
"""

WITH_WARNING = """\
program "Cafe" {
  currency NOK
}
points "points"
rule "base" { earn 1 point per 10 NOK }
reward "mug" is a perk
redeem 100 points for "mug"
"""

WITH_ERROR = """\
program "Cafe" {
  currency NOK
}
points "points" { cost 0.01 NOK each }
rule "base" { earn 1 point per 10 USD }
reward "mug" is a perk
redeem 100 points for "mug"
"""


def run(*args: str):
    # stderr is kept apart so we can tell what goes where
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


@pytest.fixture
def write(tmp_path):
    def _write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    return _write


def test_valid_file_exits_0_with_a_summary(write):
    result = run(write("ok.loyalty", VALID))
    assert result.exit_code == 0
    assert "checked 1 file: 0 errors, 0 warnings" in result.stderr
    assert result.stdout == ""


def test_warnings_pass_unless_strict(write):
    path = write("warn.loyalty", WITH_WARNING)
    lenient = run(path)
    assert lenient.exit_code == 0
    assert "warning[LOY312]" in lenient.stderr
    strict = run("--strict", path)
    assert strict.exit_code == 1
    assert "1 file failed (--strict)" in strict.stderr


def test_error_exits_1_and_names_file_line_and_column(write):
    path = write("bad.loyalty", WITH_ERROR)
    result = run(path)
    assert result.exit_code == 1
    assert f"{path}:5:35: error[LOY202]: 10 USD is not in the program's currency, NOK" in result.stderr
    assert "^^^" in result.stderr  # the caret under the currency
    assert "hint:" in result.stderr


def test_one_bad_file_among_good_ones_fails_the_run(write):
    result = run(write("a.loyalty", VALID), write("b.loyalty", WITH_ERROR))
    assert result.exit_code == 1
    assert "checked 2 files: 1 error, 0 warnings; 1 file failed" in result.stderr


def test_json_output_shape(write):
    good, bad = write("a.loyalty", VALID), write("b.loyalty", WITH_ERROR)
    result = run("--format", "json", good, bad)
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["format"] == "loyalty-check/1" and out["loyalty_version"]
    documents = out["files"]
    assert [d["file"] for d in documents] == [good, bad]
    assert [d["ok"] for d in documents] == [True, False]
    assert documents[0]["diagnostics"] == []
    (diag,) = documents[1]["diagnostics"]
    assert diag["code"] == "LOY202"
    assert diag["severity"] == "error"
    assert (diag["line"], diag["column"], diag["end_line"], diag["end_column"]) == (5, 35, 5, 38)
    assert diag["file"] == bad
    assert "hint" in diag


def test_json_strict_marks_warnings_as_failing(write):
    result = run("--format", "json", "--strict", write("w.loyalty", WITH_WARNING))
    assert result.exit_code == 1
    (doc,) = json.loads(result.stdout)["files"]
    assert doc["ok"] is False
    assert doc["diagnostics"][0]["severity"] == "warning"


def test_missing_file_is_a_usage_error(tmp_path):
    result = run(str(tmp_path / "nope.loyalty"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_no_file_is_a_usage_error():
    assert run().exit_code == 2


def test_directory_without_programs_is_a_usage_error(tmp_path):
    result = run(str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory with no .loyalty programs" in result.stderr


def test_binary_file_gives_a_located_diagnostic_not_a_traceback(write):
    result = run(write("bin.loyalty", b'program "x" {\n  currency NOK\xff\xfe\n}\n'))
    assert result.exit_code == 1
    assert "error[LOY007]" in result.stderr
    assert ":2:15:" in result.stderr  # the first bad byte
    assert "Traceback" not in result.stderr + result.stdout


def test_empty_file_reports_the_missing_program(write):
    result = run(write("empty.loyalty", ""))
    assert result.exit_code == 1
    assert "error[LOY104]" in result.stderr


def test_help_shows_an_example():
    result = CliRunner().invoke(cli, ["check", "--help"])
    assert result.exit_code == 0
    assert "loyalty check examples/programs/" in result.output


def test_examples_pass_strict():
    programs = sorted((REPO / "examples" / "programs").glob("*.loyalty"))
    assert len(programs) >= 12
    result = run("--strict", *map(str, programs))
    assert result.exit_code == 0, result.stderr


def test_installed_command_has_no_traceback_on_binary_and_directory(tmp_path):
    binary = tmp_path / "x.loyalty"
    binary.write_bytes(bytes(range(256)))
    exe = Path(sys.executable).parent / "loyalty"
    empty = tmp_path / "empty"
    empty.mkdir()
    for target, code in ((binary, 1), (empty, 2)):
        proc = subprocess.run([str(exe), "check", str(target)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == code
        assert "Traceback" not in proc.stderr + proc.stdout


def test_colour_only_on_a_terminal(write):
    result = run(write("bad.loyalty", WITH_ERROR))
    assert "\x1b[" not in result.stderr
