"""`loyalty simulate --grouped`: a CSV history whose members' rows are contiguous, read in record
batches so that memory stays flat however long the history is (docs/scale.md, "Streaming").

Two kinds of pass over the file, each reading it in batches of about BLOCK_BYTES:
1. scan: the time column only (Arrow still splits every row, but converts one column): the number of
   records and the range of the values that are times, parsed as the full reader parses them (ISO times as
   Arrow reads them, checked against the full reader's range; anything else through `history.time_bounds`,
   the full reader's own parsers). Nothing is reported by the scan. Its range is a candidate for the plan
   (every member's clock runs to the history's end, the report's months come from the range).
2. replay, once per budget pass: every batch is parsed whole exactly as the in-memory reader parses a
   file (history.py's `decode_columns` and `build_history`: the same values accepted, the same bad rows
   named, the same counts under --on-bad-row skip) and checked to be grouped (a member whose rows start
   again after another member's is an error naming that row); then its members whose rows are complete
   (all but the last member in file order, whose rows may go on in the next batch) are replayed with the
   run's kernel (parallel.evaluate_range) and their partial results kept, merged in batch order at the
   end. The replay also counts the rows and finds the exact time range: when it differs from the scan's
   (a row skipped under --on-bad-row skip held the first or last time), the run is planned and replayed
   again with it, so the report always equals the in-memory run's. Errors stop the run before any output.
Line numbers: record i is on line i + 2 for a file without blank lines or quoted line breaks;
for any other file the record lines are counted once, after the scan, by history's `record_lines` (a list
of one number per row: the only part that grows with the history, and only for such files).
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import suppress
from pathlib import Path
from typing import Any, Callable, Generator, Iterator, Optional

from loyalty.simulate.history import BadRow, History, HistoryError, ReadOptions, header_names

BLOCK_BYTES = 1 << 24  # ~16 MB of CSV a batch: ~200,000 rows of a typical history


class HistorySpan:
    """What make_plan and the report need of a history that is never held whole."""

    def __init__(self, file: str, rows: int, first, last, skipped: Counter, bad_rows: list):
        self.file, self.rows, self.first, self.last = file, rows, first, last
        self.skipped, self.bad_rows = skipped, bad_rows

    def __len__(self) -> int:
        return self.rows

    def time_range(self):
        return self.first, self.last


class GroupedReader:
    """A grouped CSV history, read batch by batch (see the module's docstring)."""

    def __init__(self, path: str | Path, options: ReadOptions = ReadOptions(), block_bytes: Optional[int] = None):
        from loyalty.simulate.history import scan_csv

        self.path = Path(path)
        if not self.path.exists():
            raise HistoryError(f"{self.path}: no such file")
        if self.path.suffix.lower() in (".parquet", ".pq"):
            raise HistoryError(f"{self.path}: --grouped reads CSV files; a Parquet file is read whole",
                               hint="leave out --grouped")
        self.options = options
        self.block_bytes = block_bytes or BLOCK_BYTES
        self.names = header_names(self.path, options.delimiter)
        self.shape = scan_csv(self.path)
        self.lines: Optional[list[int]] = None  # record -> line, only for files that are not one record a line
        self.ragged: list[tuple] = []
        self.records_read = 0  # records (rows the file holds, skipped ones too) of the batches read so far

    # ------------------------------------------------------------------ batches

    def _record_batches(self, ragged: list, columns: Optional[dict] = None) -> Iterator:
        """The file's record batches, every column as bytes; or only `columns` (name -> Arrow type)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        def on_ragged_row(row) -> str:
            ragged.append(row)
            return "skip"

        from loyalty.simulate.history import quiet_row_decoding

        undecodable: list = []
        try:
            with quiet_row_decoding(undecodable):
                reader = pacsv.open_csv(
                    self.path,
                    read_options=pacsv.ReadOptions(block_size=self.block_bytes),
                    parse_options=pacsv.ParseOptions(delimiter=self.options.delimiter,
                                                     invalid_row_handler=on_ragged_row,
                                                     newlines_in_values=self.shape.quoted),
                    convert_options=pacsv.ConvertOptions(column_types=columns or {n: pa.binary() for n in self.names},
                                                         include_columns=list(columns or ()),
                                                         strings_can_be_null=False, quoted_strings_can_be_null=False),
                )
                for batch in reader:
                    yield {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
        except pa.ArrowInvalid as err:
            from loyalty.simulate.history import arrow_message, ragged_error, record_lines

            if undecodable:  # a row of the wrong width that is not UTF-8 (Arrow cannot pass it to on_ragged_row)
                _, rows = record_lines(self.path, self.options.delimiter, len(self.names))
                if rows:
                    err_ = ragged_error(str(self.path), rows[0])
                    if self.options.on_bad_row == "skip":
                        raise HistoryError(err_.message + "; --grouped cannot skip a row of the wrong width that "
                                           "is not UTF-8", line=err_.line,
                                           hint="fix or remove the row, or leave out --grouped") from None
                    raise err_ from None
            raise HistoryError(f"{self.path}: not a readable CSV file: {arrow_message(err)}",
                               hint="check the delimiter (--delimiter) and that every row has as many fields as "
                                    "the header") from None

    def _histories(self) -> Generator[tuple[History, int], None, None]:
        """Each batch as a History (sorted within the batch), with the line of its last record."""
        from loyalty.simulate.history import decode_columns, ragged_error, build_history

        ragged_seen: list = []
        done = self.records_read = 0
        options, file = self.options, str(self.path)
        first_ragged = self.ragged[0] if self.ragged and options.on_bad_row != "skip" else None
        for cols in self._record_batches(ragged_seen):
            n = len(next(iter(cols.values()))) if cols else 0
            if ragged_seen and self.lines is None:  # scan() numbers such a file's records first
                raise HistoryError(f"{file}: the file changed while it was read", hint="run again")
            lines = self.lines[done:done + n] if self.lines is not None else None
            first_row = done + 2
            last_line = lines[-1] if lines else first_row + n - 1
            try:
                cols, kept, not_utf8, examples = decode_columns(cols, lines, first_row, file, options)
                h = build_history(cols, file, first_row, options, lines=kept)
            except HistoryError as err:
                if first_ragged and err.line is not None and first_ragged[0] and first_ragged[0] < err.line:
                    raise ragged_error(file, first_ragged) from None
                raise
            if first_ragged and first_ragged[0] and first_ragged[0] <= last_line:
                raise ragged_error(file, first_ragged)
            h.skipped.update(not_utf8)
            h.bad_rows = sorted(examples + h.bad_rows, key=lambda b: b.row)
            done += n
            self.records_read = done
            yield h, last_line
        if first_ragged:
            raise ragged_error(file, first_ragged)
        self.records = done

    def _regular(self, records: int) -> bool:
        return self.shape.one_record_per_line(records)

    # ------------------------------------------------------------------ pass 1: the time column

    def scan(self) -> HistorySpan:
        """Read the time column only (the rest of each row is tokenized, not converted): the number of records
        and the range of the values that are times, parsed by the full reader's own functions
        (`history.time_bounds`). Nothing is reported here: the replay reads every row whole and names bad
        rows and a broken grouping as it goes. The range is a candidate: under --on-bad-row skip a row whose
        time is valid but another value is not is left out by the full reader, so the replay's range
        (`self.span`) can be narrower; grouped_and_report then plans and replays again with it. Also numbers
        the records by line (`history.record_lines`) when the file is not one record a line."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from loyalty.simulate.history import (FIRST_TIME, LAST_TIME, _micros, _resolve_columns, micros_to_datetime,
                                              record_lines, time_bounds)

        try:
            column = _resolve_columns(self.names, self.options.columns, str(self.path))["time"]
        except HistoryError:  # the replay says so, in its place among the file's errors
            column = None
        # ISO times as Arrow parses them while reading, checked against the full reader's range; any value Arrow
        # refuses (a zone, a blank, a layout of its own) and --time-format: the time column as bytes, through
        # `time_bounds`, the full reader's own parsers. Either way a candidate (see above).
        kinds = ([pa.timestamp("us")] if not self.options.time_format else []) + [pa.binary()]
        for kind in kinds if column is not None else ():
            records, low, high, complete = 0, None, None, True
            ragged: list = []
            try:
                for cols in self._record_batches(ragged, {column: kind}):
                    records += len(cols[column])
                    if kind == pa.binary():
                        lo, hi = time_bounds(cols[column], self.options)
                    else:
                        bounds = pc.min_max(cols[column].cast(pa.int64())).as_py()
                        lo, hi = bounds["min"], bounds["max"]
                        if lo is not None and not (_micros(FIRST_TIME) <= lo and hi <= _micros(LAST_TIME)):
                            raise _Refused
                    if lo is not None:
                        low = lo if low is None else min(low, lo)
                        high = hi if high is None else max(high, hi)
                break
            except (_Refused, HistoryError, pa.ArrowException, KeyError):
                complete = False  # bytes next; after them, the replay reads the file whole and says what is wrong
        else:
            records, low, high, complete, ragged = 0, None, None, False, []
        self.records = records
        if not complete or ragged or not self._regular(records):
            # blank lines, quoted line breaks or rows of the wrong width: number the records exactly
            self.lines, self.ragged = record_lines(self.path, self.options.delimiter, len(self.names))
        first = micros_to_datetime(low) if low is not None else None
        last = micros_to_datetime(high) if high is not None else None
        return HistorySpan(str(self.path), records if low is not None else 0, first, last, Counter(), [])

    def validate(self) -> HistorySpan:
        """Read every row whole once, replaying nothing: bad rows, grouping, row count and time range
        (raises HistoryError). The replay (`complete_members`) does the same as it goes."""
        self.scan()
        for _ in self.complete_members():
            pass
        return self.span

    def _checked(self) -> Iterator[History]:
        """Each batch read whole, as `_histories`, checked to be grouped and tallied; once every batch is read,
        `self.span` holds the history's row count, time range, skipped rows and examples."""
        import numpy as np
        import pyarrow.compute as pc

        from loyalty.simulate.history import micros_to_datetime

        options = self.options
        rows, low, high = 0, None, None
        skipped: Counter = Counter()
        examples: list[BadRow] = []
        seen = np.zeros(0, np.int64)  # hashes of members whose rows have ended
        carry: Optional[str] = None  # the member whose rows the last batch ended with
        self.span = None
        for batch, (h, _last_line) in enumerate(self._histories()):
            rows += len(h)
            skipped.update(h.skipped)
            examples = sorted(examples + h.bad_rows, key=lambda b: b.row)[:options.max_examples]
            if len(h):
                bounds = pc.min_max(h.table.column("time")).as_py()
                low = bounds["min"] if low is None else min(low, bounds["min"])
                high = bounds["max"] if high is None else max(high, bounds["max"])
                seen, carry = self._check_grouped(h, seen, carry, batch)
            yield h
        for number, actual, expected, text in self.ragged:  # under skip (stop raised in _histories)
            skipped[f"row: {actual} fields where the header has {expected}"] += 1
            if len(examples) < options.max_examples:
                examples.append(BadRow(str(self.path), number or 0, "(whole row)", text,
                                       f"{actual} fields where the header has {expected}"))
        first = micros_to_datetime(low) if low is not None else None
        last = micros_to_datetime(high) if high is not None else None
        self.span = HistorySpan(str(self.path), rows, first, last, skipped, examples)

    def _check_grouped(self, h: History, seen, carry: Optional[str], batch: int):
        """Members in file order: a member that starts again after another's rows breaks the grouping.
        `seen`: sorted hashes of the members whose rows have ended (8 bytes a member, not a row); `h` is the
        file's batch number `batch` (from 0)."""
        import numpy as np

        from loyalty.simulate.columns import numbers

        # the runs of rows of one member, in file order: found on the member column's codes, so only a run's
        # first row (a member per run, not per row) reaches Python, and only as its id and the id's hash
        lines = numbers(h.table.column("row"), 0)
        by_line = np.argsort(lines, kind="stable")
        codes = h.code_array("member")[by_line]
        starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
        run_codes = codes[starts]
        members = h.values_of("member", run_codes)
        hashes = np.fromiter(map(_member_hash, members), np.int64, len(members))
        goes_on = carry is not None and members[0] == carry
        if carry is not None and not goes_on:
            seen = _with_hashes(seen, [_member_hash(carry)])
        new = 1 if goes_on else 0  # the runs of members new to this batch
        bad = []
        if len(seen) and len(hashes) > new:
            pos = np.minimum(np.searchsorted(seen, hashes[new:]), len(seen) - 1)
            hits = (np.flatnonzero(seen[pos] == hashes[new:]) + new).tolist()
            if hits:  # a member seen before, or another's equal hash (~1e-8 for 500k members): told apart by id
                earlier = self._members_before({members[i] for i in hits}, batch)
                bad += [i for i in hits if members[i] in earlier]
        by_code = np.sort(run_codes)
        if (by_code[1:] == by_code[:-1]).any():  # a member with two runs in this batch: her second
            first_run: dict = {}
            bad += [i for i, c in enumerate(run_codes.tolist()) if first_run.setdefault(c, i) != i]
        if bad:
            run_lines = lines[by_line[starts]]
            i = min(bad, key=lambda i: run_lines[i])
            member, line = members[i], int(run_lines[i])
            raise HistoryError(f"{self.path}:{line}: member {member!r} has rows here and earlier, with other "
                               f"members' rows between: --grouped needs each member's rows together",
                               hint="sort the file by member (loyalty generate --grouped makes such files), "
                                    "or leave out --grouped to read the file whole", line=line)
        if len(hashes) > 1:
            seen = _with_hashes(seen, hashes[:-1])
        return seen, members[-1]

    def _members_before(self, ids: set, batches: int) -> set:
        """Those of `ids` that have rows in the file's first `batches` batches, read again as the replay read them
        (a second reader's `_histories`: the same rows, the same ones left out under --on-bad-row skip). Only
        for a hash `_check_grouped` found again: a broken grouping, which stops the run, or a collision."""
        from itertools import islice

        import numpy as np

        again = GroupedReader(self.path, self.options, self.block_bytes)
        again.lines, again.ragged = self.lines, self.ragged
        found: set = set()
        histories = again._histories()
        try:
            for h, _ in islice(histories, batches):
                codes = np.unique(h.code_array("member"))
                found.update(ids.intersection(h.values_of("member", codes[codes >= 0])))
        finally:
            histories.close()
        return found

    # ------------------------------------------------------------------ pass 2: replay

    def complete_members(self) -> Iterator[History]:
        """Histories of whole members, batch by batch (scan() first), each batch read whole and checked as it
        comes (bad rows, grouping: HistoryError). A member whose rows go on past a batch is carried into the
        next; once her rows end she is replayed on her own (parts merge exactly). When the generator is done,
        `self.span` is the history's. Each member's rows are checked for a reused order id once they are all
        read (history.refuse_reused_orders, as the in-memory reader does): under skip left out and counted (the
        time range is taken from the rows kept), under stop the earliest is the error once every batch has
        been read without another (the in-memory reader reports a bad row of the file before it)."""
        import numpy as np
        import pyarrow as pa

        from loyalty.simulate.columns import numbers
        from loyalty.simulate.history import sort_rows

        def one_member(parts):  # her rows from two batches, in the reader's order (member, time, row)
            # as plain text: unifying the batches' whole dictionaries (every order id of each) cost more than
            # her rows; History() encodes them again
            plain = [pa.table([c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in t.columns],
                              names=t.column_names) for t in parts]
            table = pa.concat_tables(plain).combine_chunks()
            return sort_rows(table, self.options.timezone, ("time", "row"))

        def run_of(i: int) -> tuple[int, int]:  # the rows of row i's member: together in the sorted batch
            hers = np.flatnonzero(codes == codes[i])
            return int(hers[0]), int(hers[-1]) + 1

        file = str(self.path)
        self._reused, self._reused_count, self._kept_range = [], 0, None
        carry = None  # the rows so far of the member the last batch ended with (file order)
        for h in self._checked():  # grouped, so each member's rows are one run of the sorted batch: slices
            table = h.table
            n = table.num_rows
            if not n:
                continue
            codes = h.code_array("member")
            lines = numbers(table.column("row"))
            last = run_of(int(np.argmax(lines)))  # the member the batch ends with: carried to the next
            taken = [last]
            next_carry = table.slice(last[0], last[1] - last[0])
            if carry is not None:
                first = run_of(int(np.argmin(lines)))  # the member the batch starts with
                if table.column("member")[first[0]].as_py() == carry.column("member")[0].as_py():
                    hers = one_member([carry, table.slice(first[0], first[1] - first[0])])
                    if first == last:  # her rows go on past this batch too
                        next_carry = hers
                    else:
                        yield from self._members(hers, file=file)
                        taken.append(first)
                else:  # her rows ended with the last batch
                    yield from self._members(carry, file=file)
            start = 0
            for a, b in sorted(taken):
                if a > start:
                    yield from self._members(table.slice(start, a - start), file=file)
                start = b
            if start < n:
                yield from self._members(table.slice(start, n - start), file=file)
            carry = next_carry
        if carry is not None and carry.num_rows:
            yield from self._members(carry, file=file)
        self._settle_reused()

    def _members(self, table, file: str) -> Iterator[History]:
        """Whole members' rows, less those that reuse an order id (`complete_members`); the time range of what
        is kept is tallied here."""
        from loyalty.simulate.history import REUSED_ORDER, reused_order_rows, without_rows

        h = History(table, file=file)
        bad, examples = reused_order_rows(h)
        if bad:
            self._reused.extend(examples)
            self._reused_count += len(bad)
            if self.options.on_bad_row == "skip":
                h = without_rows(h, bad, REUSED_ORDER, [], self.options)
        if len(h):
            low, high = _time_bounds(h)
            self._kept_range = (low, high) if self._kept_range is None else (
                min(self._kept_range[0], low), max(self._kept_range[1], high))
            yield h

    def _settle_reused(self) -> None:
        """After the last batch: the reused order ids into the span (skip), or the earliest as the error (stop)."""
        from loyalty.simulate.history import REUSED_ORDER, REUSED_ORDER_HINT, micros_to_datetime

        if not self._reused_count:
            return
        first = min(self._reused, key=lambda b: b.row)
        if self.options.on_bad_row != "skip":
            raise HistoryError(str(first), line=first.row, hint=REUSED_ORDER_HINT)
        span = self.span
        span.rows -= self._reused_count
        span.skipped[REUSED_ORDER] += self._reused_count
        span.bad_rows = sorted(span.bad_rows + self._reused, key=lambda b: b.row)[:self.options.max_examples]
        if self._kept_range is None:
            span.first = span.last = None
        else:
            span.first, span.last = (micros_to_datetime(t) for t in self._kept_range)



