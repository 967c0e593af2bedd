"""Events per second through loyalty.store, per backend (docs/performance.md, "The store").

    python benchmarks/store_throughput.py [--events 1000] [--workers 4] [--per-worker 250] [--members 40]
                                          [--backends sqlite,postgresql] [--json FILE]

For each backend: one process applying `--events` events (store.apply, each its own transaction) and, for
comparison, the same events through program.apply with no database; then `--workers` processes applying
`--per-worker` events each for overlapping members with 10% resends (tests/store_harness.py), checked against
a single-threaded replay afterwards (every state, every effect once, budgets within their limits). SQLite runs
with synchronous=FULL; PostgreSQL is a throwaway server started here (initdb + pg_ctl) with fsync on and
synchronous_commit on: both make every committed event durable. The program is
benchmarks/programs/store_load.loyalty. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import loyalty  # noqa: E402
from loyalty.store import open_store  # noqa: E402
from store_harness import PROGRAM, PostgresServer, PostgresUnavailable, finish, make_events, run_workers, verify  # noqa: E402


def single_process(where: str, events: list, no_sync: bool) -> dict:
    program = loyalty.load(PROGRAM)
    with open_store(program, where) as store:
        if no_sync and store.backend.dialect == "sqlite":
            store.backend.conn.execute("PRAGMA synchronous=OFF")
        began = time.perf_counter()
        for member, event in events:
            store.apply(member, event)
        seconds = time.perf_counter() - began
    states: dict = {}
    ledger = program.new_budget_ledger()
    began = time.perf_counter()
    for member, event in events:
        state = states.get(member) or program.new_member(member)
        states[member], _ = program.apply(state, event, ledger)
    bare = time.perf_counter() - began
    return {"events": len(events), "seconds": round(seconds, 3), "events_per_s": round(len(events) / seconds),
            "ms_per_event": round(seconds / len(events) * 1000, 3),
            "program_apply_events_per_s": round(len(events) / bare)}


def multi_process(where: str, workers: int, per_worker: int, members: int, tmp: Path) -> dict:
    events = make_events(3, workers, per_worker, members)
    path = tmp / "events.json"
    path.write_text(json.dumps(events))
    began = time.perf_counter()
    results = finish(run_workers(where, path, workers, resend_share=0.1))
    wall = time.perf_counter() - began
    figures = verify(where, events)
    sends = sum(r["sent"] for r in results)
    busy = max(r["seconds"] for r in results)  # from the first apply to the last, without process start-up
    return {"workers": workers, "members": members, "events": figures["events"], "sends": sends,
            "resent": sum(r["resent"] for r in results), "rejected": sum(r["rejected"] for r in results),
            "conflicts_retried": sum(r["retries"] for r in results), "effects": figures["effects"],
            "seconds": round(busy, 3), "events_per_s": round(figures["events"] / busy),
            "sends_per_s": round(sends / busy), "wall_with_start_up": round(wall, 3),
            "budgets": {k: f"{v['used']}/{v['limit']}" for k, v in figures["budgets"].items()},
            "checked": "equal to a single-threaded replay; no effect lost or repeated; budgets within limits"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--per-worker", type=int, default=250)
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", default=None)
    parser.add_argument("--no-sync", action="store_true",
                        help="one process without waiting for the disk (SQLite synchronous=OFF, PostgreSQL fsync "
                             "off): what the store costs in CPU, not a safe setting")
    args = parser.parse_args()
    out: dict = {}
    one = [tuple(e) for e in make_events(5, 1, args.events, args.members)[0]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for backend in args.backends.split(","):
            server = None
            if backend == "sqlite":
                first, second = str(tmp / "one.db"), str(tmp / "many.db")
            else:
                try:
                    server = PostgresServer(fsync=not args.no_sync)
                except PostgresUnavailable as err:
                    print(f"postgresql: skipped: {err}")
                    continue
                first, second = server.new_database("one"), server.new_database("many")
            try:
                out[backend] = {"one_process": single_process(first, one, args.no_sync)}
                if not args.no_sync:
                    out[backend]["processes"] = multi_process(second, args.workers, args.per_worker, args.members, tmp)
            finally:
                if server is not None:
                    server.stop()
            print(f"{backend}:")
            for part, figures in out[backend].items():
                print(f"  {part}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
