"""Reading histories: columns, mappings, exact amounts, bad rows reported by row and column, sorting, orders."""

import datetime as dt

import pytest

from loyalty.simulate.history import HistoryError, ReadOptions, parse_column_mapping, read_attributes, read_history
from loyalty.simulate.orders import member_events


def write(tmp_path, text, name="h.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_reads_rows_as_exact_minor_units_sorted_by_member_then_time(tmp_path):
    p = write(tmp_path, "member,time,amount\nB,2025-01-02,10.10\nA,2025-01-03T10:00,0.30\nA,2025-01-01,20\n")
    h = read_history(p)
    assert h.member == ["A", "A", "B"]
    assert h.amount == [2000, 30, 1010]
    assert h.time[0] == dt.datetime(2025, 1, 1)
    assert h.row == [4, 3, 2]  # the line of the file each row came from
    assert h.type == ["purchase"] * 3


def test_zero_decimal_currency_and_too_many_decimals(tmp_path):
    p = write(tmp_path, "member,time,amount\nA,2025-01-01,150\n")
    assert read_history(p, ReadOptions(minor_units=0, currency="JPY")).amount == [150]
    p = write(tmp_path, "member,time,amount\nA,2025-01-01,1.5\n")
    with pytest.raises(HistoryError) as err:
        read_history(p, ReadOptions(minor_units=0, currency="JPY"))
    assert 'h.csv:2: column "amount"' in err.value.message and "decimals" in err.value.message


@pytest.mark.parametrize(
    "row, column, words",
    [
        (",2025-01-01,10,", "member", "missing member id"),
        ("A,01/02/2025,10,", "time", "ISO 8601"),
        ("A,2025-01-01,ten,", "amount", "not a number"),
        ("A,2025-01-01,10,gift", "type", "unknown event type"),
        ("A,2025-01-01,-10,purchase", "amount", "negative amount on a purchase"),
    ],
)
def test_a_bad_row_stops_with_file_row_column_and_value(tmp_path, row, column, words):
    p = write(tmp_path, "member,time,amount,type\nA,2025-01-01,5,purchase\n" + row + "\n")
    with pytest.raises(HistoryError) as err:
        read_history(p)
    assert f'h.csv:3: column "{column}"' in err.value.message
    assert words in err.value.message
    assert "--on-bad-row skip" in err.value.hint


def test_skip_counts_bad_rows_by_reason_and_keeps_the_rest(tmp_path):
    p = write(tmp_path, "member,time,amount\nA,2025-01-01,5\n,2025-01-01,5\nB,nope,5\nC,2025-01-01,x\nD,bad,1\n")
    h = read_history(p, ReadOptions(on_bad_row="skip"))
    assert h.member == ["A"]
    assert sum(h.skipped.values()) == 4
    assert h.skipped["member: missing member id"] == 1
    assert sum(v for k, v in h.skipped.items() if k.startswith("time:")) == 2
    assert [b.row for b in h.bad_rows] == [3, 4, 5, 6]


def test_column_mapping_delimiter_and_time_format(tmp_path):
    p = write(tmp_path, "customer_id;date;dollar_value\nA;20250102;3.25\n")
    opts = ReadOptions(delimiter=";", time_format="%Y%m%d",
                       columns=parse_column_mapping("member=customer_id,time=date,amount=dollar_value"))
    h = read_history(p, opts)
    assert (h.member, h.time, h.amount) == (["A"], [dt.datetime(2025, 1, 2)], [325])


def test_missing_column_names_what_the_file_has(tmp_path):
    p = write(tmp_path, "shopper,date,amount\nA,2025-01-01,5\n")
    with pytest.raises(HistoryError) as err:
        read_history(p)
    assert "no member column" in err.value.message
    assert "shopper" in err.value.hint and "--columns member=" in err.value.hint


def test_bad_mapping_is_a_clear_error():
    with pytest.raises(HistoryError):
        parse_column_mapping("member")
    with pytest.raises(HistoryError) as err:
        parse_column_mapping("shopper=x")
    assert "unknown column" in err.value.message


def test_aware_times_are_converted_to_the_program_zone(tmp_path):
    p = write(tmp_path, "member,time,amount\nA,2025-07-01T22:30:00+00:00,1\n")
    h = read_history(p, ReadOptions(timezone="Europe/Oslo"))
    assert h.time == [dt.datetime(2025, 7, 2, 0, 30)]


def test_negative_amount_without_type_is_a_return(tmp_path):
    p = write(tmp_path, "member,time,amount,order\nA,2025-01-01,10,o1\nA,2025-01-05,-4,o1\n")
    h = read_history(p)
    assert h.type == ["purchase", "return"] and h.amount == [1000, 400]


def test_not_utf8_and_ragged_rows_are_reported(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"member,time,amount\nA,2025-01-01,1,extra\n")
    with pytest.raises(HistoryError) as err:
        read_history(p)
    assert "bad.csv:2:" in err.value.message and "4 fields" in err.value.message
    assert "delimiter" in err.value.hint
    skipped = read_history(p, ReadOptions(on_bad_row="skip"))
    assert len(skipped) == 0 and sum(skipped.skipped.values()) == 1
    with pytest.raises(HistoryError):
        read_history(tmp_path / "missing.csv")


def test_parquet_reads_like_csv(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"member": ["A", "A"], "time": [dt.datetime(2025, 1, 2), dt.datetime(2025, 1, 1)],
                      "amount": ["1.50", "2"]})
    pq.write_table(table, tmp_path / "h.parquet")
    h = read_history(tmp_path / "h.parquet")
    assert h.amount == [200, 150] and h.time[0] == dt.datetime(2025, 1, 1)


