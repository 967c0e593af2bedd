"""Purchase histories: CSV or Parquet files to columnar, validated, sorted rows.

pyarrow reads every column as text (fast, no guessing); each column is then
parsed exactly here, so a bad value is reported by file, row and column. Money is
parsed as Decimal and kept as integer minor units of the program currency.

Validation, conversion, sorting and the split into members and events are
vectorised (pyarrow.compute over whole columns); only rows the fast path cannot
take are looked at one by one, to parse an unusual layout exactly or to name the
bad row and column. The result is one sorted Arrow table with member and event
boundaries, so a later engine (processes, Dask) can partition by member without
per-row objects.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable, Optional
from zoneinfo import ZoneInfo

from loyalty.runtime.internal import codes_problem, exact_minor

from loyalty.simulate.errors import InputError

EVENT_TYPES = ("purchase", "return", "visit", "signup", "referral", "redemption", "custom", "adjustment", "fee")

# canonical column -> header names accepted without a mapping (compared case-insensitively)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "member": ("member", "member_id", "customer", "customer_id"),
    "time": ("time", "timestamp", "datetime", "date"),
    "amount": ("amount", "total", "value"),
    "order": ("order", "order_id"),
    "type": ("type", "event_type"),
    "item": ("item", "product"),
    "category": ("category",),
    "quantity": ("quantity", "qty"),
    "store": ("store", "store_id"),
    "channel": ("channel",),
    "event": ("event", "event_id"),
    "codes": ("codes", "code", "promo_codes", "promo_code"),
    "adjust": ("adjust", "adjustment"),
    "reason": ("reason",),
}
# --delimiter (and a scenario file's `delimiter:`) takes one character, or one of these names
DELIMITER_NAMES: dict[str, str] = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
REQUIRED_COLUMNS = ("member", "time", "amount")


class HistoryError(InputError):
    """A history that cannot be used: the message names the file, row and column."""

    def __init__(self, message: str, hint: Optional[str] = None, line: Optional[int] = None,
                 column: Optional[str] = None):
        super().__init__(message, hint)
        self.line = line  # the bad row's line, when it is one row (a table's row, from 1, when read from one)
        self.column = column  # the column, as the file or table names it, when it is one value


@dataclass(frozen=True, slots=True)
class BadRow:
    file: str
    row: int  # CSV: the line number in the file (header is line 1); Parquet: 1-based row
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row else self.file
        return f'{where}: column "{self.column}": {self.reason} (found {self.value!r})'


_TEXT_COLUMNS = ("member", "type", "order", "item", "category", "store", "channel", "event", "codes", "adjust",
                 "reason")
_COLUMN_FIELDS = ("member", "time", "amount", "type", "order", "item", "category", "quantity", "store", "channel",
                  "event", "codes", "adjust", "reason", "row")
_EPOCH = _dt.datetime(1970, 1, 1)
_PURCHASE, _RETURN = 0, 1  # positions in EVENT_TYPES; every later type carries no money
_ADJUSTMENT = EVENT_TYPES.index("adjustment")
_FEE = EVENT_TYPES.index("fee")


def fee_problem(tier: str, tiers: Optional[tuple]) -> Optional[str]:
    """Why a fee row's item (the tier paid for: runtime/mechanics/fees.py) cannot be taken, or None. `tiers`: the
    program's (tier, has a fee) pairs (ReadOptions.tiers); None: not known here (the program refuses it)."""
    if not tier:
        return "a fee row names the paid tier in its item column"
    if tiers is None:
        return None
    paid = ", ".join(name for name, fee in tiers if fee) or "none"
    known = dict(tiers)
    if tier not in known:
        return f"{tier!r} is not a tier of the program (paid tiers: {paid})"
    if not known[tier]:
        return f"tier {tier!r} has no fee (paid tiers: {paid})"
    return None


def adjustment_problem(text: str) -> Optional[str]:
    """Why an adjustment row's `adjust` value cannot be read, or None: `points +500`, `points =1200`,
    `punches +2`, `punches =4`, `tier =gold`, `tier =` (no tier); `parse_adjustment` reads it."""
    try:
        parse_adjustment(text)
    except ValueError as err:
        return str(err)
    return None


def parse_adjustment(text: str) -> tuple[str, str, bool]:
    """(what, value text, set) of an `adjust` value; ValueError naming what is wrong."""
    what, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    if what not in ("points", "tier", "punches"):
        raise ValueError("expected points, tier or punches, then +N or =N (e.g. points +500, tier =gold)")
    if not rest or rest[0] not in "+=":
        raise ValueError(f"expected + or = after {what} (e.g. {what} {'=gold' if what == 'tier' else '+5'})")
    value = rest[1:].strip()
    if what == "tier":
        if rest[0] != "=":
            raise ValueError("a tier is set, not added: tier =gold (or tier = for none)")
        return what, value, True
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise ValueError(f"{value!r} is not a whole number of {what}")
    return what, value, rest[0] == "="


def _schema():
    import pyarrow as pa

    text, whole = pa.dictionary(pa.int32(), pa.string()), pa.int64()
    return pa.schema([("member", text), ("time", whole), ("amount", whole), ("type", text), ("order", text),
                      ("item", text), ("category", text), ("quantity", whole), ("store", text), ("channel", text),
                      ("event", text), ("codes", text), ("adjust", text), ("reason", text), ("row", whole),
                      ("fold", pa.int8())])


def micros_to_datetime(us: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=us)


class History:
    """Rows sorted by (member, instant, original row), held as one Arrow table.

    Columns: member, time (microseconds since 1970-01-01 of the naive wall time in the
    program's time zone), amount (integer minor units, always >= 0; `type` says whether
    money came in or went back), type, order, item, category, quantity, store, channel,
    event (text, null where empty), row (where the row came from, for messages) and fold (1 where an
    aware time named the second pass of the hour a DST fall-back repeats, as `datetime.fold`; rows are
    ordered by their instant, so there a member's wall times step back, see `order_key`).
    Text columns are dictionary-encoded (each distinct value once, rows hold int32 codes):
    sorting, slicing and grouping move integers, never strings; a table with plain string
    columns is encoded on the way in. (Read from a file, order and event ids are encoded a range of
    members at a time, `_encoded_by_member`: their codes are equal exactly when their texts are within
    one member, which is how they are compared.) `h.member`, `h.time`, ... give a column as a Python
    list (times as datetimes), made once on first use; the scalar replay reads those lists.
    """

    def __init__(self, table, file: str = "", skipped: Optional[Counter] = None,
                 bad_rows: Optional[list[BadRow]] = None, encoded: bool = False):
        self.table = table if encoded else _encoded(table)
        self.file = file
        self.skipped: Counter = Counter(skipped or {})  # reason -> rows skipped
        self.bad_rows: list[BadRow] = list(bad_rows or [])  # the first few skipped, as examples
        self._lists: dict[str, list] = {}
        self._events: Optional[tuple[list[int], frozenset]] = None

    def __len__(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> list:
        """One column as a Python list (cached). `time` as microseconds; see `times` for datetimes."""
        values = self._lists.get(name)
        if values is None:
            values = self._lists[name] = _pylist(self.table.column(name))
        return values

    def dictionary_codes(self, name: str):
        """A text column's codes as a numpy int64 array (-1 where null), and its distinct values (a list)."""
        return _codes(self.table.column(name))

    def code_array(self, name: str):
        """A text column's codes only (numpy int64, -1 where null). A slice of a long history shares its
        dictionaries (every member and order id of the history), so `codes`' list of values can cost far
        more than the rows: take `values_of` the codes needed instead."""
        from loyalty.simulate.columns import numbers

        return numbers(_one_array(self.table.column(name)).indices, -1)

    def values_of(self, name: str, codes) -> list:
        """The texts of these codes of a text column."""
        import numpy as np

        from loyalty.simulate.columns import arrow

        dictionary = _one_array(self.table.column(name)).dictionary
        return dictionary.take(arrow(np.asarray(codes, dtype=np.int64))).to_pylist()

    @property
    def time(self) -> list[_dt.datetime]:
        cache: dict[int, _dt.datetime] = {}
        out = []
        for us in self.column("time"):
            t = cache.get(us)
            if t is None:
                t = cache[us] = micros_to_datetime(us)
            out.append(t)
        return out

    def time_range(self) -> tuple[Optional[_dt.datetime], Optional[_dt.datetime]]:
        """The first and last time in the history (None, None when empty)."""
        if not len(self):
            return None, None
        import pyarrow.compute as pc

        bounds = pc.min_max(self.table.column("time")).as_py()
        return micros_to_datetime(bounds["min"]), micros_to_datetime(bounds["max"])

    def member_slices(self) -> list[tuple[str, int, int]]:
        """(member id, start, end) for each member, in member order."""
        import numpy as np

        n = len(self)
        if not n:
            return []
        starts = self.member_starts()
        ends = np.append(starts[1:], n)
        names = self.values_of("member", self.code_array("member")[starts])
        return list(zip(names, starts.tolist(), ends.tolist()))

    def member_starts(self):
        """The row where each member's rows start, in member order (a numpy array)."""
        import numpy as np

        codes = self.code_array("member")
        if not len(codes):
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))

    def event_index(self) -> tuple[list[int], frozenset]:
        """Where each event starts (row positions), and the members whose rows need grouping by key.

        An event is a run of adjacent rows of one member with the same type, order and
        (unless it is a purchase with an order id) time; every row of any other type is
        its own event. Lines of one order that are not adjacent (an order id reused at two
        times, rows of two orders interleaved at one time) make a member irregular: her rows
        are grouped by key instead (`orders.event_groups`), which gives the same events.
        """
        if self._events is None:
            self._events = _event_index(self)
        return self._events

    def select_members(self, wanted: Iterable[str]) -> "History":
        """The rows of some members only (keeps order; used by explain, the vectorised kernel and tests)."""
        import numpy as np
        import pyarrow.compute as pc

        from loyalty.simulate.columns import numbers, strings

        dictionary = _one_array(self.table.column("member")).dictionary
        wanted_codes = numbers(pc.is_in(dictionary, value_set=strings(sorted(set(wanted)))), False)
        keep = np.append(wanted_codes, False)[self.code_array("member")]  # -1 (no member) picks the last False
        return self.rows_where(keep)

    def rows_where(self, keep) -> "History":
        """The rows where `keep` (one bool per row) holds, in order: a history of those rows, already encoded,
        with this one's file, skipped counts and bad rows."""
        from loyalty.simulate.columns import arrow

        return History(self.table.filter(arrow(keep)), self.file, self.skipped, self.bad_rows, encoded=True)


def _column_list(name: str):
    return property(lambda self: self.column(name), doc=f"the {name} column as a list")


for _name in _COLUMN_FIELDS:
    if _name != "time":
        setattr(History, _name, _column_list(_name))


