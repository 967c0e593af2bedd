"""The reader's column work in two threads (history.py `_beside`): the same History, the same bad rows and the
same errors as in one thread, and no thread left running after the read."""

from __future__ import annotations

import os
import threading

import pytest

from loyalty.simulate import history as H
from loyalty.simulate.history import HistoryError, ReadOptions, read_history

ROWS = 70_000  # over `_BESIDE_ROWS`: the read takes its two threads


def _write(path, bad: dict[int, str] = {}) -> None:
    """A file in time order over 5,000 members (so the sort by member moves every column), with order ids, a
    member id to trim, and the rows of `bad` (row index -> the whole line) in place of generated ones."""
    lines = ["member,time,type,order,item,amount,quantity,store"]
    for i in range(ROWS):
        day, minute = divmod(i, 1440)
        member = f"m{(i * 7919) % 5000:05d}" if i != 11 else " m00011 "
        lines.append(bad.get(i, f"{member},2025-{1 + day % 12:02d}-{1 + day // 12 % 28:02d}T{minute // 60:02d}:"
                                f"{minute % 60:02d},{'return' if i % 97 == 0 else 'purchase'},o{i:06d},"
                                f"item{i % 13},{i % 50}.{i % 100:02d},{1 + i % 3},s{i % 4}"))
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8").replace(b"<ff>", b"\xff"))


def _outcome(path, options: ReadOptions):
    """What a read gives: the table, the skipped counts and the examples, or the error's message and hint."""
    try:
        h = read_history(path, options)
    except HistoryError as err:
        return ("error", err.message, err.hint)
    return h.table, dict(h.skipped), [str(b) for b in h.bad_rows]


def _same_both_ways(path, options: ReadOptions, monkeypatch):
    threads = threading.active_count()
    two = _outcome(path, options)
    assert threading.active_count() == threads  # (the read's thread ended with it)
    monkeypatch.setattr(H, "_BESIDE_ROWS", 1 << 40)  # one thread
    one = _outcome(path, options)
    if two[0] == "error":
        assert two == one
    else:
        assert two[0].equals(one[0]) and two[1:] == one[1:]
    return two


def test_two_threads_read_the_same_history(tmp_path, monkeypatch):
    path = tmp_path / "h.csv"
    _write(path)
    table, skipped, examples = _same_both_ways(path, ReadOptions(), monkeypatch)
    assert table.num_rows == ROWS and not skipped and not examples


def test_two_threads_skip_and_name_the_same_bad_rows(tmp_path, monkeypatch):
    path = tmp_path / "h.csv"
    _write(path, {5: "m00005,2025-01-01T00:05,gift,o5,item5,5.05,1,s1", 40_000: "m00001,2025-02-01,purchase,o7,x,"
                  "ten,1,s1", 69_999: ",2025-03-01,purchase,o8,x,1.00,1,s1"})
    _, skipped, examples = _same_both_ways(path, ReadOptions(on_bad_row="skip"), monkeypatch)
    assert sum(skipped.values()) == 3 and len(examples) == 3
    error = _same_both_ways(path, ReadOptions(), monkeypatch)
    assert error[0] == "error" and ":7:" in error[1]  # (the first bad row, line 7)


def test_a_value_that_is_not_utf8_is_named_the_same_way(tmp_path, monkeypatch):
    # (the careful reader's way: the fast read gives up on it, and the careful one builds the History)
    path = tmp_path / "h.csv"
    _write(path, {30_000: "m00002,2025-02-01,purch<ff>se,o9,x,1.00,1,s1"})
    error = _same_both_ways(path, ReadOptions(), monkeypatch)
    assert error[0] == "error" and ":30002:" in error[1]


class _Work(Exception):
    pass


class _Block(Exception):
    pass


def _fails(error):
    def work():
        raise error
    return work