_member_hash = hash  # of a member id, for `_check_grouped` (a test makes every two collide)


def _with_hashes(seen, hashes):
    """`seen` (sorted member hashes) with `hashes` added, sorted: a merge of two sorted runs (a stable sort of
    int64 is a merge sort). Not np.union1d: its np.unique takes ~1.2 s for 500k distinct int64 with numpy 2.4
    (a hash table), so the 50 batches of a 10M-row history (500k members) spent ~8.7 s of CPU there, 0.04 s now."""
    import numpy as np

    return np.sort(np.concatenate((seen, np.sort(np.asarray(hashes, np.int64)))), kind="stable")


def _time_bounds(h: History) -> tuple[int, int]:
    import pyarrow.compute as pc

    bounds = pc.min_max(h.table.column("time")).as_py()
    return bounds["min"], bounds["max"]


class _Refused(Exception):
    """A time Arrow read that the full reader would refuse: the scan reads the column as bytes instead."""


# ------------------------------------------------------------------ a second process replaying the batches

# a file of at least this many batches (~384 MB of CSV, ~4.7M rows of the benchmark's history) is replayed in a
# second process while this one reads (`BatchReplayer`), as an in-memory run splits from parallel.SPLIT_MIN_ROWS
# (5M) rows: below it the worker's start-up (~1 s of CPU: numpy, pyarrow, the kernel) is a large part of the run,
# and on the shared 2-core machine two processes running at once each run slower (1M rows: 4.15 s of CPU
# against ~3.2 in one process, no gain in wall time at a load of 13; docs/performance.md)
REPLAYER_MIN_BATCHES = 24


