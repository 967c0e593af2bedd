"""Golden tests: annotated invalid programs.

Each file under tests/golden/invalid/ marks every line that must produce a
diagnostic with a comment `# expect: LOY201` (several codes comma-separated).
The set of (line, code) the frontend reports must equal the annotated set: a
missing diagnostic and an unexpected one both fail. Files under
tests/golden/valid/ must produce no diagnostic at all. A file that does not
parse annotates one line: the first syntax error (recovery may add more after it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loyalty.diagnostics import CODES
from loyalty.frontend import check_text

GOLDEN = Path(__file__).parent / "golden"
INVALID = sorted((GOLDEN / "invalid").glob("*.loyalty"))
VALID = sorted((GOLDEN / "valid").glob("*.loyalty"))

_EXPECT = re.compile(r"#\s*expect:\s*(LOY\d{3}(?:\s*,\s*LOY\d{3})*)(?:\s+@(\d+))?(?:\s+\"([^\"]*)\")?\s*$")

# produced programmatically in tests/test_checker.py (a file cannot be invalid UTF-8 and
# still be read here as text; a 5 MB file does not belong in the repository)
PROGRAMMATIC = {"LOY007", "LOY401"}


def expected_pairs(text: str) -> set[tuple[int, str]]:
    pairs = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            for code in match.group(1).split(","):
                pairs.add((number, code.strip()))
    return pairs


def expected_details(text: str) -> list[tuple[int, str, int | None, str | None]]:
    """The annotations that also pin the column (`@20`) or words of the message or hint (`"write 5000 NOK"`)
    of their (single) code: `# expect: LOY001 @20 "write 5000 NOK"`."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _EXPECT.search(line)
        if match and (match.group(2) or match.group(3)):
            column = int(match.group(2)) if match.group(2) else None
            out.append((number, match.group(1).strip(), column, match.group(3)))
    return out


def test_annotation_parser_reads_columns_and_words():
    text = 'rule "x" { }  # expect: LOY001 @12 "write 0.10 NOK"\nrule "y" { }  # expect: LOY301\n'
    assert expected_pairs(text) == {(1, "LOY001"), (2, "LOY301")}
    assert expected_details(text) == [(1, "LOY001", 12, "write 0.10 NOK")]


def test_annotation_parser_reads_several_codes():
    text = 'rule "x" { }  # expect: LOY301, LOY309\nprogram "p" { }\n# expect: LOY104'
    assert expected_pairs(text) == {(1, "LOY301"), (1, "LOY309"), (3, "LOY104")}


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_program_reports_exactly_the_annotated_diagnostics(path: Path):
    text = path.read_text(encoding="utf-8")
    expected = expected_pairs(text)
    assert expected, f"{path.name} has no `# expect:` annotation"
    assert {code for _, code in expected} <= set(CODES), "annotations name unregistered codes"
    result = check_text(text, path.name)
    # syntax errors too are pinned exactly: the parser reports one per broken declaration
    reported = {(d.span.line, d.code) for d in result.diagnostics}
    missing = sorted(expected - reported)
    unexpected = sorted(reported - expected)
    details = "\n".join(f"  {d.span}: {d.code} {d.message}" for d in result.diagnostics)
    assert not missing and not unexpected, (
        f"{path.name}: missing {missing}, unexpected {unexpected}\nreported:\n{details}"
    )
    assert all(d.span.file == path.name for d in result.diagnostics)
    for line, code, column, words in expected_details(text):
        found = [d for d in result.diagnostics if (d.span.line, d.code) == (line, code)]
        assert any((column is None or d.span.column == column)
                   and (words is None or words in f"{d.message} {d.hint or ''}") for d in found), (
            f"{path.name}:{line}: no {code} at column {column} saying {words!r}\nreported:\n{details}")


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_program_has_no_diagnostics(path: Path):
    text = path.read_text(encoding="utf-8")
    result = check_text(text, path.name)
    assert result.ok
    assert result.diagnostics == [], "\n".join(f"{d.span}: {d.code} {d.message}" for d in result.diagnostics)


def test_every_code_has_a_golden_file():
    covered = set()
    for path in INVALID:
        covered |= {code for _, code in expected_pairs(path.read_text(encoding="utf-8"))}
    missing = sorted(set(CODES) - covered - PROGRAMMATIC)
    assert not missing, f"codes without a golden test: {missing}"
