"""Histories that used to crash the reader (exit 3, or a Python warning on stderr) stop with a located message
and exit 1, and nothing else on stderr; Parquet BINARY text columns read as text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "tests" / "hostile" / "histories" / "oslo.loyalty"


def _simulate(history: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "loyalty.cli", "simulate", str(PROGRAM), str(history), "--jobs", "1",
                           "--format", "json", *extra], env=env, capture_output=True, timeout=300)


def _only_the_error(done: subprocess.CompletedProcess, starts: str) -> str:
    stderr = done.stderr.decode("utf-8")
    assert done.returncode == 1, stderr
    lines = stderr.splitlines()
    assert lines[0].startswith(f"loyalty: error: {starts}"), stderr
    assert all(line.startswith("  = hint: ") for line in lines[1:]), stderr  # nothing else: no warning, no traceback
    return lines[0]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("grouped", [False, True], ids=["whole", "grouped"])
def test_cr_only_line_ends_are_a_located_error(tmp_path, grouped):
    path = _write(tmp_path, "cr.csv", b"member,time,amount\rm1,2025-01-02,10.00\rm2,2025-01-03,5.00\r")
    message = _only_the_error(_simulate(path, *(["--grouped"] if grouped else [])), f"{path}:1: ")
    assert "carriage return" in message


def test_a_header_field_over_128_kib_is_a_located_error(tmp_path):
    path = _write(tmp_path, "wide.csv", b"member,time,amount," + b"x" * (140 * 1024) + b"\nm1,2025-01-02,10.00,1\n")
    message = _only_the_error(_simulate(path), f"{path}:1: column 4 of the header")
    assert "143360 characters" in message


def test_a_data_field_over_128_kib_in_an_irregular_file_is_read(tmp_path):
    # a blank line sends the file to the careful reader (Python's csv module, whose default limit is 128 KiB)
    path = _write(tmp_path, "long.csv", b"member,time,amount,item\n\nm1,2025-01-02,10.00," + b"x" * (140 * 1024) + b"\n")
    done = _simulate(path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["headline"]["members"] == 1


@pytest.mark.parametrize("grouped", [False, True], ids=["whole", "grouped"])
def test_a_ragged_row_that_is_not_utf8_is_a_located_error_without_a_warning(tmp_path, grouped):
    path = _write(tmp_path, "rag.csv", b"member,time,amount,item\nm0,2025-01-01,1.00,tea\n"
                                       b"m1,2025-01-02,10.00,caf\xe9,extra\n")
    message = _only_the_error(_simulate(path, *(["--grouped"] if grouped else [])), f"{path}:3: ")
    assert "5 fields where the header has 4" in message


def test_a_ragged_row_that_is_not_utf8_is_skipped_and_counted(tmp_path):
    path = _write(tmp_path, "rag.csv", b"member,time,amount,item\nm0,2025-01-01,1.00,tea\n"
                                       b"m1,2025-01-02,10.00,caf\xe9,extra\nm2,2025-01-02,3.00,caf\xe9\n")
    done = _simulate(path, "--on-bad-row", "skip")
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    report = json.loads(done.stdout)
    assert report["headline"]["members"] == 1
    assert report["history"]["skipped_by_reason"] == {"item: not valid UTF-8": 1, "row: 5 fields where the header has 4": 1}


def _binary_parquet(path: Path, members: list[bytes]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"member": pa.array(members, pa.binary()),
                      "time": pa.array([b"2025-01-02T10:00:00"] * len(members), pa.binary()),
                      "amount": pa.array([b"10.00"] * len(members), pa.binary()),
                      "item": pa.array([b"caf\xc3\xa9"] * len(members), pa.large_binary())})
    pq.write_table(table, path)
    return path


def test_parquet_binary_text_columns_read_as_text(tmp_path):
    from loyalty.simulate.history import read_history

    history = read_history(_binary_parquet(tmp_path / "h.parquet", [b"m1", b"m2"]))
    assert sorted(set(history.column("member"))) == ["m1", "m2"]
    assert set(history.column("item")) == {"café"}


def test_parquet_binary_that_is_not_utf8_is_a_located_error(tmp_path):
    path = _binary_parquet(tmp_path / "h.parquet", [b"m1", b"m\xff2"])
    message = _only_the_error(_simulate(path), f"{path}:2: ")
    assert 'column "member": not valid UTF-8 (byte 0xff at byte 2 of the value)' in message