def test_rows_become_orders_by_order_id_or_by_member_and_time(tmp_path):
    p = write(tmp_path, (
        "member,time,amount,order,item,quantity,type\n"
        "A,2025-01-01T10:00,10,o1,wash,2,purchase\n"
        "A,2025-01-01T10:00,5,o1,wax,1,purchase\n"
        "A,2025-01-02T09:00,7,,wash,1,purchase\n"
        "A,2025-01-02T09:00,3,,wax,1,purchase\n"
        "A,2025-01-03T09:00,0,,,,visit\n"
        "A,2025-01-04T09:00,5,o1,wax,1,return\n"
    ))
    h = read_history(p)
    (member, start, end), = h.member_slices()
    events = member_events(h, start, end)
    assert [e.kind for e in events] == ["purchase", "purchase", "visit", "return"]
    assert [len(e.lines) for e in events] == [2, 2, 0, 1]
    assert events[0].total == 1500 and events[0].lines[0].quantity == 2
    assert events[3].order_id == "o1"


def test_member_attributes(tmp_path):
    p = write(tmp_path, "member_id,birthday,segments,home_store\nA,1990-05-04,young parents;vip,Oslo 1\nB,,,\n",
              "attrs.csv")
    attrs = read_attributes(p)
    assert attrs["A"].birthday == dt.date(1990, 5, 4)
    assert attrs["A"].segments == ("vip", "young parents")
    assert attrs["B"].segments == () and attrs["B"].home_store is None


# ---------------------------------------------------------------- the vectorised reader equals the exact parsers

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from loyalty.simulate.history import (  # noqa: E402
    HistoryError as _HistoryError, _Bad, build_history, make_amount_parser, make_time_parser,
)

_amount_texts = st.one_of(
    st.from_regex(r"[+-]?\d{1,6}(\.\d{0,4})?", fullmatch=True),
    st.from_regex(r" ?-?\d{0,3}\.?\d{0,3}(e\d)? ?", fullmatch=True),
    st.sampled_from(["1_000", "NaN", "Infinity", "12,50", "", "0.000", "99999999999999999999.5", "٣"]),
)
_time_texts = st.one_of(
    st.builds(lambda y, mo, d, h, mi, sep, tail: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}{tail}",
              st.integers(1990, 2030), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
              st.integers(0, 61), st.sampled_from(["T", " "]),
              st.sampled_from(["", ":30", ":59.5", ":07.123456", "Z", "+02:00", "-05:30", "+0100", ":60"])),
    st.builds(lambda y, mo, d: f"{y:04d}-{mo:02d}-{d:02d}", st.integers(2000, 2030), st.integers(1, 12),
              st.integers(1, 31)),
    st.sampled_from(["2025-1-1", "20250102", "2025-01-02T10", "yesterday", ""]),
)


def _expected(parse, text):
    try:
        return parse(text)
    except _Bad:
        return None


@settings(max_examples=150, deadline=None)
@given(amounts=st.lists(_amount_texts, min_size=1, max_size=30), minor=st.sampled_from([0, 2, 3]))
def test_vectorised_amounts_equal_the_exact_decimal_parser(amounts, minor):
    parse = make_amount_parser(minor, "")
    expected = [_expected(parse, a) if a.strip() else None for a in amounts]
    cols = {"member": [f"M{i:03d}" for i in range(len(amounts))], "time": ["2025-01-01"] * len(amounts),
            "amount": amounts, "type": ["visit"] * len(amounts)}
    h = build_history(cols, "h.csv", 2, ReadOptions(minor_units=minor, on_bad_row="skip"))
    kept = dict(zip(h.member, h.amount))
    for i, value in enumerate(expected):
        member = f"M{i:03d}"
        if value is None and amounts[i].strip() or value is not None and abs(value) >= 2**63:
            assert member not in kept  # a bad (or too large) amount is skipped and counted
        elif value is not None and value < 0:
            assert member not in kept  # a negative amount on a visit is a bad row
        else:
            assert kept[member] == (value or 0)
    assert len(h) + sum(h.skipped.values()) == len(amounts)