OUTBOX_PARTS = 2  # parts read ahead of the worker at most (each ~18 MB of Arrow IPC for the reference program)


class ReplayerError(Exception):
    """The replaying process failed or stopped: a bug or the machine (the CLI says so plainly, no traceback)."""


class BatchReplayer:
    """A spawned worker that replays the members this process reads, batch by batch: this process reads and
    decodes the next batch (`GroupedReader.complete_members`, every check and error of the file here) while
    the worker runs the kernel on the last one, so the two halves of a streamed run share two cores.

    Nothing is pickled towards the worker: it gets the plan as JSON (simulate/wire.py), the budgets' known
    cutoffs as JSON and the members' rows as Arrow IPC. It sends back each part's result as plain data
    (`result_to_data`, with the members the kernel routed to the scalar plan, added to this process's
    `kernel.ROUTED`), in the order it got them; the parts merge here as in one process, so the result is
    the same byte for byte. The worker keeps what one process kept across budget passes (the kernel's first
    guesses per part, the first pass's scout). A worker that fails sends its error; one that dies (killed,
    out of memory) closes its end of the pipe: either way the run stops with a `ReplayerError`, never waits."""

    def __init__(self):
        import multiprocessing
        import queue
        import threading

        context = multiprocessing.get_context("spawn")  # no state inherited by accident (parallel.py)
        # one pipe each way: closing ours ends the worker's input, though a thread here waits on its answers
        their_input, self._conn = context.Pipe(duplex=False)
        self._answers, their_output = context.Pipe(duplex=False)
        self._process = context.Process(target=_replay_batches, args=(their_input, their_output, os.getpid()),
                                        daemon=True,
                                        name="loyalty-grouped-replay")
        self._process.start()
        their_input.close()  # the worker's ends are the worker's alone: its death is an end of file here
        their_output.close()
        self._parts: "queue.Queue" = queue.Queue()
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._receiver.start()
        # messages leave from a thread, a few queued: this process reads on while the worker is behind by a
        # part or two (on a busy machine either process is often off its core; sent in step, each waited)
        self._outbox: "queue.Queue" = queue.Queue(maxsize=OUTBOX_PARTS)
        self._sender = threading.Thread(target=self._send_queued, daemon=True)
        self._sender.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close(wait=exc[0] is None)

    def close(self, wait: bool = True) -> None:
        """Stop the worker: at once when the run failed, else once it has read the end of its input."""
        if wait:
            self._queue(None)  # the sender's last: it ends once the rest is sent
            self._sender.join(timeout=5)
        else:
            self._process.terminate()  # (a send under way fails: the sender ends)
            self._sender.join(timeout=1)
        with suppress(OSError):
            self._conn.close()
        if wait:
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=1)
        self._receiver.join(timeout=1)
        with suppress(OSError):
            self._answers.close()

    def _receive(self) -> None:  # a thread: the worker's answers, so that neither end blocks on a full pipe
        while True:
            try:
                self._parts.put(self._answers.recv())
            except (EOFError, OSError):
                self._parts.put(("stopped", None, None))
                return

    def _send_queued(self) -> None:  # a thread: the queued messages in order; None ends it
        while (message := self._outbox.get()) is not None:
            try:
                self._conn.send_bytes(message)
            except OSError:  # (BrokenPipeError) the worker is gone: `_send` says why
                return

    def _send(self, kind: bytes, payload) -> None:
        if not self._queue(kind + payload if kind else payload):
            self._raise(self._last_word())  # the worker is gone: say why from what it sent last

    def _queue(self, message) -> bool:
        """Queue a message for the sender (waiting while OUTBOX_PARTS are queued); False once it has stopped."""
        import queue

        while self._sender.is_alive():
            try:
                self._outbox.put(message, timeout=0.2)
                return True
            except queue.Full:
                pass
        return False

    def _last_word(self):
        import queue

        try:
            while True:
                answer = self._parts.get(timeout=1)
                if answer[0] != "part":
                    return answer
        except queue.Empty:
            return ("stopped", None, None)

    def _raise(self, answer) -> None:
        kind, text, hint = answer
        if kind == "input":
            from loyalty.simulate.errors import InputError

            raise InputError(text, hint)
        if kind == "error":
            raise ReplayerError(f"the process replaying the members failed: {text}")
        self._process.join(timeout=1)
        raise ReplayerError(f"the process replaying the members stopped (exit code {self._process.exitcode})")

    def start_plan(self, plan, kernel: str, file: str) -> None:
        import json

        from loyalty.simulate.wire import plan_to_json

        self._send(b"P", json.dumps({"plan": plan_to_json(plan), "kernel": kernel, "file": file}).encode())

    def run_pass(self, reader: GroupedReader, known, progress: Optional[Callable[[int], None]] = None):
        """One pass over the file: every batch's whole members to the worker as they are read, then their
        results, merged in order."""
        import json

        import pyarrow as pa

        from loyalty.simulate.parallel import known_to_data, merge_in_order

        self._send(b"S", json.dumps(known_to_data(known)).encode())
        sent = counted = 0
        parts: list = []
        for h in reader.complete_members():
            sink = pa.BufferOutputStream()
            sink.write(b"B")  # the kind, then the rows: one buffer, sent without a copy
            with pa.ipc.new_stream(sink, h.table.schema) as writer:
                writer.write_table(h.table)
            self._send(b"", sink.getvalue())
            sent += 1
            self._take_ready(parts)
            if progress and reader.records_read > counted:
                progress(reader.records_read - counted)
                counted = reader.records_read
        if progress and reader.records_read > counted:
            progress(reader.records_read - counted)
        while len(parts) < sent:
            self._take(parts, self._parts.get())
        return merge_in_order(parts)

    def _take_ready(self, parts: list) -> None:
        import queue

        while True:
            try:
                answer = self._parts.get_nowait()
            except queue.Empty:
                return
            self._take(parts, answer)

    def _take(self, parts: list, answer) -> None:
        from loyalty.simulate.parallel import count_routed
        from loyalty.simulate.wire import result_from_data

        if answer[0] != "part":
            self._raise(answer)
        _, data, routed = answer
        parts.append(result_from_data(data))
        count_routed(routed)


