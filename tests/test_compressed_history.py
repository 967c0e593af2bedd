"""Compressed CSV histories (.gz, .bz2, .zst) read as the plain file; a broken one says so."""

import bz2
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from loyalty.cli import cli

REPO = Path(__file__).resolve().parents[1]
CAR_WASH = str(REPO / "examples/programs/car_wash.loyalty")
PLAIN = (REPO / "examples/histories/car_wash.csv").read_bytes()


def zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


COMPRESS = {".gz": gzip.compress, ".bz2": bz2.compress, ".zst": zstd}


def report(*args):
    result = CliRunner().invoke(cli, ["simulate", CAR_WASH, *map(str, args), "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def without_file(r):
    r["history"].pop("file")
    return r


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_a_compressed_history_gives_the_plain_files_report(tmp_path, suffix):
    path = tmp_path / f"sales.csv{suffix}"
    path.write_bytes(COMPRESS[suffix](PLAIN))
    packed = report(path)
    assert packed["history"]["file"] == str(path)
    assert without_file(packed) == without_file(report(REPO / "examples/histories/car_wash.csv"))


def test_a_grouped_compressed_history_streams_like_the_plain_one(tmp_path):
    header, *rows = PLAIN.decode().splitlines()
    grouped = "\n".join([header, *sorted(rows, key=lambda r: r.split(",")[0])]) + "\n"
    (tmp_path / "g.csv").write_text(grouped, encoding="utf-8")
    (tmp_path / "g.csv.gz").write_bytes(gzip.compress(grouped.encode()))
    packed = report(tmp_path / "g.csv.gz", "--grouped")
    assert packed["history"]["file"] == str(tmp_path / "g.csv.gz")
    assert without_file(packed) == without_file(report(tmp_path / "g.csv", "--grouped"))


@pytest.mark.parametrize("suffix,content,says", [
    (".gz", PLAIN, "not a readable gzip file"),  # plain text named .gz
    (".gz", gzip.compress(PLAIN)[:1500], "not a readable gzip file"),  # a truncated download
    (".bz2", b"BZh9garbage", "not a readable bzip2 file"),
    (".zst", PLAIN, "not a readable Zstandard file"),
])
def test_a_file_that_is_not_what_its_name_says_is_a_clear_error(tmp_path, suffix, content, says):
    path = tmp_path / f"sales.csv{suffix}"
    path.write_bytes(content)
    result = CliRunner().invoke(cli, ["simulate", CAR_WASH, str(path)])
    assert result.exit_code == 1
    assert f"{path}: {says}" in result.stderr and "UTF-8" not in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_row_in_a_compressed_file_is_named_by_that_file_and_its_line(tmp_path):
    path = tmp_path / "sales.csv.gz"
    path.write_bytes(gzip.compress(PLAIN.replace(b",495.00,", b",49x.00,", 1)))
    result = CliRunner().invoke(cli, ["simulate", CAR_WASH, str(path)])
    assert result.exit_code == 1
    assert f'{path}:3: column "amount": not a number' in result.stderr
    assert "loyalty-history-" not in result.stderr  # never the temporary file