@settings(max_examples=150, deadline=None)
@given(times=st.lists(_time_texts, min_size=1, max_size=30), zone=st.sampled_from(["UTC", "Europe/Oslo",
                                                                                     "America/New_York"]))
def test_vectorised_times_equal_the_exact_iso_parser(times, zone):
    parse = make_time_parser(None, zone)
    cols = {"member": [f"M{i:03d}" for i in range(len(times))], "time": times, "amount": ["1"] * len(times)}
    h = build_history(cols, "h.csv", 2, ReadOptions(timezone=zone, on_bad_row="skip"))
    kept = dict(zip(h.member, h.time))
    for i, text in enumerate(times):
        expected = _expected(parse, text) if text.strip() else None
        assert kept.get(f"M{i:03d}") == expected


def test_time_format_is_parsed_exactly_per_distinct_value(tmp_path):
    p = write(tmp_path, "member,time,amount\nA,02.01.2025 10:30,5\nB,02.01.2025 10:30,5\nC,31.02.2025 10:30,5\n")
    with pytest.raises(_HistoryError) as err:
        read_history(p, ReadOptions(time_format="%d.%m.%Y %H:%M"))
    assert 'h.csv:4: column "time"' in err.value.message
    h = read_history(p, ReadOptions(time_format="%d.%m.%Y %H:%M", on_bad_row="skip"))
    assert h.time == [dt.datetime(2025, 1, 2, 10, 30)] * 2 and sum(h.skipped.values()) == 1


def test_first_bad_row_of_a_large_file_is_located_by_row_and_column(tmp_path):
    rows = [f"M{i % 97},2025-01-{1 + i % 28:02d}T10:00,{i}.25" for i in range(20000)]
    rows[12345] = "M1,2025-01-02T10:00,12.3.4"
    rows[15000] = "M2,2025-13-02T10:00,1"
    p = write(tmp_path, "member,time,amount\n" + "\n".join(rows) + "\n")
    with pytest.raises(_HistoryError) as err:
        read_history(p)
    assert err.value.message == "{}:12347: column \"amount\": not a number (found '12.3.4')".format(p)
    h = read_history(p, ReadOptions(on_bad_row="skip"))
    assert len(h) == 19998 and [b.row for b in h.bad_rows] == [12347, 15002]
    assert sum(h.amount) == sum(i * 100 + 25 for i in range(20000) if i not in (12345, 15000))


def test_order_lines_that_are_not_adjacent_still_form_one_order(tmp_path):
    # o1's lines at two times, and o2's line between o1's lines at one time: grouped by key, as documented
    p = write(tmp_path, (
        "member,time,amount,order,item,type\n"
        "A,2025-01-01T10:00,10,o1,wash,purchase\n"
        "A,2025-01-01T10:00,20,o2,wax,purchase\n"
        "A,2025-01-01T10:00,30,o1,wax,purchase\n"
        "A,2025-01-01T11:00,40,o1,wash,purchase\n"
        "A,2025-01-02T10:00,5,o1,wash,return\n"
        "A,2025-01-02T10:00,6,o2,wax,return\n"
        "A,2025-01-02T10:00,7,o1,wax,return\n"
        "B,2025-01-01T10:00,1,o3,wash,purchase\n"
        "B,2025-01-01T10:00,2,o3,wax,purchase\n"
    ))
    h = read_history(p)
    a, b = h.member_slices()
    events = member_events(h, a[1], a[2])
    assert [(e.kind, e.order_id, e.total) for e in events] == [
        ("purchase", "o1", 8000), ("purchase", "o2", 2000), ("return", "o1", 1200), ("return", "o2", 600)]  # minor units
    assert [(e.kind, e.order_id, e.total) for e in member_events(h, b[1], b[2])] == [("purchase", "o3", 300)]


# ---------------------------------------------------------------- the one-pass reader equals the careful one

import sys  # noqa: E402
import subprocess  # noqa: E402

from loyalty.simulate import history as _history  # noqa: E402

