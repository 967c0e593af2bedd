"""Histories whose text columns hold 2 GiB or more (history.py `_one_array`).

Arrow's string arrays address their bytes with 32-bit offsets, so a column of a long history (~100M rows of
long member ids, order ids or times) cannot be one string array: the readers get it in chunks, and putting
them together failed with an internal error (ArrowInvalid: offset overflow). Such a column is now
dictionary-encoded over its chunks, each distinct value once; one whose distinct values alone hold 2 GiB is
a clear error that names the file and column.

The large cases are built from chunks that share one small buffer (Arrow does not copy them), so a column of
more than 2 GiB costs ~1 MiB here; the readers of files are checked with the limit lowered.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.simulate import history as history_module
from loyalty.simulate.history import (ReadOptions, TextTooLarge, build_history, decode_columns, history_from_table,
                                      read_history)

PROGRAM = Path(__file__).parent.parent / "examples" / "programs" / "car_wash.loyalty"
PER_CHUNK = 16
WIDE = 1 << 16  # each value 64 KiB: 2 GiB in ~33k rows


def _shared_chunks(values: list[str], kind=pa.string()):
    """A chunked column of more than 2 GiB of text made of one ~1 MiB array repeated (no copy)."""
    chunk = pa.array([v.encode() for v in values] if kind == pa.binary() else values, kind)
    repeat = (1 << 31) // max(chunk.nbytes, 1) + 2
    return pa.chunked_array([chunk] * repeat)


def _padded(text: str) -> str:
    return text + " " * (WIDE - len(text))  # trimmed away when read: the value is `text`


def _columns(kind=pa.string()):
    members = [chr(ord("A") + i) * WIDE for i in range(PER_CHUNK)]
    return {
        "member": _shared_chunks(members, kind),
        "time": _shared_chunks([_padded(f"2024-01-{i + 1:02d}T10:00:00") for i in range(PER_CHUNK)], kind),
        "amount": _shared_chunks([_padded("12.50")] * PER_CHUNK, kind),
        "order": _shared_chunks([_padded(f"order-{i}") for i in range(PER_CHUNK)], kind),
    }, members


def _check(h, members: list[str]) -> None:
    rows = len(h)
    assert rows > (1 << 31) // (PER_CHUNK * WIDE)
    member = h.table.column("member").chunk(0)
    assert sorted(member.dictionary.to_pylist()) == members  # each id once
    assert h.values_of("member", h.code_array("member")[[0, -1]]) == [members[0], members[-1]]  # sorted by member
    assert set(h.amount) == {1250}
    assert set(h.values_of("order", sorted(set(h.code_array("order").tolist())))) == {f"order-{i}" for i in
                                                                                      range(PER_CHUNK)}
    first = h.code_array("member") == h.code_array("member")[0]
    assert {h.column("time")[i] for i in first.nonzero()[0][:3]} == {
        (dt.datetime(2024, 1, 1, 10) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)}


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.binary(), pa.large_binary()])
def test_a_table_with_more_than_2_gib_in_its_text_columns_is_read(kind):
    """A DataFrame's table (polars gives large_string), or a Parquet file's."""
    cols, members = _columns(pa.binary() if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) else
                             pa.string())
    _check(history_from_table(pa.table({k: v.cast(kind) for k, v in cols.items()}), "frame"), members)


@pytest.mark.parametrize("kind", [pa.large_string(), pa.large_binary()])
def test_one_large_array_over_the_limit_reads_as_under_it(monkeypatch, kind):
    """One array of 64-bit offsets (not chunks) over the limit: a polars frame's column, in one piece. Its bytes
    cannot be shared as chunks' can, so the limit is lowered instead."""
    table = pa.table({"member": pa.array([f"member-{i % 40:04d}" for i in range(2000)], kind),
                      "time": pa.array([f"2024-03-{i % 28 + 1:02d} 12:00" for i in range(2000)], kind),
                      "amount": pa.array([f"{i % 50}.5" for i in range(2000)], kind)})
    before = history_from_table(table, "frame")
    monkeypatch.setattr(history_module, "_TEXT_LIMIT", 10_000)
    _same(before, history_from_table(table, "frame"))


def test_byte_columns_of_more_than_2_gib_are_decoded_and_read():
    """The careful CSV reader's columns: bytes, checked for UTF-8 (`decode_columns`)."""
    cols, members = _columns(pa.binary())
    text, lines, skipped, _ = decode_columns(cols, None, 2, "h.csv", ReadOptions())
    assert not skipped
    _check(build_history(text, "h.csv", 2, ReadOptions(), lines=lines), members)


def _same(a, b) -> None:
    for name in ("member", "time", "amount", "type", "order", "item", "quantity", "row"):
        assert a.column(name) == b.column(name), name


@pytest.mark.parametrize("careful", [False, True])
def test_a_csv_file_over_the_limit_reads_as_under_it(tmp_path, monkeypatch, careful):
    """The readers of files, the limit lowered below the member column's text (several of Arrow's 1 MiB blocks)
    but above its distinct values: the same history. `careful`: a blank line sends the file to the careful
    reader (byte columns, `decode_columns`)."""
    rows = ["member,time,amount,order,item"]
    for i in range(60_000):
        rows.append(f"member-with-a-long-id-{i % 500:05d},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}T{i % 24:02d}:00:00,"
                    f"{'1e2' if i % 997 == 0 else f'{i % 90 + 1}.25'},o{i},item-{i % 7}")  # 1e2: parsed per row
        if careful and i == 30_000:
            rows.append("")
    path = tmp_path / "h.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = read_history(path)
    monkeypatch.setattr(history_module, "_TEXT_LIMIT", 1 << 20)
    after = read_history(path)
    assert history_module._text_bytes(pa.array([r.split(",")[0] for r in rows[1:]])) > history_module._TEXT_LIMIT
    _same(before, after)
    assert after.skipped == before.skipped


def test_distinct_values_over_the_limit_are_a_located_error(tmp_path, monkeypatch):
    path = tmp_path / "h.csv"
    path.write_text("member,time,amount\n" + "".join(f"m{i:06d},2024-01-01T10:00,1.00\n" for i in range(300_000)),
                    encoding="utf-8")
    monkeypatch.setattr(history_module, "_TEXT_LIMIT", 1 << 20)
    with pytest.raises(TextTooLarge, match=r'h\.csv: column "member": its 300000 distinct values hold'):
        read_history(path)
    result = CliRunner().invoke(cli, ["simulate", str(PROGRAM), str(path)])
    assert result.exit_code == 1, result.output
    assert 'column "member"' in result.output and "--grouped" in result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