def _one_array(column):
    """A column (Python list, Arrow array or chunked array) as one Arrow array; dictionaries unified. Text of
    2 GiB or more (`_TEXT_LIMIT`: a file of ~100M rows of long ids, which Arrow's readers give in chunks) cannot
    be one string array: it comes dictionary-encoded instead (`_encoded_text`), which every reader of a raw
    text column here takes; `TextTooLarge` when even its distinct values are that large."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            column = column.chunk(0)
        elif _text_bytes(column) >= _TEXT_LIMIT:
            return _encoded_text(column)
        else:
            return column.combine_chunks()  # dictionary chunks: one dictionary, codes remapped
    if isinstance(column, pa.Array):
        if _is_large_text(column.type) and _text_bytes(column) >= _TEXT_LIMIT:
            return _encoded_text(column)
        return column
    array = pa.array(column, pa.string())  # (a ChunkedArray when the list holds 2 GiB of text or more)
    return _one_array(array) if isinstance(array, pa.ChunkedArray) else array


# Arrow's string and binary arrays address their bytes with 32-bit offsets: one holds less than 2 GiB
_TEXT_LIMIT = (1 << 31) - 1


class TextTooLarge(HistoryError):
    """A text column whose distinct values alone hold 2 GiB or more: no run in memory can hold it."""


def _is_large_text(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)


def _text_bytes(column) -> int:
    """The bytes of text a string or binary column (array or chunked) holds, read off its offsets; 0 for others."""
    import numpy as np
    import pyarrow as pa

    kind = column.type
    if not (pa.types.is_string(kind) or pa.types.is_binary(kind) or _is_large_text(kind)):
        return 0
    width = np.int64 if _is_large_text(kind) else np.int32
    total = 0
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        if len(chunk):
            at = np.frombuffer(chunk.buffers()[1], dtype=width, count=len(chunk) + 1,
                               offset=chunk.offset * np.dtype(width).itemsize)
            total += int(at[-1]) - int(at[0])
    return total


def _encoded_text(column):
    """A text column of 2 GiB or more (`_one_array`) dictionary-encoded over its chunks without putting its text
    in one buffer: large (64-bit offset) values are hashed, so the distinct values may be any size; they come
    back as string (or binary) values when they are less than 2 GiB together, else `TextTooLarge`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    binary = pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)
    encoded = pc.dictionary_encode(column.cast(pa.large_binary() if binary else pa.large_string()))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()  # (the chunks share one dictionary: their codes are kept)
    values = encoded.dictionary
    size = _text_bytes(values)
    if size >= _TEXT_LIMIT:
        raise TextTooLarge(f"its {len(values)} distinct values hold {size / (1 << 30):.1f} GiB of text; a history "
                           "read whole holds at most 2 GiB of one column's distinct values",
                           hint="read the file with --grouped (it reads a CSV file in batches), or split it by "
                                "member")
    indices = encoded.indices if encoded.indices.type == pa.int32() else encoded.indices.cast(pa.int32())
    return pa.DictionaryArray.from_arrays(indices, values.cast(pa.binary() if binary else pa.string()))


def _named_array(column, file: str, name: str):
    """`_one_array` of a file's column, a `TextTooLarge` naming the file and column."""
    try:
        return _one_array(column)
    except TextTooLarge as err:
        raise TextTooLarge(f'{file}: column "{name}": {err.message}', err.hint, column=name) from None


def _encoded(table):
    """A history table with its plain string columns dictionary-encoded (dictionary ones are kept: Arrow's
    readers and `pc.dictionary_encode` hold each value once, which grouping by code relies on)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, name in enumerate(table.column_names):
        column = table.column(i)
        if name in _TEXT_COLUMNS and not pa.types.is_dictionary(column.type):
            array = _one_array(column)  # (dictionary-encoded already when it holds 2 GiB of text)
            if not pa.types.is_dictionary(array.type):
                array = pc.dictionary_encode(array.cast(pa.string()))
            table = table.set_column(i, name, array)
    return table


def _codes(column):
    """A dictionary column as (numpy int64 codes, -1 where null; its values as a list)."""
    from loyalty.simulate.columns import codes

    return codes(_one_array(column))


def _pylist(column) -> list:
    """A column as a Python list; a dictionary column through its values (far faster than per-row conversion)."""
    import numpy as np
    import pyarrow as pa

    if not pa.types.is_dictionary(column.type):
        return column.to_pylist()
    from loyalty.simulate.columns import arrow, numbers

    array = _one_array(column)
    if len(array.dictionary) > len(array):  # a few members' rows sharing a long history's dictionary
        codes = numbers(array.indices, -1)
        used, at = np.unique(codes, return_inverse=True)
        real = used >= 0
        values = [None] * (len(used) - int(real.sum())) + array.dictionary.take(arrow(used[real])).to_pylist()
        return np.array(values, dtype=object)[at].tolist()
    codes, values = _codes(column)
    return np.array(values + [None], dtype=object)[codes].tolist()


def _event_index(h: History) -> tuple[list[int], frozenset]:
    import numpy as np

    from loyalty.simulate.columns import numbers

    n = len(h)
    if n == 0:
        return [], frozenset()
    member = h.code_array("member")
    kind, kinds = h.dictionary_codes("type")
    order = h.code_array("order")
    time = numbers(h.table.column("time"))
    purchase = kind == (kinds.index("purchase") if "purchase" in kinds else -2)
    grouped = purchase | (kind == (kinds.index("return") if "return" in kinds else -2))
    group_time = np.where(purchase & (order >= 0), 0, time)  # lines of a keyed purchase share it whatever their time
    new = np.ones(n, dtype=bool)
    new[1:] = ((member[1:] != member[:-1]) | (kind[1:] != kind[:-1]) | (order[1:] != order[:-1])
               | (group_time[1:] != group_time[:-1]) | ~grouped[1:])
    starts = np.flatnonzero(new)
    # a group key seen at more than one start: that member's rows are grouped by key instead
    at = starts[grouped[starts]]
    if len(at) < 2:
        return starts.tolist(), frozenset()
    keys = (group_time[at], order[at], kind[at], member[at])
    by_key = np.lexsort(keys)
    same = np.ones(len(at) - 1, dtype=bool)
    for key in keys:
        k = key[by_key]
        same &= k[1:] == k[:-1]
    split = np.unique(member[at][by_key][1:][same])
    return starts.tolist(), frozenset(h.values_of("member", split))


@dataclass(frozen=True)
class ReadOptions:
    minor_units: int = 2  # decimals of the program currency
    currency: str = ""  # for messages only
    timezone: str = "UTC"  # naive timestamps are in this zone; aware ones are converted to it
    time_format: Optional[str] = None  # strftime format; None = ISO 8601
    delimiter: str = ","
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> header in the file
    on_bad_row: str = "stop"  # or "skip"
    max_examples: int = 10
    # the program has two-sided referral rules: a referral row's item names the new member, and one naming its
    # own member is a bad row (refuse_self_referrals); for other programs the item of a referral means nothing
    referrals: bool = False
    # the program's tiers as (name, has a fee) pairs: a fee row must name a paid tier (fee_problem); None: no check
    tiers: Optional[tuple] = None
    # the columns (canonical names) the run reads, besides the required ones; None: every column of the file. Any
    # other column is not converted, so its values are not read and not checked (docs/limits.md); it reads as
    # empty (`History`). `loyalty simulate` leaves out what the program and its report never read (run.py
    # `history_columns`): Arrow's conversion of one text column is ~0.07 s of CPU per 1M rows.
    only: Optional[frozenset] = None


def headers_read(names: list[str], options: ReadOptions, file: str) -> list[str]:
    """The headers of `names` (a file's header, in its order) whose columns are read under `options.only`. All of
    them when a mapping or a required column cannot be resolved: the reader then reports that, as it would
    without `only`."""
    if options.only is None:
        return names
    try:
        resolved = _resolved_read(names, options, file)
    except HistoryError:
        return names
    wanted = set(resolved.values())
    return [name for name in names if name in wanted]


def _resolved_read(names: list[str], options: ReadOptions, file: str) -> dict[str, str]:
    """canonical column -> header, for the columns read (`ReadOptions.only`); `names`: the file's whole header, so
    a mapping to a header the file does not have is an error whether or not its column is read."""
    resolved = _resolve_columns(names, options.columns, file)
    if options.only is None:
        return resolved
    return {key: header for key, header in resolved.items() if key in options.only or key in REQUIRED_COLUMNS}


def parse_column_mapping(text: str) -> dict[str, str]:
    """`member=customer_id,time=date` -> {"member": "customer_id", "time": "date"}."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise HistoryError(f"column mapping {part!r} is not of the form name=header",
                               hint="write e.g. --columns member=customer_id,time=date,amount=dollar_value")
        if key not in COLUMN_ALIASES:
            raise HistoryError(f"column mapping names unknown column {key!r}",
                               hint="known columns: " + ", ".join(COLUMN_ALIASES))
        out[key] = value
    return out


# ------------------------------------------------------------------ reading files


def _read_table(path: Path, delimiter: str, ragged: Optional[list] = None, as_bytes: bool = False,
                quoted: bool = True):
    import pyarrow as pa

    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            raise HistoryError(f"{path}: cannot read as Parquet: {err}") from None
        return table_text_columns(table, path, as_bytes), 1, False
    names = header_names(path, delimiter)
    return _read_csv_table(path, delimiter, names, ragged, as_bytes, quoted)


def table_text_columns(table, path, as_bytes: bool = False) -> dict:
    """An Arrow table's columns as text (a Parquet file's, or a DataFrame's), parsed exactly later."""
    import pyarrow as pa

    # everything as text, parsed exactly below; timestamps keep their ISO form, exact numbers their digits
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        large = _text_bytes(col) >= _TEXT_LIMIT  # (kept as it is: `_one_array` encodes it, no string array holds it)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            cols[name] = col if large else col.cast(pa.string())
        elif pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            # text stored as bytes (BINARY without the UTF8 annotation): UTF-8, checked per value so that
            # a bad byte is reported by row and column (decode_columns), never shown as b'...'
            if as_bytes:
                cols[name] = col if large else _one_array(col).cast(pa.binary())
            else:
                cols[name] = _parquet_text(path, name, _one_array(col))
        elif pa.types.is_integer(col.type) or pa.types.is_decimal(col.type):
            cols[name] = col.cast(pa.string())
        else:
            cols[name] = [None if v is None else _scalar_text(v) for v in col.to_pylist()]
    if as_bytes and any(_is_bytes(c) for c in cols.values()):
        cols = {name: pa.array(c, pa.string()) if isinstance(c, list) else c for name, c in cols.items()}
    return cols


def _read_csv_table(path: Path, delimiter: str, names: list, ragged: Optional[list], as_bytes: bool, quoted: bool):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def on_ragged_row(row) -> str:
        # rows with too few or too many fields: kept aside, reported like any bad row
        if ragged is not None:
            ragged.append((row.number, row.actual_columns, row.expected_columns, row.text))
            return "skip"
        return "error"

    undecodable: list = []
    try:
        with quiet_row_decoding(undecodable):
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(use_threads=True),
                # a quoted value may hold a line break; Arrow only handles that across its parallel blocks when told
                parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_ragged_row,
                                                 newlines_in_values=quoted),
                # as bytes: UTF-8 is checked per column afterwards, so a bad byte is reported by row and column
                convert_options=pacsv.ConvertOptions(
                    column_types={n: (pa.binary() if as_bytes else pa.string()) for n in names},
                    strings_can_be_null=False, quoted_strings_can_be_null=False
                ),
            )
    except pa.ArrowInvalid as err:
        if undecodable and as_bytes and ragged is not None:
            # a row of the wrong width that is not UTF-8: Arrow cannot hand it to on_ragged_row (it decodes the
            # row's text first), so read the file with the csv module, which keeps every byte
            ragged.clear()
            return read_csv_slowly(path, delimiter, names, ragged), 2, True
        raise HistoryError(f"{path}: not a readable CSV file: {arrow_message(err)}",
                           hint="check the delimiter (--delimiter) and that every row has as many fields as the header")
    cols = {name: table.column(name) for name in table.column_names}
    return cols, 2, True  # data starts on line 2


def _is_bytes(column) -> bool:
    import pyarrow as pa

    return not isinstance(column, list) and (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type))


def _parquet_text(path: Path, name: str, col) -> object:
    """A Parquet BINARY column as text; a value that is not UTF-8 stops with its row (rows count from 1)."""
    import pyarrow as pa

    try:
        return col.cast(pa.string())
    except pa.ArrowInvalid:
        pass
    for i, value in enumerate(col.to_pylist()):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as err:
                raise HistoryError(f'{path}:{i + 1}: column "{name}": not valid UTF-8 (byte 0x{value[err.start]:02x} '
                                   f"at byte {err.start + 1} of the value)", hint="store the column as UTF-8 text",
                                   line=i + 1) from None
    return col.cast(pa.string())