_cells = {
    "member": st.sampled_from(["M1", " M2", "M3 ", "m1", "Ø5", "NA", "NULL", "", "  "]),
    "time": st.sampled_from(["2025-01-02", "2025-02-03T10:30", " 2025-03-01T10:00 ", "2025-03-01 10:00:05.25",
                             "2025-03-01T10:00+01:00", "2025-02-30", "0999-12-31", "", "soon"]),
    "type": st.sampled_from(["purchase", "Purchase", " return", "visit", "", "custom", "PURCHASE ", "gift"]),
    "order": st.sampled_from(["", "o1", "o2", " o1"]),
    "item": st.sampled_from(["", "wash", " wax", "a;b"]),
    "quantity": st.sampled_from(["", "1", "2", " 3", "+4", "1.0", "0", "x"]),
    "amount": st.sampled_from(["10", "10.5", "-3.25", " 7.10 ", "0", "1.500", "+2", "1e2", "", "1.234", "abc"]),
}


def _outcome(path, options):
    try:
        h = read_history(path, options)
    except HistoryError as err:
        return ("error", err.message, err.hint)
    return ({name: h.column(name) for name in h.table.column_names}, dict(h.skipped), [str(b) for b in h.bad_rows],
            h.member_slices(), h.event_index())


def _fast_equals_careful(path, options):
    """The one-pass read's outcome (`_outcome`), asserted equal to the careful reader's; returned."""
    fast = _outcome(path, options)
    original = _history._read_plain_csv
    _history._read_plain_csv = lambda p, o: None
    try:
        careful = _outcome(path, options)
    finally:
        _history._read_plain_csv = original
    assert fast == careful
    return fast


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries(_cells), min_size=0, max_size=25), skip=st.booleans())
def test_one_pass_reader_gives_what_the_careful_reader_gives(tmp_path_factory, rows, skip):
    # the one-pass reader (dictionary-encoded, one multi-threaded read) must give the same rows, order,
    # skipped counts and messages as the careful reader it falls back to on unusual files
    path = tmp_path_factory.mktemp("h") / "h.csv"
    names = list(_cells)
    path.write_text(",".join(names) + "\n" + "".join(",".join(r[n] for n in names) + "\n" for r in rows),
                    encoding="utf-8")
    options = ReadOptions(on_bad_row="skip" if skip else "stop", timezone="Europe/Oslo")
    _fast_equals_careful(path, options)


def test_a_plain_file_is_read_in_one_pass():
    h = _history._read_plain_csv(ROOT / "examples" / "histories" / "car_wash.csv", ReadOptions())
    assert h is not None and len(h) > 0


@settings(max_examples=100, deadline=None)
@given(times=st.lists(_time_texts, min_size=1, max_size=20), zone=st.sampled_from(["UTC", "Europe/Oslo"]))
def test_times_arrow_parses_while_reading_equal_the_exact_iso_parser(tmp_path_factory, times, zone):
    # Arrow reads a subset of ISO 8601 while reading; whatever it accepts must be what Python's parser says
    path = tmp_path_factory.mktemp("t") / "h.csv"
    path.write_text("member,time,amount\n" + "".join(f"M{i:03d},{t},1\n" for i, t in enumerate(times)),
                    encoding="utf-8")
    parse = make_time_parser(None, zone)
    try:
        h = _history._read_plain_csv(path, ReadOptions(timezone=zone, on_bad_row="skip"))
    except HistoryError:
        return
    if h is not None:
        kept = dict(zip(h.member, h.time))
        for i, text in enumerate(times):
            assert kept.get(f"M{i:03d}") == (_expected(parse, text) if text.strip() else None)


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_rows_sort_by_member_text_beyond_65536_members(tmp_path):
    # member codes are ranked 16 bits at a time; more members than that takes two passes
    members = [f"M{(i * 7919) % 70001:05d}" for i in range(70001)]
    p = write(tmp_path, "member,time,amount\n" + "".join(
        f"{m},2025-01-{1 + i % 28:02d},1\n" for i, m in enumerate(members)))
    h = read_history(p)
    expected = sorted((m, 1 + i % 28, i + 2) for i, m in enumerate(members))
    assert list(zip(h.member, [t.day for t in h.time], h.row)) == expected


def test_a_history_from_a_plain_string_table_is_encoded_and_behaves_the_same(tmp_path):
    import pyarrow as pa

    p = write(tmp_path, "member,time,amount,order,type\nB,2025-01-02,1,o1,purchase\nA,2025-01-01,2,o2,purchase\n"
                        "A,2025-01-01,3,o2,purchase\nA,2025-01-03,1,o2,return\n")
    h = read_history(p)
    assert pa.types.is_dictionary(h.table.column("member").type)
    plain = _history.History(h.table.cast(pa.schema([(f.name, pa.string() if pa.types.is_dictionary(f.type)
                                                               else f.type) for f in h.table.schema])))
    assert pa.types.is_dictionary(plain.table.column("order").type)
    assert plain.member_slices() == h.member_slices() == [("A", 0, 3), ("B", 3, 4)]
    assert plain.event_index() == h.event_index() == ([0, 2, 3], frozenset())
    assert h.select_members(["B"]).member == ["B"] and h.select_members(["B"]).amount == [100]