def _replay_batches(conn, answers, parent: int) -> None:
    """The worker of `BatchReplayer`: messages are a kind byte and its payload (P: the plan, S: a pass starts with
    these known cutoffs, B: a batch of whole members as Arrow IPC); the end of input ends it."""
    import signal

    from loyalty.simulate.parallel import second_process

    second_process(parent)  # (dies with `parent`, says nothing but through `answers`)
    with suppress(ValueError):  # Ctrl-C reaches the process group: the parent alone handles it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _replay_loop(conn, answers)
    except EOFError:
        pass
    except BaseException as err:  # noqa: BLE001 - whatever it is, the parent says it, not a traceback here
        from loyalty.simulate.errors import InputError
        from loyalty.simulate.parallel import error_text

        with suppress(OSError):
            if isinstance(err, InputError):
                answers.send(("input", err.message, err.hint))
            else:
                answers.send(("error", error_text(err), None))
    finally:
        with suppress(OSError):
            conn.close()
            answers.close()


def _replay_loop(conn, answers) -> None:
    import json

    import pyarrow as pa

    from loyalty.simulate.budgets import FirstPassScout
    from loyalty.simulate.parallel import known_from_data, routed_counts, routed_since, scouted_range
    from loyalty.simulate.wire import plan_from_json, result_to_data

    plan: Any = None  # set by the first message (P), as are the rest by theirs
    kernel: Any = None
    file: Any = None
    known: Any = None
    scout: Any = None
    warm: list = []
    index = 0
    while True:
        message = conn.recv_bytes()
        kind, payload = message[:1], memoryview(message)[1:]
        if kind == b"P":
            doc = json.loads(bytes(payload))
            plan, kernel, file = plan_from_json(doc["plan"]), doc["kernel"], doc["file"]
            warm = []
        elif kind == b"S":
            known = known_from_data(json.loads(bytes(payload)))
            scout = FirstPassScout(plan.program.budgets, known)
            index = 0
        elif kind == b"B":
            table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
            if index == len(warm):
                warm.append({})
            before = routed_counts()
            part = scouted_range(plan, History(table, file=file), known, kernel, None, warm[index], scout)
            index += 1
            answers.send(("part", result_to_data(part), routed_since(before)))


