"""The benchmark suite: loyalty against the tools people would otherwise use, and issue 12's targets judged
on the figures of the same run (docs/performance.md).

    .venv/bin/python benchmarks/run.py --rows 1000000      # every section, then the targets: ~30 min
    .venv/bin/python benchmarks/run.py --quick             # the same at 100k rows, a smoke run
    .venv/bin/python benchmarks/run.py --rows 1000000 --suite --embedding   # the run of earlier versions

Sections (flags; with none, every one, as --all):

    --suite          the four benchmark programs and the pandas, polars and plain-Python peers on one
                     history, the peers' totals checked; compile time of every program
    --embedding      program.apply per event against zen-engine's evaluate(key, context) on the same
                     purchases (apply p50 / zen p50), their answers checked against each other
    --per-program    every program in examples/programs and benchmarks/programs on a history generated
                     for its own catalog: simulate wall and CPU seconds, a pyarrow read of the file, the
                     ratios, the kernel and the members it replayed by the scalar plan
    --skew [EXP]     the reference program on an even and a skewed (loyalty generate --skew EXP, default
                     1.2) history of the same rows: seconds per million rows each, and their ratio
    --streaming      the reference program on a member-grouped history, simulate --grouped against
                     simulate in memory: the ratio of wall time (and CPU, peak memory)
    --tenfold        at ten times --rows (821 MB of CSV for a 1M run), one run each: the reference program
                     streamed against in memory, and every_mechanic streamed, its peak memory

    .venv/bin/python benchmarks/run.py --rows 100000 --per-program --skew --streaming

After the sections, a table of issue 12's targets: each with this run's figure and "met", "NOT met", or
"-" where its section did not run.

Inputs come from `loyalty generate` (fixed seed, cached in benchmarks/data/). Every
program and peer runs in its own process, `--repeat` times round-robin (default 3; the
fastest run is reported); wall and CPU time are measured with os.wait4, peak memory as
the largest sum of RSS over the process and its worker processes. Ratios are printed, never asserted.
The peers' totals are checked against `loyalty simulate`'s, zen's answers against program.apply's,
and the streamed report against the in-memory one: a mismatch is printed loudly and makes the run
exit with status 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROGRAMS = HERE / "programs"
PEERS = HERE / "peers"
DATA = HERE / "data"
REFERENCE = PROGRAMS / "reference.loyalty"
BENCH_PROGRAMS = ["reference", "points_redemption", "tiered_returns", "every_mechanic"]
SEED = 1
PUNCH_RULE = "every 6th wash is free"
POINTS_KIND = "points"
GOLD = "gold"

sys.path.insert(0, str(PEERS))
import zen_reference  # noqa: E402  (zen itself is imported only by make_engine)


def loyalty_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("loyalty")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "loyalty.cli"]


# ------------------------------------------------------------------ processes


class Measured:
    def __init__(self, seconds: float, cpu: float, peak_mb: float, stdout: str, stderr: str, status: int):
        self.seconds, self.cpu, self.peak_mb = seconds, cpu, peak_mb
        self.stdout, self.stderr, self.status = stdout, stderr, status


def byte_compile_loyalty() -> int:
    """Write the .pyc files of the loyalty package that the measured commands import, as `pip install` of the
    wheel does at install time: an editable install on a machine that sets PYTHONDONTWRITEBYTECODE (this one
    does) would otherwise compile every module from source in every measured run (~0.2-0.3 s of CPU that no
    installed copy pays). Returns the number of modules; prints what it did."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("loyalty")
    if spec is None or not spec.submodule_search_locations:
        print("loyalty is not importable here: the measured commands compile their modules on every run")
        return 0
    package = Path(next(iter(spec.submodule_search_locations)))
    modules = sum(1 for _ in package.rglob("*.py"))
    ok = compileall.compile_dir(str(package), quiet=1)
    print(f"loyalty byte-compiled as an installed copy is ({modules} modules in {package})"
          + ("" if ok else ": some failed to compile, those compile in every run"))
    return modules


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc), in kB; 0 if it has ended."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return total


