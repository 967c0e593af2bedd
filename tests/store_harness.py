"""Machinery of the store's load and fault tests (tests/test_store_load.py) and its benchmark
(benchmarks/store_throughput.py): a throwaway PostgreSQL server, the events, worker processes, and the
check of a store against a single-threaded replay.

Run as a script it is one worker process:
    python tests/store_harness.py worker WHERE EVENTS.json INDEX WORKERS [--resend-all] [--pause-at N MARKER]
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "benchmarks" / "programs" / "store_load.loyalty"


# ---------------------------------------------------------------- a throwaway PostgreSQL server


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (the message says why)."""


class PostgresServer:
    """initdb + pg_ctl in a temporary directory, on a free port of 127.0.0.1; `url` to connect; `stop()`.
    As root the server runs as the `postgres` user (PostgreSQL refuses to run as root)."""

    def __init__(self, fsync: bool = False):
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0)
        found = shutil.which("initdb")
        bindir = Path(bindirs[-1]) if bindirs and (Path(bindirs[-1]) / "initdb").exists() else (
            Path(found).parent if found else None)
        if bindir is None or not (bindir / "pg_ctl").exists():
            raise PostgresUnavailable("no PostgreSQL server programs (initdb, pg_ctl) on this machine: install "
                                      "Debian's `postgresql` package (.ci/run does)")
        self.run_as: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no `postgres` user to run the server as "
                                          "(PostgreSQL refuses to run as root)") from None
            if not shutil.which("runuser"):
                raise PostgresUnavailable("running as root and `runuser` is missing")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="loyalty-pg-"))
        if owner is not None:
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.data = self.dir / "data"
        self.bindir = bindir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "loyalty", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=50"
        if not fsync:
            options += " -c fsync=off -c synchronous_commit=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60", "-o",
                  options, "start")
        self.url = f"postgresql://loyalty@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(self.run_as + [str(self.bindir / program), *args], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self.cleanup()
            raise PostgresUnavailable(f"{program} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
                                      f"{tail}")

    def new_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://loyalty@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(self.run_as + [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                      "stop"], capture_output=True, timeout=60)
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- events


def make_events(seed: int, workers: int, per_worker: int, members: int) -> list[list]:
    """For each worker, its own events: [member_id, event], each with a unique id. Purchases (most), visits,
    redemptions and returns of one of the worker's own earlier purchases of that member (so a return always
    follows its purchase); members are drawn from one pool, so workers' events for a member interleave."""
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1, 9, 0)
    out = []
    for w in range(workers):
        mine: list = []
        bought: dict = defaultdict(list)
        for i in range(per_worker):
            member = f"m{rng.randrange(members):03d}"
            t = (start + dt.timedelta(minutes=17 * i + rng.randrange(17))).isoformat()
            roll = rng.random()
            eid = f"w{w}-e{i}"
            if roll < 0.1 and bought[member]:
                order = bought[member].pop(rng.randrange(len(bought[member])))
                event = {"return": {"id": eid, "time": t, "order": order}}
            elif roll < 0.2:
                event = {"redemption": {"id": eid, "time": t, "reward": "5 off"}}
            elif roll < 0.3:
                event = {"visit": {"id": eid, "time": t}}
            else:
                order = f"w{w}-o{i}"
                bought[member].append(order)
                lines = [{"item": "latte", "quantity": 1 + rng.randrange(3), "amount": f"{rng.randrange(2, 30)}.{rng.randrange(100):02d}"}]
                event = {"purchase": {"id": eid, "time": t, "order": order, "lines": lines}}
            mine.append([member, event])
        out.append(mine)
    return out


def send_plan(events: list[list], index: int, resend_share: float, seed: int) -> list[list]:
    """What worker `index` sends: its own events in order, with a share of other workers' events and of its
    own earlier ones sent again at random places (resends, some of them racing the original)."""
    rng = random.Random(seed * 1000 + index)
    plan = list(events[index])
    others = [e for w, evs in enumerate(events) if w != index for e in evs]
    extra = rng.sample(others, int(len(others) * resend_share / max(1, len(events) - 1))) if others else []
    extra += rng.sample(plan, int(len(plan) * resend_share))
    for e in extra:
        plan.insert(rng.randrange(len(plan) + 1), e)
    return plan


def event_id(event: dict) -> str:
    (body,) = event.values()
    return body["id"]


