"""What must hold for any input, shared by the atheris harnesses (fuzz_*.py) and the bounded fuzz run in CI
(tests/test_fuzz.py). Any exception other than the documented refusal is a finding."""

from __future__ import annotations

import re
import sys
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"
PROGRAM_FILE = "fuzz.loyalty"


def check_program_bytes(data: bytes) -> None:
    """decode + parse + check give diagnostics that are registered, located inside the file and renderable."""
    from loyalty import diagnostics
    from loyalty.diagnostics import CODES
    from loyalty.frontend import check_text, decode_source

    text, problems = decode_source(data, PROGRAM_FILE)
    if text is None:
        assert [d.code for d in problems] == ["LOY007"], problems
        return
    result = check_text(text, PROGRAM_FILE)
    lines = text.split("\n")
    for d in result.diagnostics:
        assert d.code in CODES, d
        assert 1 <= d.span.line <= len(lines), d
        assert 1 <= d.span.column <= len(lines[d.span.line - 1]) + 1, d
        diagnostics.render(d, text)
    if result.program is None:
        assert diagnostics.has_errors(result.diagnostics), "a failed parse must say why"


_LOCATED = re.compile(r"^(?P<file>.+?)(?::(?P<line>\d+))?: ")


def check_history_bytes(data: bytes, path: Path, on_bad_row: str = "stop") -> None:
    """Reading any bytes as a CSV history gives a History or a HistoryError that names the file (and a line
    of the file when it names one); nothing is written to stderr by the way (no "Exception ignored")."""
    from loyalty.simulate.history import HistoryError, ReadOptions, read_history

    path.write_bytes(data)
    unraisable: list = []
    previous = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        history = read_history(path, ReadOptions(timezone="Europe/Oslo", on_bad_row=on_bad_row))
    except HistoryError as err:
        found = _LOCATED.match(err.message)
        assert found and found.group("file") == str(path), err.message
        if found.group("line") is not None:
            assert 1 <= int(found.group("line")) <= data.count(b"\n") + data.count(b"\r") + 1, err.message
        if err.line is not None:
            assert err.line >= 1, err.message
    else:
        assert len(history) >= 0
        if on_bad_row == "skip":
            assert sum(history.skipped.values()) >= len(history.bad_rows)
    finally:
        sys.unraisablehook = previous
    assert unraisable == [], [u.exc_value for u in unraisable]


def seeds(kind: str) -> list[bytes]:
    """The checked-in corpus: fuzz/seeds/programs or fuzz/seeds/histories."""
    return [p.read_bytes() for p in sorted((SEEDS / kind).iterdir()) if p.is_file()]