def measure(cmd: list[str]) -> Measured:
    """Run `cmd`; its wall time, CPU time and peak resident memory. CPU (os.wait4) includes the worker
    processes it waited for; peak memory is the largest *sum* over the process and its workers, sampled
    every 10 ms (ru_maxrss would give only the largest single process), or ru_maxrss where /proc is missing."""
    import threading

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.01):
                peak[0] = max(peak[0], _tree_rss_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        if Path("/proc/self/status").exists():
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime  # steadier than wall time on a shared machine
        peak_kb = max(peak[0], usage.ru_maxrss)
        return Measured(seconds, cpu, peak_kb / 1024, out.read().decode(), err.read().decode(), proc.returncode)


# ------------------------------------------------------------------ inputs


SHARED_CATALOG = PROGRAMS / "every_mechanic.loyalty"  # the four benchmark programs' catalog
SKEW = 1.2  # `--skew` without a value: the Zipf exponent of the skewed history (loyalty generate --skew)


def history(rows: int, program: Path | None = None, *, grouped: bool = False, skew: float | None = None) -> Path:
    """A history with `rows` rows (generated once, then cached in benchmarks/data/), seed 1, one member per 20
    rows. Without `program`: the benchmark programs' shared catalog, two years from 2024-01-01. With it: that
    program's catalog (`loyalty generate --program`), from the day the program starts running for two years
    or to its last day, whichever is sooner. `grouped`: member by member (`--grouped`); `skew`: heavy-tailed
    member activity (`--skew`)."""
    DATA.mkdir(exist_ok=True)
    start, days = "2024-01-01", 730
    name = f"history-{rows}-seed{SEED}"
    if program is not None:
        start, days = program_period(program)
        name = f"history-{program.stem}-{rows}-seed{SEED}"
    name += ("-grouped" if grouped else "") + (f"-skew{skew:g}" if skew is not None else "")
    path = DATA / f"{name}.csv"
    if path.exists():
        return path
    members = max(1, rows // 20)
    tmp = path.with_suffix(".tmp")
    cmd = loyalty_cmd() + ["generate", "--rows", str(rows), "--seed", str(SEED), "--members", str(members),
                           "--program", str(program or SHARED_CATALOG), "--start", start,
                           "--days", str(days), "-o", str(tmp)]
    cmd += (["--grouped"] if grouped else []) + (["--skew", f"{skew:g}"] if skew is not None else [])
    print(f"generating {path.name} ({rows:,} rows, {members:,} members) ...", flush=True)
    m = measure(cmd)
    if m.status:
        sys.exit(f"loyalty generate failed:\n{m.stderr}")
    tmp.rename(path)
    print(f"  generated in {m.seconds:.1f} s", flush=True)
    return path


def program_period(program: Path) -> tuple[str, int]:
    """The first day a program runs (ISO) and the days of history to generate for it: two years, or up to
    the program's last day if it ends sooner."""
    import loyalty

    compiled = loyalty.load(program).compiled
    days = 730
    start = compiled.runs_from or dt.datetime(2024, 1, 1)  # a program that always runs: the shared start
    if compiled.runs_to is not None:  # the moment it stops (midnight after its last day)
        days = max(1, min(days, -(-(compiled.runs_to - start) // dt.timedelta(days=1))))
    return start.date().isoformat(), days


def all_programs() -> list[Path]:
    """Every example and benchmark program."""
    return sorted((ROOT / "examples" / "programs").glob("*.loyalty")) + sorted(PROGRAMS.glob("*.loyalty"))


def pyarrow_read_seconds(path: Path, repeat: int = 3) -> float:
    """The floor: pyarrow reading the same CSV (best of `repeat`, after a warm-up read)."""
    from pyarrow import csv

    csv.read_csv(path)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        csv.read_csv(path)
        best = min(best, time.perf_counter() - start)
    return best


# ------------------------------------------------------------------ totals


def loyalty_totals(report: dict) -> dict:
    """The reference program's totals from `loyalty simulate --format json`."""
    points = next(p for p in report["points"] if p["kind"] == POINTS_KIND)
    rule = next(r for r in report["by_rule"] if r["rule"] == PUNCH_RULE)
    gold = next(t for t in report["by_tier"] if t["tier"] == GOLD)
    value = rule["discount"]
    whole, _, frac = value.partition(".")
    return {
        "free_wash_value": f"{whole}.{(frac + '00')[:2]}",
        "points_issued": points["issued"],
        "points_clawed_back": points["clawed_back"],
        "points_expired": points["expired"],
        "points_outstanding": points["outstanding"],
        "gold_members_at_end": gold["members_at_end"],
    }


def compare(name: str, peer: dict, truth: dict) -> list[str]:
    return [f"{name}: {k} = {peer.get(k)!r}, loyalty simulate says {v!r}" for k, v in truth.items() if peer.get(k) != v]


# ------------------------------------------------------------------ in-process figures


def compile_times() -> list[tuple[str, float]]:
    """Parse + check + compile of every example and benchmark program (the parser already built), in ms."""
    import loyalty

    files = all_programs()
    loyalty.compile_source(REFERENCE.read_text(encoding="utf-8"), str(REFERENCE))  # builds the parser
    out = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            loyalty.compile_source(text, str(f))
            samples.append(time.perf_counter() - start)
        out.append((str(f.relative_to(ROOT)), statistics.median(samples) * 1000))
    return out


def member_streams(path: Path, max_events: int, rows: int) -> list[tuple[str, list[dict]]]:
    """Some members' purchase and return events from the history, as `program.apply` dicts: every event of
    a fixed sample of members (chosen by a hash of the id, so the same in every run), about `max_events`."""
    import csv
    import zlib

    every = max(1, rows // max_events)
    members: dict[str, dict] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            typ = row["type"]
            if typ not in ("purchase", "return") or zlib.crc32(row["member"].encode()) % every:
                continue
            evs = members.setdefault(row["member"], {})
            key = (typ, row["order"], row["time"] if typ == "return" else "")
            ev = evs.get(key)
            if ev is None:
                ev = evs[key] = {"type": typ, "time": row["time"], "order": row["order"], "lines": []}
                if typ == "purchase":
                    ev["store"], ev["channel"] = row["store"], row["channel"]
            if typ == "purchase":
                ev["lines"].append({"item": row["item"], "category": row["category"],
                                    "quantity": int(row["quantity"]), "amount": row["amount"]})
            else:
                ev["lines"].append({"item": row["item"], "quantity": int(row["quantity"])})
    return [(m, list(evs.values())) for m, evs in members.items()]


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    s = sorted(samples_ns)
    return s[len(s) // 2] / 1000, s[min(len(s) - 1, int(len(s) * 0.99))] / 1000


LATENCY_PASSES = 3  # of each of apply and zen, alternating


def apply_latency(streams) -> tuple[float, float, int, float]:
    """`program.apply` per event, in µs (p50, p99, events), over real members' event streams; and the p50 over
    the purchases alone (the events zen decides)."""
    import loyalty

    program = loyalty.load(REFERENCE)
    samples, purchases = [], []
    clock = time.perf_counter_ns
    for member, events in streams:
        state = program.new_member(member)
        for ev in events:
            start = clock()
            state, _effects = program.apply(state, ev)
            took = clock() - start
            samples.append(took)
            if ev["type"] == "purchase":
                purchases.append(took)
    p50, p99 = percentiles(samples)
    return p50, p99, len(samples), percentiles(purchases)[0]


class ZenCaller:
    """What a service embedding zen keeps for one member: washes counted, free washes given, points earned.
    The engine keeps no orders, so returns are the caller's problem: this one ignores them."""

    __slots__ = ("punches", "given", "earned", "washes")

    def __init__(self):
        self.punches = self.given = self.earned = self.washes = 0

    def ask(self, ev: dict) -> dict:
        """A purchase as the engine's input (money in minor units)."""
        lines = ev["lines"]
        self.washes = sum(ln["quantity"] for ln in lines if ln["category"] == "washes")
        wash_amount = sum(_minor(ln["amount"]) for ln in lines if ln["category"] == "washes")
        gross = sum(_minor(ln["amount"]) for ln in lines)
        return zen_reference.order_input(self.washes, wash_amount, gross, self.punches, self.given, self.earned)

    def told(self, answer: dict) -> None:
        self.punches += self.washes
        self.given += answer["free"]
        self.earned += answer["points"]


def zen_latency(streams, engine) -> tuple[float, float, int, float]:
    """The same purchases' decision through zen-engine's fast call (`engine.evaluate(key, context)`, the
    decision held by the engine's static loader), in µs (p50, p99, purchases); and the p50 of the same call with
    the caller's own work around it timed too (building the engine's input from the event and keeping the
    member's counts: what `program.apply` does inside its call)."""
    key, evaluate = zen_reference.KEY, engine.evaluate
    samples, with_caller = [], []
    clock = time.perf_counter_ns
    for _member, events in streams:
        caller = ZenCaller()
        for ev in events:
            if ev["type"] != "purchase":
                continue
            asked = clock()
            data = caller.ask(ev)
            start = clock()
            answer = evaluate(key, data)["result"]
            done = clock()
            caller.told(answer)
            samples.append(done - start)
            with_caller.append(clock() - asked)
    p50, p99 = percentiles(samples)
    return p50, p99, len(samples), percentiles(with_caller)[0]


def zen_agreement(streams, engine) -> tuple[int, int, list[str]]:
    """Whether zen's answers are `program.apply`'s where the two must agree: each member's purchases up to
    her first return (the caller does not undo returns) and up to her first order with free washes on two
    wash lines (zen prices free washes at the wash lines' average, `program.apply` line by line). Compared
    per purchase: the punch card's discount (minor units) and the points earned (rule and tier together).
    Returns the purchases compared, how many of them were a gold member's, and the disagreements."""
    import loyalty

    program = loyalty.load(REFERENCE)
    compared, gold, problems, different = 0, 0, [], 0
    for member, events in streams:
        state = program.new_member(member)
        caller = ZenCaller()
        for ev in events:
            if ev["type"] != "purchase":
                break
            data = caller.ask(ev)
            answer = engine.evaluate(zen_reference.KEY, data)["result"]
            if answer["free"] and sum(ln["category"] == "washes" for ln in ev["lines"]) > 1:
                break
            caller.told(answer)
            state, effects = program.apply(state, ev)
            ours = {"discount": sum(e.amount for e in effects if e.kind == "discount_applied" and e.rule == PUNCH_RULE),
                    "points": sum(e.points for e in effects if e.kind == "points_earned")}
            theirs = {"discount": answer["discount"], "points": answer["points"]}
            compared += 1
            gold += data["earned"] >= zen_reference.GOLD_FROM
            if ours != theirs:
                different += 1
                if len(problems) < 5:
                    problems.append(f"zen-engine on {member}'s order {ev['order']}: {theirs}, program.apply: {ours}")
    if different > len(problems):
        problems.append(f"... zen-engine and program.apply differ on {different:,} purchases in all")
    return compared, gold, problems


def _minor(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


# ------------------------------------------------------------------ running commands round-robin


def round_robin(runs: list[tuple[str, list[str]]], repeat: int, problems: list[str], *,
                each_run: bool = True, first_err: dict[str, str] | None = None) -> tuple[dict[str, dict], dict[str, str]]:
    """Run every (what, command) `repeat` times, round-robin, so each meets the same spells of a shared
    machine's speed. Returns, for each that never failed, its fastest run's seconds and CPU, the largest peak
    memory of all its runs and every run's seconds; and the standard output of its first run. A failure is
    added to `problems` and the command is not run again. `each_run`: print a line per run (else per round).
    `first_err`: filled with the standard error of each one's first run."""
    best: dict[str, dict] = {}
    first_out: dict[str, str] = {}
    failed: set[str] = set()
    for round_ in range(repeat):
        started = time.perf_counter()
        for what, cmd in runs:
            if what in failed:
                continue
            m = measure(cmd)
            if m.status:
                problems.append(f"{what} failed (exit {m.status}): {m.stderr.strip()[-500:]}")
                failed.add(what)
                best.pop(what, None)
                continue
            if each_run:
                print(f"  {what}: {m.seconds:.2f} s" + (f" (round {round_ + 1})" if repeat > 1 else ""), flush=True)
            first_out.setdefault(what, m.stdout)
            if first_err is not None:
                first_err.setdefault(what, m.stderr)
            r = best.get(what)
            if r is None:
                best[what] = r = {"what": what, "seconds": m.seconds, "cpu": m.cpu, "peak_mb": m.peak_mb,
                                  "all_seconds": []}
            elif m.seconds < r["seconds"]:
                r["seconds"], r["cpu"] = m.seconds, m.cpu
            r["peak_mb"] = max(r["peak_mb"], m.peak_mb)
            r["all_seconds"].append(round(m.seconds, 3))
        if not each_run:
            print(f"  round {round_ + 1} of {repeat}: {len(runs)} runs in {time.perf_counter() - started:.0f} s",
                  flush=True)
    return best, first_out


def simulate_cmd(program: Path, path: Path, *extra: str) -> list[str]:
    return loyalty_cmd() + ["simulate", str(program), str(path), "--format", "json", *extra]


# a plain pyarrow read of a CSV, in a process of its own: the floor a simulation is measured against
PYARROW_READ = "import sys\nfrom pyarrow import csv\ncsv.read_csv(sys.argv[1])\n"


def pyarrow_read_cmd(path: Path) -> list[str]:
    return [sys.executable, "-c", PYARROW_READ, str(path)]


def kernel_of(report_json: str) -> tuple[str, str]:
    """Which kernel a `loyalty simulate --format json` run used, and why (empty when the vectorised one ran)."""
    assumptions = json.loads(report_json).get("assumptions", {})
    return assumptions.get("kernel") or "?", assumptions.get("kernel_why") or ""


# ------------------------------------------------------------------ sections


def run_suite(args, rows: int, problems: list[str], out: dict) -> None:
    """The benchmark programs and the peers on the shared history; compile times."""
    path = history(rows)
    size_mb = path.stat().st_size / 1e6
    floor = pyarrow_read_seconds(path)
    print(f"\nhistory: {path.relative_to(ROOT)} ({rows:,} rows, {size_mb:.0f} MB); "
          f"pyarrow reads it in {floor:.3f} s\n", flush=True)

    # each reports its fastest run (its CPU time from that run) and the largest peak memory of all its runs
    names = [p.strip() for p in args.programs.split(",") if p.strip()]
    runs = [(f"loyalty simulate {name}", simulate_cmd(PROGRAMS / f"{name}.loyalty", path)) for name in names]
    peers = [] if args.no_peers else ["polars_reference", "pandas_reference"] + (
        [] if args.no_python_loop else ["python_loop"])
    runs += [(f"peer {peer}", [sys.executable, str(PEERS / f"{peer}.py"), str(path)]) for peer in peers]
    best, first_out = round_robin(runs, args.repeat, problems)
    results = [best[what] for what, _ in runs if what in best]
    truth = None
    if "loyalty simulate reference" in first_out:
        truth = loyalty_totals(json.loads(first_out["loyalty simulate reference"]))
    peer_totals = {what.removeprefix("peer "): json.loads(first_out[what]) for what, _ in runs
                   if what.startswith("peer ") and what in first_out}
    if truth is not None:
        for peer, tot in peer_totals.items():
            problems += compare(peer, tot, truth)

    polars_s = next((r["seconds"] for r in results if r["what"] == "peer polars_reference"), None)
    polars_cpu = next((r["cpu"] for r in results if r["what"] == "peer polars_reference"), None)
    print(f"\n{'what':<40} {'rows':>11} {'seconds':>8} {'rows/s':>11} {'x pyarrow':>10} {'x polars':>9} "
          f"{'cpu s':>7} {'cpu x polars':>12} {'peak MB':>8}")
    for r in results:
        r["rows_per_s"] = rows / r["seconds"]
        r["x_pyarrow"] = r["seconds"] / floor
        r["x_polars"] = r["seconds"] / polars_s if polars_s else None
        r["cpu_x_polars"] = r["cpu"] / polars_cpu if polars_cpu else None
        xp = f"{r['x_polars']:.2f}" if r["x_polars"] is not None else "-"
        cxp = f"{r['cpu_x_polars']:.2f}" if r["cpu_x_polars"] is not None else "-"
        print(f"{r['what']:<40} {rows:>11,} {r['seconds']:>8.2f} {r['rows_per_s']:>11,.0f} {r['x_pyarrow']:>10.1f} "
              f"{xp:>9} {r['cpu']:>7.2f} {cxp:>12} {r['peak_mb']:>8.0f}")
    if args.repeat > 1:
        print("every run, seconds: " + "; ".join(f"{r['what']} {', '.join(f'{x:.2f}' for x in r['all_seconds'])}"
                                                 for r in results))

    if truth is not None:
        print("\nreference totals (loyalty simulate):", json.dumps(truth, sort_keys=True))
        for peer, tot in peer_totals.items():
            print(f"  {peer}: {'same totals' if not compare(peer, tot, truth) else 'DIFFERENT (see below)'}"
                  f" (free washes: {tot.get('free_washes')})")

    print("\ncompile (parse + check + compile, parser built), median of 5:")
    compiles = compile_times()
    for f, ms in compiles:
        print(f"  {ms:7.1f} ms  {f}")
    print(f"  slowest: {max(ms for _, ms in compiles):.1f} ms (target: under 50 ms)")
    out.update({"history_mb": size_mb, "pyarrow_read_s": floor, "results": results, "truth": truth,
                "peers": peer_totals, "compile_ms": dict(compiles)})


def run_embedding(args, rows: int, problems: list[str], out: dict) -> None:
    """`program.apply` per event against zen-engine's fast call on the same purchases, and their agreement."""
    streams = member_streams(history(rows), args.events, rows)
    # passes alternate (apply, zen, apply, zen, ...) so both see the same spells of a shared machine's speed;
    # each reports the pass with the lowest p50, as timeit reports its best repeat
    engine = zen_reference.make_engine()
    applies, zens = [], []
    for _ in range(LATENCY_PASSES):
        applies.append(apply_latency(streams))
        if engine is not None:
            zens.append(zen_latency(streams, engine))
    p50, p99, n, purchase_p50 = min(applies)
    import loyalty

    build = "compiled" if loyalty.compiled() else "pure Python"  # which build the figures are of (hatch_build.py)
    print(f"\nembedding, per event ({build} build): program.apply p50 {p50:.1f} µs, p99 {p99:.1f} µs ({n:,} "
          f"events; best of "
          f"{len(applies)} passes, p50s {', '.join(f'{a[0]:.1f}' for a in applies)}); purchases alone p50 "
          f"{purchase_p50:.1f} µs")
    zen = min(zens) if zens else None
    if zen is None:
        print("  zen-engine is not installed (pip install -e '.[bench]'): skipped")
    else:
        print(f"  zen-engine evaluate(key, context) p50 {zen[0]:.1f} µs, p99 {zen[1]:.1f} µs ({zen[2]:,} purchases; "
              f"best of {len(zens)} passes, p50s {', '.join(f'{z[0]:.1f}' for z in zens)})")
        print(f"  apply p50 / zen p50 = {p50 / zen[0]:.2f} (the target's measure)")
        # like for like: apply reads the event dict and keeps the member's state inside its call; zen's caller
        # does both outside evaluate (ZenCaller.ask, .told). Printed beside the target's measure, not instead.
        print(f"  like for like, purchases alone: apply p50 {purchase_p50:.1f} µs / zen with its caller's work "
              f"p50 {zen[3]:.1f} µs = {purchase_p50 / zen[3]:.2f}")
        agreed, gold, disagreements = zen_agreement(streams, engine)
        problems += disagreements
        if not agreed:
            problems.append("zen-engine and program.apply: no purchase to compare")
        print("  zen-engine and program.apply: "
              + ("same discount and points" if not disagreements else "DIFFERENT (see below)")
              + f" on the {agreed:,} purchases compared ({gold:,} of gold members; each member's up to her "
                "first return or first order with free washes on two wash lines)")
    out.update({"apply_build": build, "apply_us": [p50, p99, n], "zen_us": list(zen[:3]) if zen else None,
                "apply_p50_over_zen_p50": p50 / zen[0] if zen else None,
                "apply_purchase_p50_us": purchase_p50, "zen_with_caller_p50_us": zen[3] if zen else None})


ROUTED_LINE = re.compile(r"vectorised kernel: (\d+) member\(s\) replayed by the scalar plan \((.*)\)")


def routed_members(stderr: str) -> dict[str, int]:
    """The members a `simulate --verbose` run's vectorised kernel sent to the scalar plan, by reason."""
    found: dict[str, int] = {}
    for n, reason in ROUTED_LINE.findall(stderr):
        found[reason] = found.get(reason, 0) + int(n)
    return found


def run_per_program(args, rows: int, problems: list[str], out: dict) -> None:
    """Every example and benchmark program on a history generated for its own catalog and period: `loyalty
    simulate` against a plain pyarrow read of the same file, each in its own process, and which kernel ran
    (with the members it replayed by the scalar plan, from `--verbose`)."""
    programs = all_programs()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {p.stem for p in programs}
        if unknown:
            raise SystemExit(f"--only: no program named {', '.join(sorted(unknown))}")
        programs = [p for p in programs if p.stem in wanted]
    print(f"\nper program: {len(programs)} programs, each on {rows:,} rows generated for its catalog", flush=True)
    inputs = {p: history(rows, p) for p in programs}
    runs = []
    for p in programs:
        runs += [(f"simulate {p.stem}", simulate_cmd(p, inputs[p], "--verbose")),
                 (f"pyarrow {p.stem}", pyarrow_read_cmd(inputs[p]))]
    first_err: dict[str, str] = {}
    best, first_out = round_robin(runs, args.repeat, problems, each_run=False, first_err=first_err)
    table = []
    width = max(len(str(p.relative_to(ROOT))) for p in programs)
    print(f"\n{'program':<{width}} {'days':>5} {'MB':>6} {'simulate s':>10} {'pyarrow s':>9} {'x pyarrow':>9} "
          f"{'cpu s':>6} {'read cpu':>8} {'cpu x':>6} {'peak MB':>7}  {'kernel':<7} why not vector / routed")
    for p in programs:
        sim, read = best.get(f"simulate {p.stem}"), best.get(f"pyarrow {p.stem}")
        if sim is None or read is None:
            continue
        kernel, why = kernel_of(first_out[f"simulate {p.stem}"])
        routed = routed_members(first_err.get(f"simulate {p.stem}", ""))
        row = {"program": str(p.relative_to(ROOT)), "rows": rows, "days": program_period(p)[1],
               "history_mb": inputs[p].stat().st_size / 1e6, "simulate_s": sim["seconds"],
               "simulate_cpu_s": sim["cpu"], "simulate_peak_mb": sim["peak_mb"], "pyarrow_s": read["seconds"],
               "pyarrow_cpu_s": read["cpu"], "x_pyarrow": sim["seconds"] / read["seconds"],
               "cpu_x_pyarrow": sim["cpu"] / read["cpu"], "kernel": kernel, "kernel_why": why,
               "routed_members": routed, "all_simulate_s": sim["all_seconds"], "all_pyarrow_s": read["all_seconds"]}
        table.append(row)
        note = why or "; ".join(f"{n} routed: {reason}" for reason, n in sorted(routed.items()))
        print(f"{row['program']:<{width}} {row['days']:>5} {row['history_mb']:>6.1f} {sim['seconds']:>10.2f} "
              f"{read['seconds']:>9.2f} {row['x_pyarrow']:>9.1f} {sim['cpu']:>6.2f} {read['cpu']:>8.2f} "
              f"{row['cpu_x_pyarrow']:>6.1f} {sim['peak_mb']:>7.0f}  {kernel:<7} {note}")
    print(f"(fastest of {args.repeat} runs, wall seconds and that run's CPU (user + sys); pyarrow: a process that "
          "imports pyarrow and reads the file)")
    out["per_program"] = table


def busiest_share(path: Path, fraction: float = 0.01) -> tuple[float, int]:
    """The share of a history's rows held by its busiest `fraction` of members (at least one), and the rows of
    the busiest member. Members without rows do not count, so with a skewed file this is a lower figure than
    `loyalty generate`'s documented share of the busiest 1% of all --members."""
    import math

    import pyarrow.compute as pc
    from pyarrow import csv

    members = csv.read_csv(path, convert_options=csv.ConvertOptions(include_columns=["member"])).column("member")
    counts = sorted(pc.value_counts(members).field("counts").to_pylist(), reverse=True)
    return sum(counts[: max(1, math.ceil(len(counts) * fraction))]) / len(members), counts[0]


def run_skew(args, rows: int, problems: list[str], out: dict) -> None:
    """The reference program on an even history and on a skewed one (`loyalty generate --skew`), same rows."""
    exponent = args.skew
    even, skewed = history(rows), history(rows, skew=exponent)
    print(f"\nskew: {REFERENCE.relative_to(ROOT)} on {rows:,} rows, even and --skew {exponent:g}", flush=True)
    runs = [("even", simulate_cmd(REFERENCE, even)), ("skewed", simulate_cmd(REFERENCE, skewed))]
    best, first_out = round_robin(runs, args.repeat, problems)
    if len(best) < 2:
        return
    figures = {}
    print(f"\n{'history':<22} {'busiest 1%':>10} {'top member':>10} {'s per M rows':>12} {'cpu s per M':>11} "
          f"{'peak MB':>8}  kernel")
    for what, path in (("even", even), ("skewed", skewed)):
        r = best[what]
        share, top = busiest_share(path)
        kernel, why = kernel_of(first_out[what])
        figures[what] = {"history": str(path.relative_to(ROOT)), "busiest_1pct_share": share,
                         "top_member_rows": top, "s_per_million_rows": r["seconds"] / rows * 1e6,
                         "cpu_s_per_million_rows": r["cpu"] / rows * 1e6, "peak_mb": r["peak_mb"], "kernel": kernel,
                         "kernel_why": why, "all_seconds": r["all_seconds"]}
        label = "even (log-normal)" if what == "even" else f"skewed (--skew {exponent:g})"
        print(f"{label:<22} {share:>10.0%} {top:>10,} {figures[what]['s_per_million_rows']:>12.2f} "
              f"{figures[what]['cpu_s_per_million_rows']:>11.2f} {r['peak_mb']:>8.0f}  {kernel}"
              + (f" ({why})" if why else ""))
    ratio = best["skewed"]["seconds"] / best["even"]["seconds"]
    cpu_ratio = best["skewed"]["cpu"] / best["even"]["cpu"]
    print(f"skewed / even: {ratio:.2f} (wall), {cpu_ratio:.2f} (CPU); fastest of {args.repeat}")
    out["skew"] = {"rows": rows, "exponent": exponent, **figures, "skewed_over_even": ratio,
                   "skewed_over_even_cpu": cpu_ratio}


def run_streaming(args, rows: int, problems: list[str], out: dict) -> None:
    """The reference program on a member-grouped history: streamed (`simulate --grouped`) and in memory."""
    path = history(rows, grouped=True)
    print(f"\nstreaming: {REFERENCE.relative_to(ROOT)} on {path.relative_to(ROOT)} ({rows:,} rows), "
          "in memory and with --grouped", flush=True)
    runs = [("in memory", simulate_cmd(REFERENCE, path)),
            ("streaming --grouped", simulate_cmd(REFERENCE, path, "--grouped"))]
    best, first_out = round_robin(runs, args.repeat, problems)
    if len(best) < 2:
        return
    if json.loads(first_out["in memory"]) != json.loads(first_out["streaming --grouped"]):
        problems.append("simulate --grouped and simulate in memory gave different reports on the same file")
    print(f"\n{'run':<22} {'seconds':>8} {'cpu s':>7} {'peak MB':>8}  kernel")
    for what in ("in memory", "streaming --grouped"):
        r = best[what]
        print(f"{what:<22} {r['seconds']:>8.2f} {r['cpu']:>7.2f} {r['peak_mb']:>8.0f}  {kernel_of(first_out[what])[0]}")
    mem, stream = best["in memory"], best["streaming --grouped"]
    print(f"streaming / in memory: {stream['seconds'] / mem['seconds']:.2f} (wall), {stream['cpu'] / mem['cpu']:.2f} "
          f"(CPU), {stream['peak_mb'] / mem['peak_mb']:.2f} (peak memory); fastest of {args.repeat}; "
          + ("same report" if json.loads(first_out["in memory"]) == json.loads(first_out["streaming --grouped"])
             else "DIFFERENT reports (see below)"))
    out["streaming"] = {"rows": rows, "history": str(path.relative_to(ROOT)), "in_memory": mem, "streaming": stream,
                        "wall_ratio": stream["seconds"] / mem["seconds"], "cpu_ratio": stream["cpu"] / mem["cpu"],
                        "peak_ratio": stream["peak_mb"] / mem["peak_mb"]}


EVERY_MECHANIC = PROGRAMS / "every_mechanic.loyalty"  # the most complex shipped program
TENFOLD = 10  # the 10M-row targets, for a run of --rows 1,000,000


def run_tenfold(args, rows: int, problems: list[str], out: dict) -> None:
    """The targets set at ten times --rows, each run once (they are long): on a member-grouped history of the
    benchmark catalog, the reference program streamed (`simulate --grouped`) against in memory, and the most
    complex shipped program (every_mechanic) streamed, for its peak memory."""
    big = rows * TENFOLD
    path = history(big, grouped=True)
    print(f"\ntenfold: {path.relative_to(ROOT)} ({big:,} rows): the reference program in memory and streamed, "
          f"{EVERY_MECHANIC.relative_to(ROOT)} streamed; one run each", flush=True)
    runs = [("reference in memory", simulate_cmd(REFERENCE, path)),
            ("reference --grouped", simulate_cmd(REFERENCE, path, "--grouped")),
            ("every_mechanic --grouped", simulate_cmd(EVERY_MECHANIC, path, "--grouped", "--verbose"))]
    first_err: dict[str, str] = {}
    best, first_out = round_robin(runs, 1, problems, first_err=first_err)
    if "reference in memory" in best and "reference --grouped" in best:
        same = json.loads(first_out["reference in memory"]) == json.loads(first_out["reference --grouped"])
        if not same:
            problems.append(f"simulate --grouped and simulate in memory gave different reports on {path.name}")
    print(f"\n{'run':<26} {'seconds':>8} {'cpu s':>7} {'peak MB':>8}  kernel")
    for what, _ in runs:
        if what in best:
            r = best[what]
            routed = routed_members(first_err.get(what, ""))
            print(f"{what:<26} {r['seconds']:>8.2f} {r['cpu']:>7.2f} {r['peak_mb']:>8.0f}  "
                  f"{kernel_of(first_out[what])[0]}"
                  + "".join(f"; {n} routed: {reason}" for reason, n in sorted(routed.items())))
    figures: dict = {"rows": big, "history": str(path.relative_to(ROOT))}
    if "reference in memory" in best and "reference --grouped" in best:
        mem, stream = best["reference in memory"], best["reference --grouped"]
        figures.update(reference_in_memory=mem, reference_streaming=stream,
                       streaming_wall_ratio=stream["seconds"] / mem["seconds"],
                       streaming_cpu_ratio=stream["cpu"] / mem["cpu"])
        print(f"reference streamed / in memory: {figures['streaming_wall_ratio']:.2f} (wall), "
              f"{figures['streaming_cpu_ratio']:.2f} (CPU)")
    if "every_mechanic --grouped" in best:
        figures["every_mechanic_streaming"] = dict(best["every_mechanic --grouped"], routed_members=routed_members(
            first_err.get("every_mechanic --grouped", "")))
    out["tenfold"] = figures


# the targets (issue 12), each judged on the figures of this run
PER_PROGRAM_LIMIT = 4.0  # x the pyarrow read of the same file, wall and CPU
POLARS_LIMIT = 1.0  # the reference program against the polars peer, wall and CPU
COMPILE_LIMIT_MS = 50.0
SKEW_LIMIT = 1.10  # skewed / even per row: "as fast", within a tenth (the runs' own spread)
STREAMING_LIMIT = 1.5  # streamed / in memory, wall
MEMORY_LIMIT_MB = 4096.0  # every_mechanic streamed at ten times --rows


def targets(out: dict) -> list[tuple[str, str, bool | None]]:
    """Each target, the figure this run measured for it, and whether it is met (None: its section did not run)."""
    found: list[tuple[str, str, bool | None]] = []
    table = out.get("per_program")
    if table:
        over = [r for r in table if max(r["x_pyarrow"], r["cpu_x_pyarrow"]) > PER_PROGRAM_LIMIT]
        worst = max(table, key=lambda r: max(r["x_pyarrow"], r["cpu_x_pyarrow"]))
        found.append((f"every shipped program <= {PER_PROGRAM_LIMIT:g}x the pyarrow read",
                      f"{len(table) - len(over)} of {len(table)} (wall and CPU); worst {Path(worst['program']).stem} "
                      f"{worst['x_pyarrow']:.1f}x wall, {worst['cpu_x_pyarrow']:.1f}x CPU"
                      + (f"; over: {', '.join(Path(r['program']).stem for r in over)}" if over else ""), not over))
        fell = [r for r in table if r["kernel"] != "vector"]
        routed = sum(sum(r["routed_members"].values()) for r in table)
        found.append(("no shipped program falls back to the evaluator",
                      f"{len(table) - len(fell)} of {len(table)} on the vectorised kernel; {routed:,} member(s) "
                      "replayed by the scalar plan", not fell))
    else:
        found.append((f"every shipped program <= {PER_PROGRAM_LIMIT:g}x the pyarrow read", "not run (--per-program)",
                      None))
    results = {r["what"]: r for r in out.get("results", [])}
    ref = results.get("loyalty simulate reference")
    if ref and ref.get("x_polars") is not None:
        found.append((f"reference <= {POLARS_LIMIT:g}x the polars peer",
                      f"{ref['x_polars']:.2f}x wall, {ref['cpu_x_polars']:.2f}x CPU",
                      max(ref["x_polars"], ref["cpu_x_polars"]) <= POLARS_LIMIT))
    else:
        found.append((f"reference <= {POLARS_LIMIT:g}x the polars peer", "not run (--suite with peers)", None))
    if out.get("compile_ms"):
        slowest = max(out["compile_ms"].values())
        found.append((f"compile under {COMPILE_LIMIT_MS:g} ms", f"slowest {slowest:.1f} ms", slowest < COMPILE_LIMIT_MS))
    if out.get("apply_p50_over_zen_p50") is not None:
        ratio = out["apply_p50_over_zen_p50"]
        found.append(("program.apply p50 below zen's fast call", f"apply p50 / zen p50 = {ratio:.2f}", ratio < 1.0))
    else:
        found.append(("program.apply p50 below zen's fast call", "not run (--embedding, zen-engine installed)", None))
    skew = out.get("skew")
    if skew:
        worse = max(skew["skewed_over_even"], skew["skewed_over_even_cpu"])
        found.append((f"skewed history as fast per row as an even one (<= {SKEW_LIMIT:.2f}x)",
                      f"{skew['skewed_over_even']:.2f}x wall, {skew['skewed_over_even_cpu']:.2f}x CPU",
                      worse <= SKEW_LIMIT))
    else:
        found.append(("skewed history as fast per row as an even one", "not run (--skew)", None))
    big = out.get("tenfold") or {}
    if "streaming_wall_ratio" in big:
        found.append((f"streaming (--grouped) at {big['rows']:,} rows within {STREAMING_LIMIT:g}x in memory",
                      f"{big['streaming_wall_ratio']:.2f}x wall, {big['streaming_cpu_ratio']:.2f}x CPU",
                      big["streaming_wall_ratio"] <= STREAMING_LIMIT))
    else:
        found.append((f"streaming (--grouped) within {STREAMING_LIMIT:g}x in memory, ten times --rows",
                      "not run (--tenfold)", None))
    if "every_mechanic_streaming" in big:
        em = big["every_mechanic_streaming"]
        found.append((f"every_mechanic streamed at {big['rows']:,} rows in under {MEMORY_LIMIT_MB / 1024:g} GiB",
                      f"peak {em['peak_mb']:,.0f} MB, {em['cpu']:.0f} s CPU", em["peak_mb"] < MEMORY_LIMIT_MB))
    else:
        found.append((f"every_mechanic streamed in under {MEMORY_LIMIT_MB / 1024:g} GiB, ten times --rows",
                      "not run (--tenfold)", None))
    return found


def print_targets(out: dict) -> None:
    found = targets(out)
    width = max(len(t) for t, _, _ in found)
    print(f"\ntargets (issue 12), judged on this run's figures:\n{'target':<{width}}  {'verdict':<7}  figure")
    for target, figure, met in found:
        verdict = "-" if met is None else "met" if met else "NOT met"
        print(f"{target:<{width}}  {verdict:<7}  {figure}")
    out["targets"] = [{"target": t, "figure": f, "met": m} for t, f, m in found]


# ------------------------------------------------------------------ the run

SECTIONS = {"suite": run_suite, "embedding": run_embedding, "per_program": run_per_program, "skew": run_skew,
            "streaming": run_streaming, "tenfold": run_tenfold}


def _exponent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 10:  # as loyalty generate --skew; also refuses NaN
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 10: {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=_positive, default=1_000_000, help="rows of history (default 1,000,000)")
    ap.add_argument("--quick", action="store_true", help="a 100,000-row smoke run")
    ap.add_argument("--programs", default=",".join(BENCH_PROGRAMS),
                    help="suite: comma-separated benchmark programs to simulate (default: all four)")
    ap.add_argument("--no-peers", action="store_true", help="suite: skip the pandas, polars and plain-Python peers")
    ap.add_argument("--no-python-loop", action="store_true", help="suite: skip the (slow) plain-Python peer")
    ap.add_argument("--events", type=_positive, default=20_000,
                    help="embedding: events for the latency (default 20,000)")
    ap.add_argument("--repeat", type=_positive, default=3,
                    help="runs of each process, round-robin; the fastest is reported (default 3)")
    ap.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    sections = ap.add_argument_group(
        "sections", "which parts to run; with none of these, every one, and the targets judged at the end")
    sections.add_argument("--suite", action="store_true",
                          help="the benchmark programs and the peers on the shared history, and compile times")
    sections.add_argument("--embedding", action="store_true",
                          help="program.apply per event against zen-engine's evaluate(key, context)")
    sections.add_argument("--per-program", action="store_true",
                          help="every example and benchmark program on a history of --rows rows generated for its "
                               "catalog: simulate seconds, a pyarrow read of the same file, the ratio, the kernel")
    ap.add_argument("--only", metavar="NAMES",
                    help="per-program: only these programs (comma-separated file stems, e.g. car_wash,gym)")
    sections.add_argument("--skew", type=_exponent, nargs="?", const=SKEW, metavar="EXPONENT",
                          help=f"the reference program on an even and a skewed history (loyalty generate --skew "
                               f"EXPONENT, default {SKEW:g}) of --rows rows: seconds per million rows, ratio")
    sections.add_argument("--streaming", action="store_true",
                          help="the reference program on a member-grouped history, simulate --grouped against "
                               "simulate in memory: the wall-time ratio")
    sections.add_argument("--tenfold", action="store_true",
                          help="the targets at ten times --rows, one run each: the reference program streamed "
                               "against in memory, every_mechanic streamed (peak memory)")
    sections.add_argument("--all", action="store_true", help="every section (what a run with none of them does)")
    args = ap.parse_args(argv)
    rows = 100_000 if args.quick else args.rows
    chosen = {"suite": args.suite, "embedding": args.embedding, "per_program": args.per_program,
              "skew": args.skew is not None, "streaming": args.streaming, "tenfold": args.tenfold}
    if args.all or not any(chosen.values()):
        chosen = dict.fromkeys(chosen, True)
        args.skew = args.skew or SKEW

    problems: list[str] = []
    out: dict = {"rows": rows, "byte_compiled": byte_compile_loyalty()}
    for name, run in SECTIONS.items():
        if chosen[name]:
            run(args, rows, problems, out)
    print_targets(out)
    out["problems"] = problems
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    if problems:
        print("\n" + "!" * 72 + "\nMISMATCH OR FAILURE:\n" + "\n".join("  " + p for p in problems) + "\n" + "!" * 72)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