def simulate_grouped(plan, reader: GroupedReader, kernel: str = "python",
                     progress: Optional[Callable[[int], None]] = None, replayer: Optional["BatchReplayer"] = None):
    """Replay a scanned grouped history: members as their rows complete, passes for budgets. `progress`
    counts the file's records (skipped ones too), so each pass counts `reader.records` in all. `replayer`: a
    second process replays the members while this one reads the next batch (`BatchReplayer`); same result."""
    from loyalty.simulate.budgets import FirstPassScout
    from loyalty.simulate.parallel import merge_in_order, run_passes, scouted_range

    if replayer is not None:
        replayer.start_plan(plan, kernel, str(reader.path))
        return run_passes(plan, lambda known: replayer.run_pass(reader, known, progress))
    warm: list = []  # per part, the kernel's first guesses for the next budget pass (simulate_vector)

    def run_pass(known):
        parts = []
        counted = 0
        scout = FirstPassScout(plan.program.budgets, known)  # the batches after a budget ran out: claims alone
        for i, h in enumerate(reader.complete_members()):
            if i == len(warm):
                warm.append({})
            parts.append(scouted_range(plan, h, known, kernel, None, warm[i], scout))
            if progress and reader.records_read > counted:
                progress(reader.records_read - counted)
                counted = reader.records_read
        if progress and reader.records_read > counted:  # batches with no row left after skipping
            progress(reader.records_read - counted)
        return merge_in_order(parts)

    return run_passes(plan, run_pass)