@contextmanager
def quiet_row_decoding(caught: list):
    """pyarrow decodes a ragged row's text as UTF-8 before calling the invalid-row handler; on a row that is
    not UTF-8 that raises inside Arrow's callback, which Python reports on stderr ("Exception ignored ...
    UnicodeDecodeError") before Arrow fails the read. Within the block such errors are collected in `caught`
    instead (the caller then reads the file another way); any other unraisable error is reported as usual."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            caught.append(unraisable.exc_value)
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


@contextmanager
def unbounded_fields():
    """The csv module refuses fields over 128 KiB by default; Arrow, which reads the same files, does not."""
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def read_csv_slowly(path: Path, delimiter: str, names: list[str], ragged: list) -> dict:
    """Every record of `len(names)` fields as byte columns (UTF-8 is checked afterwards, per value), and the
    other records appended to `ragged` as (line, fields, width, text): what the Arrow reader gives, for the
    files it cannot read (a ragged row that is not UTF-8). Slow; only for such files."""
    import pyarrow as pa

    width = len(names)
    rows: list[list[str]] = []
    for start, fields in _csv_records(path, delimiter, "surrogateescape"):
        if len(fields) == width:
            rows.append(fields)
        else:
            text = delimiter.join(fields).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            ragged.append((start, len(fields), width, text))
    return {name: pa.array([r[i].encode("utf-8", "surrogateescape") for r in rows], pa.binary())
            for i, name in enumerate(names)}


def header_names(path: Path, delimiter: str) -> list[str]:
    """The CSV header's column names; a header that is missing, not UTF-8 or names a column twice is an error."""
    try:
        with path.open("rb") as fh:
            head = fh.readline()
    except OSError as err:
        raise HistoryError(f"{path}: cannot read: {err.strerror or err}") from None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    try:
        header_line = head.decode("utf-8")
    except UnicodeDecodeError as err:
        column = head[:err.start].count(delimiter.encode("utf-8")) + 1
        raise HistoryError(f"{path}:1: column {column} of the header is not valid UTF-8 "
                           f"(byte 0x{head[err.start]:02x} at byte {err.start + 1} of the line)",
                           hint="save the file as UTF-8", line=1) from None
    if not header_line.strip():
        raise HistoryError(f"{path}: the file is empty; a header row is needed",
                           hint="the first line names the columns, e.g. member,time,amount")
    body = header_line[:-2] if header_line.endswith("\r\n") else header_line.rstrip("\n")
    if "\r" in body:  # lines ended by a lone CR (classic Mac OS): the whole file would read as one header line
        column = body[:body.index("\r")].count(delimiter) + 1
        raise HistoryError(f"{path}:1: column {column} of the header ends in a carriage return (CR) that is not "
                           f"followed by a line feed: line ends must be LF or CRLF", line=1,
                           hint="convert the file's line ends to LF (e.g. mac2unix, or the editor's line-ending "
                                "setting)")
    try:
        names = next(csv.reader(io.StringIO(header_line), delimiter=delimiter))
    except csv.Error as err:
        limit = csv.field_size_limit()
        fields = body.split(delimiter)
        long = next((i for i, f in enumerate(fields) if len(f) > limit), None)
        if long is not None:
            raise HistoryError(f"{path}:1: column {long + 1} of the header is {len(fields[long])} characters long "
                               f"(at most {limit})", line=1,
                               hint="the first line names the columns, e.g. member,time,amount") from None
        raise HistoryError(f"{path}:1: the header is not readable CSV: {err}", line=1,
                           hint="check the delimiter (--delimiter) and the quotes of the first line") from None
    # headers are matched case-insensitively, so `amount` and `Amount` would be one column read twice
    folded = [n.strip().lower() for n in names]
    dupes = [n for i, n in enumerate(names) if folded.index(folded[i]) != i]
    if dupes:
        first = names[folded.index(dupes[0].strip().lower())]
        same = "" if first == dupes[0] else f" (as {first!r} and {dupes[0]!r}; headers are matched ignoring case)"
        raise HistoryError(f"{path}:1: column {first!r} appears twice in the header{same}",
                           hint="rename or remove one of them")
    return names


def arrow_message(err: Exception) -> str:
    """An Arrow reading error's text, without Arrow's own prefix, for a message that names the row."""
    text = str(err).strip()
    return text.replace("CSV parse error: ", "")


def _scalar_text(value) -> str:
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _resolve_columns(available: list[str], mapping: dict[str, str], file: str) -> dict[str, str]:
    """canonical column -> header in the file."""
    lower = {name.lower(): name for name in available}
    resolved: dict[str, str] = {}
    for key, aliases in COLUMN_ALIASES.items():
        if key in mapping:
            header = mapping[key]
            if header not in available:
                raise HistoryError(
                    f"{file}: column {header!r} (mapped to {key}) is not in the file",
                    hint="the file has columns: " + ", ".join(available),
                )
            resolved[key] = header
            continue
        for alias in aliases:
            if alias in lower:
                resolved[key] = lower[alias]
                break
    missing = [k for k in REQUIRED_COLUMNS if k not in resolved]
    if missing:
        raise HistoryError(
            f"{file}: no {missing[0]} column (looked for {', '.join(COLUMN_ALIASES[missing[0]])})",
            hint="the file has columns: " + ", ".join(available)
            + f"; map yours with e.g. --columns {missing[0]}=<your column>",
        )
    return resolved


# ------------------------------------------------------------------ exact parsing of one value