def test_reading_and_the_vector_kernel_never_import_pandas():
    # pyarrow's own conversions import pandas when it is installed (~0.5 s of every run); ours do not
    script = (
        "import sys\n"
        "from loyalty.simulate import history\n"
        "from loyalty.simulate.history import read_history, ReadOptions\n"
        "history._ID_RANGE = 8  # order ids encoded by ranges of members, as in a long history\n"
        "h = read_history('examples/histories/car_wash.csv', ReadOptions())\n"
        "h.member_slices(); h.event_index(); h.column('member'); h.select_members(['x']); h.time_range()\n"
        "from loyalty.simulate.vector.kernel import _Rows\n"
        "_Rows(h, None)\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_text_is_trimmed_and_empty_text_is_missing(tmp_path):
    # " A" and "A" are one member; an item of spaces or "" is no item; type and amount are read through spaces
    p = write(tmp_path, 'member,time,amount,item,type,order\n A,2025-01-01, 5 ,"  ", Purchase ,o1\n'
                        'A ,2025-01-02,1,"",visit,\n"A",2025-01-03,2, wax ,purchase, o2\n')
    h = read_history(p)
    assert h.member_slices() == [("A", 0, 3)]
    assert h.item == [None, None, "wax"] and h.order == ["o1", None, "o2"]
    assert h.type == ["purchase", "visit", "purchase"] and h.amount == [500, 100, 200]


# order and event ids are encoded after the sort, a range of whole members at a time (`_encoded_by_member`)
_id_texts = st.sampled_from(["o1", "o2", " o1", "o1 ", "", "  ", "O3", "ø4", None])


@settings(max_examples=150, deadline=None)
@given(members=st.lists(st.integers(0, 5), min_size=0, max_size=40).map(sorted),
       data=st.data(), size=st.integers(1, 6))
def test_ids_encoded_by_member_range_read_as_cleaned_text_and_compare_within_a_member(members, data, size):
    import numpy as np
    import pyarrow as pa

    texts = data.draw(st.lists(_id_texts, min_size=len(members), max_size=len(members)))
    column = pa.array(texts, pa.string())
    original = _history._ID_RANGE
    _history._ID_RANGE = size  # ranges of a few rows, so a member's rows end a range often
    try:
        encoded = _history._encoded_by_member(column, np.asarray(members, dtype=np.int64))
    finally:
        _history._ID_RANGE = original
    # the same texts as `_clean` (trimmed, empty or blank is missing)...
    assert encoded.to_pylist() == _history._clean(column).to_pylist()
    assert encoded.to_pylist() == [None if t is None or not t.strip() else t.strip() for t in texts]
    # ...and within one member, two rows' codes are equal exactly when their texts are
    codes = encoded.indices.to_pylist()
    values = encoded.to_pylist()
    for i in range(len(members)):
        for j in range(len(members)):
            if members[i] == members[j] and values[i] is not None and values[j] is not None:
                assert (codes[i] == codes[j]) == (values[i] == values[j])


# ids of one length of up to 8 bytes are moved and encoded as 64-bit integers (`_ids_by_member`, `_id_keys`)
_id_alphabet = st.sampled_from(["0", "1", "9", "A", "o", "-", " ", "\t", "ø", "~"])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), width=st.integers(1, 9), size=st.integers(1, 6), n=st.integers(0, 60))
def test_ids_of_one_width_are_encoded_as_the_strings_would_be(data, width, size, n):
    import numpy as np
    import pyarrow as pa

    # ids of one width, a few distinct (so codes repeat), some missing; a drawn blank, non-ASCII or longer one
    # sends the column the general way, which must give the same array
    pool = data.draw(st.lists(st.text(_id_alphabet, min_size=width, max_size=width), min_size=1, max_size=5))
    texts = data.draw(st.lists(st.one_of(st.sampled_from(pool), st.none()), min_size=n, max_size=n))
    if data.draw(st.booleans()):
        texts = [None if t is None else t.replace(" ", "x").replace("\t", "y").replace("ø", "z") for t in texts]
    column = pa.array(texts, pa.string())
    members = np.asarray(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), dtype=np.int64)
    order = np.argsort(members, kind="stable")
    widths = {len(t.encode()) for t in texts if t is not None}
    clean = len(widths) == 1 and max(widths) <= 8 and \
        all(t is None or (" " < t[0] <= "~" and " " < t[-1] <= "~") for t in texts)
    assert (_history._id_keys(column) is not None) == clean
    original = _history._ID_RANGE
    _history._ID_RANGE = size
    try:
        fast = _history._ids_by_member(column, order, members[order])
        general = _history._encoded_by_member(column.take(pa.array(order)), members[order])
        in_place = _history._ids_by_member(column.take(pa.array(order)), None, members[order])
    finally:
        _history._ID_RANGE = original
    # the same dictionary array: values, codes and dictionary alike
    assert fast.equals(general) and in_place.equals(general)
    # member ids (read as text, encoded whole by `_clean`): as Arrow's dictionary encoding of the text gives
    import pyarrow.compute as pc

    whole = _history._clean(column)
    assert whole.equals(_history._clean(pc.dictionary_encode(column)))
    assert whole.dictionary.equals(_history._clean(pc.dictionary_encode(column)).dictionary)
    assert fast.dictionary.equals(general.dictionary)
    assert fast.to_pylist() == [None if texts[i] is None or not texts[i].strip() else texts[i].strip()
                                for i in order.tolist()]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), width=st.integers(1, 9), n=st.integers(0, 40))
