"""Evaluator latency: `program.apply` per event and `run_member` per event, per program.

For each program a history is generated once (`loyalty generate --program P`, two years, few
members so each has hundreds of events) and cached in benchmarks/data/. The members with the
most events are replayed:

- run_member: the simulator's fast path (internal `Ev`s, state mutated in place), µs/event;
- apply(dict): `program.apply(state, dict)`: validation, conversion, state copy, effects; p50/p99;
- apply(model): the same with events already validated as `loyalty.events` models.

`program.apply` takes the program's fast path (runtime/fastevents.py, the specialised plan of
runtime/plan.py); `--general` also times the general path it is tested against (`facade.apply_general`:
pydantic validation and the plan's general steps) on the same dicts, in the same process.

    .venv/bin/python benchmarks/apply_latency.py                   # all programs below
    .venv/bin/python benchmarks/apply_latency.py --programs car_wash --profile run_member

Figures vary with the machine's load: compare ratios measured in one run.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
PROGRAMS = {
    "reference": ROOT / "benchmarks" / "programs" / "reference.loyalty",
    "car_wash": ROOT / "examples" / "programs" / "car_wash.loyalty",
    "coffee_stars": ROOT / "examples" / "programs" / "coffee_stars.loyalty",
    "grocery_club": ROOT / "examples" / "programs" / "grocery_club.loyalty",
    "beauty_points": ROOT / "examples" / "programs" / "beauty_points.loyalty",
}
ROWS, MEMBERS = 24_000, 60  # about 400 rows (a few hundred events, skewed) per member over two years


def history_file(name: str) -> Path:
    path = DATA / f"latency-{name}-{ROWS}-{MEMBERS}.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(ROOT / ".venv" / "bin" / "loyalty"), "generate", "--rows", str(ROWS), "--members",
                        str(MEMBERS), "--seed", "1", "--start", "2024-01-01", "--days", "730", "--program",
                        str(PROGRAMS[name]), "-o", str(path)], check=True)
    return path


def dict_streams(path: Path, members: int) -> list[tuple[str, list[dict]]]:
    """Every member's purchase and return events as `program.apply` dicts (the `members` busiest)."""
    by_member: dict[str, dict] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            typ = row["type"]
            if typ not in ("purchase", "return"):
                continue
            evs = by_member.setdefault(row["member"], {})
            key = (typ, row["order"], row["time"] if typ == "return" else "")
            ev = evs.get(key)
            if ev is None:
                ev = evs[key] = {"type": typ, "time": row["time"], "order": row["order"], "lines": []}
                if typ == "return":
                    ev["id"] = f"r:{row['order']}:{row['time']}"
                else:
                    ev["store"], ev["channel"] = row["store"] or None, row["channel"] or None
            if typ == "purchase":
                ev["lines"].append({"item": row["item"], "category": row["category"] or None,
                                    "quantity": int(row["quantity"]), "amount": row["amount"]})
            else:
                ev["lines"].append({"item": row["item"], "quantity": int(row["quantity"])})
    streams = sorted(((m, sorted(e.values(), key=lambda x: x["time"])) for m, e in by_member.items()),
                     key=lambda s: (-len(s[1]), s[0]))
    return streams[:members]


def internal_streams(path: Path, program) -> list[tuple[str, list]]:
    from loyalty.simulate.history import ReadOptions, read_history
    from loyalty.simulate.orders import EventBuilder

    p = program.compiled
    h = read_history(path, ReadOptions(minor_units=p.exponent, currency=p.currency, timezone=p.timezone))
    builder = EventBuilder(h, p.catalog)
    return [(m, builder.member(s, e).evs) for m, s, e in h.member_slices()]


def bench_run_member(program, streams, repeat: int) -> float:
    from loyalty.runtime.evaluator import apply_event, new_member
    from loyalty.runtime.events import EventError
    from loyalty.runtime.ledger import UnlimitedLedger

    p = program.compiled
    ledger = UnlimitedLedger()
    n = sum(len(evs) for _, evs in streams)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for member, evs in streams:  # as run_member, but a return of an order before the history is skipped
            st = new_member(p, member, None)
            for ev in evs:
                try:
                    apply_event(p, st, ev, ledger, [])
                except EventError:
                    pass
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def bench_apply(program, streams, clock=time.perf_counter_ns, apply=None) -> tuple[float, float, float, int]:
    """(p50, p99, max) µs per `program.apply` call, and the number of calls. With `time.thread_time_ns`
    as the clock, time the process spent waiting for a core (a loaded machine) is left out. `apply`:
    another function of (program, state, event) to time instead."""
    samples = []
    for member, events in streams:
        state = program.new_member(member)
        for ev in events:
            start = clock()
            try:
                state, _effects = program.apply(state, ev) if apply is None else apply(program, state, ev)
            except Exception:  # a return the generator made of an order before the history: rejected, timed too
                pass
            samples.append(clock() - start)
    s = sorted(samples)
    return s[len(s) // 2] / 1000, s[min(len(s) - 1, int(len(s) * 0.99))] / 1000, s[-1] / 1000, len(s)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", default=",".join(PROGRAMS))
    ap.add_argument("--members", type=int, default=8, help="busiest members replayed through apply")
    ap.add_argument("--repeat", type=int, default=3, help="run_member passes (best is reported)")
    ap.add_argument("--profile", choices=("run_member", "apply"), help="print a cProfile of one program instead")
    ap.add_argument("--general", action="store_true", help="also time the general path (facade.apply_general)")
    args = ap.parse_args(argv)
    sys.path.insert(0, os.environ.get("LOYALTY_SRC", str(ROOT / "src")))  # LOYALTY_SRC: time another checkout
    import loyalty
    from loyalty.runtime.events import parse_event

    print(f"{'program':<14} {'events':>7} {'run_member us/ev':>17} {'apply p50':>10} {'p99':>8} {'max':>8} "
          f"{'model p50':>10} {'p99':>8} {'cpu p50':>8} {'cpu p99':>8}")
    for name in args.programs.split(","):
        program = loyalty.load(str(PROGRAMS[name]))
        path = history_file(name)
        streams = dict_streams(path, args.members)
        internal = internal_streams(path, program)
        models = [(m, [parse_event(e) for e in evs]) for m, evs in streams]
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            if args.profile == "run_member":
                bench_run_member(program, internal, 1)
            else:
                bench_apply(program, streams)
            prof.disable()
            print(f"--- {name}: {args.profile}")
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            continue
        gc.collect()
        per_event = bench_run_member(program, internal, args.repeat)
        p50, p99, mx, n = bench_apply(program, streams)
        mp50, mp99, _mmx, _ = bench_apply(program, models)
        cp50, cp99, _cmx, _ = bench_apply(program, streams, time.thread_time_ns)
        n_internal = sum(len(e) for _, e in internal)
        print(f"{name:<14} {n_internal:>7} {per_event:>17.1f} {p50:>10.1f} {p99:>8.1f} {mx:>8.0f} {mp50:>10.1f} "
              f"{mp99:>8.1f} {cp50:>8.1f} {cp99:>8.1f}   ({n} apply calls)", flush=True)
        if args.general:
            try:
                from loyalty.runtime.facade import apply_general
            except ImportError:  # a checkout from before the fast path
                continue
            gp50, gp99, _gmx, _ = bench_apply(program, streams, apply=apply_general)
            print(f"{'':<14} general path (dict): p50 {gp50:.1f} p99 {gp99:.1f}; fast / general p50 = "
                  f"{p50 / gp50:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