class _Bad(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def make_time_parser(time_format: Optional[str], timezone: str) -> Callable[[str], _dt.datetime]:
    zone = ZoneInfo(timezone)

    def to_local(value: _dt.datetime) -> _dt.datetime:
        if value.tzinfo is not None:
            return value.astimezone(zone).replace(tzinfo=None)
        return value

    if time_format:

        def parse(text: str) -> _dt.datetime:
            try:
                return to_local(_dt.datetime.strptime(text.strip(), time_format))
            except ValueError:
                raise _Bad(f"not a time in the format {time_format}") from None

        return parse

    def parse_iso(text: str) -> _dt.datetime:
        text = text.strip()
        try:
            if len(text) == 10:
                return _dt.datetime.combine(_dt.date.fromisoformat(text), _dt.time())
            return to_local(_dt.datetime.fromisoformat(text))
        except ValueError:
            raise _Bad("not an ISO 8601 date or time (use --time-format for other layouts)") from None

    return parse_iso


def make_amount_parser(minor_units: int, currency: str) -> Callable[[str], int]:
    unit = f" {currency}" if currency else ""

    def parse(text: str) -> int:
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise _Bad("not a number") from None
        minor, why = exact_minor(value, minor_units)  # exact: 1e999999999, 1e-999999999, 30 digits alike
        if why == "too many decimals":
            raise _Bad(f"more than {minor_units} decimals for an amount in{unit or ' the currency'}")
        if why:
            raise _Bad("not a number" if why == "not a number" else "too large an amount")
        return minor

    return parse


def _parse_quantity(text: str) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise _Bad("not a whole number") from None
    quantity, why = exact_minor(value, 0)  # never int(1e999999999): that hung the reader
    if why == "too large":
        raise _Bad("too large a quantity")
    if why or quantity < 1:
        raise _Bad("quantity must be a whole number of at least 1")
    return quantity


# ------------------------------------------------------------------ the reader


def read_history(path: str | Path, options: ReadOptions = ReadOptions()) -> History:
    """A history file: CSV (also .csv.gz, .csv.bz2, .csv.zst, simulate/compressed.py) or Parquet."""
    import dataclasses

    from loyalty.simulate.compressed import compression_of, decompressed, renamed

    path = Path(path)
    if not path.exists():
        raise HistoryError(f"{path}: no such file")
    if not path.is_file():  # a folder, or a pipe or device (a shell's <(...)): the readers seek and read twice
        raise HistoryError(f"{path}: not a regular file: a history is read from a file",
                           hint="save it to a file first; `loyalty simulate` also reads a history piped to its "
                                "standard input, named '-'")
    if compression_of(path) is None:
        return _read_history(path, options)
    with decompressed(path) as plain:
        try:
            history = _read_history(plain, options)
        except InputError as err:
            raise renamed(err, plain, path) from None
    history.file = str(path)
    history.bad_rows = [dataclasses.replace(b, file=str(path)) for b in history.bad_rows]
    return history


def _read_history(path: Path, options: ReadOptions) -> History:
    is_csv = _is_csv_name(path)
    if is_csv:
        try:
            history = _read_plain_csv(path, options)
        finally:
            _forget_quotes_ahead()
        if history is not None:
            return refuse_self_referrals(refuse_reused_orders(history, options), options)
    ragged: list = []
    shape = scan_csv(path) if is_csv else None
    cols, first_row, _is_csv = _read_table(path, options.delimiter, ragged, as_bytes=True,
                                           quoted=bool(shape and shape.quoted))
    lines = None
    not_utf8: Counter = Counter()
    examples: list[BadRow] = []
    if is_csv:
        n = len(next(iter(cols.values()))) if cols else 0
        if ragged or not shape.one_record_per_line(n):
            # blank lines, quoted line breaks or rows of the wrong width: number records by their first line
            lines, located = record_lines(path, options.delimiter, len(cols))
            if len(lines) == n and len(located) == len(ragged):
                ragged = located
            else:  # the two readers disagree on the file's shape: keep Arrow's view, numbered as best we can
                lines = None
                if any(r[0] is None or r[0] < 1 for r in ragged):
                    ragged = _locate_rows(path, ragged)
    ragged = sorted(ragged, key=lambda r: r[0] or 0)
    header = list(cols)
    cols = {name: cols[name] for name in headers_read(header, options, str(path))}  # (not decoded, so not checked)
    try:
        if is_csv or any(_is_bytes(c) for c in cols.values()):
            cols, lines, not_utf8, examples = decode_columns(cols, lines, first_row, str(path), options)
        history = build_history(cols, str(path), first_row, options, lines=lines, header=header)
    except HistoryError as err:
        # stop at the first bad row in the file, whichever kind it is
        if ragged and err.line is not None and ragged[0][0] and ragged[0][0] < err.line:
            raise ragged_error(str(path), ragged[0]) from None
        raise
    history = refuse_self_referrals(refuse_reused_orders(history, options), options)
    if not_utf8:
        history.skipped.update(not_utf8)
        history.bad_rows = sorted(examples + history.bad_rows, key=lambda b: b.row)[:options.max_examples]
    for number, actual, expected, text in ragged:
        bad = BadRow(str(path), number or 0, "(whole row)", text,
                     f"{actual} fields where the header has {expected}")
        if options.on_bad_row != "skip":
            raise ragged_error(str(path), (number, actual, expected, text))
        history.skipped[f"row: {actual} fields where the header has {expected}"] += 1
        if len(history.bad_rows) < options.max_examples:
            history.bad_rows.append(bad)
    return history


def history_from_table(table, name: str, options: ReadOptions = ReadOptions()) -> History:
    """A history from an Arrow table in memory (pandas and polars DataFrames arrive as one), read exactly as a
    Parquet file's rows are: the same columns, parsing and checks; a bad row is named by its row (from 1)."""
    header = list(table.column_names)
    if options.only is not None:
        kept = set(headers_read(header, options, name))
        table = table.select([i for i, column in enumerate(header) if column in kept])
    cols = table_text_columns(table, Path(name), as_bytes=True)
    not_utf8: Counter = Counter()
    examples: list[BadRow] = []
    if any(_is_bytes(c) for c in cols.values()):
        cols, _, not_utf8, examples = decode_columns(cols, None, 1, name, options)
    history = refuse_reused_orders(build_history(cols, name, 1, options, header=header), options)
    if not_utf8:
        history.skipped.update(not_utf8)
        history.bad_rows = sorted(examples + history.bad_rows, key=lambda b: b.row)[:options.max_examples]
    return history


SELF_REFERRAL = "item: a member referring herself"


def refuse_self_referrals(h: History, options: ReadOptions) -> History:
    """For a program with referral rules (`options.referrals`), a `referral` row names the member referred in its
    `item` column (docs/simulate.md); one naming the row's own member is a bad row (stop, or under skip left out
    and counted): a member cannot refer herself."""
    import numpy as np

    if not options.referrals or not len(h):
        return h
    kinds, values = h.dictionary_codes("type")
    if "referral" not in values:
        return h
    rows = np.flatnonzero((kinds == values.index("referral")) & (h.code_array("item") >= 0))
    if not len(rows):
        return h
    members = h.values_of("member", h.code_array("member")[rows].tolist())
    items = h.values_of("item", h.code_array("item")[rows].tolist())
    bad = [int(i) for i, m, it in zip(rows.tolist(), members, items) if m == it]
    if not bad:
        return h
    row_of = h.column("row")
    examples = sorted((BadRow(h.file, row_of[i], "item", h.member[i], "a referral names the member referred, "
                              "not the referrer herself") for i in bad), key=lambda b: b.row)
    if options.on_bad_row != "skip":
        raise HistoryError(str(examples[0]), line=examples[0].row,
                           hint="name the new member in the referral's item column, or pass --on-bad-row skip")
    return without_rows(h, bad, SELF_REFERRAL, examples[:options.max_examples], options)


REUSED_ORDER = "order: already used by another event"
REUSED_ORDER_HINT = "give the purchase its own order id, or pass --on-bad-row skip to leave it out"


def refuse_reused_orders(h: History, options: ReadOptions) -> History:
    """Purchase rows of one member with one order id but another event id than the order's first rows are a
    second purchase reusing the order id, which `program.apply` refuses (EventError on `order`): here they are
    bad rows (stop, or under skip left out and counted), so the simulation applies what the API applies.
    Rows without an event id are lines of the order their order id names. `h` holds whole members (the
    streamed reader calls it on each member once her rows are all read, stream.py)."""
    bad, examples = reused_order_rows(h)
    if not bad:
        return h
    if options.on_bad_row != "skip":
        raise HistoryError(str(examples[0]), line=examples[0].row, hint=REUSED_ORDER_HINT,
                           column=examples[0].column)
    return without_rows(h, bad, REUSED_ORDER, examples, options)


def without_rows(h: History, bad: list[int], reason: str, examples: list[BadRow], options: ReadOptions) -> History:
    """`h` less the rows at positions `bad`, counted as skipped for `reason`, `examples` among its bad rows."""
    import numpy as np

    keep = np.ones(len(h), dtype=bool)
    keep[bad] = False
    out = h.rows_where(keep)
    out.skipped[reason] += len(bad)
    out.bad_rows = sorted(out.bad_rows + examples, key=lambda b: b.row)[:options.max_examples]
    return out


def reused_order_rows(h: History) -> tuple[list[int], list[BadRow]]:
    """The positions of the rows that reuse an order id (`refuse_reused_orders`), and a bad row for each,
    in row order."""
    import numpy as np

    if not len(h):
        return [], []
    kinds, values = h.dictionary_codes("type")
    event = h.code_array("event")
    candidates = np.flatnonzero((kinds == (values.index("purchase") if "purchase" in values else -2))
                                & (h.code_array("order") >= 0) & (event >= 0))
    if not len(candidates):
        return [], []
    member, order, rows = h.code_array("member"), h.code_array("order"), h.column("row")
    owner: dict = {}
    bad: list[int] = []
    for i in candidates.tolist():
        first = owner.setdefault((member[i], order[i]), event[i])
        if first != event[i]:
            bad.append(i)
    if not bad:
        return [], []
    order_text = h.values_of("order", [order[i] for i in bad])
    first_text = h.values_of("event", [owner[(member[i], order[i])] for i in bad])
    found = sorted(((rows[i], i, o, e) for i, o, e in zip(bad, order_text, first_text)))
    examples = [BadRow(h.file, row, "order", o, f"order id {o!r} is already used by event {e!r} of this member; "
                                                 f"a new purchase needs a new order id") for row, _, o, e in found]
    return [i for _, i, _, _ in found], examples


_BESIDE_ROWS = 1 << 16  # below this, starting a thread costs more than sharing the work saves


@contextmanager
def _beside(work: Callable, rows: int):
    """`work()` run in a second thread while the `with` block runs in this one, when there are `rows` of
    `_BESIDE_ROWS` or more (else first, here): the reader's passes over whole columns (numpy's gathers and
    ufuncs, Arrow's compute functions) release the GIL, so two lists of them use both cores, where the read after
    Arrow's parse was single-threaded. Gives a function that returns `work`'s value (or raises its error); the
    block must not depend on `work`, except through that function. Errors are raised as running `work` first and
    then the block raises them: `work`'s, else the block's. The thread ends with the block, whatever happens.
    What `work` allocates comes from the thread's own malloc arena, which the replay does not reuse: `work`
    should make arrays that last (the History's columns), not many it frees (each MB of those is ~256 page
    faults more later)."""
    if rows < _BESIDE_ROWS:
        value = work()
        yield lambda: value
        return
    import threading

    out: dict = {}

    def run() -> None:
        try:
            out["value"] = work()
        except BaseException as err:  # noqa: BLE001 (raised again in this thread: `result`, below)
            out["error"] = err

    def result():
        thread.join()
        if "error" in out:
            raise out["error"]
        return out["value"]

    thread = threading.Thread(target=run, name="loyalty-read", daemon=True)
    thread.start()
    try:
        yield result
    except BaseException:
        result()  # (`work`'s error first, as when it ran first)
        raise
    finally:
        thread.join()  # (no thread outlives the read, which a fork may follow)


def _read_plain_csv(path: Path, options: ReadOptions) -> Optional[History]:
    """The common case in one multi-threaded pass: a CSV file whose every record is one line of valid
    UTF-8 with as many fields as the header. Text columns are read dictionary-encoded (each distinct
    value parsed once), times as text for the exact ISO check. None when the file is not that simple
    (a ragged row, a blank line, a byte that is not UTF-8, a line break inside quotes): the careful
    reader then finds and names the problem. Bad values are found and named by `build_history` either way."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = header_names(path, options.delimiter)
    try:
        resolved = _resolved_read(header, options, str(path))
    except HistoryError:
        return None  # the careful reader says so, after what it checks first
    quoted = _has_quotes(path)
    # the columns the run reads (`ReadOptions.only`): Arrow still splits every field of a row (so a row of the
    # wrong width is found), but converts only these; all of them in a file with quotes, where a line break
    # quoted in any column shifts the line numbers (checked below)
    names = header if quoted else headers_read(header, options, str(path))
    time_header = resolved["time"]
    # ids that are mostly distinct (an order's, an event's) are read as plain text and encoded after the sort
    # by member, a range of members at a time (`_encoded_by_member`): read dictionary-encoded, each of Arrow's
    # ~80 blocks has its own dictionary of them, and unifying those cost more (1M rows: ~0.1 s more for the
    # order ids) than encoding the column, which costs ~3x encoding it in ranges (one large hash table)
    distinct = {resolved[key] for key in ("order", "event") if key in resolved}
    # member ids likewise: read as text and encoded whole (`_clean`), as 64-bit integers where they have one
    # length of up to 8 bytes, costs a little less than Arrow's per-block dictionaries and their unification
    distinct.add(resolved["member"])
    # the other columns dictionary-encoded as bytes, their UTF-8 checked once per distinct value after the read
    # (`_utf8_dictionary`) instead of by Arrow once per row (~5% of its read)
    text = pa.dictionary(pa.int32(), pa.binary())
    # ISO times are parsed by Arrow while reading (both cores); it accepts a subset of the layouts Python's
    # fromisoformat does, with the same value (tests/test_history.py), and refuses zones: those files, and
    # any value it refuses, go to the careful reader. A strftime layout is parsed per distinct value instead.
    when = pa.string() if options.time_format else pa.timestamp("us")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=True),
            # a blank line becomes a ragged row, so an error here: records are then exactly lines 2, 3, ...
            parse_options=pacsv.ParseOptions(delimiter=options.delimiter, newlines_in_values=quoted,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: when if name == time_header else pa.string() if name in distinct else text
                              for name in names}, include_columns=names,
                strings_can_be_null=True, null_values=[""], quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError):  # (KeyError: no such column)
        return None
    if table.column_names != names or table.column(time_header).type != when:
        return None  # Arrow saw another header than the csv module: leave it to the careful reader
    # (imported after the parse, which releases the GIL: simulate/run.py `import_while_reading` imports it then)
    import pyarrow.compute as pc

    try:
        # (dictionary chunks: one dictionary. Not in two threads (`_beside`): ~15 ms less wall per 1M rows, but the
        # second thread's malloc arena held the columns, which are freed after the read, and the replay then
        # faulted its own memory in: ~9k more page faults in all)
        cols = {name: _utf8_dictionary(_named_array(table.column(name), str(path), name)) for name in names}
    except pa.ArrowInvalid:
        return None  # a value that is not UTF-8: the careful reader names its row and column
    if not options.time_format and len(table):
        bounds = pc.min_max(cols[time_header].cast(pa.int64())).as_py()
        if bounds["min"] is not None and not _micros(FIRST_TIME) <= bounds["min"] <= bounds["max"] <= _micros(LAST_TIME):
            return None  # the careful reader names the row by the text it holds
    # Arrow reads a blank line as a record of nulls; the careful reader skips it and counts the line
    blank = None
    for column in cols.values():
        blank = column.is_null() if blank is None else pc.and_(blank, column.is_null())
        if not pc.any(blank).as_py():
            break
    else:
        return None
    if quoted:
        # a quoted line break would put a record on two lines and shift every later row's line number
        for name, column in cols.items():
            values = column.dictionary if pa.types.is_dictionary(column.type) else column
            if pa.types.is_string(values.type) and pc.any(pc.match_substring_regex(values, "[\r\n]")).as_py():
                return None
    return build_history(cols, str(path), 2, options, header=header)


def _utf8_dictionary(column):
    """A dictionary array of bytes as one of text (its values checked as UTF-8, ArrowInvalid where one is not);
    any other array as it is."""
    import pyarrow as pa

    if not pa.types.is_dictionary(column.type) or not pa.types.is_binary(column.type.value_type):
        return column
    # (the codes of a dictionary array: in range)
    return pa.DictionaryArray.from_arrays(column.indices, column.dictionary.cast(pa.string()), safe=False)


def _has_quotes(path: Path) -> bool:
    ahead = _quotes_ahead.pop(_file_identity(path), None)
    if ahead is not None:
        ahead[0].join()
        if ahead[1]:
            return ahead[1][0]
    return _quote_in(path, _memchr())


def _memchr():
    """C's memchr as ctypes calls it (with the GIL released), or None where it cannot be had."""
    import ctypes

    from loyalty.clib import c_function

    memchr = c_function("memchr")
    if memchr is not None:
        memchr.restype, memchr.argtypes = ctypes.c_void_p, (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
    return memchr


def _quote_in(path: Path, memchr) -> bool:
    """Whether the file holds a '"', read in 1 MB blocks (searched by `memchr` when given, else by Python). Not
    memory-mapped: a mapped file cut shorter while it is searched (rewritten in place) ends the process with
    SIGBUS; a read just ends early (and the look-ahead's answer is then not taken: the file's identity changed)."""
    import ctypes

    block = bytearray(1 << 20)
    view = (ctypes.c_char * len(block)).from_buffer(block) if memchr is not None else None
    try:
        with path.open("rb", buffering=0) as fh:
            while True:
                size = fh.readinto(block)
                if not size:
                    return False
                if view is not None:
                    found = memchr(view, ord('"'), size) is not None
                else:
                    found = block.find(b'"', 0, size) >= 0
                if found:
                    return True
    finally:
        del view  # (the block is a plain bytearray again)


# `look_for_quotes_ahead`'s searches: the file's identity -> (the thread, a list its answer is put in)
_quotes_ahead: dict = {}


def _file_identity(path: Path) -> Optional[tuple]:
    """What tells one version of a regular file from another; None for anything else (a pipe is not opened
    ahead: that would take its data, or its writer, from the read)."""
    import stat as _stat

    try:
        stat = path.stat()
    except OSError:
        return None
    if not _stat.S_ISREG(stat.st_mode):
        return None
    return str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def look_for_quotes_ahead(path) -> None:
    """`_has_quotes(path)` started in a thread, for the read of that file to take up: the simulate command calls
    this before it loads the program and imports pyarrow and numpy (~80 ms, the GIL held), and the search (~20 ms
    per 80 MB) runs beside them: the file's reads and C's memchr, which ctypes calls, release the GIL. Nothing
    happens for a file the read does not search (Parquet, compressed), where memchr cannot be had, or where the
    file cannot be opened: the read then searches it itself."""
    import threading

    from loyalty.simulate.compressed import compression_of

    path = Path(path)
    identity = _file_identity(path)
    memchr = _memchr()
    if identity is None or identity in _quotes_ahead or memchr is None or not _is_csv_name(path) or \
            compression_of(path) is not None:
        return
    answer: list = []

    def search() -> None:
        try:
            answer.append(_quote_in(path, memchr))
        except OSError:  # the read searches the file itself
            return

    thread = threading.Thread(target=search, name="loyalty-quotes", daemon=True)
    _quotes_ahead[identity] = (thread, answer)
    thread.start()


def _forget_quotes_ahead() -> None:
    """Wait for the searches no read took up (a read that stopped before its search): no thread left before a
    fork."""
    while _quotes_ahead:
        _quotes_ahead.popitem()[1][0].join()


def _is_csv_name(path: Path) -> bool:
    return path.suffix.lower() not in (".parquet", ".pq")


def ragged_error(file: str, ragged: tuple) -> HistoryError:
    """The error for a record with another number of fields than the header: (line, fields, width, text)."""
    number, actual, expected, text = ragged
    bad = BadRow(file, number or 0, "(whole row)", text, f"{actual} fields where the header has {expected}")
    return HistoryError(str(bad).replace(' column "(whole row)":', ""), line=number,
                        hint="check the delimiter (--delimiter) and quoting, or pass --on-bad-row skip")


@dataclass(frozen=True)
class _CsvShape:
    breaks: int  # line breaks: \n, \r\n or a lone \r
    ends_with_break: bool
    quoted: bool  # a '"' anywhere: values may hold delimiters and line breaks

    def one_record_per_line(self, records: int) -> bool:
        """True when record i is on line i + 2: no blank line and no line break inside a value."""
        return self.breaks + (0 if self.ends_with_break else 1) == records + 1


def scan_csv(path: Path, chunk: int = 1 << 24) -> _CsvShape:
    """Line breaks and quotes, counted over the raw bytes (fast: no decoding, no parsing)."""
    lf = cr = crlf = 0
    quoted = False
    last = b""
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            lf += block.count(b"\n")
            in_block = block.count(b"\r")
            cr += in_block
            crlf += (block.count(b"\r\n") if in_block else 0) + (last == b"\r" and block[:1] == b"\n")
            quoted = quoted or b'"' in block
            last = block[-1:]
    return _CsvShape(lf + cr - crlf, last in (b"\n", b"\r"), quoted)


def record_lines(path: Path, delimiter: str, width: int) -> tuple[list[int], list[tuple]]:
    """The line each data record starts on (records of `width` fields, as Arrow keeps them), and the
    records of another width as (line, fields, width, text). Blank lines are no records (as in Arrow)."""
    lines: list[int] = []
    ragged: list[tuple] = []
    for start, fields in _csv_records(path, delimiter, "replace"):
        if len(fields) == width:
            lines.append(start)
        else:
            ragged.append((start, len(fields), width, delimiter.join(fields)))
    return lines, ragged


def _csv_records(path: Path, delimiter: str, errors: str):
    """(the line it starts on, its fields) for each data record of a CSV file (blank lines are none, as in
    Arrow), read with Python's csv module; `errors` is how bytes that are not UTF-8 are decoded."""
    with unbounded_fields(), path.open("r", encoding="utf-8-sig", errors=errors, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)
        start = reader.line_num + 1
        for fields in reader:
            if fields:
                yield start, fields
            start = reader.line_num + 1


def decode_columns(cols: dict, lines: Optional[list[int]], first_row: int, file: str, options: "ReadOptions"):
    """Byte columns to text. A value that is not UTF-8 is a bad row: stop at the first (by line, then
    column), or under skip leave out every such row. Returns (columns, lines, skipped, examples)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict = {}
    bad: dict[int, tuple[str, bytes]] = {}  # record -> the first column (in header order) that is not UTF-8
    for name, col in cols.items():
        arr = _named_array(col, file, name)
        try:
            if pa.types.is_dictionary(arr.type):  # (2 GiB of text or more: `_one_array`) its values decoded once
                out[name] = pa.DictionaryArray.from_arrays(arr.indices, arr.dictionary.cast(pa.string()))
            else:
                out[name] = arr.cast(pa.string())
            continue
        except pa.ArrowInvalid:
            pass
        values = arr.to_pylist()
        for i, v in enumerate(values):
            if v is not None and i not in bad:
                try:
                    v.decode("utf-8")
                except UnicodeDecodeError:
                    bad[i] = (name, v)
        out[name] = pa.array([None if i in bad or v is None else v.decode("utf-8") for i, v in enumerate(values)],
                             pa.string())
    if not bad:
        return out, lines, Counter(), []

    def line(i: int) -> int:
        return lines[i] if lines is not None else i + first_row

    def bad_row(i: int) -> BadRow:
        name, value = bad[i]
        err = _utf8_error(value)
        return BadRow(file, line(i), name, value.decode("utf-8", "replace"),
                      f"not valid UTF-8 (byte 0x{value[err]:02x} at byte {err + 1} of the value)")

    first = min(bad)
    if options.on_bad_row != "skip":
        raise HistoryError(str(bad_row(first)), line=line(first), column=bad_row(first).column,
                           hint="save the file as UTF-8, or pass --on-bad-row skip to leave out bad rows "
                                "(they are counted in the report)")
    skipped = Counter(f"{bad[i][0]}: not valid UTF-8" for i in bad)
    examples = [bad_row(i) for i in sorted(bad)[:options.max_examples]]
    n = len(next(iter(out.values())))
    keep = pa.array([i not in bad for i in range(n)])
    out = {name: pc.filter(col, keep) for name, col in out.items()}
    kept_lines = [line(i) for i in range(n) if i not in bad]
    return out, kept_lines, skipped, examples


def _utf8_error(value: bytes) -> int:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return 0


def _locate_rows(path: Path, ragged: list) -> list:
    """Line numbers for rows the multi-threaded reader could not number (found by their text)."""
    wanted: dict[str, list] = {}
    for r in ragged:
        wanted.setdefault(r[3], []).append(r)
    out = []
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            rows = wanted.get(line.rstrip("\r\n"))
            if rows:
                _, actual, expected, text = rows.pop(0)
                out.append((number, actual, expected, text))
    return out + [r for rows in wanted.values() for r in rows]


# a value in one of these layouts is parsed by Arrow for the whole column at once; anything else (and any
# value Arrow refuses) goes through the exact per-value parsers above, which also word the error message
_ISO_NAIVE = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$"
_ISO_AWARE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$"
_PLAIN_DECIMAL = r"^(?P<sign>[+-]?)(?P<int>\d{1,15})(?:\.(?P<frac>\d{1,18}))?$"
_PLAIN_WHOLE = r"^\d{1,15}$"
_LARGEST = 2**63 - 1  # amounts (minor units) and quantities are 64-bit integers
# history times lie in years 1000 to 8999: every date a program computes from one (expiry, windows, calendar
# periods, up to 999 years away) is then a valid date; year 1 or 9999 would overflow Python's calendar
FIRST_TIME = _dt.datetime(1000, 1, 1)
LAST_TIME = _dt.datetime(8999, 12, 31, 23, 59, 59, 999999)
_TIME_RANGE_REASON = "outside the supported range of times (years 1000 to 8999)"


def _text_array(values):
    """A column as one Arrow string array (from a Python list or an Arrow array)."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(values, pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


def _cast_or_null(values, target):
    """Cast, with null for the values Arrow refuses (found by halving: bad values are rare)."""
    import pyarrow as pa

    try:
        return values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(values) <= 1:
            return pa.nulls(len(values), target)
        half = len(values) // 2
        return pa.concat_arrays([_cast_or_null(values.slice(0, half), target),
                                 _cast_or_null(values.slice(half), target)])


def _fast_times(text, options: ReadOptions):
    """Microseconds of local wall time, null where the fast path cannot parse the value; and the rows'
    folds (`History`), None when no time names the second pass of a repeated hour (almost always)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import arrow, numbers, scalar

    if options.time_format:
        # strftime layouts: each distinct value parsed once, exactly, in Python
        distinct = pc.unique(text)
        parse = make_time_parser(options.time_format, options.timezone)
        parsed, folds = [], []
        for value in distinct.to_pylist():
            try:
                when = None if value is None else parse(value)
            except _Bad:
                when = None
            parsed.append(None if when is None else _micros(when))
            folds.append(0 if when is None else when.fold)
        known = np.array([v is not None for v in parsed], dtype=bool)
        parsed_values = arrow(np.array([v or 0 for v in parsed], dtype=np.int64), known)
        at = pc.index_in(text, value_set=distinct)
        fold = np.array(folds, dtype=np.int8)[numbers(at, 0)] if any(folds) else None
        return pc.take(parsed_values, at), fold
    no_text = scalar(None, pa.string())
    naive = pc.fill_null(pc.match_substring_regex(text, _ISO_NAIVE), scalar(False, pa.bool_()))
    if pc.all(naive).as_py():  # the usual case: one layout, no zone, nothing to mask
        return pc.cast(_cast_or_null(text, pa.timestamp("us")), pa.int64()), None
    aware = pc.fill_null(pc.match_substring_regex(text, _ISO_AWARE), scalar(False, pa.bool_()))
    out = pc.cast(_cast_or_null(pc.if_else(naive, text, no_text), pa.timestamp("us")), pa.int64())
    if pc.any(aware).as_py():
        instants = _cast_or_null(pc.if_else(aware, text, no_text), pa.timestamp("us", tz="UTC"))
        local = pc.local_timestamp(instants.cast(pa.timestamp("us", tz=options.timezone)))
        out = pc.if_else(aware, pc.cast(local, pa.int64()), out)
        # the second pass of a repeated hour: the instant is not the wall time's first reading
        first = pc.assume_timezone(local, options.timezone, ambiguous="earliest", nonexistent="earliest")
        second = numbers(pc.not_equal(pc.cast(first, pa.int64()), pc.cast(instants, pa.int64())), False)
        if second.any():
            return out, second.astype(np.int8)
    return out, None


def _micros(t: _dt.datetime) -> int:
    return (t - _EPOCH) // _dt.timedelta(microseconds=1)


def time_bounds(column, options: ReadOptions) -> tuple[Optional[int], Optional[int]]:
    """The least and greatest time (microseconds) among the values of one raw time column (bytes or text)
    that `build_history` accepts as times, parsed by its own functions: the fast path, then the exact
    per-value parser for what the fast path leaves. A value that is no time is left out, not reported
    (`build_history` names it when the row is read whole). (None, None) when no value is a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import numbers, valid

    array = _one_array(column)
    if not pa.types.is_string(array.type):
        try:
            array = array.cast(pa.string())
        except pa.ArrowInvalid:  # not UTF-8 somewhere: such a row is bad whatever its time
            array = pa.array([_utf8_or_none(v) for v in array.to_pylist()], pa.string())
    n = len(array)
    if not n:
        return None, None
    when = _fast_times(pc.utf8_trim_whitespace(array), options)[0]
    ok = valid(when)
    when = numbers(when)
    ok &= (when >= _micros(FIRST_TIME)) & (when <= _micros(LAST_TIME))
    slow = np.flatnonzero(~ok)
    if len(slow):
        parse_time = make_time_parser(options.time_format, options.timezone)
        low = high = None
        parsed: dict = {}
        for value in pc_take(array, slow.tolist()):
            if value not in parsed:
                parsed[value] = None
                if value is not None and value.strip():  # as `_parse_slowly` reads a time
                    try:
                        t = parse_time(value)
                    except (_Bad, OverflowError):
                        continue
                    if FIRST_TIME <= t <= LAST_TIME:
                        parsed[value] = _micros(t)
            us = parsed[value]
            if us is not None:
                low = us if low is None else min(low, us)
                high = us if high is None else max(high, us)
    else:
        low = high = None
    if ok.any():
        good = when[ok]
        fast_low, fast_high = int(good.min()), int(good.max())
        low = fast_low if low is None else min(low, fast_low)
        high = fast_high if high is None else max(high, fast_high)
    return low, high


def _utf8_or_none(value: Optional[bytes]) -> Optional[str]:
    try:
        return None if value is None else value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _fast_amounts(text, minor_units: int):
    """Signed integer minor units, null where the fast path cannot parse the value exactly."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import scalar

    parts = pc.extract_regex(text, _PLAIN_DECIMAL)
    sign, whole, frac = (pc.struct_field(parts, i) for i in range(3))
    frac = pc.utf8_rtrim(frac, characters="0")
    fits = pc.less_equal(pc.utf8_length(frac), scalar(minor_units, pa.int32()))  # more decimals: the slow path says so
    digits = pc.binary_join_element_wise(whole, pc.utf8_rpad(frac, width=minor_units, padding="0"),
                                         scalar("", pa.string()))
    value = _cast_or_null(pc.if_else(fits, digits, scalar(None, pa.string())), pa.int64())  # too large: slow path
    return pc.if_else(pc.equal(sign, scalar("-", pa.string())), pc.negate(value), value)


def _clean(column):
    """A text column as one dictionary array of its values trimmed of whitespace, null where empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import scalar

    array = _one_array(column)
    if not pa.types.is_dictionary(array.type):
        fixed = _fixed_width_encoded(array)
        if fixed is not None:
            return fixed
        array = pc.dictionary_encode(array if pa.types.is_string(array.type) else array.cast(pa.string()))
    indices, values = array.indices, array.dictionary
    if indices.type != pa.int32():
        indices = indices.cast(pa.int32())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    # every distinct value once: a column of a million rows usually has a few thousand
    trimmed = pc.utf8_trim_whitespace(values)
    empty = pc.equal(pc.utf8_length(trimmed), scalar(0, pa.int32()))
    if pc.any(empty).as_py() or not trimmed.equals(values):
        merged = pc.dictionary_encode(pc.if_else(empty, scalar(None, pa.string()), trimmed))
        indices, values = merged.indices.take(indices), merged.dictionary
    # (codes of a dictionary array, or taken through one: in range, so not checked again, ~1 ms per 1M rows)
    return pa.DictionaryArray.from_arrays(indices, values, safe=False)


def _per_value(column, convert):
    """`convert` (text -> Arrow array with nulls) applied to each distinct value of a dictionary column once.
    Returns (numpy values per row, numpy bool per row: the value converted; False where null; the codes, -1
    where null)."""
    import numpy as np

    from loyalty.simulate.columns import numbers, valid

    converted = convert(column.dictionary)
    ok = np.append(valid(converted), False)
    values = np.append(numbers(converted), 0)
    at = _codes(column)[0]
    return values[at], ok[at], at


def _no_text(n: int):
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), pa.nulls(0, pa.string()))


