"""`--jobs`: members split into groups, each group replayed in a worker process, results merged.

How the work is split (docs/scale.md): the history is sorted by member, so a group is a range of
rows that starts and ends on a member boundary; ranges are cut by member order so that each holds
about as many rows as the others (never splitting a member). There are at least as many groups as
jobs, and more for a long history, so a group's rows (turned into Python lists for the replay) stay
small. Groups are merged in their order, always; the merge is exact, so the result equals one
process's, byte for byte.

Workers are started with 'spawn' (no state inherited by accident). They get the plan as plain data
(the compiled program as its JSON; simulate/wire.py), read their rows from an Arrow IPC file the
parent wrote once (memory-mapped: nothing copied per task), and send back plain data. Budgets are
solved by passes (simulate/budgets.py); each pass sends every group again with the known cutoffs.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable, Iterable, Optional

from loyalty.runtime.ledger import UnlimitedLedger
from loyalty.simulate.budgets import (CutoffLedger, Cutoffs, FirstPassScout, claimants_apart, claims_prefix,
                                      solve_budgets)
from loyalty.simulate.errors import InputError
from loyalty.simulate.history import History
from loyalty.simulate.result import SimResult, exact

# below this many rows a pool costs more than it saves (measured, docs/scale.md: starting two spawned
# workers and importing pyarrow in them takes about 1 s, which is ~50k rows of replay on one core)
POOL_MIN_ROWS = 50_000
# The vectorised kernel replays ~20x faster, so a pool as above costs more than it saves for it (1M rows
# of the reference program: 5.0 s wall in one process, 9.4-10.0 s with a pool of two, workers re-reading
# their rows). Its runs are shared instead between this process and helper workers (`simulate_split`),
# from this many rows. Measured on the shared 2-core machine (docs/performance.md, "Both cores"): no gain
# at 1M or 3M rows (two processes running numpy at once each run ~30-40% slower there, and a worker's
# start-up and results cost the rest), 16% less wall time at 10M rows.
SPLIT_MIN_ROWS = 5_000_000
# groups of a split run: small enough that the two ends meet evenly, large enough to keep the kernel's
# per-group work (its lockstep loop runs once per event of the group's busiest member) a small part
SPLIT_GROUP_ROWS = 100_000
# rows per group at most: a group's rows become Python lists for the replay, so this bounds memory
GROUP_ROWS = 200_000


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    count = getattr(os, "process_cpu_count", None)
    if count is not None:
        return count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def row_groups(history: History, groups: int) -> list[tuple[int, int]]:
    """[start, end) row ranges on member boundaries, in member order, balanced by rows."""
    return ranges_at_members(history.member_starts(), len(history), groups)


def ranges_at_members(starts, rows: int, groups: int) -> list[tuple[int, int]]:
    """`row_groups` of `rows` rows whose members start at `starts` (ascending numpy positions, 0 first): each cut
    at the first member start at or after k/groups of the rows. By numpy on the starts (a Python search over
    their list took ~2-5 ms a call at 1M rows, three calls before a fork)."""
    import numpy as np

    if rows == 0:
        return []
    groups = max(1, min(groups, rows))
    targets = rows * np.arange(1, groups, dtype=np.int64) // groups
    cuts = np.append(starts, rows)[np.searchsorted(starts, targets)]  # (rows: no member starts at or after)
    bounds = np.unique(np.concatenate(([0], cuts, [rows]))).tolist()
    return list(zip(bounds[:-1], bounds[1:]))


def group_count(rows: int, jobs: int) -> int:
    return max(jobs, -(-rows // GROUP_ROWS))


def merge_in_order(results: list[SimResult]) -> SimResult:
    """Merge in order (`SimResult.merge_many`), claims gathered once rather than sorted."""
    claims = [c for r in results for c in r.claims]
    for r in results:
        r.claims = []
    merged = SimResult.merge_many(results) if len(results) > 1 else results[0] if results else SimResult()
    merged.claims = claims
    return merged


@exact
def evaluate_range(plan, history: History, known: Optional[Cutoffs], kernel: str = "python",
                   progress: Optional[Callable[[int], None]] = None, warm: Optional[dict] = None,
                   claims_only: bool = False) -> SimResult:
    """Some members' rows (whole members) into a partial result: the unit of work of every engine.
    `kernel` (vector/choose.py): "vector" runs the numpy kernel (with the budgets' known cutoffs of this pass,
    `known`), falling back to the evaluator for a group it cannot take exactly; the result is the same.
    `progress(rows)` is called as the evaluator finishes members (the vector kernel reports nothing: the
    caller counts its whole range). `warm`: the kernel's first guesses for this range, kept by the caller across
    budget passes (simulate_vector). `claims_only`: a budget pass known not to be the last (budgets.py
    `FirstPassScout`) gives the budget claims alone."""
    from loyalty.simulate.coverage import count_rows
    from loyalty.simulate.engine import replay_members
    from loyalty.simulate.measures import add_customer_cells

    if kernel == "vector":
        from loyalty.simulate.vector.kernel import Unsupported, simulate_vector

        try:
            if claims_only:
                return simulate_vector(plan, history, known=known, warm=warm, claims_only=True)
            return count_rows(history, simulate_vector(plan, history, known=known, warm=warm))  # with the customer measures
        except Unsupported:
            pass
    factory = UnlimitedLedger if known is None else (lambda: CutoffLedger(known))
    refused: list[int] = []
    result = replay_members(plan, history, history.member_slices(), factory, progress, refused)
    if claims_only:
        return SimResult(claims=result.claims)
    add_customer_cells(result, history, plan, refused=refused)  # the customers' own measures (simulate/measures.py)
    # the history's rows counted for coverage (simulate/coverage.py) here, in every engine's unit of work
    return count_rows(history, result)


def _counted_range(plan, history: History, known: Optional[Cutoffs], kernel: str,
                   progress: Optional[Callable[[int], None]], warm: Optional[dict] = None) -> SimResult:
    """evaluate_range with every row of the range counted once by `progress`: as members finish, and what the
    kernel did not report when the range ends."""
    if progress is None:
        return evaluate_range(plan, history, known, kernel, warm=warm)
    counted = [0]

    def count(n: int) -> None:
        counted[0] += n
        progress(n)

    part = evaluate_range(plan, history, known, kernel, count, warm)
    if len(history) > counted[0]:
        progress(len(history) - counted[0])
    return part


def known_to_data(known: Optional[Cutoffs]):
    return None if known is None else {k: [list(pos), left] for k, (pos, left) in known.items()}


def known_from_data(data) -> Optional[Cutoffs]:
    return None if data is None else {k: (tuple(pos), left) for k, (pos, left) in data.items()}


def run_passes(plan, run_pass: Callable[[Optional[Cutoffs]], SimResult], one_pass: bool = False) -> SimResult:
    """No budgets: one pass with unlimited ledgers; budgets: passes until stable. `one_pass`: members who are
    expected to claim nothing (`apart_from_claimants`): one pass with nothing known, its claims kept in the
    result for the caller to check that there are none."""
    if not plan.program.budgets:
        return run_pass(None)
    if one_pass:
        return run_pass({})
    return solve_budgets(plan.program.budgets, run_pass)


# ------------------------------------------------------------------ in this process


def simulate_in_process(plan, history: History, progress: Optional[Callable[[int], None]] = None,
                        kernel: str = "python", one_pass: bool = False) -> SimResult:
    """Group by group in this process (the same groups a pool would get, so memory stays bounded)."""
    ranges = row_groups(history, group_count(len(history), 1))
    warm: dict = {}  # per range, the kernel's first guesses for the next budget pass (simulate_vector)

    def run_pass(known):
        return merge_in_order(pass_parts(plan, history, ranges, known, kernel, progress, warm))

    return run_passes(plan, run_pass, one_pass)


def scouted_range(plan, history: History, known: Optional[Cutoffs], kernel: str,
                  progress: Optional[Callable[[int], None]], warm: dict, scout: FirstPassScout) -> SimResult:
    """One of a pass's groups taken one after another: `_counted_range`, or, in a first budget pass the groups
    before made sure is not the last, the group's budget claims alone, from its rows before the moment
    `scout.before_us` once every budget has run out (budgets.py `FirstPassScout`)."""
    if not scout.claims_only:
        part = _counted_range(plan, history, known, kernel, progress, warm)
        scout.add(part.claims)
        return part
    before = scout.before_us
    rows = None if before is None else claims_prefix(history, before)
    if rows is None:
        part = evaluate_range(plan, history, known, kernel, warm=warm, claims_only=True)
    else:  # (the group's first guesses are for its whole rows: a prefix starts afresh)
        prefix_warm: dict = {}
        part = evaluate_range(plan, rows, known, kernel, warm=prefix_warm, claims_only=True)
        part.claims = [c for c in part.claims if c[0] < before]
        if prefix_warm.get("tier_moments") is not None:  # its tiers by moment: the next pass's first guess there
            warm["tier_moments"] = prefix_warm["tier_moments"]
    if progress is not None:
        progress(len(history))
    scout.add(part.claims)
    return part


# ------------------------------------------------------------------ worker processes

_WORKER: dict = {}


def _init_worker(plan_json: str, table_path: str, kernel: str, rows_done=None, parent: Optional[int] = None) -> None:
    if parent is not None:
        second_process(parent)  # (ends with the parent, however it ends; says nothing but through the pool)
    # Ctrl-C reaches the whole process group: the parent alone handles it (it stops the workers, see
    # `worker_pool`), so a worker neither prints a traceback nor finishes its group first
    with suppress(ValueError):  # (a worker thread, in tests, cannot set it)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    import pyarrow as pa

    from loyalty.simulate.wire import plan_from_json

    _WORKER["plan"] = plan_from_json(plan_json)
    _WORKER["kernel"] = kernel
    _WORKER["rows_done"] = rows_done  # a shared counter the parent's progress bar reads, or None
    _WORKER["table"] = pa.ipc.open_file(pa.memory_map(table_path)).read_all()


def _work(start: int, end: int, known_data) -> dict:
    from loyalty.simulate.wire import result_to_data

    history = History(_WORKER["table"].slice(start, end - start))
    shared = _WORKER.get("rows_done")
    if shared is None:
        return result_to_data(evaluate_range(_WORKER["plan"], history, known_from_data(known_data),
                                             _WORKER["kernel"]))
    unreported = [0]

    def count(n: int) -> None:  # added to the shared counter a few thousand rows at a time (one lock each)
        unreported[0] += n
        if unreported[0] >= PROGRESS_STEP_ROWS:
            with shared.get_lock():
                shared.value += unreported[0]
            unreported[0] = 0

    result = _counted_range(_WORKER["plan"], history, known_from_data(known_data), _WORKER["kernel"], count)
    with shared.get_lock():
        shared.value += unreported[0]
    return result_to_data(result)


PROGRESS_STEP_ROWS = 5_000  # a worker reports its replayed rows to the parent's bar this many at a time


@contextmanager
def worker_pool(workers: int, initargs: tuple):
    """Spawned workers (`_init_worker(*initargs)`). Left normally, it waits for them as usual; left by an
    exception (Ctrl-C's KeyboardInterrupt, SIGTERM's Terminated, an error), it cancels the queued groups and
    terminates the workers at once instead of waiting for the groups they are replaying (a minute or more on
    a long history), so the command stops within a second and its clean-up runs."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=initargs)
    try:
        yield pool
    except BaseException:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=1)
        raise
    pool.shutdown(wait=True)


