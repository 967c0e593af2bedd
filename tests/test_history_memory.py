"""The read's peak memory (simulate/history.py `build_history`): the checks' own arrays (a dozen of a row's size)
are gone before the sort copies the columns, and the sort lets go of each column once its sorted copy is made.
Each holds ~8 MB per 1M rows; kept to the end of the sort, they raised the read's peak by ~90 MB."""

from __future__ import annotations

import sys
import weakref

import numpy as np

from loyalty.simulate import history as history_module
from loyalty.simulate.history import ReadOptions, build_history

HEADER = ["member", "time", "type", "order", "item", "category", "quantity", "amount", "store", "channel"]


def _cols(rows: int) -> dict:
    # in time order, members interleaved (as an export is): the sort moves every column
    members = [f"M{(k * 7) % 13:02d}" for k in range(rows)]
    times = [f"2024-03-{1 + k // 24:02d}T{k % 24:02d}:00" for k in range(rows)]
    values = {"member": members, "time": times, "type": ["purchase"] * rows, "order": [str(k) for k in range(rows)],
              "item": ["wash"] * rows, "category": [None] * rows, "quantity": ["2"] * rows,
              "amount": [f"{10 + k % 5}.50" for k in range(rows)], "store": ["S1"] * rows, "channel": [None] * rows}
    return {h: values[h] for h in HEADER}


def test_the_sort_starts_without_the_checks_arrays_and_lets_each_column_go(monkeypatch):
    rows = 200
    sort = history_module._sorted_table
    seen: dict = {}

    def watched(columns, timezone):
        # every array of the rows' size still held by the caller (build_history) is one of the columns
        caller = sys._getframe(1).f_locals
        held = [name for name, value in caller.items() if isinstance(value, np.ndarray) and len(value) == rows]
        seen["held by the caller"] = held
        inputs = {k: weakref.ref(v) for k, v in columns.items() if isinstance(v, np.ndarray)}
        table = sort(columns, timezone)
        seen["columns alive after the sort"] = sorted(k for k, ref in inputs.items() if ref() is not None)
        seen["inputs"] = sorted(inputs)
        return table

    monkeypatch.setattr(history_module, "_sorted_table", watched)
    h = build_history(_cols(rows), "h.csv", 2, ReadOptions())
    assert seen["held by the caller"] == []
    assert {"amount", "quantity", "row"} <= set(seen["inputs"])
    assert seen["columns alive after the sort"] == []
    # and the history is the sorted one
    member = h.member
    assert member == sorted(member) and len(h) == rows
    assert h.quantity == [2] * rows
    by_member = sorted(range(rows), key=lambda k: ((k * 7) % 13, k))
    assert h.amount == [(10 + k % 5) * 100 + 50 for k in by_member]
    assert h.row == [k + 2 for k in by_member]


def test_a_command_that_reads_a_history_whole_keeps_freed_memory(monkeypatch):
    """`prefer_system_allocator` (simulate, compare, explain, sweep, migrate-check) also tells glibc's malloc to keep
    freed memory (`keep_freed_memory`); a user's own malloc tuning stands."""
    import ctypes

    from loyalty.commands import _common

    calls = []
    monkeypatch.setattr(_common, "keep_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")  # (the pool's choice is tested in test_scale_jobs)
    _common.prefer_system_allocator()
    assert calls == [1]
    monkeypatch.undo()

    glibc = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    for name in ("GLIBC_TUNABLES", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    assert _common.keep_freed_memory() is glibc
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0")
    assert _common.keep_freed_memory() is False