def build_history(cols: dict, file: str, first_row: int, options: ReadOptions,
                  lines: Optional[list[int]] = None, header: Optional[list[str]] = None) -> History:
    """Validate and sort text columns (as read from a file: lists or Arrow arrays) into a History.

    Every column is validated and converted for all rows at once, text columns through
    their distinct values (dictionary-encoded: trimming, event types, amounts and
    quantities are parsed once per distinct value); a row the fast path cannot take (a
    bad value, or a valid but unusual layout) is parsed on its own by the exact per-value
    parsers, which either accept it or name its row, column and value. `header`: the file's whole header when
    `cols` holds only the columns read (`headers_read`); a column not read (`ReadOptions.only`) is empty.
    """
    # (the checks' own arrays, a dozen of 1-8 bytes a row, are freed before the sort copies the columns: 1M rows,
    # the read's peak resident memory ~60 MB lower)
    columns, skipped, examples = _checked_columns(cols, file, first_row, options, lines, header)
    return History(_sorted_table(columns, options.timezone), file=file, skipped=skipped, bad_rows=examples,
                   encoded=True)


def _checked_columns(cols: dict, file: str, first_row: int, options: ReadOptions, lines: Optional[list[int]],
                     header: Optional[list[str]]) -> tuple[dict, Counter, list[BadRow]]:
    """`build_history`'s columns before the sort: every row checked and converted (its kept rows, with the rows
    parsed slowly after them), what was skipped and the examples of bad rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import arrow, numbers, strings, valid

    resolved = _resolved_read(header or list(cols), options, file)
    raw = {key: _named_array(cols[header], file, header) for key, header in resolved.items()}
    n = len(raw["member"])
    # every column the file lacks is this one array of nulls (1M rows: 4 MB of codes each; most files lack 3-5)
    absent = _no_text(n)
    text = {key: _clean(raw[key]) if key in raw else absent
            for key in ("member", "type", "amount", "quantity") + _TEXT_COLUMNS[2:] if key not in _IDS}
    # order and event ids, read as plain text, are cleaned and encoded once the rows are sorted by member
    # (`_sorted_table`); no check below reads them
    text.update({key: raw[key] if key in raw and pa.types.is_string(raw[key].type) else
                 _clean(raw[key]) if key in raw else absent for key in _IDS})

    member = _codes(text["member"])[0]
    fold = None
    if pa.types.is_timestamp(raw["time"].type):  # parsed while reading (`_read_plain_csv`)
        when = raw["time"].cast(pa.int64())
    elif n and pa.types.is_dictionary(raw["time"].type):  # (2 GiB of text or more: `_one_array`) per value
        when, fold = _fast_times(pc.utf8_trim_whitespace(_text_array(raw["time"].dictionary)), options)
        at = numbers(raw["time"].indices, -1)
        when = when.take(arrow(at, at >= 0))  # (a null time stays null: the slow path names it)
        fold = None if fold is None else np.append(fold, 0)[at]
    elif n:
        when, fold = _fast_times(pc.utf8_trim_whitespace(_text_array(raw["time"])), options)
    else:
        when = pa.nulls(0, pa.int64())
    time_ok = valid(when)
    when = numbers(when)
    time_ok &= (when >= _micros(FIRST_TIME)) & (when <= _micros(LAST_TIME))  # out of range: the slow path names it
    # event types: -1 where empty (inferred from the amount's sign below), -2 where unknown
    type_codes, type_values = _codes(text["type"])
    lowered = pc.utf8_lower(text["type"].dictionary).to_pylist()
    kind_of = np.array([EVENT_TYPES.index(t) if t in EVENT_TYPES else -2 for t in lowered] + [-1], dtype=np.int64)
    kind = kind_of[type_codes]
    signed, amount_ok, amount_at = _per_value(text["amount"], lambda values: _fast_amounts(values, options.minor_units))
    # a missing amount is fine on events that carry no money
    moneyless = (amount_at < 0) & (kind > _RETURN)
    amount = np.where(moneyless, 0, signed)
    amount_ok |= moneyless
    # a negative amount without a type is a return (the way most exports write refunds)
    negative = amount_ok & (amount < 0)
    kind = np.where(kind == -1, np.where(negative, _RETURN, _PURCHASE), kind)
    quantity, quantity_ok, quantity_at = _per_value(text["quantity"], _fast_quantities)
    no_quantity = quantity_at < 0
    quantity = np.where(no_quantity, 1, quantity)
    # (a column without a value, as one the file does not have: the checks below in one pass, or none)
    # codes (separated by spaces), on purchases only: each distinct value checked once
    codes_ok = True
    if text["codes"].null_count < n:
        code_at, code_values = _codes(text["codes"])
        codes_ok = np.append(np.array([codes_problem(v) is None for v in code_values], dtype=bool), True)[code_at]
        codes_ok &= (code_at < 0) | (kind == _PURCHASE)
    # adjustments (runtime/mechanics/adjustments.py): what and how much, and why, on adjustment rows only
    adjusting = kind == _ADJUSTMENT
    if text["adjust"].null_count < n or text["reason"].null_count < n:
        adjust_at, adjust_values = _codes(text["adjust"])
        adjust_ok = np.append(np.array([adjustment_problem(v) is None for v in adjust_values], dtype=bool),
                              False)[adjust_at]
        reason_at = _codes(text["reason"])[0]
        adjust_ok = np.where(adjusting, adjust_ok & (reason_at >= 0), (adjust_at < 0) & (reason_at < 0))
    else:  # an adjustment row needs both
        adjust_ok = ~adjusting
    # fees (runtime/mechanics/fees.py): a fee row names a paid tier in its item column, each value checked once
    fee_ok = kind != _FEE
    if not fee_ok.all():
        item_at, item_values = _codes(text["item"])
        named = np.array([fee_problem(v, options.tiers) is None for v in item_values] + [False], dtype=bool)
        fee_ok |= named[item_at]
    fast = (member >= 0) & time_ok & (kind >= 0) & amount_ok & (~negative | (kind == _RETURN)) \
        & (quantity_ok | no_quantity) & codes_ok & adjust_ok & fee_ok

    # where each row came from, for messages: its line in the file (its first line when a quoted value
    # holds a line break); without `lines`, record i is on line i + first_row
    rows = np.asarray(lines, dtype=np.int64) if lines is not None else np.arange(first_row, first_row + n, dtype=np.int64)
    columns = {
        "member": text["member"], "time": when, "amount": np.abs(amount),
        "type": pa.DictionaryArray.from_arrays(arrow(np.maximum(kind, 0).astype(np.int32)), strings(EVENT_TYPES),
                                               safe=False),  # (codes of EVENT_TYPES: in range)
        **{k: text[k] for k in ("order", "item", "category")}, "quantity": quantity,
        **{k: text[k] for k in ("store", "channel", "event", "codes", "adjust", "reason")}, "row": rows,
        "fold": fold if fold is not None else np.zeros(n, dtype=np.int8),
    }
    skipped: Counter = Counter()
    examples: list[BadRow] = []
    slow = np.flatnonzero(~fast).tolist()
    if slow:
        good, fixed = _parse_slowly(raw, resolved, slow, file, arrow(rows), options, skipped, examples)
        keep = arrow(fast)
        columns = {k: (v.filter(keep) if isinstance(v, pa.Array) else v[fast]) for k, v in columns.items()}
        if fixed:
            extra = pa.Table.from_pylist(fixed, schema=_schema())
            columns = {k: _concat(v, extra.column(k)) for k, v in columns.items()}
    return columns, skipped, examples


def _fast_quantities(text):
    """Whole quantities of at least 1, null where the fast path cannot take the value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import scalar

    no = scalar(False, pa.bool_())
    whole = pc.fill_null(pc.match_substring_regex(text, _PLAIN_WHOLE), no)
    value = pc.cast(pc.if_else(whole, text, scalar(None, pa.string())), pa.int64())
    return pc.if_else(pc.fill_null(pc.greater_equal(value, scalar(1, pa.int64())), no), value,
                      scalar(None, pa.int64()))