def simulate_in_pool(plan, history: History, jobs: int, progress: Optional[Callable[[int], None]] = None,
                     kernel: str = "python", one_pass: bool = False) -> SimResult:
    import pyarrow as pa

    from loyalty.simulate.wire import plan_to_json, result_from_data

    import multiprocessing
    import tempfile  # (here: a run without worker processes need not import it, nor shutil with it)
    from concurrent.futures import TimeoutError as Waiting

    ranges = row_groups(history, group_count(len(history), jobs))
    # rows the workers have replayed in this pass, as they go: the bar moves between groups (a group of a
    # long history takes a worker a minute)
    rows_done = multiprocessing.get_context("spawn").Value("q", 0) if progress else None
    with tempfile.TemporaryDirectory(prefix="loyalty-jobs-") as tmp:
        table_path = str(Path(tmp) / "history.arrow")
        with pa.OSFile(table_path, "wb") as sink, pa.ipc.new_file(sink, history.table.schema) as writer:
            writer.write_table(history.table)
        with worker_pool(min(jobs, len(ranges)), (plan_to_json(plan), table_path, kernel, rows_done,
                                                  os.getpid())) as pool:

            def run_pass(known):
                data = known_to_data(known)
                reported = 0
                if rows_done is not None:
                    with rows_done.get_lock():
                        rows_done.value = 0
                futures = [pool.submit(_work, start, end, data) for start, end in ranges]
                parts = []
                for future in futures:  # merged in group order, whatever finishes first
                    while True:
                        try:
                            parts.append(result_from_data(future.result(timeout=0.2)))
                            break
                        except Waiting:
                            now = rows_done.value if rows_done is not None else 0
                            if now > reported:
                                progress(now - reported)
                                reported = now
                if progress and len(history) > reported:
                    progress(len(history) - reported)
                return merge_in_order(parts)

            return run_passes(plan, run_pass, one_pass)