def grouped_and_report(prog, program_path: str, history_path: str, *args, **kwargs):
    """`loyalty simulate --grouped`, also of a compressed CSV (simulate/compressed.py: decompressed to a
    temporary file first, which every message and the report name by the compressed file's name)."""
    from loyalty.simulate.compressed import compression_of, decompressed, renamed
    from loyalty.simulate.errors import InputError

    path = Path(history_path)
    if compression_of(path) is None:
        return _grouped_and_report(prog, program_path, history_path, *args, **kwargs)
    with decompressed(path) as plain:
        try:
            plan, result, report = _grouped_and_report(prog, program_path, str(plain), *args, **kwargs)
        except InputError as err:
            raise renamed(err, plain, path) from None
    history = report["history"]
    history["file"] = str(path)
    history["skipped_examples"] = [e.replace(str(plain), str(path)) for e in history["skipped_examples"]]
    return plan, result, report


def _grouped_and_report(prog, program_path: str, history_path: str, scenario_path, attributes_path, columns,
                        time_format, delimiter, on_bad_row, kernel: str = "auto", show_progress: bool = True,
                        console=None, on_unsupported=None, member_rows: bool = True, overrides=None, jobs: int = 1):
    """`loyalty simulate --grouped`: (result, report), the report equal to the in-memory run's.

    The plan needs the history's time range before any member is replayed; the scan (time column only)
    gives a candidate, and the replay, which reads every row whole, the exact one. They differ only when
    a row skipped under --on-bad-row skip held the first or last time: then the run is planned and
    replayed again with the exact range. Errors come in the in-memory run's order: the history's first.
    `jobs` above 1 (and a file of a few batches): the members are replayed in a second process while this one
    reads the next batch (`BatchReplayer`, started before the scan so that its start-up overlaps it)."""
    from contextlib import nullcontext

    from loyalty.simulate.run import scenario_and_options

    scenario, options = scenario_and_options(prog, scenario_path, columns, time_format, delimiter, on_bad_row,
                                             overrides)
    reader = GroupedReader(history_path, options)
    two = jobs > 1 and reader.path.stat().st_size >= REPLAYER_MIN_BATCHES * reader.block_bytes
    from loyalty.fileio import cleanup_on_signals

    # (SIGTERM raises `Terminated` meanwhile, as in parallel.simulate_jobs: the worker is stopped, not left)
    with cleanup_on_signals() if two else nullcontext(), BatchReplayer() if two else nullcontext() as replayer:
        return _grouped_run(prog, program_path, reader, scenario, options, attributes_path, kernel, show_progress,
                            console, on_unsupported, member_rows, replayer)


