"""Order ids encoded a range of members at a time (simulate/history.py `_encoded_by_member`): the same text gets
another code in another range, so every reader of order codes must compare them together with the member. Here
members number their orders alike ("1", "2", ...; many shops' exports do), a member returns an order id only
another member bought, and the ranges are a few rows long: the kernel and the scalar plan give what they give
with the whole column encoded at once (one code per text), member by member and for the whole history."""

from __future__ import annotations

import pytest

from loyalty.simulate import history as history_module
from loyalty.simulate.engine import simulate

from test_vector_kernel import HEADER, _plan, _program, _vector_solved, assert_member_by_member  # noqa: F401
from loyalty.simulate.history import ReadOptions, build_history

REFERENCE = "benchmarks/programs/reference.loyalty"


def _line(member, when, kind, order, item, amount, quantity="1"):
    return [member, when, kind, order, item, "", quantity, amount, "", ""]


def _rows():
    rows = []
    for k, member in enumerate(["A", "B", "C", "D", "E"]):
        day = f"2024-03-{10 + k:02d}"
        rows += [_line(member, f"{day}T09:00", "purchase", "1", "wash and wax", "55.00"),
                 _line(member, f"{day}T09:00", "purchase", "1", "coffee", "6.00"),
                 _line(member, f"{day}T10:00", "purchase", "2", "interior cleaning", "90.00")]
    # B returns her own order 1 in part, then order 3, which only A bought; C returns order 2 whole
    rows += [_line("A", "2024-04-01T09:00", "purchase", "3", "basic wash", "35.00"),
             _line("B", "2024-04-02T09:00", "return", "1", "coffee", "6.00"),
             _line("B", "2024-04-03T09:00", "return", "3", "basic wash", "35.00"),
             _line("C", "2024-04-04T09:00", "return", "2", "interior cleaning", "90.00"),
             _line("E", "2024-04-05T09:00", "return", "1", "wash and wax", "55.00")]
    return rows


def _read(prog, id_range, monkeypatch):
    monkeypatch.setattr(history_module, "_ID_RANGE", id_range)
    cols = {h: [r[i] or None for r in _rows()] for i, h in enumerate(HEADER)}
    options = ReadOptions(minor_units=prog.exponent, currency=prog.currency, timezone=prog.timezone)
    return build_history(cols, "alike.csv", 2, options)


def test_members_numbering_their_orders_alike_across_ranges(tmp_path_factory, monkeypatch):
    path, prog = _program(tmp_path_factory, REFERENCE)
    whole = _read(prog, 10**9, monkeypatch)  # one code per text
    ranged = _read(prog, 3, monkeypatch)  # a range per member or two
    member, order = ranged.code_array("member"), ranged.code_array("order")
    one = {int(o) for m, o, t in zip(member, order, ranged.order) if t == "1"}
    assert len(one) > 1, "order id 1 has one code: the test compares nothing new"
    assert ranged.order == whole.order and ranged.member_slices() == whole.member_slices()
    assert ranged.event_index() == whole.event_index()
    plan = _plan(path, prog, ranged)
    vec = _vector_solved(plan, ranged, tail_members=0)
    assert vec.canonical() == _vector_solved(_plan(path, prog, whole), whole, tail_members=0).canonical()
    assert simulate(plan, ranged).canonical() == simulate(_plan(path, prog, whole), whole).canonical()
    assert_member_by_member(plan, ranged, vec)
    # B's return of order 3 names an order of A's: not hers, not taken back; the three others are
    assert vec.counts["returns"] == 3
    assert vec.cells[("rejected", "return of an order not in the history", "events")] == 1
    # what customers took back (minor units): B's coffee (6.00), C's order 2 (90.00), E's wash (55.00); not A's
    # order 3 (35.00) that B named
    assert vec.counts["customers_returned"] == 15100


@pytest.mark.parametrize("id_range", [1, 2, 4])
def test_the_one_by_one_tail_reads_them_as_the_lockstep(tmp_path_factory, monkeypatch, id_range):
    path, prog = _program(tmp_path_factory, REFERENCE)
    ranged = _read(prog, id_range, monkeypatch)
    plan = _plan(path, prog, ranged)
    assert _vector_solved(plan, ranged, tail_members=10**9).canonical() == simulate(plan, ranged).canonical()
