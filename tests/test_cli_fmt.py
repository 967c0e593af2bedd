"""`loyalty fmt`: in-place rewrite, --check, --diff, standard input, and what happens to
files that cannot be formatted."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.fileio import write_atomic

MESSY = 'program "Shop" { currency NOK }\nrule "r" { earn 1 points per 10 NOK   # base rate\n}\npoints "points" { cost 0.01 NOK each }\n'
TIDY = (
    'program "Shop" {\n'
    "  currency NOK\n"
    "}\n"
    "\n"
    'rule "r" {\n'
    "  earn 1 points per 10 NOK  # base rate\n"
    "}\n"
    "\n"
    'points "points" {\n'
    "  cost 0.01 NOK each\n"
    "}\n"
)


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, ["fmt", *args], input=input, catch_exceptions=False)


@pytest.fixture
def files(tmp_path):
    messy = tmp_path / "messy.loyalty"
    tidy = tmp_path / "tidy.loyalty"
    messy.write_text(MESSY, encoding="utf-8")
    tidy.write_text(TIDY, encoding="utf-8")
    return messy, tidy


def test_rewrites_files_in_place_and_reports_which(files):
    messy, tidy = files
    tidy_mtime = tidy.stat().st_mtime_ns
    result = run(str(messy), str(tidy))
    assert result.exit_code == 0
    assert messy.read_text(encoding="utf-8") == TIDY
    assert result.output == f"reformatted {messy}\n"
    assert tidy.stat().st_mtime_ns == tidy_mtime  # an unchanged file is not rewritten
    assert run(str(messy)).output == ""  # a second run has nothing to do


def test_check_writes_nothing_and_fails_when_a_file_needs_formatting(files):
    messy, tidy = files
    result = run("--check", str(messy), str(tidy))
    assert result.exit_code == 1
    assert result.output == f"would reformat {messy}\n"
    assert messy.read_text(encoding="utf-8") == MESSY
    assert run("--check", str(tidy)).exit_code == 0


def test_diff_prints_a_unified_diff_and_writes_nothing(files):
    messy, _ = files
    result = run("--diff", str(messy))
    assert result.exit_code == 0
    assert messy.read_text(encoding="utf-8") == MESSY
    lines = result.output.splitlines()
    assert lines[0] == f"--- {messy}"
    assert lines[1] == f"+++ {messy} (formatted)"
    assert "-rule \"r\" { earn 1 points per 10 NOK   # base rate" in lines
    assert "+  earn 1 points per 10 NOK  # base rate" in lines
    assert "+  cost 0.01 NOK each" in lines


def test_diff_and_check_together_fail_on_changes(files):
    messy, _ = files
    result = run("--diff", "--check", str(messy))
    assert result.exit_code == 1
    assert result.output.startswith(f"--- {messy}")


def test_stdin_to_stdout():
    result = run("-", input=MESSY.encode("utf-8"))
    assert result.exit_code == 0
    assert result.output == TIDY
    assert run("--check", "-", input=MESSY.encode()).exit_code == 1
    assert run("--check", "-", input=TIDY.encode()).exit_code == 0


def test_stdin_must_be_the_only_file(files):
    messy, _ = files
    result = run("-", str(messy))
    assert result.exit_code == 2
    assert "only FILE" in result.output


def test_a_syntax_error_leaves_the_file_untouched_and_exits_1(files, tmp_path):
    messy, _ = files
    broken = tmp_path / "broken.loyalty"
    text = 'rule "r" {\n  earn 10\n}\n'
    broken.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["fmt", str(broken), str(messy)])
    assert result.exit_code == 1
    assert broken.read_text(encoding="utf-8") == text
    assert f"{broken}:3:1: error[LOY001]" in result.output  # diagnostics name the place
    # the other file is still formatted
    assert messy.read_text(encoding="utf-8") == TIDY


def test_a_file_that_is_not_utf8_gets_loy007(tmp_path):
    latin1 = tmp_path / "latin1.loyalty"
    latin1.write_bytes('segment "caf\u00e9"\n'.encode("latin-1"))
    result = CliRunner().invoke(cli, ["fmt", str(latin1)])
    assert result.exit_code == 1
    assert "LOY007" in result.output
    assert latin1.read_bytes() == 'segment "caf\u00e9"\n'.encode("latin-1")


def test_a_missing_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["fmt", str(tmp_path / "nope.loyalty")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_help_shows_examples():
    result = run("--help")
    assert result.exit_code == 0
    assert "loyalty fmt --check" in result.output
    assert "Examples:" in result.output


def test_a_byte_order_mark_and_windows_line_endings_are_normalised(tmp_path):
    path = tmp_path / "bom.loyalty"
    path.write_bytes(b'\xef\xbb\xbfsegment "s"\r\n')
    assert run("--check", str(path)).exit_code == 1
    assert run(str(path)).exit_code == 0
    assert path.read_bytes() == b'segment "s"\n'


# ------------------------------------------------------------------ write_atomic


def test_write_atomic_replaces_content_and_keeps_permissions(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o640)
    write_atomic(path, "new \u00e9")
    assert path.read_text(encoding="utf-8") == "new \u00e9"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]  # no temporary file left


def test_write_atomic_creates_a_new_file_with_default_permissions(tmp_path):
    path = tmp_path / "new.bin"
    write_atomic(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_write_atomic_writes_through_a_symlink(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8") == "new"


def test_write_atomic_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "keep.txt"
    path.write_text("old", encoding="utf-8")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write_atomic(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
