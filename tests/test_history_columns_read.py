"""Reading only the columns a run uses (`ReadOptions.only`, run.py `history_columns`): a column left out is not
read, so a bad value in it is not reported; every check of the columns read stays, on both readers."""

from pathlib import Path

import pytest

from loyalty.simulate import history as _history
from loyalty.simulate.history import COLUMN_ALIASES, HistoryError, ReadOptions, read_history
from loyalty.simulate.run import history_columns, load_program

from test_history import _fast_equals_careful

ROOT = Path(__file__).resolve().parent.parent
NO_CHANNEL = frozenset(COLUMN_ALIASES) - {"channel"}
HEADER = b"member,time,type,order,item,amount,store,channel\n"
# row 3's channel is not UTF-8
ROWS = (b"A,2025-01-01T10:00,purchase,o1,wash,10.00,North,app\n"
        b"B,2025-01-02T10:00,purchase,o2,wash,12.50,South,\xff\xfeweb\n"
        b"A,2025-01-03T10:00,purchase,o3,wax,5.00,North,store\n")


def _file(tmp_path, body=ROWS, header=HEADER):
    path = tmp_path / "h.csv"
    path.write_bytes(header + body)
    return path


def test_a_column_not_read_is_not_checked_and_reads_as_empty(tmp_path):
    path = _file(tmp_path)
    with pytest.raises(HistoryError) as err:  # read, the bad byte is a bad row named by row and column
        read_history(path)
    assert "h.csv:3" in err.value.message and err.value.column == "channel"
    h = read_history(path, ReadOptions(only=NO_CHANNEL))
    assert h.member == ["A", "A", "B"] and h.store == ["North", "North", "South"]
    assert h.channel == [None, None, None] and not h.skipped
    _fast_equals_careful(path, ReadOptions(only=NO_CHANNEL))  # the careful reader leaves it out too


def test_one_pass_read_converts_only_the_columns_read(tmp_path):
    path = _file(tmp_path)
    h = _history._read_plain_csv(path, ReadOptions(only=NO_CHANNEL))  # (not left to the careful reader)
    assert h is not None and h.channel == [None, None, None]


def test_checks_of_the_header_and_the_rows_stay(tmp_path):
    only = ReadOptions(only=NO_CHANNEL)
    clean = ROWS.replace(b"\xff\xfe", b"")
    # a mapping to a header the file lacks, for a column not read: still an error
    with pytest.raises(HistoryError, match="not in the file"):
        read_history(_file(tmp_path, clean), ReadOptions(only=NO_CHANNEL, columns={"channel": "via"}))
    # a required column missing: named
    with pytest.raises(HistoryError, match="no amount column"):
        read_history(_file(tmp_path, b"A,2025-01-01,purchase,o1,wash,1,North,app\n",
                           b"member,time,type,order,item,total_x,store,channel\n"), only)
    # a row of the wrong width: reported though its extra field is past the columns read
    ragged = _file(tmp_path, ROWS + b"C,2025-01-04,purchase,o4,wash,1,North,app,extra\n")
    with pytest.raises(HistoryError, match="9 fields"):
        read_history(ragged, only)
    # a bad value in a column read: named by row and column
    with pytest.raises(HistoryError) as err:
        read_history(_file(tmp_path, clean.replace(b"12.50", b"12.5x")), only)
    assert "h.csv:3" in err.value.message and err.value.column == "amount"


def test_one_header_mapped_to_a_column_read_and_one_not_is_read(tmp_path):
    path = _file(tmp_path, header=b"member,time,type,order,item,amount,place,channel\n")
    h = read_history(path, ReadOptions(only=NO_CHANNEL, columns={"store": "place", "channel": "place"}))
    assert h.store == ["North", "North", "South"] and h.channel == [None, None, None]


def test_a_table_in_memory_reads_the_same_columns(tmp_path):
    import pyarrow as pa

    table = pa.table({"member": ["A", "B"], "time": ["2025-01-01", "2025-01-02"], "amount": ["1", "2"],
                      "channel": pa.array([b"app", b"\xff"], pa.binary())})
    with pytest.raises(HistoryError):
        _history.history_from_table(table, "<table>")
    h = _history.history_from_table(table, "<table>", ReadOptions(only=NO_CHANNEL))
    assert h.member == ["A", "B"] and h.channel == [None, None]


def test_the_channel_is_read_only_for_a_program_whose_conditions_name_channels():
    assert "channel" not in history_columns(load_program(str(ROOT / "benchmarks/programs/reference.loyalty")))
    assert "store" in history_columns(load_program(str(ROOT / "benchmarks/programs/reference.loyalty")))
    assert history_columns(load_program(str(ROOT / "examples/programs/grocery_club.loyalty"))) == \
        frozenset(COLUMN_ALIASES)


def test_simulate_reports_a_bad_channel_only_when_the_program_reads_channels(tmp_path):
    from loyalty.simulation import simulate

    path = _file(tmp_path)
    plain = ('program "p" {\n  currency EUR\n}\npoints "points" {\n  cost 0.01 EUR each\n}\n'
             'rule "r" {\n  earn 1 point per 1 EUR\n}\n')
    on_app = plain.replace('  earn 1 point', '  on channel "app"\n  earn 1 point')
    assert simulate(plain, path).report["history"]["rows"] == 3
    with pytest.raises(HistoryError) as err:
        simulate(on_app, path)
    assert err.value.column == "channel"


def test_a_line_break_in_a_column_not_read_still_keeps_the_line_numbers(tmp_path):
    # a quoted free-text column (no known name) over two lines: the bad amount two records on is on line 5
    path = _file(tmp_path, b'A,2025-01-01T10:00,purchase,o1,wash,10.00,North,"line one\nline two"\n'
                           b"B,2025-01-02T10:00,purchase,o2,wash,12.5x,South,x\n",
                 b"member,time,type,order,item,amount,store,note\n")
    for options in (ReadOptions(), ReadOptions(only=NO_CHANNEL)):
        with pytest.raises(HistoryError) as err:
            read_history(path, options)
        assert "h.csv:4" in err.value.message and err.value.column == "amount"
