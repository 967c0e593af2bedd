"""Paid tiers (runtime/mechanics/fees.py): a fee event puts the member in the tier for one period, nothing takes
her below it while it is paid, an unrenewed period ends with the tier she holds by her own qualifying; fee
rows in histories; fee revenue and each paid tier's net cost in the report, apart from the rules' cost."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import loyalty
from loyalty.cli import cli
from loyalty.runtime.internal import EventError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "programs" / "outdoor_club.loyalty"
EXAMPLE_HISTORY = ROOT / "examples" / "histories" / "outdoor_club.csv"

PROGRAM = """
program "Paid" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" { cost 0.01 NOK each }
reward "mug" is a gift "mug"
redeem 1000 points for "mug"
rule "base" {
  earn 1 point per 10 NOK
}
tiers by lifetime spend {
  tier "member" from 0 NOK
  tier "plus" from 1000 NOK {
    fee 100 NOK per month
    get 10% off
  }
  tier "gold" from 5000 NOK {
    earn 2x points
  }
}
"""


@pytest.fixture(scope="module")
def program():
    return loyalty.compile_source(PROGRAM)


def purchase(day: int, order: str, amount: str) -> dict:
    return {"type": "purchase", "time": f"2025-01-{day:02d}T10:00", "order": order,
            "lines": [{"item": "x", "amount": amount}]}


def fee(day: int, tier: str = "plus", month: int = 1) -> dict:
    return {"type": "fee", "time": f"2025-{month:02d}-{day:02d}T09:00", "id": f"f{month}-{day}", "tier": tier}


def test_a_fee_puts_the_member_in_its_tier_at_once(program):
    s = program.new_member("a")
    s, out = program.apply(s, fee(2))
    assert [(e.kind, e.tier_from, e.tier_to, e.reason, e.amount) for e in out] == [
        ("fee_paid", None, "plus", None, 10000), ("tier_changed", "member", "plus", "fee", None)]
    assert s.tier == "plus"
    s, out = program.apply(s, purchase(3, "o1", "200"))  # plus's 10% off
    assert [(e.kind, e.amount) for e in out if e.kind == "discount_applied"] == [("discount_applied", 2000)]


@pytest.mark.parametrize("tier, why", [("gold", "tier 'gold' has no fee"), ("platinum", "'platinum' is not a tier")])
def test_a_fee_for_a_free_or_unknown_tier_is_refused_before_anything_changes(program, tier, why):
    s = program.new_member("a")
    with pytest.raises(EventError) as err:
        program.apply(s, fee(2, tier))
    assert err.value.field == "tier" and why in str(err.value) and "paid tiers: plus" in str(err.value)
    assert s.tier == "member"


def test_a_return_does_not_take_a_paid_member_below_her_tier_but_does_after_the_period(program):
    paid, free = program.new_member("a"), program.new_member("b")
    paid, _ = program.apply(paid, fee(1))
    for name in ("paid", "free"):
        s = paid if name == "paid" else free
        s, _ = program.apply(s, purchase(2, "o1", "1500"))
        s, out = program.apply(s, {"type": "return", "time": "2025-01-03T10:00", "order": "o1"})
        if name == "paid":
            paid = s
            assert s.tier == "plus" and not [e for e in out if e.kind == "tier_changed"]
        else:
            assert s.tier == "member"  # the control: her spend fell below plus
    # paid until 2025-02-01T09:00: then back to what her spend (0 after the return) qualifies for
    paid, out = program.apply(paid, {"type": "tick", "time": "2025-02-01T09:00"})
    assert [(e.kind, e.tier_from, e.tier_to, e.reason, e.time) for e in out] == [
        ("tier_changed", "plus", "member", "fee not renewed", dt.datetime(2025, 2, 1, 9, 0))]


def test_paying_ahead_extends_the_period_from_its_end(program):
    s = program.new_member("a")
    s, _ = program.apply(s, fee(1))
    s, _ = program.apply(s, fee(20))
    s, out = program.apply(s, {"type": "tick", "time": "2025-02-28T23:00"})  # paid until 2025-03-01T09:00
    assert s.tier == "plus" and out == []
    s, out = program.apply(s, {"type": "tick", "time": "2025-03-01T09:00"})
    assert [(e.tier_to, e.reason) for e in out] == [("member", "fee not renewed")]


def test_a_member_above_the_paid_tier_by_her_spend_stays_there_when_the_fee_ends(program):
    s = program.new_member("a")
    s, _ = program.apply(s, fee(1))
    s, _ = program.apply(s, purchase(2, "o1", "6000"))  # 5400 paid after plus's discount: gold
    assert s.tier == "gold"
    s, out = program.apply(s, {"type": "tick", "time": "2025-03-01T00:00"})
    assert s.tier == "gold" and out == []


def test_the_paid_period_is_kept_in_the_state_only_once_a_fee_is_paid(program):
    s = program.new_member("a")
    s, _ = program.apply(s, purchase(2, "o1", "100"))
    assert "paid" not in json.loads(s.to_json())  # states of members without fees read as before
    s, _ = program.apply(s, fee(3))
    doc = json.loads(s.to_json())
    assert doc["paid"] == {"tier": 1, "until": "2025-02-03T09:00:00", "earned": 0}
    again = program.state_from_json(s.to_json())
    assert again == s
    # the same end of the period after a save and load
    _, out = program.apply(again, {"type": "tick", "time": "2025-02-04T00:00"})
    assert [(e.tier_to, e.reason) for e in out] == [("member", "fee not renewed")]


def test_a_saved_state_naming_a_free_tier_as_paid_is_refused(program):
    s = program.new_member("a")
    s, _ = program.apply(s, fee(3))
    doc = json.loads(s.to_json())
    doc["paid"]["tier"] = 2
    with pytest.raises(Exception) as err:
        program.state_from_json(json.dumps(doc))
    assert "paid.tier" in str(err.value) and "not a paid tier" in str(err.value)


_STEPS = st.lists(st.one_of(
    st.tuples(st.just("buy"), st.integers(1, 7000)),
    st.tuples(st.just("return"), st.just(0)),
    st.tuples(st.just("fee"), st.sampled_from(["plus", "plus", "gold"])),
    st.tuples(st.just("tick"), st.just(0)),
), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(_STEPS, st.lists(st.integers(0, 20), min_size=25, max_size=25))
def test_while_a_period_is_paid_nothing_takes_the_member_below_its_tier(steps, gaps):
    """Purchases, returns, fees and time passing in any order: while a fee is paid the member holds at least
    its tier; once its period has ended, no paid period is left in her state."""
    program = loyalty.compile_source(PROGRAM)
    prog = program.compiled
    s = program.new_member("a")
    t = dt.datetime(2025, 1, 1, 10, 0)
    orders = []
    for i, ((what, value), gap) in enumerate(zip(steps, gaps)):
        t += dt.timedelta(days=gap, minutes=1)
        stamp = t.isoformat()
        if what == "buy":
            ev = {"type": "purchase", "time": stamp, "order": f"o{i}", "lines": [{"item": "x", "amount": str(value)}]}
            orders.append(f"o{i}")
        elif what == "return" and orders:
            ev = {"type": "return", "time": stamp, "order": orders.pop()}
        elif what == "fee":
            ev = {"type": "fee", "time": stamp, "tier": value}
        else:
            ev = {"type": "tick", "time": stamp}
        try:
            s, _ = program.apply(s, ev)
        except EventError as err:
            assert what == "fee" and value == "gold" and err.field == "tier"
            continue
        paid = s._s.paid
        if paid is not None and t < paid[1]:
            assert s._s.tier >= paid[0], (s.summary(), paid)
        if paid is not None:
            assert t < paid[1]  # an ended period is gone once time has passed it
    assert prog.tiers.tiers[1].fee == (10000, "month")


# ------------------------------------------------------------------ histories and the report


def _write(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "h.csv"
    path.write_text("member,time,type,amount,item\n" + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize("item, why", [
    ("guide", "tier 'guide' has no fee (paid tiers: plus)"),
    ("platinum", "'platinum' is not a tier of the program (paid tiers: plus)"),
    ("", "a fee row names the paid tier in its item column"),
])
def test_a_fee_row_naming_no_paid_tier_stops_the_simulation_at_its_row_and_column(tmp_path, item, why):
    path = _write(tmp_path, f"a,2025-02-01 10:00,purchase,100,\na,2025-02-02 10:00,fee,,{item}\n")
    r = CliRunner().invoke(cli, ["simulate", str(EXAMPLE), str(path)])
    assert r.exit_code == 1
    assert f'h.csv:3: column "item": {why}' in r.output
    assert "Traceback" not in r.output


def test_under_skip_a_bad_fee_row_is_left_out_and_counted(tmp_path):
    path = _write(tmp_path, "a,2025-02-01 10:00,fee,,plus\nb,2025-02-02 10:00,fee,,guide\n"
                            "b,2025-02-03 10:00,purchase,100,\n")
    r = CliRunner().invoke(cli, ["simulate", str(EXAMPLE), str(path), "--on-bad-row", "skip", "--format", "json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["history"]["skipped_rows"] == 1
    assert report["fees"]["revenue"] == "299.00"
    assert [(t["tier"], t["payments"], t["members"]) for t in report["fees"]["by_tier"]] == [("plus", 1, 1)]


def _report(kernel: str) -> dict:
    r = CliRunner().invoke(cli, ["simulate", str(EXAMPLE), str(EXAMPLE_HISTORY), "--format", "json", "--jobs", "1",
                                 "--kernel", kernel])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    for key in ("kernel", "kernel_why"):
        report["assumptions"].pop(key, None)
    return report


def test_the_example_reports_fees_apart_from_rule_cost_the_same_on_both_kernels():
    from loyalty.simulate.vector import kernel

    kernel.ROUTED.clear()
    vector = _report("vector")
    assert not kernel.ROUTED  # the members with a fee row are the kernel's (fees.VectorFees), none routed
    python = _report("python")
    assert vector == python
    fees = vector["fees"]
    rows = [ln for ln in EXAMPLE_HISTORY.read_text(encoding="utf-8").splitlines() if ",fee," in ln]
    assert Decimal(fees["revenue"]) == 299 * len(rows)
    assert sum(m["payments"] for m in fees["by_month"]) == len(rows)
    (plus,) = fees["by_tier"]
    assert Decimal(plus["net_cost"]) == Decimal(plus["benefit_cost"]) - Decimal(plus["revenue"])
    # plus's benefit cost: its discount, and its multiplier's points valued as the by-rule table values them
    row = next(r for r in vector["by_rule"] if r["rule"] == "plus")
    assert Decimal(plus["benefit_cost"]) == Decimal(row["discount"]) + Decimal(row["points_value"])
    # fees are revenue, not a cost: no by-rule row, and the costs still add up to the total without them
    assert not [r for r in vector["by_rule"] if "fee" in r["rule"]]
    assert sum(Decimal(r["cost"]) for r in vector["by_rule"]) == Decimal(vector["headline"]["total_cost"])


def test_the_out_folder_has_the_fee_tables_only_for_a_program_with_paid_tiers(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["simulate", str(EXAMPLE), str(EXAMPLE_HISTORY), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "fees_by_tier.csv").read_text(encoding="utf-8").splitlines()[0] == (
        "tier,fee,period,payments,members,revenue,benefit_cost,net_cost")
    other = tmp_path / "other"
    r = CliRunner().invoke(cli, ["simulate", str(ROOT / "examples/programs/grocery_club.loyalty"),
                                 str(ROOT / "examples/histories/grocery_club.csv"), "--out", str(other)])
    assert r.exit_code == 0, r.output
    assert not (other / "fees_by_tier.csv").exists()


def test_generate_writes_fee_rows_naming_paid_tiers_only_for_programs_with_them(tmp_path):
    out = tmp_path / "g.csv"
    r = CliRunner().invoke(cli, ["generate", "--rows", "600", "--seed", "2", "--program", str(EXAMPLE), "-o", str(out)])
    assert r.exit_code == 0, r.output
    lines = out.read_text(encoding="utf-8").splitlines()
    fees = [ln.split(",") for ln in lines if ",fee," in ln]
    assert fees and all(f[4] == "plus" and f[3] == "" and f[7] == "" for f in fees)
    assert len(lines) == 601
    plain = tmp_path / "p.csv"
    r = CliRunner().invoke(cli, ["generate", "--rows", "600", "--seed", "2", "--program",
                                 str(ROOT / "examples/programs/grocery_club.loyalty"), "-o", str(plain)])
    assert ",fee," not in plain.read_text(encoding="utf-8")