def test_ids_sort_as_arrow_sorts_their_text(data, width, n):
    # members are ranked by their text (`_sorted_table`): ids of one width of up to 8 bytes by their keys read
    # big-endian (`_sort_indices`), any other text by Arrow's sort; the same order either way, equal ids by position
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = data.draw(st.lists(st.text(_id_alphabet, min_size=width, max_size=width), min_size=1, max_size=8))
    texts = data.draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    if data.draw(st.booleans()):
        texts = [t.replace(" ", "x").replace("\t", "y").replace("ø", "z") for t in texts]
    column = pa.array(texts, pa.string())
    assert _history._sort_indices(column).tolist() == pc.sort_indices(column).to_pylist()


@pytest.mark.parametrize("column", ["member", "type", "item", "quantity", "amount"])
def test_a_value_that_is_not_utf8_sends_the_file_to_the_careful_reader(tmp_path, column):
    # the one-pass reader reads text columns as bytes and checks UTF-8 once per distinct value
    # (`_utf8_dictionary`): a value that is not UTF-8 makes it give up, and the careful reader names the row
    cells = {"member": b"M1", "time": b"2025-01-02", "type": b"purchase", "item": b"wash", "quantity": b"1",
             "amount": b"10"}
    bad = dict(cells, **{column: cells[column] + b"\xe9"})
    path = tmp_path / "h.csv"
    path.write_bytes(b",".join(c.encode() for c in cells) + b"\n" + b",".join(cells.values()) + b"\n"
                     + b",".join(bad.values()) + b"\n" + b",".join(cells.values()) + b"\n")
    assert _history._read_plain_csv(path, ReadOptions()) is None
    with pytest.raises(HistoryError) as err:
        read_history(path)
    assert err.value.message.startswith(f'{path}:3: column "{column}": not valid UTF-8 (byte 0xe9 at byte')
    skipped = read_history(path, ReadOptions(on_bad_row="skip"))
    assert len(skipped) == 2 and dict(skipped.skipped) == {f"{column}: not valid UTF-8": 1}


def test_a_file_grouped_by_member_reads_as_the_same_rows_shuffled(tmp_path):
    # a file already in (member, time) order keeps its rows where they are (`_sorted_already`); the same
    # rows in another order are sorted into the same history, order ids compared member by member
    import random

    lines = []
    for m in range(40):
        for k in range(12):
            kind = "return" if k == 11 else "purchase"
            amount = "-2.00" if kind == "return" else f"{k + 1}.50"
            lines.append(f"M{m:03d},2025-01-{1 + k:02d}T10:00,{kind},O{m}-{k % 5 if k < 11 else 0},{amount}\n")
    header = "member,time,type,order,amount\n"
    grouped = write(tmp_path, header + "".join(lines), "grouped.csv")
    shuffled_lines = lines[:]
    random.Random(1).shuffle(shuffled_lines)
    shuffled = write(tmp_path, header + "".join(shuffled_lines), "shuffled.csv")
    original = _history._ID_RANGE
    _history._ID_RANGE = 50  # several ranges of members
    try:
        a, b = read_history(grouped), read_history(shuffled)
    finally:
        _history._ID_RANGE = original
    names = ("member", "time", "type", "order", "amount")
    assert [a.column(n) for n in names] == [b.column(n) for n in names]
    assert a.row == list(range(2, 2 + len(lines)))  # read in place
    assert a.member_slices() == b.member_slices() and a.event_index() == b.event_index()
    # each member's repeated order ids share a code, her different ones do not
    for h in (a, b):
        member, order = h.code_array("member"), h.code_array("order")
        pairs = {(int(m), int(o)): t for m, o, t in zip(member, order, h.order)}
        texts = {(int(m), t) for m, t in zip(member, h.order)}
        assert len(pairs) == len(texts)


