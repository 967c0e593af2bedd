"""The embedding API as a service uses it, and the runnable example CI runs."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

import loyalty

ROOT = Path(__file__).resolve().parents[1]


def test_embed_service_example_runs_standalone(tmp_path):
    db = tmp_path / "service.db"
    run = [sys.executable, str(ROOT / "examples" / "embed_service.py"), "--db", str(db)]
    result = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"stars": 58' in result.stdout
    assert "resent: already applied, nothing changed (3 effects recorded then)" in result.stdout
    assert "rejected: lines.0.amount" in result.stdout
    assert "outbox: 7 effects delivered, 7 distinct" in result.stdout
    # a restarted service that gets every event again changes nothing and delivers nothing twice
    again = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert '"stars": 58' in again.stdout and "outbox: 0 effects delivered" in again.stdout
    assert again.stdout.count("resent: already applied") == 5


def test_load_raises_one_error_with_every_diagnostic():
    with pytest.raises(loyalty.LoyaltyError) as err:
        loyalty.load('program "x" {\n  currency NOK\n}\nrule "a" {\n  earn 1 foo per 10 NOK\n}\nrule "b" {\n  give "nothing"\n}\n')
    codes = {d.code for d in err.value.diagnostics}
    assert len(err.value.diagnostics) >= 2 and "LOY103" in codes


def test_compiled_json_loads_without_parser_and_evaluates_identically():
    p = loyalty.load(ROOT / "examples" / "programs" / "coffee_stars.loyalty")
    q = loyalty.load_compiled(p.to_json())
    assert q.identity == p.identity and q.to_json() == p.to_json()
    ev = {"purchase": {"time": "2025-03-01T10:00", "order": "o1", "lines": [{"item": "latte", "amount": "4.50"}]}}
    a = p.apply(p.new_member("m"), ev)
    b = q.apply(q.new_member("m"), ev)
    assert a.effects == b.effects and a.state.to_json() == b.state.to_json()
    # a state saved under one loads under the other (same program identity)
    assert q.state_from_json(a.state.to_json()).balance("stars") == a.state.balance("stars")


def test_runtime_does_not_import_the_parser():
    code = ("import sys, loyalty.runtime.facade, loyalty.runtime.evaluator; "
            "assert not any(m.startswith('loyalty.syntax') or m == 'lark' for m in sys.modules), "
            "[m for m in sys.modules if 'syntax' in m]")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_a_program_is_shared_safely_between_threads():
    p = loyalty.load(ROOT / "examples" / "programs" / "coffee_stars.loyalty")
    results = []

    def member(i: int):
        s = p.new_member(f"m{i}")
        for j in range(30):
            s, _ = p.apply(s, {"purchase": {"time": f"2025-03-{1 + j % 28:02d}T10:{j:02d}", "order": f"o{j}",
                                            "lines": [{"item": "latte", "amount": "4.00"}]}})
        results.append(s.balance("stars") + s.pending("stars"))

    threads = [threading.Thread(target=member, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [30 * 8] * 4  # per order: 4 stars on every dollar + 4 coffee bonus


def test_invalid_member_attributes_name_the_field():
    p = loyalty.load(ROOT / "examples" / "programs" / "coffee_stars.loyalty")
    with pytest.raises(loyalty.EventError) as err:
        p.new_member("m", attributes={"birthday": "not a date"})
    assert err.value.field == "attributes.birthday"