def _grouped_run(prog, program_path: str, reader: GroupedReader, scenario, options, attributes_path, kernel: str,
                 show_progress: bool, console, on_unsupported, member_rows: bool, replayer):
    """The rest of `_grouped_and_report`, with its replayer (or None)."""
    from loyalty.simulate.engine import make_plan, program_info
    from loyalty.simulate.history import read_attributes
    from loyalty.simulate.report import HistoryInfo
    from loyalty.simulate.run import full_report
    from loyalty.simulate.run import with_progress
    from loyalty.simulate.vector.choose import choose_kernel, kernel_assumptions

    candidate = reader.scan()
    try:
        attributes = read_attributes(attributes_path) if attributes_path else {}
        info = program_info(prog, program_path)

        def plan_for(span: HistorySpan):
            return make_plan(prog, info, scenario, span, attributes, member_rows)

        plan = plan_for(candidate)
    except Exception:
        reader.validate()  # a bad row or a broken grouping is reported first, as in memory
        raise
    if on_unsupported is not None:
        from loyalty.simulate.vector.support import supports

        why = supports(prog, plan)
        if why is not None:
            reader.validate()
        on_unsupported(why)

    def replay(plan):
        kernel_used = choose_kernel(plan, kernel)
        return kernel_used, with_progress(reader.records, show_progress, console, lambda progress: simulate_grouped(
            plan, reader, kernel_used, progress, replayer))

    kernel_used, result = replay(plan)
    span = reader.span
    if _plan_range(span) != _plan_range(candidate):  # a skipped row held the first or last time: plan it again
        plan = plan_for(span)
        kernel_used, result = replay(plan)
    info = HistoryInfo(span.file, span.rows, dict(span.skipped), span.first, span.last,
                       tuple(str(b) for b in span.bad_rows))
    assumptions = {**scenario.assumptions(), "reward_costs_used": plan.reward_costs_used,
                   **kernel_assumptions(plan, kernel, kernel_used)}
    return plan, result, full_report(result, plan, info, assumptions)


def _plan_range(span: HistorySpan):
    """What make_plan reads of a history: whether it has rows, and their time range."""
    return (span.first, span.last) if len(span) else None
