"""Bounded state: a member's saved state size and `program.apply` p50 after 10, 1,000 and 100,000 events,
with and without acceptance windows (docs/performance.md, "Bounded state").

The program is examples/programs/coffee_stars.loyalty (stars with expiry and a pending period, a tier on
stars earned in the calendar year), once as it is ("before": the state keeps every event id, order and
metric contribution) and once with `returns accepted within 90 days` and `late events accepted within
7 days` in its program block ("after"). One member buys a latte four times a day, in time order, with every
20th order returned whole a day later. After N events the state's JSON is measured (`len(state.to_json())`
in bytes, and its counts of event ids, orders and metric contributions), then 200 more events are applied
one by one and the median time of `program.apply` (a dict event, the state copy included) is reported.

    .venv/bin/python benchmarks/state_size.py                 # 10, 1,000 and 100,000 events
    .venv/bin/python benchmarks/state_size.py --sizes 10,1000

Figures vary with the machine's load: compare the two columns measured in one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import loyalty  # noqa: E402

WINDOWS = "  returns accepted within 90 days\n  late events accepted within 7 days\n"
START = dt.datetime(2025, 1, 1, 7, 0)
STEP = dt.timedelta(hours=6)


def programs() -> dict:
    text = (ROOT / "examples" / "programs" / "coffee_stars.loyalty").read_text(encoding="utf-8")
    bounded = text.replace("  runs from 2025-01-01\n", "  runs from 2025-01-01\n" + WINDOWS)
    assert bounded != text
    return {"before": loyalty.compile_source(text), "after": loyalty.compile_source(bounded)}


def events(start: int, n: int):
    """Event `start` .. start+n-1 of the member's history: purchases, and a whole return of every 20th order a
    day later (each return is an event of its own, in time order)."""
    for i in range(start, start + n):
        t = START + i * STEP
        if i % 20 == 19:
            yield {"return": {"id": f"r{i}", "time": t.isoformat(), "order": f"o{i - 4}"}}
        else:
            yield {"purchase": {"id": f"e{i}", "time": t.isoformat(), "order": f"o{i}",
                                "lines": [{"item": "latte", "quantity": 1, "amount": "4.50"}]}}


def measure(program, n: int, timed: int = 200) -> dict:
    state = program.new_member("m1")
    for ev in events(0, n):
        state, _ = program.apply(state, ev)
    text = state.to_json()
    doc = json.loads(text)
    times = []
    gc.collect()
    for ev in events(n, timed):
        t0 = time.perf_counter_ns()
        state, _ = program.apply(state, ev)
        times.append(time.perf_counter_ns() - t0)
    return {"bytes": len(text), "ids": len(doc["seen"]), "orders": len(doc["orders"]),
            "contributions": sum(len(m) for m in doc["metrics"]), "p50_us": statistics.median(times) / 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,1000,100000", help="numbers of events before measuring")
    args = ap.parse_args()
    progs = programs()
    print("| events | state before | state after | ids / orders / contributions before | after "
          "| apply p50 before | after |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(x) for x in args.sizes.split(",")):
        b, a = measure(progs["before"], n), measure(progs["after"], n)
        print(f"| {n:,} | {b['bytes']:,} B | {a['bytes']:,} B | {b['ids']:,} / {b['orders']:,} / "
              f"{b['contributions']:,} | {a['ids']:,} / {a['orders']:,} / {a['contributions']:,} "
              f"| {b['p50_us']:.1f} µs | {a['p50_us']:.1f} µs |", flush=True)


if __name__ == "__main__":
    main()
