"""loyalty.store on SQLite and on a real PostgreSQL server (issue 17, parts 3 and 4).

One apply is one transaction (state, budgets, event id, outbox); resends return what was recorded; conflicts
on the member row or at a budget's limit are retried; the outbox delivers at least once; the schema is
created once and a newer one refused.

Under load, several worker processes apply interleaved events for overlapping members (and resend some of each other's
events) to one store; afterwards the store must equal a single-threaded replay of the events in the order it
applied them (tests/store_harness.py `verify`): every state, every effect once, budgets never exceeded.
The fault test kills workers with SIGKILL, one of them inside a write transaction, restarts and resends
everything: the same check holds, and the killed transaction left nothing behind.
Bounded: 4 workers x 150 events over 24 members (about 700 sends with the resends).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loyalty
from loyalty.store import SCHEMA_VERSION, StoreSchemaError, effect_id, event_key, open_store
from store_harness import PostgresServer, PostgresUnavailable, finish, make_events, run_workers, verify


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


SRC_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}  # this tree's loyalty
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "embed_service.py"
PROGRAM_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "programs" / "store_load.loyalty"


@pytest.fixture(scope="module")
def program():
    return loyalty.load(PROGRAM_PATH)


def purchase(n: int, amount: str = "4.50", day: int = 1) -> dict:
    return {"purchase": {"id": f"p{n}", "time": f"2025-01-{day:02d}T10:{n % 60:02d}", "order": f"o{n}",
                         "lines": [{"item": "latte", "amount": amount}]}}


def rows(store, table: str) -> int:
    return store.backend.read(f"SELECT count(*) FROM {table}")[0][0]


def test_apply_stores_state_effects_and_event_and_a_resend_changes_nothing(program, where):
    with open_store(program, where) as store:
        first = store.apply("m1", purchase(1))
        expected_state, expected_effects = program.apply(program.new_member("m1"), purchase(1),
                                                         program.new_budget_ledger())
        assert not first.resent and first.retries == 0
        assert [e.payload for e in first.effects] == [program.effect_json(e) for e in expected_effects]
        assert [e.text for e in first.effects] == [program.explain(e) for e in expected_effects]
        assert store.state("m1").to_json() == expected_state.to_json()
        saved = store.backend.read("SELECT state FROM loyalty_members")[0][0]
        assert json.loads(saved)["format"] == "loyalty-state/1" and saved == expected_state.to_json()
        assert [e.effect_id for e in first.effects] == [effect_id("m1", "p1", i) for i in range(len(first.effects))]
        counts = (rows(store, "loyalty_outbox"), rows(store, "loyalty_events"), store.budgets())
        again = store.apply("m1", purchase(1))
        assert again.resent and again.effects == first.effects  # what was recorded, not `duplicate_ignored`
        assert again.state.to_json() == first.state.to_json()
        assert (rows(store, "loyalty_outbox"), rows(store, "loyalty_events"), store.budgets()) == counts
        # the same purchase under another id is a new event for the store: the runtime ignores the order
        other = store.apply("m1", purchase(1), event_id="till-9:1")
        assert not other.resent and [e.payload["kind"] for e in other.effects] == ["duplicate_ignored"]


def test_an_invalid_event_changes_nothing(program, where):
    with open_store(program, where) as store:
        with pytest.raises(loyalty.EventError) as err:
            store.apply("m1", {"purchase": {"id": "p1", "time": "2025-01-01T10:00", "order": "o1",
                                            "lines": [{"item": "latte", "amount": "4.505"}]}})
        assert err.value.field == "lines.0.amount"
        assert store.state("m1") is None and rows(store, "loyalty_outbox") == 0 and rows(store, "loyalty_events") == 0
        for member, event_id, field in (("", None, "member_id"), ("m\ud800", None, "member_id"), (7, None, "member_id"),
                                        ("m1", "\udc00", "id"), ("m1", "", "id")):
            with pytest.raises(loyalty.EventError) as err:
                store.apply(member, purchase(1), event_id=event_id)
            assert err.value.field == field
        assert rows(store, "loyalty_members") == 0


def test_a_failed_transaction_leaves_no_part_behind(program, where):
    with open_store(program, where) as store:
        store.apply("m1", purchase(1))
        before = (store.state("m1").to_json(), rows(store, "loyalty_outbox"), rows(store, "loyalty_events"),
                  store.budgets())

        def fail():
            raise RuntimeError("the machine went away")

        store._before_commit = fail  # every row written, then the failure before COMMIT
        with pytest.raises(RuntimeError):
            store.apply("m1", purchase(2))
        store._before_commit = None
        assert (store.state("m1").to_json(), rows(store, "loyalty_outbox"), rows(store, "loyalty_events"),
                store.budgets()) == before
        assert not store.apply("m1", purchase(2)).resent  # it was not recorded either


def _interleave(store, before_sql: str, action):
    """Run `action` (another process's write) once, right after `store` reads with a statement starting
    `before_sql`, as a concurrent writer would."""
    read = store.backend.read
    done = []

    def interleaved(sql, params=()):
        out = read(sql, params)
        if sql.startswith(before_sql) and not done:
            done.append(action())
        return out

    store.backend.read = interleaved
    return done


def test_a_concurrent_write_to_the_member_is_retried(program, where):
    with open_store(program, where) as a, open_store(program, where) as b:
        a.apply("m1", purchase(1))
        done = _interleave(a, "SELECT (SELECT effects", lambda: b.apply("m1", purchase(2)))
        result = a.apply("m1", purchase(3))
        assert done and result.retries == 1 and a.conflicts_retried == 1
        ledger, state = program.new_budget_ledger(), program.new_member("m1")
        for n in (1, 2, 3):  # b's purchase went first: a applied its own on top of it
            state, _ = program.apply(state, purchase(n), ledger)
        assert a.state("m1").to_json() == state.to_json()
        assert result.state.to_json() == state.to_json()


def test_a_budget_claim_racing_at_the_limit_is_retried_and_never_exceeds_it(program, where):
    with open_store(program, where) as a, open_store(program, where) as b:
        a.backend.read("SELECT 1")
        with a.backend.write_transaction() as cur:  # 480 of the launch bonus's 500 points are gone
            cur.execute("UPDATE loyalty_budgets SET used = 480 WHERE budget_key = 'rule:launch bonus'")
        _interleave(a, "SELECT budget_key, used", lambda: b.apply("m2", purchase(2)))  # takes the last 20
        result = a.apply("m1", purchase(1))
        assert result.retries == 1
        kinds = {(e.payload["kind"], e.payload.get("rule")) for e in result.effects}
        assert ("budget_reached", "launch bonus") in kinds and ("points_earned", "launch bonus") not in kinds
        assert a.budgets()["rule:launch bonus"]["used"] == 500


def test_claims_while_a_budget_has_room_do_not_conflict(program, where):
    with open_store(program, where) as a, open_store(program, where) as b:
        _interleave(a, "SELECT budget_key, used", lambda: b.apply("m2", purchase(2)))
        result = a.apply("m1", purchase(1))
        assert result.retries == 0  # another member's claim meanwhile: both granted whole
        assert a.budgets()["rule:launch bonus"]["used"] == 40


def test_the_outbox_delivers_every_effect_at_least_once(program, where):
    with open_store(program, where) as store:
        for n in range(1, 6):
            store.apply(f"m{n % 2}", purchase(n))
        total = rows(store, "loyalty_outbox")
        got: list = []

        def flaky(effect):
            if len(got) == 3 and not flaky.failed:
                flaky.failed = True
                raise ConnectionError("the till is offline")
            got.append(effect.effect_id)

        flaky.failed = False
        with pytest.raises(ConnectionError):
            store.deliver(flaky, limit=100)
        assert len(got) == 3 and store.pending_effects() == total - 3
        while store.deliver(flaky, limit=2):
            pass
        assert store.pending_effects() == 0 and store.deliver(flaky) == 0
        all_ids = [r[0] for r in store.backend.read("SELECT effect_id FROM loyalty_outbox ORDER BY seq")]
        assert got == all_ids  # each once here, oldest first; a crash between callback and mark repeats one


def test_deliverers_in_parallel_deliver_everything(program, where):
    with open_store(program, where) as store:
        for n in range(1, 41):
            store.apply(f"m{n % 5}", purchase(n))
        expected = sorted(r[0] for r in store.backend.read("SELECT effect_id FROM loyalty_outbox"))
    got: list = []
    lock = threading.Lock()

    def deliverer():
        with open_store(program, where) as mine:
            while mine.deliver(lambda e: (lock.acquire(), got.append(e.effect_id), lock.release()), limit=7):
                pass

    threads = [threading.Thread(target=deliverer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(set(got)) == expected
    if where.startswith("postgresql"):
        assert len(got) == len(expected)  # FOR UPDATE SKIP LOCKED: no effect handed over twice


def test_the_schema_is_created_once_and_a_newer_one_is_refused(program, where):
    with open_store(program, where) as store:
        store.apply("m1", purchase(1))
    with open_store(program, where) as store:  # reopening keeps everything
        assert store.backend.read("SELECT version FROM loyalty_schema") == [(SCHEMA_VERSION,)]
        assert store.state("m1") is not None
        with store.backend.write_transaction() as cur:
            cur.execute("UPDATE loyalty_schema SET version = 99")
    with pytest.raises(StoreSchemaError, match="version 99; this loyalty knows versions up to 1"):
        open_store(program, where)


def test_a_store_holding_other_budget_limits_is_refused(program, where):
    with open_store(program, where) as store:
        with store.backend.write_transaction() as cur:
            cur.execute("UPDATE loyalty_budgets SET budget_limit = 900 WHERE budget_key = 'rule:launch bonus'")
    with pytest.raises(loyalty.LedgerMismatchError, match="'rule:launch bonus' is 900, the program's is 500"):
        open_store(program, where)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]), st.integers(1, 8)), max_size=25))
def test_any_sequence_with_resends_equals_applying_each_event_once(program, sends):
    """Events sent in any order, any of them again: the store answers each first send as program.apply does
    and each resend with what it recorded, and ends in the states program.apply gives applying each once."""
    with open_store(program, ":memory:") as store:
        ledger, states, seen = program.new_budget_ledger(), {}, {}
        for member, n in sends:
            event = purchase(n, amount=f"{n * 7 % 30 + 1}.25", day=n) if n % 4 else {
                "redemption": {"id": f"r{n}", "time": f"2025-01-{n:02d}T12:00", "reward": "5 off"}}
            result = store.apply(member, event)
            if (member, n) in seen:
                assert result.resent and result.effects == seen[member, n]
                continue
            state, effects = program.apply(states.get(member) or program.new_member(member), event, ledger)
            states[member] = state
            assert not result.resent and [e.payload for e in result.effects] == [program.effect_json(e) for e in effects]
            seen[member, n] = result.effects
        for member, state in states.items():
            assert store.state(member).to_json() == state.to_json()
        assert store.budgets() == {k: {"limit": ledger.limits[k], "used": ledger.used[k]} for k in ledger.limits}
        assert store.pending_effects() == sum(len(v) for v in seen.values())


@given(st.lists(st.tuples(st.text(min_size=1), st.text(min_size=1), st.integers(0, 50)), min_size=2, max_size=20,
                unique=True))
def test_effect_ids_are_distinct_for_distinct_effects(triples):
    assert len({effect_id(*t) for t in triples}) == len(triples)


def test_the_store_knows_an_event_by_the_id_the_runtime_deduplicates_it_by():
    assert event_key(purchase(1)) == "p1"
    assert event_key({"purchase": {"time": "2025-01-01T10:00", "order": "o7",
                                   "lines": [{"item": "latte", "amount": "1"}]}}) == "purchase:o7"
    assert event_key({"tick": {"time": "2025-01-01T00:00"}}) == "tick:2025-01-01T00:00:00"
    assert event_key(purchase(1), event_id="till-3:9") == "till-3:9"
    with pytest.raises(loyalty.EventError):
        event_key({"purchase": {"order": "o7"}})


def test_the_runtime_imports_no_database_module():
    code = ("import sys, pkgutil, importlib, loyalty.runtime as r\n"
            "for m in pkgutil.walk_packages(r.__path__, 'loyalty.runtime.'): importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlite3', 'psycopg') or m.startswith('loyalty.store')]\n"
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=SRC_ENV)
    assert result.returncode == 0, result.stderr


def test_the_example_service_runs_on_the_store(where):
    result = subprocess.run([sys.executable, str(EXAMPLE), "--db", where], capture_output=True, text=True,
                            timeout=120, env=SRC_ENV)
    assert result.returncode == 0, result.stderr
    assert '"stars": 58' in result.stdout and "outbox: 7 effects delivered, 7 distinct" in result.stdout


def test_the_example_service_answers_http(tmp_path):
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), "serve", "--port", "0", "--db", str(tmp_path / "s.db")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=SRC_ENV)
    try:
        line = proc.stdout.readline()
        assert "serving Harbor Coffee Rewards on http://127.0.0.1:" in line, proc.stderr.read()
        base = line.split()[-3]

        def call(method, path, body=None):
            req = urllib.request.Request(base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        sale = {"purchase": {"id": "t1", "time": "2025-03-01T09:30:00-05:00", "order": "1",
                             "lines": [{"item": "latte", "amount": "4.50"}]}}
        status, body = call("POST", "/members/m%2042/events", sale)
        assert status == 200 and not body["resent"] and body["effects"][0]["kind"] == "points_earned"
        assert call("POST", "/members/m%2042/events", sale)[1]["resent"] is True
        status, body = call("POST", "/members/m%2042/events", {"purchase": {"time": "2025-03-01T10:00:00"}})
        assert status == 422 and body["field"] == "order"
        assert call("POST", "/members/m%2042/events", None)[0] == 400
        status, body = call("GET", "/members/m%2042")
        assert status == 200 and body["member_id"] == "m 42" and body["pending"] == {"stars": 8}
        assert call("GET", "/members/nobody")[0] == 404
        status, body = call("POST", "/outbox/deliver")
        assert status == 200 and len(body["delivered"]) == 3
        assert call("POST", "/outbox/deliver")[1] == {"delivered": []}
    finally:
        proc.kill()
        proc.wait()


def test_the_store_example_in_docs_embedding_prints_what_it_shows(tmp_path):
    doc = (Path(__file__).resolve().parents[1] / "docs" / "embedding.md").read_text(encoding="utf-8")
    section = doc[doc.index("## A store: `loyalty.store`"):]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    shown = section.split("prints\n\n```text\n", 1)[1].split("```", 1)[0]
    code = code.replace('"examples/programs/', '"' + str(PROGRAM_PATH.parents[2] / "examples" / "programs") + "/")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env=SRC_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown


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
    while not (marker.exists() and marker.read_text().endswith("]")):  # the worker may still be writing it
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
    print(f"\n{where.split(':')[0]}: killed 2 of 3 workers (one inside a transaction); {len(applied)} events applied before the restart; "
          f"2 workers resent all {WORKERS * PER_WORKER}: {figures} retries {sum(r['retries'] for r in results)}")
    if where.endswith(".db"):
        import sqlite3

        assert sqlite3.connect(where).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