# ---------------------------------------------------------------- the vectorised read equals the per-row read
# build_history checks and converts whole columns, and sends only the rows it cannot take to `_parse_slowly`, the
# exact per-row parser that also words every error. Here every row is sent there (`_fast_times` finds no time:
# no row is fast), on small files with what real exports hold: a BOM, CRLF, blank lines, quoted delimiters,
# quotes and line breaks, long fields, bytes that are not UTF-8, a header naming a column twice, a column of
# the file's own. Both must give the same History (rows, order, skipped counts, examples) or the same error.

_odd_cells = {
    "member": st.sampled_from(["M1", " M2", "m1", "Ø5", "", '"M1"', '"M,3"', '"M ""4"""', "M\xff6", "M" * 3000]),
    "time": st.sampled_from(["2025-01-02", "2025-02-03T10:30", " 2025-03-01T10:00 ", "2025-03-01 10:00:05.25",
                             "2025-03-01T10:00+01:00", "2025-10-26T02:30:00+01:00", "2025-02-30", "", "soon",
                             '"2025-01-05"', "2025-01-06T10:00:00Z"]),
    "amount": st.sampled_from(["10", "10.5", "-3.25", " 7.10 ", "0", "+2", "1e2", "", "1.234", '"1,5"',
                               "99999999999999999999", "1" * 40]),
    "type": st.sampled_from(["purchase", " Return", "visit", "", "gift", "redemption", '"purchase"']),
    "order": st.sampled_from(["", "o1", "o2", " o1", '"o\n1"', "o" * 2000]),
    "item": st.sampled_from(["", "wash", '"a,b"', '"line\r\nbreak"', "w\xe9x", "x" * 5000, '"q ""x"""']),
    "quantity": st.sampled_from(["", "1", "2", "0", "1.0", "x", "1" * 25]),
}
_optional = ["type", "order", "item", "quantity"]


@st.composite
def _odd_csv(draw) -> bytes:
    names = ["member", "time", "amount"] + draw(st.lists(st.sampled_from(_optional), unique=True, max_size=4))
    names = draw(st.permutations(names))
    header = [draw(st.sampled_from([n, n.capitalize()])) for n in names]
    if draw(st.integers(0, 9)) == 0:
        header.append(draw(st.sampled_from(["Member", "amount", "note"])))  # twice (ignoring case), or the file's own
    rows = draw(st.lists(st.tuples(*[_odd_cells[n] for n in names]), max_size=12))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(header)]
    for row in rows:
        if draw(st.integers(0, 7)) == 0:
            lines.append("")  # a blank line
        cells = list(row) + (["x"] if len(header) > len(names) else [])
        if draw(st.integers(0, 15)) == 0:
            cells = cells[:-1] or ["x", "y"]  # a row of another width
        lines.append(",".join(cells))
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    data = text.encode("utf-8", "surrogateescape")
    data = data.replace("\xff".encode(), b"\xff").replace("\xe9".encode(), b"\xe9")  # (bytes that are not UTF-8)
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + data


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=_odd_csv(), skip=st.booleans())
def test_the_vectorised_read_equals_the_per_row_read_on_odd_files(tmp_path_factory, data, skip):
    import pyarrow as pa

    path = tmp_path_factory.mktemp("h") / "h.csv"
    path.write_bytes(data)
    options = ReadOptions(on_bad_row="skip" if skip else "stop", timezone="Europe/Oslo")
    fast = _outcome(path, options)
    saved = _history._read_plain_csv, _history._fast_times
    _history._read_plain_csv = lambda p, o: None
    _history._fast_times = lambda text, options: (pa.nulls(len(text), pa.int64()), None)  # no row is fast
    try:
        slow = _outcome(path, options)
    finally:
        _history._read_plain_csv, _history._fast_times = saved
    assert fast == slow


