"""Coverage-guided fuzzing of the front end with atheris (libFuzzer).

Property (fuzz/properties.py): for any bytes, decode + parse + check return diagnostics that are
registered, located inside the file and renderable; any exception is a finding.

    pip install -e '.[fuzz]'
    python fuzz/fuzz_parser.py -max_total_time=60 fuzz/corpus fuzz/seeds/programs examples/programs tests/hostile/programs

The first directory collects new interesting inputs (create it first); the others seed
the search. A crash writes crash-<hash> in the working directory: add it to
tests/hostile/programs/ with its expected outcome once fixed. CI runs the same property for a
bounded time without atheris (tests/test_fuzz.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    from properties import check_program_bytes


def main() -> None:
    atheris.Setup(sys.argv, check_program_bytes)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
