"""`--engine dask`: the same simulation on a Dask cluster (docs/scale.md).

The split, as tasks on Dask's scheduler (no scheduling of our own):
1. one task per input file (CSV or Parquet; a glob gives many) reads and validates it exactly as
   the local reader does, and cuts its rows into P pieces by a hash of the member id (crc32: the
   same on every machine), so all of a member's rows land in one partition;
2. one task per partition gathers its pieces and sorts them (member, time, file, row); the
   partition stays in worker memory for every pass;
3. each pass evaluates every partition with the same function as `--jobs` (parallel.evaluate_range)
   and returns plain data; the client merges the parts in partition order. Budgets are solved by
   passes (simulate/budgets.py), so program-wide budgets stay exact.
The client only sees small things: each file's row count, time range and skipped rows, and the
partial results. Workers get the plan as plain data (the compiled program as JSON), never a pickle
of user input.
"""

from __future__ import annotations

import glob as _glob
import zlib
from collections import Counter
from pathlib import Path
from typing import Optional

from loyalty.simulate.engine import SimulationError

CONNECT_TIMEOUT = "10s"


# ------------------------------------------------------------------ tasks (run on workers)


def _read_file(path: str, file_index: int, options_data: dict, partitions: int) -> dict:
    """One file: validated like the local reader, cut by member hash; errors come back as data."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from loyalty.simulate.history import HistoryError, ReadOptions, read_history

    try:
        h = read_history(path, ReadOptions(**options_data))
    except HistoryError as err:
        return {"error": [err.message, err.hint]}
    table = _plain(h.table).append_column("file", pa.array([file_index] * len(h), pa.int32()))
    members = pc.unique(table.column("member"))
    buckets = pa.array([zlib.crc32(m.encode("utf-8")) % partitions for m in members.to_pylist()], pa.int32())
    bucket = pc.take(buckets, pc.index_in(table.column("member"), value_set=members))
    pieces = [_to_ipc(table.filter(pc.equal(bucket, p))) for p in range(partitions)]
    first, last = h.time_range()
    return {"error": None, "pieces": pieces, "rows": len(h), "skipped": dict(h.skipped),
            "bad_rows": [[b.file, b.row, b.column, b.value, b.reason] for b in h.bad_rows],
            "first": first.isoformat() if first else None, "last": last.isoformat() if last else None}


def _plain(table):
    """Dictionary-encoded text columns as plain text: pieces of many files are concatenated and sorted."""
    import pyarrow as pa

    fields = [pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields))


def _summary(read: dict) -> dict:
    return {k: v for k, v in read.items() if k != "pieces"}


def _piece(read: dict, p: int) -> Optional[bytes]:
    return None if read["error"] else read["pieces"][p]


def _assemble(files: list, options_data: dict, *pieces: Optional[bytes]) -> dict:
    """One partition: its pieces of every file, sorted (member, time, file, row), with the rows of a purchase
    that reuses an order id of another file refused as the local reader refuses them within one file
    (`history.refuse_reused_orders`: under stop the earliest is the error, under skip they are left out and
    counted). Returns the table (Arrow IPC) and what was refused, as data."""
    import numpy as np
    import pyarrow as pa

    from loyalty.simulate.history import (REUSED_ORDER, REUSED_ORDER_HINT, History, ReadOptions, reused_order_rows,
                                          sort_rows)
    from loyalty.simulate.columns import numbers

    options = ReadOptions(**options_data)
    tables = [_from_ipc(b) for b in pieces if b is not None]
    table = sort_rows(pa.concat_tables(tables), options.timezone, ("member", "time", "file", "row"))
    file_of = numbers(table.column("file"))
    table = table.drop_columns(["file"]).combine_chunks()
    out = {"error": None, "skipped": {}, "bad_rows": []}
    bad, examples = reused_order_rows(History(table))
    if bad:
        found = sorted((int(file_of[i]), e.row, i, e) for i, e in zip(bad, examples))
        rows = [[files[f], e.row, e.column, e.value, e.reason] for f, _, _, e in found]
        if options.on_bad_row != "skip":
            out["error"] = [found[0][0], found[0][1], f"{rows[0][0]}:{rows[0][1]}: column \"order\": {rows[0][4]}",
                            REUSED_ORDER_HINT]
        else:
            keep = np.ones(table.num_rows, dtype=bool)
            keep[bad] = False
            table = table.filter(pa.array(keep))
            out["skipped"] = {REUSED_ORDER: len(bad)}
            out["bad_rows"] = rows[:options.max_examples]
    out["table"] = _to_ipc(table)
    return out


def _assembled_summary(assembled: dict) -> dict:
    return {k: v for k, v in assembled.items() if k != "table"}


def _table(assembled: dict) -> bytes:
    return assembled["table"]


_PLANS: dict = {}


def _evaluate(plan_json: str, partition: bytes, known_data, kernel: str) -> dict:
    from loyalty.simulate.history import History
    from loyalty.simulate.parallel import evaluate_range, known_from_data
    from loyalty.simulate.wire import plan_from_json, result_to_data

    plan = _PLANS.get(plan_json)
    if plan is None:
        _PLANS.clear()
        plan = _PLANS[plan_json] = plan_from_json(plan_json)
    return result_to_data(evaluate_range(plan, History(_from_ipc(partition)), known_from_data(known_data), kernel))


def _to_ipc(table) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes):
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


# ------------------------------------------------------------------ the client


def input_files(pattern: str) -> list[str]:
    """A path, or a glob of many (sorted, so the order and so the output never depend on the file system)."""
    if not any(c in pattern for c in "*?["):
        if not Path(pattern).exists():
            raise SimulationError(f"{pattern}: no such file")
        return [pattern]
    files = sorted(_glob.glob(pattern))
    if not files:
        raise SimulationError(f"{pattern}: no file matches", hint="quote the pattern so the shell does not expand it")
    return files


def connect(scheduler: Optional[str], workers: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SimulationError("--engine dask needs Dask, which is not installed",
                              hint="pip install 'loyalty-lang[dask]' (on the workers too)") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT), None
        except (OSError, TimeoutError, ValueError) as err:
            raise SimulationError(f"cannot reach the Dask scheduler at {scheduler}: {err}",
                                  hint="check the address (tcp://host:8786) and that `dask scheduler` runs there") from None
    from loyalty.simulate.parallel import usable_cores

    cluster = LocalCluster(n_workers=workers or usable_cores(), threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


class _Span:
    """What make_plan needs to know of a history it never holds: its length and time range."""

    def __init__(self, rows: int, first, last):
        self.rows, self.first, self.last = rows, first, last

    def __len__(self) -> int:
        return self.rows

    def time_range(self):
        return self.first, self.last


def simulate_on_dask(client, prog, program_path: str, pattern: str, options, scenario, attributes,
                     partitions: Optional[int] = None, kernel: str = "auto", on_unsupported=None,
                     member_rows: bool = True):
    """(plan, merged result, history info, the kernel used) for the files `pattern` names."""
    import datetime as _dt

    from loyalty.simulate.engine import make_plan, program_info
    from loyalty.simulate.history import HistoryError
    from loyalty.simulate.parallel import known_to_data, merge_in_order, run_passes
    from loyalty.simulate.report import HistoryInfo
    from loyalty.simulate.vector.choose import choose_kernel
    from loyalty.simulate.wire import plan_to_json, result_from_data

    files = input_files(pattern)
    if partitions is None:
        partitions = max(1, 2 * len(client.scheduler_info().get("workers", {})))
    options_data = {**options.__dict__}
    reads = [client.submit(_read_file, f, i, options_data, partitions, pure=False) for i, f in enumerate(files)]
    summaries = client.gather([client.submit(_summary, r) for r in reads])
    for s in summaries:
        if s["error"]:
            raise HistoryError(*s["error"])
    rows = sum(s["rows"] for s in summaries)
    skipped: Counter = Counter()
    bad_rows = []
    for s in summaries:
        skipped.update(s["skipped"])
        bad_rows.extend(s["bad_rows"])
    times = [(s["first"], s["last"]) for s in summaries if s["first"]]
    first = min(_dt.datetime.fromisoformat(a) for a, _ in times) if times else None
    last = max(_dt.datetime.fromisoformat(b) for _, b in times) if times else None
    assembled = [client.submit(_assemble, files, options_data, *[client.submit(_piece, r, p) for r in reads])
                 for p in range(partitions)]
    del reads  # the pieces are now in the partitions: let the workers free the files' tables
    refused = client.gather([client.submit(_assembled_summary, a) for a in assembled])
    errors = [a["error"] for a in refused if a["error"]]
    if errors:
        _, line, message, hint = min(errors)  # the earliest file, then row
        raise HistoryError(message, hint=hint, line=line)
    for a in refused:
        skipped.update(a["skipped"])
        rows -= sum(a["skipped"].values())
        bad_rows.extend(a["bad_rows"])
    bad_rows.sort(key=lambda b: (b[0], b[1]))
    parts = [client.submit(_table, a) for a in assembled]
    del assembled

    plan = make_plan(prog, program_info(prog, program_path), scenario, _Span(rows, first, last), attributes,
                     member_rows)
    if on_unsupported is not None:
        from loyalty.simulate.vector.support import supports

        on_unsupported(supports(prog, plan))
    [plan_json] = client.scatter([plan_to_json(plan)], broadcast=True)
    kernel_used = choose_kernel(plan, kernel)

    def run_pass(known):
        data = known_to_data(known)
        futures = [client.submit(_evaluate, plan_json, part, data, kernel_used, pure=False) for part in parts]
        return merge_in_order([result_from_data(d) for d in client.gather(futures)])

    result = run_passes(plan, run_pass)
    from loyalty.simulate.history import BadRow

    examples = tuple(str(BadRow(*b)) for b in bad_rows[:options.max_examples])
    shown = pattern if len(files) > 1 or files[0] != pattern else str(Path(pattern))
    return plan, result, HistoryInfo(shown, rows, dict(skipped), first, last, examples), kernel_used


def dask_and_report(prog, program_path: str, pattern: str, scenario_path, attributes_path, columns, time_format,
                    delimiter, on_bad_row, scheduler: Optional[str], workers: int = 0, kernel: str = "auto",
                    on_unsupported=None, member_rows: bool = True, overrides=None):
    from loyalty.simulate.history import read_attributes
    from loyalty.simulate.run import full_report
    from loyalty.simulate.run import scenario_and_options

    scenario, options = scenario_and_options(prog, scenario_path, columns, time_format, delimiter, on_bad_row,
                                             overrides)
    attributes = read_attributes(attributes_path) if attributes_path else {}
    input_files(pattern)  # a missing file is reported before a cluster is started
    client, cluster = connect(scheduler, workers)
    try:
        plan, result, info, kernel_used = simulate_on_dask(client, prog, program_path, pattern, options, scenario,
                                                           attributes, kernel=kernel,
                                                           on_unsupported=on_unsupported, member_rows=member_rows)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    # partitions run the kernel the local run would (parallel.evaluate_range), so the report says the same
    from loyalty.simulate.vector.choose import kernel_assumptions

    assumptions = {**scenario.assumptions(), "reward_costs_used": plan.reward_costs_used,
                   **kernel_assumptions(plan, kernel, kernel_used)}
    return result, full_report(result, plan, info, assumptions)
