"""Purchase histories: CSV or Parquet files to columnar, validated, sorted rows.

pyarrow reads every column as text (fast, no guessing); each column is then
parsed exactly here, so a bad value is reported by file, row and column. Money is
parsed as Decimal and kept as integer minor units of the program currency.

The result is columnar (one Python list per column, sorted by member, time and
original row) with member boundaries, so the per-member replay takes a slice and
a later engine (processes, Dask) can partition by member without copying rows
into per-row objects.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable, Optional
from zoneinfo import ZoneInfo

EVENT_TYPES = ("purchase", "return", "visit", "signup", "referral", "redemption", "custom")

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
}
REQUIRED_COLUMNS = ("member", "time", "amount")


class HistoryError(Exception):
    """A history that cannot be used: the message names the file, row and column."""

    def __init__(self, message: str, hint: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


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


@dataclass
class History:
    """Rows sorted by (member, time, original row), one list per column.

    `time` holds naive datetimes in the program's time zone; `amount` integer minor
    units (always >= 0; `type` says whether money came in or went back);
    optional text columns hold None where empty.
    """

    member: list[str]
    time: list[_dt.datetime]
    amount: list[int]
    type: list[str]
    order: list[Optional[str]]
    item: list[Optional[str]]
    category: list[Optional[str]]
    quantity: list[int]
    store: list[Optional[str]]
    channel: list[Optional[str]]
    event: list[Optional[str]]
    row: list[int]  # where each row came from, for messages
    file: str = ""
    skipped: Counter = field(default_factory=Counter)  # reason -> rows skipped
    bad_rows: list[BadRow] = field(default_factory=list)  # the first few skipped, as examples

    def __len__(self) -> int:
        return len(self.member)

    def member_slices(self) -> list[tuple[str, int, int]]:
        """(member id, start, end) for each member, in member order."""
        out: list[tuple[str, int, int]] = []
        members = self.member
        n = len(members)
        start = 0
        while start < n:
            m = members[start]
            end = start + 1
            while end < n and members[end] == m:
                end += 1
            out.append((m, start, end))
            start = end
        return out

    def select_members(self, wanted: Iterable[str]) -> "History":
        """The rows of some members only (keeps order; used by explain and by tests)."""
        keep = set(wanted)
        idx = [i for i, m in enumerate(self.member) if m in keep]
        return self._take(idx)

    def _take(self, idx: list[int]) -> "History":
        cols = {name: [getattr(self, name)[i] for i in idx] for name in _COLUMN_FIELDS}
        return History(**cols, file=self.file, skipped=Counter(self.skipped), bad_rows=list(self.bad_rows))


_COLUMN_FIELDS = ("member", "time", "amount", "type", "order", "item", "category", "quantity", "store", "channel",
                  "event", "row")


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


def _read_table(path: Path, delimiter: str, ragged: Optional[list] = None):
    import pyarrow as pa

    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            raise HistoryError(f"{path}: cannot read as Parquet: {err}") from None
        # everything as text, parsed exactly below; timestamps keep their ISO form
        cols = {}
        for name in table.column_names:
            col = table.column(name)
            cols[name] = [None if v is None else _scalar_text(v) for v in col.to_pylist()]
        return cols, 1, False
    import pyarrow.csv as pacsv

    try:
        with path.open("rb") as fh:
            head = fh.readline()
    except OSError as err:
        raise HistoryError(f"{path}: cannot read: {err.strerror or err}") from None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    try:
        header_line = head.decode("utf-8")
    except UnicodeDecodeError:
        raise HistoryError(f"{path}:1: the header is not valid UTF-8", hint="save the file as UTF-8") from None
    if not header_line.strip():
        raise HistoryError(f"{path}: the file is empty; a header row is needed",
                           hint="the first line names the columns, e.g. member,time,amount")
    names = next(csv.reader(io.StringIO(header_line), delimiter=delimiter))
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise HistoryError(f"{path}:1: column {dupes[0]!r} appears twice in the header")
    def on_ragged_row(row) -> str:
        # rows with too few or too many fields: kept aside, reported like any bad row
        if ragged is not None:
            ragged.append((row.number, row.actual_columns, row.expected_columns, row.text))
            return "skip"
        return "error"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_ragged_row),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as err:
        raise HistoryError(f"{path}: not a readable CSV file: {_arrow_message(err)}",
                           hint="check the delimiter (--delimiter) and that every row has as many fields as the header")
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    return cols, 2, True  # data starts on line 2


def _arrow_message(err: Exception) -> str:
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
    scale = Decimal(10) ** minor_units
    unit = f" {currency}" if currency else ""

    def parse(text: str) -> int:
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise _Bad("not a number") from None
        if not value.is_finite():
            raise _Bad("not a number")
        minor = value * scale
        if minor != minor.to_integral_value():
            raise _Bad(f"more than {minor_units} decimals for an amount in{unit or ' the currency'}")
        return int(minor)

    return parse


def _parse_quantity(text: str) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise _Bad("not a whole number") from None
    if not value.is_finite() or value != value.to_integral_value() or value < 1:
        raise _Bad("quantity must be a whole number of at least 1")
    return int(value)


# ------------------------------------------------------------------ the reader


def read_history(path: str | Path, options: ReadOptions = ReadOptions()) -> History:
    path = Path(path)
    if not path.exists():
        raise HistoryError(f"{path}: no such file")
    ragged: list = []
    cols, first_row, _is_csv = _read_table(path, options.delimiter, ragged)
    history = build_history(cols, str(path), first_row, options)
    if ragged and any(r[0] is None or r[0] < 1 for r in ragged):
        ragged = _locate_rows(path, ragged)
    for number, actual, expected, text in sorted(ragged, key=lambda r: r[0] or 0):
        bad = BadRow(str(path), number or 0, "(whole row)", text,
                     f"{actual} fields where the header has {expected}")
        if options.on_bad_row != "skip":
            raise HistoryError(str(bad).replace(' column "(whole row)":', ""),
                               hint="check the delimiter (--delimiter) and quoting, or pass --on-bad-row skip")
        history.skipped[f"row: {actual} fields where the header has {expected}"] += 1
        if len(history.bad_rows) < options.max_examples:
            history.bad_rows.append(bad)
    return history


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


def build_history(cols: dict[str, list], file: str, first_row: int, options: ReadOptions) -> History:
    """Validate and sort text columns (as read from a file) into a History."""
    names = list(cols)
    resolved = _resolve_columns(names, options.columns, file)
    n = len(cols[names[0]]) if names else 0

    def column(key: str) -> Optional[list]:
        header = resolved.get(key)
        return cols[header] if header is not None else None

    parse_time = make_time_parser(options.time_format, options.timezone)
    parse_amount = make_amount_parser(options.minor_units, options.currency)
    c_member, c_time, c_amount = column("member"), column("time"), column("amount")
    c_type, c_qty = column("type"), column("quantity")
    optional = {k: column(k) for k in ("order", "item", "category", "store", "channel", "event")}

    out: dict[str, list] = {name: [] for name in _COLUMN_FIELDS}
    skipped: Counter = Counter()
    examples: list[BadRow] = []

    def bad(i: int, key: str, value, reason: str) -> None:
        row = BadRow(file, i + first_row, resolved.get(key, key), "" if value is None else str(value), reason)
        if options.on_bad_row != "skip":
            raise HistoryError(str(row), hint="fix the row, or pass --on-bad-row skip to leave out bad rows "
                                              "(they are counted in the report)")
        skipped[f"{key}: {reason}"] += 1
        if len(examples) < options.max_examples:
            examples.append(row)

    for i in range(n):
        member = c_member[i]
        if member is None or not member.strip():
            bad(i, "member", member, "missing member id")
            continue
        raw_time = c_time[i]
        if raw_time is None or not raw_time.strip():
            bad(i, "time", raw_time, "missing time")
            continue
        try:
            when = parse_time(raw_time)
        except _Bad as err:
            bad(i, "time", raw_time, err.reason)
            continue
        raw_type = c_type[i].strip().lower() if c_type is not None and c_type[i] else ""
        if raw_type and raw_type not in EVENT_TYPES:
            bad(i, "type", c_type[i], "unknown event type (known: " + ", ".join(EVENT_TYPES) + ")")
            continue
        raw_amount = c_amount[i]
        if raw_amount is None or not raw_amount.strip():
            if raw_type in ("purchase", "return", ""):
                bad(i, "amount", raw_amount, "missing amount")
                continue
            amount = 0
        else:
            try:
                amount = parse_amount(raw_amount)
            except _Bad as err:
                bad(i, "amount", raw_amount, err.reason)
                continue
        # a negative amount without a type is a return (the way most exports write refunds)
        if not raw_type:
            raw_type = "return" if amount < 0 else "purchase"
        if amount < 0:
            if raw_type != "return":
                bad(i, "amount", raw_amount, f"negative amount on a {raw_type}")
                continue
            amount = -amount
        quantity = 1
        if c_qty is not None and c_qty[i] is not None and c_qty[i].strip():
            try:
                quantity = _parse_quantity(c_qty[i])
            except _Bad as err:
                bad(i, "quantity", c_qty[i], err.reason)
                continue
        out["member"].append(member.strip())
        out["time"].append(when)
        out["amount"].append(amount)
        out["type"].append(raw_type)
        out["quantity"].append(quantity)
        out["row"].append(i + first_row)
        for key, values in optional.items():
            value = values[i] if values is not None else None
            out[key].append(value.strip() or None if value is not None else None)

    # stable, deterministic order: member, then time, then the order rows came in
    m, t, r = out["member"], out["time"], out["row"]
    order = sorted(range(len(m)), key=lambda j: (m[j], t[j], r[j]))
    if any(order[j] != j for j in range(len(order))):
        out = {name: [values[j] for j in order] for name, values in out.items()}
    return History(**out, file=file, skipped=skipped, bad_rows=examples)


# ------------------------------------------------------------------ member attributes


@dataclass(frozen=True, slots=True)
class MemberAttributes:
    birthday: Optional[_dt.date] = None
    segments: tuple[str, ...] = ()
    home_store: Optional[str] = None
    signup_date: Optional[_dt.date] = None


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
    lower = {name.lower(): name for name in cols}
    found = {}
    for key, aliases in _ATTRIBUTE_ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[key] = cols[lower[alias]]
                break
    if "member" not in found:
        raise HistoryError(f"{path}: no member column", hint="the file has columns: " + ", ".join(cols))
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
        out[member] = MemberAttributes(date_of(i, "birthday"), segments, home, date_of(i, "signup_date"))
    return out
