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