@pytest.mark.parametrize("rows", [1, 1 << 20], ids=["one thread", "two threads"])
def test_beside_raises_what_running_the_work_first_raises(rows):
    threads = threading.active_count()
    with pytest.raises(_Work):  # the work's error, though the block failed too
        with H._beside(_fails(_Work()), rows):
            raise _Block()
    with pytest.raises(_Block):
        with H._beside(lambda: 1, rows):
            raise _Block()
    with H._beside(lambda: 2, rows) as value:
        here = 3
    assert (value(), here) == (2, 3)
    with pytest.raises(_Work):
        with H._beside(_fails(_Work()), rows) as value:
            pass
        value()
    assert threading.active_count() == threads


def test_the_quotes_looked_for_ahead_are_the_files(tmp_path):
    plain, quoted, empty = tmp_path / "plain.csv", tmp_path / "quoted.csv", tmp_path / "empty.csv"
    plain.write_bytes(b"member,time,amount\nm1,2025-01-02,10.00\n")
    quoted.write_bytes(b'member,time,amount\nm1,2025-01-02,"10.00"\n')
    empty.write_bytes(b"")
    for path, answer in ((plain, False), (quoted, True), (empty, False)):
        H.look_for_quotes_ahead(path)
        thread, found = H._quotes_ahead[H._file_identity(path)]
        thread.join()
        assert found == [answer]  # (found by the thread, with memchr)
        assert H._has_quotes(path) is answer
        assert not H._quotes_ahead  # (taken up by the read)
        assert H._quote_in(path, None) is answer  # (where C's memchr cannot be had)
    # a quote in a later block than the first
    late = tmp_path / "late.csv"
    late.write_bytes(b"member,time,amount\n" + b"m1,2025-01-02,10.00\n" * 60000 + b'm1,2025-01-02,"1"\n')
    assert H._quote_in(late, H._memchr()) and H._quote_in(late, None)


def test_a_file_changed_after_the_look_ahead_is_searched_again(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes(b"member,time,amount\nm1,2025-01-02,10.00\n")
    H.look_for_quotes_ahead(path)
    path.write_bytes(b'member,time,amount\nm1,2025-01-02,"10.00"\n')
    assert H._has_quotes(path)
    H._forget_quotes_ahead()
    assert not H._quotes_ahead


def test_no_look_ahead_for_files_the_read_does_not_search(tmp_path):
    for name in ("h.parquet", "h.csv.gz", "missing.csv"):
        path = tmp_path / name
        if name != "missing.csv":
            path.write_bytes(b'"')
        H.look_for_quotes_ahead(path)
    assert not H._quotes_ahead


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_no_look_ahead_for_a_pipe(tmp_path):
    # (opening it ahead would wait for its writer, then take its data from the read: `<(...)` on a command line)
    path = tmp_path / "h.csv"
    os.mkfifo(path)
    H.look_for_quotes_ahead(path)
    assert not H._quotes_ahead
    # and the read says what to do, without opening it (which would wait for a writer)
    with pytest.raises(H.HistoryError, match="not a regular file") as err:
        H.read_history(path)
    assert "standard input" in err.value.hint


def test_a_file_cut_shorter_while_it_is_looked_ahead_does_not_end_the_process(tmp_path):
    # A memory-mapped search of a file truncated under it ended the process with SIGBUS (the CI run of the
    # test above did): the look-ahead reads in blocks instead. Many tries, in a process of its own.
    import subprocess
    import sys

    script = (
        "import sys\nfrom pathlib import Path\nimport loyalty.simulate.history as H\n"
        "path = Path(sys.argv[1])\nbig = b'member,time,amount\\n' + b'm1,2025-01-02,10.00\\n' * 400000\n"
        "for _ in range(60):\n"
        "    path.write_bytes(big)\n"
        "    H.look_for_quotes_ahead(path)\n"
        "    path.write_bytes(b'member,time,amount\\n')\n"
        "    H._forget_quotes_ahead()\n"
        "print('done')\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "h.csv")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "done"