# ------------------------------------------------------------------ a vectorised run shared with workers


def _split_pool(workers: int, plan_json: str, table_path: str):
    """The workers of a split run: the same spawned workers as a pool's, on the vectorised kernel."""
    return worker_pool(workers, (plan_json, table_path, "vector", None, os.getpid()))


def simulate_split(plan, history: History, jobs: int,
                   progress: Optional[Callable[[int], None]] = None) -> SimResult:
    """A vectorised run shared between this process and `jobs - 1` workers, from both ends: this process
    replays groups from the front while the workers (started now, reading the rows from one Arrow IPC file)
    take them from the back, two queued each so none waits for its next, until the two meet. Whoever is
    faster (a worker still starting, a busy core) simply takes more groups. Results merge in group order,
    so the report is the one process's, byte for byte. Not with budgets: the kernel runs their passes in this
    process (sharing each pass's groups with workers is not done yet)."""
    import pyarrow as pa

    from loyalty.simulate.wire import plan_to_json, result_from_data

    import tempfile

    workers = jobs - 1
    groups = max(group_count(len(history), 1), -(-len(history) // SPLIT_GROUP_ROWS), 2 * jobs)
    ranges = row_groups(history, groups)
    if len(ranges) < 2 or workers < 1:
        return simulate_in_process(plan, history, progress, "vector")
    parts: list = [None] * len(ranges)
    front, back = 0, len(ranges)  # groups [front, back) are nobody's yet
    with tempfile.TemporaryDirectory(prefix="loyalty-jobs-") as tmp:
        table_path = str(Path(tmp) / "history.arrow")
        with pa.OSFile(table_path, "wb") as sink, pa.ipc.new_file(sink, history.table.schema) as writer:
            writer.write_table(history.table)
        with _split_pool(workers, plan_to_json(plan), table_path) as pool:
            queued: dict = {}  # future -> its group

            def collect(block: bool) -> None:
                """Take the workers' finished groups (all of them when `block`), and queue more from the back."""
                nonlocal back
                for future in [f for f in queued if block or f.done()]:
                    i = queued.pop(future)
                    parts[i] = result_from_data(future.result())
                    if progress:
                        progress(ranges[i][1] - ranges[i][0])
                while len(queued) < 2 * workers and front < back:
                    back -= 1
                    queued[pool.submit(_work, *ranges[back], None)] = back

            collect(block=False)
            while front < back:
                i = front
                front += 1
                start, end = ranges[i]
                parts[i] = evaluate_range(plan, History(history.table.slice(start, end - start)), None, "vector")
                if progress:
                    progress(end - start)
                collect(block=False)
            while queued:
                collect(block=True)
    return merge_in_order(parts)


# ------------------------------------------------------------------ a vectorised run forked in two halves


# From this many rows a vectorised run on two usable cores is shared with a forked copy of this process
# (`simulate_forked`), measured on the shared 2-core machine (docs/performance.md, "Both cores for one history
# in memory").
FORK_MIN_ROWS = 400_000


def core_free() -> bool:
    """Whether a second process would find a core of its own: the threads running right now on the machine, this
    one included (`running_now`), leave one of its cores idle; where that cannot be read, the 1-minute load
    average leaves half a core idle. On a busy machine a second process only shares the same cores, so the run
    costs more CPU (two processes at once each run slower) for no less wall time (docs/performance.md, "Both
    cores for one history in memory"). Not the load average first: it still counts this run's own read and the
    runs just before it. The machine's cores, not this process's (`usable_cores`): the counts are the
    machine's, and in a container they are the host's."""
    cores = os.cpu_count() or 1
    running = running_now()
    if running is not None:
        return running <= cores - 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return True
    return load <= cores - 0.5


def running_now(samples: int = 5) -> Optional[int]:
    """The threads the kernel has running or ready to run (/proc/loadavg's fourth field, this one included):
    the median of a few samples 2 ms apart, so a daemon waking up does not count; None without /proc."""
    import time

    seen = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as f:
                seen.append(int(f.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return None
        if i + 1 < samples:
            time.sleep(0.002)
    return sorted(seen)[len(seen) // 2]


def can_fork() -> bool:
    """Whether this process can fork a copy that shares its memory (Linux: fork is its start method and safe
    after pyarrow's and numpy's threads; macOS' system libraries are not fork-safe, Windows has no fork)."""
    import sys

    return hasattr(os, "fork") and sys.platform.startswith("linux")


class ForkedHalfLost(InputError):
    """The forked process replaying the second half of the members stopped without a result (killed, out of
    memory): the run cannot finish; one process can (`--jobs 1`)."""


def pass_parts(plan, history: History, ranges: list[tuple[int, int]], known: Optional[Cutoffs], kernel: str,
               progress: Optional[Callable[[int], None]], warm: dict) -> list[SimResult]:
    """One pass over `ranges` of `history` in this process, group after group: each group's partial result
    (`scouted_range`, with a first budget pass's scout of these groups' own claims)."""
    scout = FirstPassScout(plan.program.budgets, known)
    return [scouted_range(plan, History(history.table.slice(start, end - start)), known, kernel, progress,
                          warm.setdefault(start, {}), scout)
            for start, end in ranges]


def routed_counts() -> dict:
    """The members the vectorised kernel has routed to the scalar plan so far in this process, by reason
    (`kernel.ROUTED`); none before the kernel is imported."""
    import sys

    kernel = sys.modules.get("loyalty.simulate.vector.kernel")
    return dict(kernel.ROUTED) if kernel is not None else {}


def routed_since(before: dict) -> dict:
    """What `routed_counts()` gained since `before`: a second process's routings, sent back with its part."""
    from collections import Counter

    return dict(Counter(routed_counts()) - Counter(before))


def count_routed(routed: dict) -> None:
    """A second process's routings (`routed_since`) counted in this process too, for --verbose."""
    if routed:
        from loyalty.simulate.vector import kernel

        kernel.ROUTED.update(routed)


def _serve_half(plan, history: History, ranges: list, tasks, results) -> None:
    """The forked process: for each pass the parent sends (its budgets' known cutoffs as plain data, or None
    without budgets; and whether no pass follows), its groups' merged result as plain data, with the members it
    routed to the scalar plan (kernel.ROUTED) in that pass. It ends after a pass no pass follows, or on None
    instead of a pass: the parent need not tell it, and its exit (the kernel unmapping its memory) overlaps
    the parent's merge and report. An error goes back as the exception (pickled: our own objects, never user
    input)."""
    from loyalty.simulate.wire import result_to_data

    warm: dict = {}  # the kernel's first guesses per group, kept across the passes as in one process
    while True:
        try:
            task = tasks.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        data, last = task
        reply: tuple
        error: Optional[BaseException] = None
        try:
            before = routed_counts()
            merged = merge_in_order(pass_parts(plan, history, ranges, known_from_data(data), "vector", None, warm))
            reply = ("ok", result_to_data(merged), routed_since(before))
        except BaseException as err:  # noqa: BLE001 (sent to the parent, which raises it)
            error = _sendable(err)
            reply = ("error", error)
        try:
            results.send(reply)
        except Exception as err:  # noqa: BLE001 (what does not pickle, e.g. an error holding an open file: its text)
            results.send(("error", _as_text(error or err)))
        if last:
            return


def _sendable(err: BaseException) -> BaseException:
    """`err`, or where it would not come back whole through the pipe an error saying its type and text: an
    exception comes back as its class called with its args (BaseException.__reduce__), which fails for a class
    taking other arguments (EventError(field, message))."""
    try:
        type(err)(*err.args)
    except Exception:  # noqa: BLE001
        return _as_text(err)
    return err


def _as_text(err: BaseException) -> RuntimeError:
    return RuntimeError(error_text(err))


def error_text(err: BaseException) -> str:
    """An error a second process cannot send whole, as the parent says it: its type and text."""
    return f"{type(err).__name__}: {err}"


def second_process(parent: int) -> None:
    """Called first in a second process that answers `parent` through a pipe (the forked half, the streaming
    worker, stream.py): it dies at once when the parent does (Linux' PR_SET_PDEATHSIG: a parent killed, or ended
    by SIGTERM's default action, would else leave it replaying for up to a whole pass before its pipe said so),
    and writes nothing on standard output or error (a warning, a C library's message) in the middle of the
    parent's progress bar and report: what it has to say, an error, goes back through its pipe."""
    import sys

    if os.getpid() == parent:  # (a thread standing in for the process, in tests)
        return
    if sys.platform.startswith("linux"):
        from loyalty.clib import c_function

        prctl = c_function("prctl", use_errno=True)
        if prctl is not None:
            prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above: nobody waits for this process
        os._exit(1)
    quiet = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(quiet, fd)
    os.close(quiet)


def release_free_memory() -> bool:
    """In a forked copy: glibc's malloc hands the free pages of its heaps back to the kernel (`malloc_trim`).
    After a fork the two processes share every page copy-on-write, the free ones too (the read leaves ~300 MB
    of them at 1M rows, kept by `keep_freed_memory`): each page either process then writes is copied, in both.
    Let go of in the copy, they are the parent's alone again, so the parent reuses them without a copy, and
    the copy's arrays take fresh pages (car_wash 1M rows: the parent's system time after the fork ~0.09 ->
    ~0.05 s, the copy's faults 28k -> 20k). False where the C library has no `malloc_trim` (not glibc)."""
    from loyalty.clib import c_function

    malloc_trim = c_function("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True


@contextmanager
def forked_half(plan, history: History, ranges: list):
    """A forked copy of this process that replays `ranges` of `history` (the decoded rows shared copy-on-write:
    nothing is written or re-read), pass after pass: `ask((known, last))` starts a pass (`last`: none follows, so
    the copy ends once it has answered), `answer()` waits for its merged result. If the copy dies (killed, out of
    memory), `answer()` raises `ForkedHalfLost` as soon as its pipe closes, never waits for ever; leaving the
    block by an exception (Ctrl-C included) kills the copy. Left normally, the copy is not waited for
    (`reap_later`): its exit takes the kernel 10-55 ms of unmapping (strace), which this process's report need not
    wait."""
    import gc
    import sys
    from multiprocessing import Pipe

    from loyalty.simulate.run import imports_finished

    imports_finished()  # (no thread importing: its module's lock would stay held in the copy)
    reap_finished()
    task_reader, task_writer = Pipe(duplex=False)
    result_reader, result_writer = Pipe(duplex=False)
    for stream in (sys.stdout, sys.stderr):  # (nothing buffered here is written twice)
        with suppress(Exception):
            stream.flush()
    gc.freeze()  # the copy's collector leaves this process's objects alone: their pages stay shared
    parent = os.getpid()
    try:
        pid = os.fork()
    except BaseException:
        gc.unfreeze()
        for end in (task_reader, task_writer, result_reader, result_writer):
            end.close()
        raise
    if pid == 0:  # the copy
        code = 0
        try:
            second_process(parent)
            release_free_memory()
            with suppress(ValueError):  # (forked from a thread that Python does not take for the main one)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the copy
                signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (not the parent's clean-up handler, fileio.py)
            task_writer.close()
            result_reader.close()
            _serve_half(plan, history, ranges, task_reader, result_writer)
        except BaseException:  # noqa: BLE001 (nothing of the copy's may unwind into the parent's code)
            code = 1
        finally:
            os._exit(code)  # no clean-up of the parent's (atexit, buffered output) runs twice
    gc.unfreeze()
    task_reader.close()
    result_writer.close()

    def lost():
        _, status = os.waitpid(pid, 0)
        waited[0] = True
        how = (f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exited with status {os.WEXITSTATUS(status)}")
        raise ForkedHalfLost(f"the process replaying the second half of the members {how} before it sent "
                             "its result (out of memory?)",
                             "run it again; with --jobs 1 it runs in one process, using less memory") from None

    def ask(task) -> None:
        told_last[0] = task[1]
        try:
            task_writer.send(task)
        except OSError:  # (a broken pipe: the copy died between passes; click would exit 1 without a word)
            lost()

    def answer():
        try:
            reply = result_reader.recv()
        except EOFError:
            lost()
        if reply[0] == "error":
            raise reply[1]
        return reply[1], reply[2]

    waited, told_last = [False], [False]
    try:
        yield ask, answer
        if not told_last[0]:  # (a copy told its pass was the last has ended or is ending: its pipe may be closed,
            # and a write there is SIGPIPE where an embedding program restored that signal's default)
            with suppress(OSError):  # (every result is in: a copy gone since its last answer is reaped below)
                task_writer.send(None)
        waited[0] = True
        reap_later(pid)
    except BaseException:
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        task_writer.close()
        result_reader.close()
        if not waited[0]:
            os.waitpid(pid, 0)


_UNREAPED: list[int] = []  # forked copies that had answered but not yet ended (`reap_later`)
_REAP_AT_EXIT: list = []  # not empty once `_reap_all` is registered to run at exit


def reap_later(pid: int) -> None:
    """A copy whose work is done (it is ending), reaped now if it has ended, else at the next fork
    (`reap_finished`, as multiprocessing reaps its finished processes at the next start) or when this process
    exits, after its output: waited for then, so its CPU time still counts in this process's (`time`, rusage)."""
    if not _REAP_AT_EXIT:
        import atexit

        atexit.register(_reap_all)
        _REAP_AT_EXIT.append(True)
    _UNREAPED.append(pid)
    reap_finished()


def reap_finished() -> None:
    """The copies `reap_later` kept that have ended since, reaped (no zombie left for long)."""
    for pid in list(_UNREAPED):
        try:
            ended = os.waitpid(pid, os.WNOHANG)[0]
        except ChildProcessError:  # (reaped already: SIGCHLD ignored by the embedding program)
            ended = pid
        if ended:
            _UNREAPED.remove(pid)


def _reap_all() -> None:
    """Every copy `reap_later` kept, waited for (at exit)."""
    while _UNREAPED:
        with suppress(ChildProcessError):
            os.waitpid(_UNREAPED[0], 0)
        del _UNREAPED[0]


def forked_split(history: History) -> Optional[tuple[int, list, list]]:
    """Where `simulate_forked` cuts `history`: the row where the second half starts, and each half's groups (as
    `row_groups` of the half, from the whole history's member starts, found once); None for one half only."""
    starts = history.member_starts()
    halves = ranges_at_members(starts, len(history), 2)
    if len(halves) < 2:
        return None
    (_, mid), (_, end) = halves
    split = int(starts.searchsorted(mid))
    return (mid, ranges_at_members(starts[:split], mid, group_count(mid, 1)),
            ranges_at_members(starts[split:] - mid, end - mid, group_count(end - mid, 1)))


def simulate_forked(plan, history: History, progress: Optional[Callable[[int], None]] = None,
                    one_pass: bool = False) -> SimResult:
    """A vectorised run on two cores: a forked copy of this process replays the second half of the members
    (by rows, cut on a member boundary) while this process replays the first, each in groups as
    `simulate_in_process` takes them; with budgets, pass after pass, each process keeping its own groups'
    first guesses across passes. The copy's merged half comes back as plain data (wire.py) and is merged after
    this process's groups, in member order, so the report is the one process's, byte for byte."""
    from loyalty.simulate.wire import result_from_data

    split = forked_split(history)
    if split is None:
        return simulate_in_process(plan, history, progress, "vector", one_pass)
    mid, front_ranges, back_ranges = split
    front = History(history.table.slice(0, mid))
    back = History(history.table.slice(mid, len(history) - mid))
    warm: dict = {}
    last = one_pass or not plan.program.budgets  # one pass only (`run_passes`): the copy ends after it
    with forked_half(plan, back, back_ranges) as (ask, answer):

        def run_pass(known):
            ask((known_to_data(known), last))
            parts = pass_parts(plan, front, front_ranges, known, "vector", progress, warm)
            data, routed = answer()
            count_routed(routed)
            if progress:
                progress(len(back))
            return merge_in_order(parts + [result_from_data(data)])

        return run_passes(plan, run_pass, one_pass)


def simulate_jobs(plan, history: History, jobs: int, progress: Optional[Callable[[int], None]] = None,
                  kernel: str = "python") -> SimResult:
    """The whole history with `jobs` processes (1: this process only). Small histories stay in this
    process: workers would cost more than they save. A vectorised run is shared with workers
    (`simulate_split`), an evaluator's run goes to a pool. SIGTERM raises `Terminated` meanwhile (fileio.py), so
    the workers are stopped and their temporary file removed (its default action left both behind)."""
    from loyalty.fileio import cleanup_on_signals

    with cleanup_on_signals():
        return _simulate_jobs(plan, history, jobs, progress, kernel)


def _simulate_jobs(plan, history: History, jobs: int, progress: Optional[Callable[[int], None]],
                   kernel: str) -> SimResult:
    apart = claimants_apart(plan.program, history) if plan.program.budgets else None
    if apart is not None:
        result = apart_from_claimants(plan, apart, jobs, progress, kernel)
        if result is not None:
            return result
        # the guess given up: the bar counted the members apart's pass already, so the whole history's first pass
        # fills it from there (and not past it, which run.py `with_progress` would label a second pass)
        progress = _counted_rows(progress, skip=len(apart[0]))
    return _simulate_by_passes(plan, history, jobs, progress, kernel)


def apart_from_claimants(plan, apart: tuple[History, History], jobs: int,
                         progress: Optional[Callable[[int], None]], kernel: str) -> Optional[SimResult]:
    """The run of a history cut by `budgets.claimants_apart`: the members the plan says claim no budget in one
    pass, the others by budget passes, merged. None (after that one pass) where some of the first made a claim
    after all: then every member takes the passes, as without the cut (why it is exact: `claimants_apart`)."""
    free, claimants = apart
    part = _simulate_by_passes(plan, free, jobs, progress, kernel, one_pass=True)
    if part.claims:
        return None
    if not len(claimants):
        return part
    rest = _simulate_by_passes(plan, claimants, jobs, _counted_rows(progress, rows=len(claimants)), kernel)
    return SimResult.merge_many([part, rest])


def _counted_rows(progress: Optional[Callable[[int], None]], skip: int = 0,
                  rows: Optional[int] = None) -> Optional[Callable[[int], None]]:
    """`progress` told of the rows a run counts after its first `skip` and, with `rows`, up to `rows` of them:
    the bar shows one pass over the history (run.py `with_progress`), which the members apart and the
    claimants' first pass make (`rows`: a later pass of the few claimants would restart it and leave it at their
    share), or the members apart and the rest of the whole history's first pass once a guess is given up
    (`skip`)."""
    if progress is None:
        return None
    to_skip, to_count = skip, rows

    def count(n: int) -> None:
        nonlocal to_skip, to_count
        skipped = min(n, to_skip)
        to_skip -= skipped
        n -= skipped
        if to_count is not None:
            n = min(n, to_count)
            to_count -= n
        if n:
            progress(n)

    return count


def _simulate_by_passes(plan, history: History, jobs: int, progress: Optional[Callable[[int], None]],
                        kernel: str, one_pass: bool = False) -> SimResult:
    """The history's run on the path its size and `jobs` choose, each budget pass on that path (`one_pass`:
    `run_passes`)."""
    if kernel == "vector":
        if jobs > 1 and len(history) >= SPLIT_MIN_ROWS and not plan.program.budgets:
            return simulate_split(plan, history, jobs, progress)
        if jobs > 1 and len(history) >= FORK_MIN_ROWS and usable_cores() > 1 and can_fork() and core_free():
            return simulate_forked(plan, history, progress, one_pass)
        return simulate_in_process(plan, history, progress, kernel, one_pass)
    if jobs <= 1 or len(history) < POOL_MIN_ROWS:
        return simulate_in_process(plan, history, progress, kernel, one_pass)
    return simulate_in_pool(plan, history, jobs, progress, kernel, one_pass)


__all__ = ["POOL_MIN_ROWS", "GROUP_ROWS", "usable_cores", "row_groups", "merge_in_order", "evaluate_range",
           "simulate_jobs", "simulate_in_process", "simulate_in_pool", "simulate_split", "run_passes", "Iterable",
           "FORK_MIN_ROWS", "simulate_forked", "routed_counts", "routed_since", "count_routed", "error_text",
           "second_process", "release_free_memory"]
