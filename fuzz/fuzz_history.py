"""Coverage-guided fuzzing of the history reader (CSV) with atheris (libFuzzer).

Property (fuzz/properties.py): any bytes read as a CSV history give a History or a HistoryError that
names the file and line; nothing else, and nothing on stderr.

    pip install -e '.[fuzz]'
    mkdir -p fuzz/corpus-histories
    python fuzz/fuzz_history.py -max_total_time=60 fuzz/corpus-histories fuzz/seeds/histories tests/hostile/histories
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    from properties import check_history_bytes

FOLDER = Path(tempfile.mkdtemp(prefix="loyalty-fuzz-"))


def one_input(data: bytes) -> None:
    check_history_bytes(data, FOLDER / "fuzz.csv", "stop")
    check_history_bytes(data, FOLDER / "fuzz.csv", "skip")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
