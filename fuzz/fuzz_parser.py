"""Coverage-guided fuzzing of the front end with atheris (libFuzzer).

Property: for any bytes, decode + parse + check return diagnostics that are registered,
located inside the file and renderable; any exception is a finding.

    pip install -e '.[fuzz]'
    python fuzz/fuzz_parser.py -max_total_time=60 fuzz/corpus examples/programs tests/hostile/programs

The first directory collects new interesting inputs (create it first); the others seed
the search. A crash writes crash-<hash> in the working directory: add it to
tests/hostile/programs/ with its expected outcome once fixed.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from loyalty import diagnostics
    from loyalty.diagnostics import CODES
    from loyalty.frontend import check_text, decode_source

FILE = "fuzz.loyalty"


def test_one_input(data: bytes) -> None:
    text, problems = decode_source(data, FILE)
    if text is None:
        assert [d.code for d in problems] == ["LOY007"], problems
        return
    result = check_text(text, FILE)
    lines = text.split("\n")
    for d in result.diagnostics:
        assert d.code in CODES, d
        assert 1 <= d.span.line <= len(lines), d
        assert 1 <= d.span.column <= len(lines[d.span.line - 1]) + 1, d
        diagnostics.render(d, text)
    if result.program is None:
        assert diagnostics.has_errors(result.diagnostics), "a failed parse must say why"


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