def _concat(fast, fixed):
    """The fast rows' column and the slowly parsed rows' column, as one column of the fast one's kind."""
    import numpy as np
    import pyarrow as pa

    from loyalty.simulate.columns import numbers

    if isinstance(fast, np.ndarray):
        return np.concatenate([fast, numbers(fixed)])
    if pa.types.is_string(fast.type):  # ids encoded after the sort (`_IDS`); 2 GiB together: encoded (`_one_array`)
        return _one_array(pa.chunked_array([fast, _one_array(fixed).cast(pa.string())]))
    return pa.chunked_array([fast, _one_array(fixed)]).combine_chunks()  # dictionaries unified


def order_key(time, fold, timezone: str):
    """What orders one member's rows in time: the wall time (microseconds), or where a row names the
    second pass of an hour a DST fall-back repeats (`fold`), the instant, so a return 45 minutes after
    its purchase across the change comes after it, as `program.apply` takes them. Naive times read as
    the first pass, which keeps their wall-time order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import arrow, numbers

    time, fold = np.asarray(time, dtype=np.int64), np.asarray(fold, dtype=np.int8)
    if not fold.any():
        return time
    wall = arrow(time).cast(pa.timestamp("us"))
    first = numbers(pc.assume_timezone(wall, timezone, ambiguous="earliest", nonexistent="earliest").cast(pa.int64()))
    second = numbers(pc.assume_timezone(wall, timezone, ambiguous="latest", nonexistent="earliest").cast(pa.int64()))
    return np.where(fold == 1, second, first)


def sort_rows(table, timezone: str, keys: tuple = ("member", "time", "row")):
    """A history table's rows by `keys`, where "time" stands for `order_key` (for tables that
    combine rows sorted apart: batches of a stream, pieces of a distributed read)."""
    import numpy as np

    from loyalty.simulate.columns import arrow, numbers

    names = table.column_names
    fold = numbers(table.column("fold")) if "fold" in names else np.zeros(table.num_rows, np.int8)
    if not fold.any():
        return table.sort_by([(k, "ascending") for k in keys])
    instant = order_key(numbers(table.column("time")), fold, timezone)
    keyed = table.append_column("_order", arrow(instant))
    order = keyed.sort_by([("_order" if k == "time" else k, "ascending") for k in keys])
    return order.drop_columns(["_order"])


def _sorted_table(columns: dict, timezone: str):
    """The rows in a stable, deterministic order: member (by its text), then time (`order_key`),
    then the row it came from. `columns` is emptied where rows move (its columns' memory goes to their copies)."""
    import numpy as np
    import pyarrow as pa

    from loyalty.simulate.columns import arrow

    member = columns["member"]
    codes = _codes(member)[0]
    rank = np.empty(len(member.dictionary), dtype=np.int64)
    rank[_sort_indices(member.dictionary)] = np.arange(len(rank))
    rows = columns["row"]
    time = order_key(columns["time"], columns["fold"], timezone)
    in_file_order = bool(np.all(rows[1:] >= rows[:-1]))
    member_rank = rank[codes]
    if in_file_order and _sorted_already(member_rank, time):  # a file grouped by member: nothing to move
        return pa.table({k: (_ids_by_member(v, None, codes) if _is_ids(v) else v if isinstance(v, pa.Array)
                             else arrow(v)) for k, v in columns.items()}, schema=_schema())
    # stable sorts from the last key to the first; rows usually are in file order already, and so often is time
    # (an export in time order: then the member sort is the only one)
    if in_file_order and bool(np.all(time[1:] >= time[:-1])):
        order, ranks = None, member_rank
    else:
        order = np.arange(len(rows)) if in_file_order else np.argsort(rows, kind="stable")
        order = order[np.argsort(time[order], kind="stable")]  # timsort: one pass over a sorted run
        ranks = member_rank[order]
    passes = range(0, max(len(rank) - 1, 1).bit_length(), 16)
    for shift in passes:  # 16 bits at a time: numpy's radix sort
        by = np.argsort(((ranks >> shift) & 0xFFFF).astype(np.uint16), kind="stable")
        order = by if order is None else order[by]
        if shift != passes[-1]:
            ranks = member_rank[order]
    assert order is not None  # (`passes` always has a first pass)
    # each column is let go (taken out of `columns`) once its sorted copy is made, and so are the sort's keys
    # before the first copy: 1M rows, the read's peak resident memory ~30 MB lower
    del member, codes, member_rank, ranks, by, time, rows
    moved = {"member": _take_rows(columns.pop("member"), order)}
    # the ids' ranges of members read the moved member codes (not a second gather of `codes`, ~5 ms per 1M rows)
    sorted_codes = _codes(moved["member"])[0] if any(_is_ids(v) for v in columns.values()) else None

    def move(keys: list) -> dict:
        out = {}
        for k in keys:
            v = columns.pop(k)
            out[k] = (_ids_by_member(v, order, sorted_codes) if _is_ids(v) else _take_rows(v, order)
                      if isinstance(v, pa.Array) else arrow(_moved(k, v, order)))
        return out

    # in two threads: the ids here (1M order ids: ~40-70 ms), the other columns (~40-50 ms) in the second thread,
    # because what that thread allocates stays in its own malloc arena, where the replay does not reuse it: those
    # columns' copies are the History's (the ids' work makes ~30 MB of arrays it frees: the other way round, ~10k
    # more page faults per 1M rows)
    ids = [k for k, v in columns.items() if _is_ids(v)]
    others = [k for k in columns if k not in ids]
    with _beside(lambda: move(others), len(order)) as moved_others:
        moved.update(move(ids))
    moved.update(moved_others())
    return pa.table(moved, schema=_schema())


def _sort_indices(values):
    """`pc.sort_indices(values)` of a string array without nulls, as numpy: for ids of one length of up to
    8 bytes (`_id_keys`: member ids, as `loyalty generate` and most exports write them) an argsort of their keys
    read big-endian, whose order is the bytes' order (48,000 member ids: ~2 ms against Arrow's ~7 of
    comparing strings)."""
    import numpy as np
    import pyarrow.compute as pc

    from loyalty.simulate.columns import numbers

    keyed = _id_keys(values) if not values.null_count else None
    if keyed is None:
        return numbers(pc.sort_indices(values))
    return np.argsort(keyed[0].byteswap(), kind="stable")  # (stable as Arrow's sort: equal values by position)


def _moved(name: str, values, order):
    """`values[order]` for a numpy column of the reader's sort, without the gather (~10-25 ms per 1M rows) where
    the result is known: rows numbered one by one (each record on its line, `row`) are `order` plus the first,
    a fold column of zeros (no time names a repeated hour) stays zeros."""
    import numpy as np

    n = len(values)
    if name == "row" and n > 1 and values[-1] - values[0] == n - 1 and bool(np.all(values[1:] - values[:-1] == 1)):
        return order + values[0]
    if name == "fold" and not values.any():
        return np.zeros(n, dtype=values.dtype)
    return values[order]


def _sorted_already(ranks, time) -> bool:
    """True when rows in file order are in (member's rank, time) order already: a file grouped by member, each
    member's rows in time order (`loyalty generate --grouped`, most exports by customer)."""
    import numpy as np

    if len(ranks) < 2:
        return True
    head = min(len(ranks), 4096)  # a file in time order fails within its first rows: the whole pass is not needed
    if head < len(ranks) and not _sorted_already(ranks[:head], time[:head]):
        return False
    step = ranks[1:] - ranks[:-1]
    return bool(np.all((step > 0) | ((step == 0) & (time[1:] >= time[:-1]))))


# ids mostly distinct (an order's, an event's): read as plain text and encoded after the sort by member
_IDS = ("order", "event")
_ID_RANGE = 1 << 14  # rows per range of whole members that `_encoded_by_member` encodes on its own


def _is_ids(column) -> bool:
    import pyarrow as pa

    return isinstance(column, pa.Array) and pa.types.is_string(column.type)


def _encoded_by_member(text, member):
    """A text column of rows sorted by member (`member`: their member codes), cleaned as `_clean` does and
    dictionary-encoded a range of whole members (~16k rows) at a time: one hash table over a million mostly
    distinct ids costs ~3x the same work in small ones that stay in cache (1M order ids: 0.12-0.18 s against
    ~0.04). The dictionary then holds a value once per range it occurs in, so two rows' codes are equal
    exactly when their texts are, for rows of one member: what every reader of order and event codes
    compares (always with the member: kernel, orders, measures, budgets, `reused_order_rows`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import scalar

    n = len(text)
    if n <= _ID_RANGE:
        return _clean(text)
    encoded = pa.DictionaryArray.from_arrays(*_encoded_in_ranges(text, member), safe=False)  # (Arrow's codes)
    values = encoded.dictionary
    trimmed = pc.utf8_trim_whitespace(values)
    if trimmed.equals(values) and not pc.any(pc.equal(pc.utf8_length(values), scalar(0, pa.int32()))).as_py():
        return encoded  # clean already (as almost always): no value to trim, none empty
    return _clean(pc.dictionary_encode(text))  # values to trim or empty: `_clean`'s way, whole


def _ids_by_member(text, order, member):
    """`_encoded_by_member(text.take(order), member)` (`order` None: `text` sorted already), the same dictionary
    array, without moving the strings where every id has one length of 1 to 8 bytes (an export's order numbers,
    `loyalty generate`'s ids; `_id_keys`): each id is then one 64-bit integer (its bytes), moved by numpy and
    hashed as an integer, ~0.05 s per 1M rows against ~0.14 for Arrow's take of the strings and their hash.
    Other ids take the general way."""
    import pyarrow as pa

    from loyalty.simulate.columns import arrow

    keyed = _id_keys(text)
    n = len(text)
    if keyed is None or n <= _ID_RANGE:
        return _encoded_by_member(text if order is None else text.take(arrow(order)), member)
    keys, known, width = keyed
    if order is not None:
        keys = keys[order]
        known = None if known is None else known[order]
    indices, dictionaries = _encoded_in_ranges(arrow(keys, known), member)
    return pa.DictionaryArray.from_arrays(indices, _key_strings(dictionaries, width), safe=False)  # (Arrow's codes)


def _encoded_in_ranges(column, member) -> tuple:
    """`column`, of rows sorted by member (`member`: their codes), dictionary-encoded a range of whole members
    (`_member_ranges`) at a time: (int32 codes, null where the value is, into the ranges' dictionaries one
    after another; those dictionaries, concatenated)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import arrow, valid

    cuts = _member_ranges(member, len(column))
    codes, known, dictionaries, size = [], [], [], 0
    for start, end in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        piece = pc.dictionary_encode(column.slice(start, end - start))
        indices = piece.indices
        codes.append(np.frombuffer(indices.buffers()[1], dtype=np.int32, count=len(indices),
                                   offset=indices.offset * 4) + size)  # (a null's bytes: the mask says null)
        known.append(valid(indices) if indices.null_count else None)
        dictionaries.append(piece.dictionary)
        size += len(piece.dictionary)
    mask = None
    if any(k is not None for k in known):
        mask = np.concatenate([np.ones(len(c), dtype=bool) if k is None else k for c, k in zip(codes, known)])
    return arrow(np.concatenate(codes), mask), pa.concat_arrays(dictionaries)


def _key_strings(values, width: int):
    """The string array of `_id_keys`' keys (an Arrow uint64 array) of ids `width` bytes long."""
    import numpy as np
    import pyarrow as pa

    keys = np.frombuffer(values.buffers()[1], dtype=np.uint64, count=len(values), offset=values.offset * 8)
    data = keys.view(np.uint8).reshape(len(keys), 8)[:, :width]  # each key's bytes, in the id's order
    offsets = np.arange(0, (len(keys) + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(keys),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))])


