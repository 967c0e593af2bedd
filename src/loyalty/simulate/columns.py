"""numpy views of Arrow arrays, and Arrow arrays of numpy ones, that never import pandas.

pyarrow's own conversions (`pa.array`, `pa.scalar`, `Array.to_numpy`, `np.asarray(array)`, and
compute functions given a Python value such as `pc.equal(x, 0)` or `fill_null(-1)`) import pandas
when it is installed, to check for pandas types: about 0.5 s of CPU on every `loyalty simulate`
that touches them, for nothing. These go through the buffers instead (zero-copy where Arrow's
layout is numpy's). Measured in docs/performance.md, "Reading histories".
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyarrow as pa

_NUMPY = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
          pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
          pa.float32(): np.float32, pa.float64(): np.float64, pa.timestamp("us"): np.int64}


def _one(array):
    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks()
    return array


def _bits(buffer, offset: int, n: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little", count=offset + n)
    return bits[offset:].astype(bool)


def valid(array) -> np.ndarray:
    """True where the array holds a value (numpy bool)."""
    array = _one(array)
    n = len(array)
    if array.null_count == 0:
        return np.ones(n, dtype=bool)
    if array.null_count == n:
        return np.zeros(n, dtype=bool)
    return _bits(array.buffers()[0], array.offset, n)


def numbers(array, fill=0) -> np.ndarray:
    """A bool or numeric array as numpy (int64 for integers and timestamps), `fill` where null.
    A view of Arrow's buffer when there is nothing to fill and the type is int64."""
    array = _one(array)
    n = len(array)
    if pa.types.is_boolean(array.type):
        out = _bits(array.buffers()[1], array.offset, n) if n else np.zeros(0, dtype=bool)
    else:
        dtype = _NUMPY.get(array.type)
        if dtype is None:
            dtype = np.int64
            array = array.cast(pa.int64())
        buffer = array.buffers()[1]
        if buffer is None or n == 0:
            out = np.zeros(n, dtype=dtype)
        else:
            out = np.frombuffer(buffer, dtype=dtype, count=n, offset=array.offset * np.dtype(dtype).itemsize)
        if out.dtype.kind in "iu" and out.dtype != np.int64:
            out = out.astype(np.int64)
    if array.null_count == n and n:  # nothing but nulls (a column the file does not have): one pass, not three
        return np.full(n, fill, dtype=np.result_type(out, fill))  # (np.where's type below)
    if array.null_count:
        out = np.where(valid(array), out, fill)
    return out


def codes(array) -> tuple[np.ndarray, list]:
    """A dictionary array's codes (int64, -1 where null) and its values as a list."""
    array = _one(array)
    return numbers(array.indices, -1), array.dictionary.to_pylist()


def arrow(values: np.ndarray, mask: Optional[np.ndarray] = None):
    """A numpy bool or numeric array as an Arrow array (zero-copy for numbers); null where `mask` is False."""
    values = np.ascontiguousarray(values)
    n = len(values)
    validity = None if mask is None else pa.py_buffer(np.packbits(mask, bitorder="little"))
    if values.dtype == bool:
        return pa.Array.from_buffers(pa.bool_(), n, [validity, pa.py_buffer(np.packbits(values, bitorder="little"))])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), n, [validity, pa.py_buffer(values)])


def strings(values: list) -> pa.Array:
    """A list of str (no None) as an Arrow string array."""
    data = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def scalar(value, type):
    """An Arrow scalar of `type` (None: null), for compute functions."""
    if value is None:
        return pa.nulls(1, type)[0]
    if pa.types.is_string(type):
        return strings([value])[0]
    if pa.types.is_boolean(type):
        return arrow(np.array([value], dtype=bool))[0]
    return arrow(np.array([value], dtype=_NUMPY[type]))[0]