@pytest.mark.parametrize("kind", ["int32", "int64", "bool", "float64", "timestamp"])
@pytest.mark.parametrize("fill", [0, -1, False])
@pytest.mark.parametrize("nulls", ["all", "some", "none"])
def test_numbers_fill_nulls_as_numpy_where_does(kind, fill, nulls):
    # `columns.numbers` answers a column of nothing but nulls (a column the file does not have) in one pass: the
    # same values and numpy type as filling each null of a column that has values
    import numpy as np
    import pyarrow as pa

    from loyalty.simulate.columns import numbers

    kind_of = {"int32": pa.int32(), "int64": pa.int64(), "bool": pa.bool_(), "float64": pa.float64(),
               "timestamp": pa.timestamp("us")}
    present = {"all": [False] * 5, "some": [True, False, True, False, True], "none": [True] * 5}[nulls]
    values = [True, False, True, True, False] if kind == "bool" else [3, 1, 4, 1, 5]
    array = pa.array([v if p else None for v, p in zip(values, present)], kind_of[kind])
    numpy_values = np.array(values, dtype=bool if kind == "bool" else np.float64 if kind == "float64" else np.int64)
    expected = numpy_values if all(present) else np.where(np.array(present), numpy_values, fill)
    got = numbers(array, fill)
    assert got.dtype == expected.dtype and got.tolist() == expected.tolist()


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("skip", [False, True])
def test_text_read_as_bytes_gives_what_the_careful_reader_gives(tmp_path, bom, skip):
    # the one-pass reader reads text columns as dictionaries of bytes (`_utf8_dictionary`): values that are not
    # ASCII, quoted (with the delimiter inside, or empty), blank, padded, or a BOM before the header read as the
    # careful reader reads them, with a negative amount as a return and an amount with too many decimals a bad row
    path = tmp_path / "h.csv"
    path.write_bytes(bom + (
        "member,time,type,item,store,amount\n"
        "M1,2025-01-02T10:00,purchase,café,Bølgen,10.50\n"
        'M1,2025-01-03T10:00,purchase,"wash, wax",  ,"7"\n'
        'M2,2025-01-03T11:00,Purchase,"",Øst,3\n'
        "M2,2025-01-04T12:00,,wash,,-2.25\n"
        "M3,2025-10-26T02:30,purchase,wash,Øst,1\n"
        "M4,2025-01-05,purchase,wash,Øst,1.005\n"
    ).encode("utf-8"))
    options = ReadOptions(on_bad_row="skip" if skip else "stop", timezone="Europe/Oslo")
    assert _history._read_plain_csv(path, ReadOptions(on_bad_row="skip")) is not None  # (the one-pass way)
    fast = _fast_equals_careful(path, options)
    if skip:
        assert "café" in fast[0]["item"] and "wash, wax" in fast[0]["item"] and "Bølgen" in fast[0]["store"]



@pytest.mark.parametrize("width", [2, 6, 8])
@pytest.mark.parametrize("end", [" ", "\t", "\x1f", "\x7f", "é"])
def test_ids_keyed_as_integers_only_when_both_ends_are_printable_ascii(width, end):
    # an id whose first or last byte is not printable ASCII may need trimming or a UTF-8 check: `_id_keys` leaves
    # such a column to the general way (None)
    import pyarrow as pa

    plain = [f"{i:0{width}d}" for i in range(40)]
    assert _history._id_keys(pa.array(plain, pa.string()))[2] == width
    fill = "A" * (width - len(end.encode()))
    for odd in (end + fill, fill + end):
        assert _history._id_keys(pa.array(plain[:7] + [odd] + plain[8:], pa.string())) is None, (width, odd)


@pytest.mark.parametrize("width", range(1, 9))
def test_id_keys_are_each_ids_bytes_to_the_last_id_of_the_buffer(width):
    # `_id_keys` reads each id's 8 bytes from its first, into the ids after it, and pads the last ones, whose 8
    # bytes would run past the buffer: here one exactly as long as its ids, read whole, sliced and with nulls
    import numpy as np
    import pyarrow as pa

    texts = [None if i % 7 == 3 else "".join("AZaz09~!"[(i * 3 + k) % 8] for k in range(width)) for i in range(30)]
    data = "".join(t or "" for t in texts).encode()
    offsets = np.cumsum([0] + [len(t or "") for t in texts], dtype=np.int32)
    valid = np.packbits(np.array([t is not None for t in texts]), bitorder="little")
    column = pa.Array.from_buffers(pa.string(), len(texts), [pa.py_buffer(valid), pa.py_buffer(offsets),
                                                             pa.py_buffer(data)])
    assert column.buffers()[2].size == len(data)
    for start, end in ((0, 30), (1, 30), (0, 29), (5, 9), (29, 30)):
        part, values = column.slice(start, end - start), texts[start:end]
        keys, known, found = _history._id_keys(part)
        assert found == width
        assert keys.tolist() == [int.from_bytes((t or "").encode(), "little") for t in values]
        assert (known is None) == all(t is not None for t in values)