# ---------------------------------------------------------------- a worker process


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("where")
    parser.add_argument("events")
    parser.add_argument("index", type=int)
    parser.add_argument("--resend-share", type=float, default=0.1)
    parser.add_argument("--resend-all", action="store_true", help="send every worker's events, in order")
    parser.add_argument("--pause-at", type=int, default=None)
    parser.add_argument("--marker", default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    import loyalty
    from loyalty.store import open_store

    program = loyalty.load(PROGRAM)
    events = json.loads(Path(args.events).read_text())
    plan = [e for evs in events for e in evs] if args.resend_all else send_plan(
        events, args.index, args.resend_share, args.seed)
    store = open_store(program, args.where)
    counts = {"sent": 0, "applied": 0, "resent": 0, "rejected": 0, "retries": 0}
    began = time.perf_counter()
    for n, (member, event) in enumerate(plan):
        if args.pause_at is not None and n == args.pause_at:
            def pause(key=event_id(event), member=member):
                # inside the write transaction, after every row is written, before COMMIT: say so, then wait
                # for the kill -9
                Path(args.marker).write_text(json.dumps([member, key]))
                time.sleep(120)
            store._before_commit = pause
        try:
            result = store.apply(member, event)
        except loyalty.EventError:
            counts["rejected"] += 1  # a resent return that overtook its purchase: its sender applies it later
            continue
        counts["sent"] += 1
        counts["resent" if result.resent else "applied"] += 1
        counts["retries"] += result.retries
    counts["seconds"] = round(time.perf_counter() - began, 3)
    store.close()
    print(json.dumps(counts))


# ---------------------------------------------------------------- the check


def read_store(where: str):
    """(states by member, events in the order applied, outbox rows, budgets) straight from the tables."""
    sys.path.insert(0, str(ROOT / "src"))
    import loyalty
    from loyalty.store import open_store

    program = loyalty.load(PROGRAM)
    with open_store(program, where) as store:
        read = store.backend.read
        states = dict(read("SELECT member_id, state FROM loyalty_members"))
        applied = read("SELECT seq, member_id, event_key, effects FROM loyalty_events ORDER BY seq")
        outbox = read("SELECT effect_id, member_id, event_key, position, payload, delivered_at FROM loyalty_outbox")
        budgets = store.budgets()
    return program, states, applied, outbox, budgets


def verify(where: str, events: list[list]) -> dict:
    """Assert the store equals a single-threaded replay of its events in the order it applied them (the
    budgets couple members, so that order decides who got the last of a budget): every state byte for byte,
    every effect once (none lost, none twice, the same payload at the same position), every event applied
    once, budgets within their limits and equal to what the replay used. Returns the figures."""
    from loyalty.store import effect_id

    program, states, applied, outbox, budgets = read_store(where)
    by_id = {event_id(e): (m, e) for evs in events for m, e in evs}
    keys = [(m, k) for _, m, k, _ in applied]
    assert len(set(keys)) == len(keys), "an event was applied twice"
    missing = set((m, k) for k, (m, _) in by_id.items()) - set(keys)
    assert not missing, f"{len(missing)} events were never applied, e.g. {sorted(missing)[:3]}"
    assert len(keys) == len(by_id), "the store applied events that were never sent"
    ledger = program.new_budget_ledger()
    replayed: dict = {}
    expected_effects = {}
    for _, member, key, count in applied:
        state = replayed.get(member) or program.new_member(member)
        state, effects = program.apply(state, by_id[key][1], ledger)
        replayed[member] = state
        assert len(effects) == count, f"{member} {key}: {count} effects recorded, the replay gives {len(effects)}"
        for i, e in enumerate(effects):
            expected_effects[effect_id(member, key, i)] = (member, key, i, program.effect_json(e))
    assert set(states) == set(replayed), "members differ from the replay's"
    for member, state in replayed.items():
        assert states[member] == state.to_json(), f"{member}: the stored state differs from the replay's"
    got = {}
    for eid, member, key, position, payload, _ in outbox:
        assert eid not in got, f"effect {eid} twice in the outbox"
        got[eid] = (member, key, position, json.loads(payload))
    assert got.keys() == expected_effects.keys(), (
        f"outbox: {len(expected_effects.keys() - got.keys())} effects lost, {len(got.keys() - expected_effects.keys())} extra")
    for eid, row in expected_effects.items():
        assert got[eid] == row, f"effect {eid}: {got[eid]} in the outbox, {row} in the replay"
    for key, b in budgets.items():
        assert b["used"] <= b["limit"], f"budget {key} exceeded: {b}"
        assert b["used"] == ledger.used[key], f"budget {key}: {b['used']} used in the store, {ledger.used[key]} in the replay"
    granted = sum(p["points"] for *_, p in got.values() if p["kind"] == "points_earned" and p.get("rule") == "launch bonus")
    mugs = sum(1 for *_, p in got.values() if p["kind"] == "reward_issued" and p.get("reward") == "free mug")
    return {"members": len(states), "events": len(keys), "effects": len(got), "budgets": budgets,
            "launch_bonus_points": granted, "mugs_issued": mugs}


def run_workers(where: str, events_file: Path, workers: int, extra: dict | None = None, resend_share: float = 0.1,
                seed: int = 1) -> list:
    """Start the workers and return their processes (not waited for)."""
    procs = []
    for w in range(workers):
        cmd = [sys.executable, str(Path(__file__).resolve()), "worker", where, str(events_file), str(w),
               "--resend-share", str(resend_share), "--seed", str(seed)] + (extra or {}).get(w, [])
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env={**os.environ, "PYTHONPATH": str(ROOT / "src")}))
    return procs


def finish(procs: list, timeout: float = 600) -> list[dict]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        assert p.returncode == 0, f"worker failed ({p.returncode}): {stderr[-3000:]}"
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(sys.argv[2:])
    else:
        sys.exit(__doc__)
