"""The store under load and faults, on SQLite and on a real PostgreSQL server (issue 17, part 4).

Several worker processes apply interleaved events for overlapping members (and resend some of each other's
events) to one store; afterwards the store must equal a single-threaded replay of the events in the order it
applied them (tests/store_harness.py `verify`): every state, every effect once, budgets never exceeded.
The fault test kills workers with SIGKILL, one of them inside a write transaction, restarts and resends
everything: the same check holds, and the killed transaction left nothing behind.
Bounded: 4 workers x 150 events over 24 members (about 700 sends with the resends).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from store_harness import PostgresServer, PostgresUnavailable, finish, make_events, run_workers, verify

pytestmark = pytest.mark.timeout(600)

WORKERS, PER_WORKER, MEMBERS = 4, 150, 24


@pytest.fixture(scope="module")
def postgres():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install '.[postgres]')")
    try:
        server = PostgresServer()
    except PostgresUnavailable as err:
        pytest.skip(f"no PostgreSQL server can be started here: {err}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    server = request.getfixturevalue("postgres")
    return server.new_database(f"load_{request.node.name.split('[')[0][-20:]}_{int(time.time() * 1000) % 10**9}")


def _events(tmp_path: Path, seed: int):
    events = make_events(seed, WORKERS, PER_WORKER, MEMBERS)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    return events, path


def _applied_count(where: str) -> int:
    if where.endswith(".db"):
        import sqlite3

        try:
            with sqlite3.connect(where, timeout=30) as conn:
                return conn.execute("SELECT count(*) FROM loyalty_events").fetchone()[0]
        except sqlite3.OperationalError:  # no table yet
            return 0
    import psycopg

    with psycopg.connect(where, autocommit=True) as conn:
        try:
            return conn.execute("SELECT count(*) FROM loyalty_events").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def test_concurrent_workers_equal_a_single_threaded_replay(where, tmp_path):
    events, path = _events(tmp_path, seed=7)
    results = finish(run_workers(where, path, WORKERS, resend_share=0.15))
    figures = verify(where, events)
    assert figures["events"] == WORKERS * PER_WORKER and figures["members"] == MEMBERS
    # both budgets ran out during the run, so the check covers racing claims at the limit
    assert figures["launch_bonus_points"] == 500 and figures["mugs_issued"] == 6
    assert sum(r["applied"] for r in results) == WORKERS * PER_WORKER  # each event applied by exactly one sender
    assert sum(r["resent"] for r in results) > 0
    print(f"\n{where.split(':')[0]}: {figures} retries {sum(r['retries'] for r in results)}")


def test_kill_9_in_a_transaction_then_resend_everything(where, tmp_path):
    events, path = _events(tmp_path, seed=11)
    marker = tmp_path / "in-transaction"
    procs = run_workers(where, path, 3, extra={0: ["--pause-at", "100", "--marker", str(marker)]})
    deadline = time.time() + 180
    while _applied_count(where) < 30:  # all three are at work
        assert time.time() < deadline and all(p.poll() is None for p in procs), procs[0].communicate()[1][-3000:]
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGKILL)  # somewhere in its work, most likely in a transaction
    while not marker.exists():
        assert time.time() < deadline and procs[0].poll() is None, procs[0].communicate()[1][-3000:]
        time.sleep(0.02)
    member, key = json.loads(marker.read_text())
    procs[0].send_signal(signal.SIGKILL)  # inside its write transaction, all rows written, before COMMIT
    for p in procs[:2]:
        p.wait(timeout=60)
        assert p.returncode == -signal.SIGKILL
    finish(procs[2:])
    from store_harness import read_store

    _, _, applied, outbox, _ = read_store(where)
    assert (member, key) not in {(m, k) for _, m, k, _ in applied}, "the killed transaction's event was kept"
    assert not [row for row in outbox if (row[1], row[2]) == (member, key)], "the killed transaction's effects were kept"
    assert len(applied) < WORKERS * PER_WORKER  # the killed workers' events after the kill are still missing
    # restart: two workers each resend every event, racing each other
    results = finish(run_workers(where, path, 2, extra={0: ["--resend-all"], 1: ["--resend-all"]}))
    figures = verify(where, events)
    assert figures["events"] == WORKERS * PER_WORKER
    assert sum(r["resent"] for r in results) >= WORKERS * PER_WORKER  # everything sent twice, the most once more
    if where.endswith(".db"):
        import sqlite3

        assert sqlite3.connect(where).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