def _fixed_width_encoded(text):
    """`pc.dictionary_encode(text)` for a plain string array of ids of one length of 1 to 8 bytes (`_id_keys`),
    hashed as 64-bit integers (1M member ids: ~0.02 s against ~0.035); None for other text. Such ids are clean
    (`_clean`): nothing to trim, none empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.columns import arrow

    keyed = _id_keys(text) if pa.types.is_string(text.type) else None
    if keyed is None:
        return None
    keys, known, width = keyed
    encoded = pc.dictionary_encode(arrow(keys, known))
    values = encoded.dictionary
    indices = encoded.indices if encoded.indices.type == pa.int32() else encoded.indices.cast(pa.int32())
    return pa.DictionaryArray.from_arrays(indices, _key_strings(values, width), safe=False)  # (Arrow's codes)


def _id_keys(text):
    """(uint64 per row: the id's bytes, little-endian, zero-padded; validity or None; the ids' byte length) for
    a string array whose every value has one length of 1 to 8 bytes, begins and ends with printable ASCII, and
    whose nulls hold no bytes; else None."""
    import numpy as np

    from loyalty.simulate.columns import valid

    n = len(text)
    _, offsets, data = text.buffers()
    if not n or text.null_count == n or data is None or sys.byteorder != "little":
        return None
    at = np.frombuffer(offsets, dtype=np.int32, count=n + 1, offset=text.offset * 4)
    lengths = np.diff(at)
    known = valid(text) if text.null_count else None
    width = int(lengths[0] if known is None else lengths[known][0])
    if not 1 <= width <= 8 or (8 * n) >= (1 << 31):
        return None
    if known is None:
        if not (lengths == width).all():
            return None
    elif not (lengths == np.where(known, width, 0)).all():
        return None
    count = n - text.null_count
    start = int(at[0])
    raw = np.frombuffer(data, dtype=np.uint8, count=count * width, offset=start).reshape(count, width)
    if width == 8:  # the bytes are the keys (no copy)
        values = raw.view("<u8").reshape(count)
    else:
        # each id's key read as the 8 bytes from its first (into the ids after it), cut to its own `width`: one
        # pass, where padding every id to 8 bytes took two (1M member ids: ~2 ms against ~8). The last ids,
        # whose 8 bytes would run past the buffer, are padded.
        whole = max(0, min(count, (data.size - start - 8) // width + 1))
        values = np.empty(count, dtype=np.uint64)
        windows = np.ndarray((whole,), dtype="<u8", buffer=data, offset=start, strides=(width,))
        np.bitwise_and(windows, np.uint64((1 << (8 * width)) - 1), out=values[:whole])
        padded = np.zeros((count - whole, 8), dtype=np.uint8)
        padded[:, :width] = raw[whole:]
        values[whole:] = padded.view("<u8").reshape(count - whole)
    # a first or last byte that may be whitespace (or part of a character that is not ASCII): the general way
    # trims and checks such values (`_encoded_by_member`); ids of printable ASCII are clean by their ends alone.
    # (Read off the keys' bytes, every 8th: their least and greatest, without a masked or shifted copy of the
    # keys, ~1 ms per 1M ids against ~5.6)
    key_bytes = values.view(np.uint8)
    for end in (key_bytes[0::8], key_bytes[width - 1::8]):
        if end.min() < 0x21 or end.max() > 0x7E:
            return None
    if known is None:
        return values, None, width
    keys = np.zeros(n, dtype=np.uint64)
    keys[known] = values
    return keys, known, width


def _member_ranges(member, n: int):
    """Cuts (positions, from 0 to n) of ranges of whole members of about `_ID_RANGE` rows, for rows sorted by
    member (`member`: their codes)."""
    import numpy as np

    starts = np.flatnonzero(np.concatenate(([True], member[1:] != member[:-1])))
    return np.unique(np.append(starts[np.searchsorted(starts, np.arange(0, n, _ID_RANGE), side="right") - 1], n))


def _take_rows(column, order):
    """`column.take(order)` for the reader's sort. A dictionary column's int32 codes and validity are moved by
    numpy: Arrow's take of a dictionary array with nulls costs ~5x numpy's (1M rows: ~25 ms a column against
    ~5), and an all-null column (a column the file does not have) needs no move at all. The dictionary is kept."""
    import numpy as np
    import pyarrow as pa

    from loyalty.simulate.columns import arrow, valid

    if not pa.types.is_dictionary(column.type) or column.type.index_type != pa.int32() or len(column) != len(order):
        return column.take(arrow(order))
    if column.null_count == len(column):
        return column
    indices = column.indices
    codes = np.frombuffer(indices.buffers()[1], dtype=np.int32, count=len(indices), offset=indices.offset * 4)[order]
    mask = None
    if column.null_count:
        mask = valid(indices)[order]
        codes[~mask] = 0  # what Arrow's take writes under a null: the same bytes either way
    return pa.DictionaryArray.from_arrays(arrow(codes, mask), column.dictionary, safe=False)  # (moved: in range)


def _parse_slowly(raw: dict, resolved: dict, slow: list[int], file: str, rows, options: ReadOptions,
                  skipped: Counter, examples: list) -> tuple[int, list[dict]]:
    """The rows the fast path left, one by one: parsed exactly, or reported by row and column."""
    values = {key: pc_take(arr, slow) for key, arr in raw.items()}
    line_of = dict(zip(slow, pc_take(rows, slow)))
    parse_time = make_time_parser(options.time_format, options.timezone)
    parse_amount = make_amount_parser(options.minor_units, options.currency)
    fixed: list[dict] = []

    def bad(i: int, key: str, value, reason: str) -> None:
        row = BadRow(file, line_of[i], resolved.get(key, key), "" if value is None else str(value), reason)
        if options.on_bad_row != "skip":
            raise HistoryError(str(row), line=row.row, column=row.column, hint="fix the row, or pass --on-bad-row skip to leave "
                                                            "out bad rows (they are counted in the report)")
        skipped[f"{key}: {reason}"] += 1
        if len(examples) < options.max_examples:
            examples.append(row)

    def get(key: str, j: int):
        column = values.get(key)
        return column[j] if column is not None else None

    for j, i in enumerate(slow):
        member = get("member", j)
        if member is None or not member.strip():
            bad(i, "member", member, "missing member id")
            continue
        raw_time = get("time", j)
        if raw_time is None or not raw_time.strip():
            bad(i, "time", raw_time, "missing time")
            continue
        try:
            when = parse_time(raw_time)
        except _Bad as err:
            bad(i, "time", raw_time, err.reason)
            continue
        except OverflowError:  # an offset moves it past year 1 or 9999
            bad(i, "time", raw_time, _TIME_RANGE_REASON)
            continue
        if not FIRST_TIME <= when <= LAST_TIME:
            bad(i, "time", raw_time, _TIME_RANGE_REASON)
            continue
        raw_kind = get("type", j)
        kind = raw_kind.strip().lower() if raw_kind else ""
        if kind and kind not in EVENT_TYPES:
            bad(i, "type", raw_kind, "unknown event type (known: " + ", ".join(EVENT_TYPES) + ")")
            continue
        raw_amount = get("amount", j)
        if raw_amount is None or not raw_amount.strip():
            if kind in ("purchase", "return", ""):
                bad(i, "amount", raw_amount, "missing amount")
                continue
            amount = 0
        else:
            try:
                amount = parse_amount(raw_amount)
            except _Bad as err:
                bad(i, "amount", raw_amount, err.reason)
                continue
            if abs(amount) > _LARGEST:
                bad(i, "amount", raw_amount, "too large an amount")
                continue
        if not kind:
            kind = "return" if amount < 0 else "purchase"
        if amount < 0:
            if kind != "return":
                bad(i, "amount", raw_amount, f"negative amount on a {kind}")
                continue
            amount = -amount
        quantity = 1
        raw_qty = get("quantity", j)
        if raw_qty is not None and raw_qty.strip():
            try:
                quantity = _parse_quantity(raw_qty)
            except _Bad as err:
                bad(i, "quantity", raw_qty, err.reason)
                continue
            if quantity > _LARGEST:
                bad(i, "quantity", raw_qty, "too large a quantity")
                continue
        raw_codes = get("codes", j)
        codes = " ".join(raw_codes.split()) if raw_codes is not None else ""
        if codes:
            why = codes_problem(codes) if kind == "purchase" else f"codes on a {kind}: only purchases carry codes"
            if why is not None:
                bad(i, "codes", raw_codes, why)
                continue
        raw_adjust, raw_reason = get("adjust", j), get("reason", j)
        adjust = " ".join(raw_adjust.split()) if raw_adjust is not None else ""
        reason = raw_reason.strip() if raw_reason is not None else ""
        if kind == "adjustment":
            why = adjustment_problem(adjust) if adjust else "an adjustment row needs what it adjusts (e.g. points +500)"
            if why is not None:
                bad(i, "adjust", raw_adjust, why)
                continue
            if not reason:
                bad(i, "reason", raw_reason, "an adjustment row needs its reason")
                continue
        elif adjust or reason:
            column, value = ("adjust", raw_adjust) if adjust else ("reason", raw_reason)
            bad(i, column, value, f"only adjustment rows have an {column}" if column == "adjust" else
                "only adjustment rows have a reason")
            continue
        if kind == "fee":
            raw_item = get("item", j)
            why = fee_problem(raw_item.strip() if raw_item else "", options.tiers)
            if why is not None:
                bad(i, "item", raw_item, why)
                continue
        row = {"member": member.strip(), "time": _micros(when), "amount": amount, "type": kind,
               "quantity": quantity, "row": line_of[i], "fold": when.fold}
        for key in ("order", "item", "category", "store", "channel", "event"):
            value = get(key, j)
            row[key] = (value.strip() or None) if value is not None else None
        row["codes"] = codes or None
        row["adjust"] = adjust or None
        row["reason"] = reason or None
        fixed.append(row)
    return len(fixed), fixed


def pc_take(array, indices: list[int]) -> list:
    import numpy as np
    import pyarrow as pa

    from loyalty.simulate.columns import arrow

    taken = array.take(arrow(np.asarray(indices, dtype=np.int64)))
    if pa.types.is_timestamp(taken.type):  # read as times already (`_read_plain_csv`): the exact parser re-reads them
        taken = taken.cast(pa.string())
    return taken.to_pylist()


# ------------------------------------------------------------------ member attributes


@dataclass(frozen=True, slots=True)
class MemberAttributes:
    birthday: Optional[_dt.date] = None
    segments: tuple[str, ...] = ()
    home_store: Optional[str] = None
    signup_date: Optional[_dt.date] = None
    # the file's other columns, (lower-cased name, text) in file order: e.g. the scenario's enrolment column
    others: tuple[tuple[str, str], ...] = ()


_ATTRIBUTE_ALIASES = {
    "member": ("member", "member_id", "customer", "customer_id"),
    "birthday": ("birthday", "birth_date", "date_of_birth"),
    "segments": ("segments", "segment"),
    "home_store": ("home_store", "store"),
    "signup_date": ("signup_date", "signup", "joined"),
}


def read_attributes(path: str | Path, delimiter: str = ",") -> dict[str, MemberAttributes]:
    """Member attributes: member id, birthday, segments (separated by `;` or `|`), home store, signup date."""
    path = Path(path)
    if not path.exists():
        raise HistoryError(f"{path}: no such file")
    cols, first_row, _ = _read_table(path, delimiter)
    return _attributes(cols, first_row, path)


def attributes_from_table(table, name: str = "<attributes>") -> dict[str, MemberAttributes]:
    """Member attributes from an Arrow table in memory (a DataFrame's), with the columns `--attributes` takes."""
    return _attributes(table_text_columns(table, Path(name)), 1, name)


def _attributes(cols: dict, first_row: int, path) -> dict[str, MemberAttributes]:
    cols = {name: values if isinstance(values, list) else values.to_pylist() for name, values in cols.items()}
    lower = {name.lower(): name for name in cols}
    found = {}
    for key, aliases in _ATTRIBUTE_ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[key] = cols[lower[alias]]
                break
    if "member" not in found:
        raise HistoryError(f"{path}: no member column", hint="the file has columns: " + ", ".join(cols))
    used = {name for name in cols if any(cols[name] is v for v in found.values())}
    out: dict[str, MemberAttributes] = {}

    def date_of(i: int, key: str) -> Optional[_dt.date]:
        values = found.get(key)
        text = (values[i] or "").strip() if values else ""
        if not text:
            return None
        try:
            return _dt.date.fromisoformat(text[:10])
        except ValueError:
            raise HistoryError(f'{path}:{i + first_row}: column "{key}": not an ISO date (found {text!r})') from None

    for i, member in enumerate(found["member"]):
        member = (member or "").strip()
        if not member:
            raise HistoryError(f'{path}:{i + first_row}: column "member": missing member id')
        if member in out:
            raise HistoryError(f'{path}:{i + first_row}: member {member!r} appears twice')
        segments_text = (found["segments"][i] or "") if "segments" in found else ""
        segments = tuple(sorted({s.strip() for s in segments_text.replace("|", ";").split(";") if s.strip()}))
        home = (found["home_store"][i] or "").strip() or None if "home_store" in found else None
        others = tuple((name.lower(), (values[i] or "").strip()) for name, values in cols.items() if name not in used)
        out[member] = MemberAttributes(date_of(i, "birthday"), segments, home, date_of(i, "signup_date"), others)
    return out
