"""A tier pass that keeps the last lockstep's outputs (simulate/vector/lockstep_inputs.py): the kernel settles the
tiers by passes, and a pass whose lockstep would read what the last one read (every kernel attribute equal, the
points table and the tier metric at the tiers that lockstep found) does not run it again. Held here: the
comparison itself on small kernels (a difference where the lockstep reads is one, elsewhere is not), a pass that
must run its lockstep again (the points a purchase earns at a tier change with that tier's discount) and one
that may not (points per visit), each against the scalar plan member by member, and gym and beauty_points on
generated histories against the scalar plan and against the kernel that never reuses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import loyalty
from loyalty.runtime.arrays import PURCHASE, RETURN
from loyalty.simulate.engine import make_plan, program_info
from loyalty.simulate.scenario import Scenario
from loyalty.simulate.vector import kernel, lockstep_inputs
from loyalty.simulate.vector.lockstep_inputs import LockstepRecord, reuse, same_inputs
from test_fees_kernel import _buy, _changes, _history, _return, _same_on_both


class _Kern:
    """The attributes `same_inputs` reads of a kernel: three events, the second a return of the first."""

    free_by_tier = None

    def __init__(self):
        self.nev = 3
        self.e_valid = np.ones(3, dtype=bool)
        self.e_counted = np.ones(3, dtype=bool)
        self.e_type = np.array([PURCHASE, RETURN, PURCHASE])
        self.ret_order_ev = np.array([-1, 0, -1])
        self.ret_G = np.zeros(3, dtype=np.int64)
        # rows: no tier, tier 0, tier 1
        self.ptab = {"r": np.array([[1, 0, 3], [10, 0, 30], [20, 0, 60]], dtype=np.int64)}
        self.e_time = np.array([5, 6, 7], dtype=np.int64)


def _record(kern, found, read=("ptab", "e_time")):
    record = LockstepRecord()
    record.read = {name: lockstep_inputs._copy(getattr(kern, name)) for name in read}
    record.written = {"tier_before", "kstate"}
    record.after = {"tier_before": np.array(found, dtype=np.int64), "kstate": {"X": 1}, **record.read}
    lockstep_inputs.cut_to_rows_read(kern, record)
    return record


def test_inputs_compare_where_the_lockstep_read_them():
    kern = _Kern()
    record = _record(kern, [0, 0, 1])  # read rows: tier 0 for events 0 and 1, tier 1 for event 2
    assert same_inputs(kern, record, None)
    kern.ptab["r"][2, 0] = 99  # tier 1 at event 0: not read
    kern.ptab["r"][0, 2] = 99  # no tier at event 2: not read
    assert same_inputs(kern, record, None)
    kern.ptab["r"][2, 2] = 61  # tier 1 at event 2: read
    assert not same_inputs(kern, record, None)
    kern = _Kern()
    kern.ptab["r"][1, 1] = 5  # tier 0 at the return (its own row: a return earns at its own tier)
    assert not same_inputs(kern, record, None)
    kern = _Kern()
    kern.e_time = kern.e_time + 1  # any other input: compared whole
    assert not same_inputs(kern, record, None)
    kern = _Kern()
    kern.ptab["s"] = kern.ptab["r"]  # another slot
    assert not same_inputs(kern, record, None)
    assert not same_inputs(_Kern(), _record(_Kern(), [0, 0]), None)  # another member range
    assert not same_inputs(_Kern(), None, None)


def test_the_metric_per_tier_compares_at_the_event_s_tier_and_a_return_at_its_order_s():
    """The tier-by-tier guess's metric (`free_by_tier`, rows per tier) against the next pass's (`_free_metric`):
    a purchase at the tier found at it, a return at the tier found at its order (VectorTiers.after)."""
    kern = _Kern()
    kern.free_by_tier = np.array([[100, -100, 7], [80, -80, 70], [50, -50, 40]], dtype=np.int64)
    kern.spend_deltas = kern.free_by_tier[0].copy()  # the guess's last run's (read, and replaced by the table)
    record = _record(kern, [0, 1, 1], read=("ptab", "e_time", "free_by_tier", "spend_deltas"))
    record.spend_reads = 1
    del kern.free_by_tier  # the pass that confirms has none
    kern.spend_deltas = np.array([80, -80, 40])
    assert same_inputs(kern, record, lambda: np.array([80, -80, 40]))  # the return: its order's tier 0
    assert not same_inputs(kern, record, lambda: np.array([80, -50, 40]))  # not the return's own tier
    assert not same_inputs(kern, record, lambda: np.array([80, -80, 41]))
    record.spend_reads = 2  # read for something besides the metric: then the guess's spend is not comparable
    assert not same_inputs(kern, record, lambda: np.array([80, -80, 40]))


def test_reuse_keeps_the_lockstep_s_outputs_and_this_pass_s_tables():
    kern = _Kern()
    record = _record(kern, [0, 0, 1])
    new_table = {"r": kern.ptab["r"] + 1000}
    kern.ptab = new_table
    kern.discounts = "this pass's"
    reuse(kern, record)
    assert kern.ptab is new_table and kern.discounts == "this pass's"
    assert kern.kstate == {"X": 1} and kern.tier_before.tolist() == [0, 0, 1]


VISIT_TIERS = """
program "Visit tiers with a discount" {
  currency NOK
  timezone "Europe/Oslo"
}
points "points" {
  cost 0.01 NOK each
}
rule "points" {
  {earn}
}
tiers by visits in the last 30 days {
  tier "silver" from 2 {
    get 20% off
  }
  tier "gold" from 4 {
    earn 2x points
    get 50% off
  }
}
"""


def _counting(monkeypatch):
    """Count the passes that reuse the last lockstep and those that run one."""
    counts = {"reused": 0, "passes": 0}
    reuse_, replay = kernel.reuse, kernel._Kernel._replay

    def reusing(*args):
        counts["reused"] += 1
        return reuse_(*args)

    def counting(self):
        counts["passes"] += 1
        return replay(self)

    monkeypatch.setattr(kernel, "reuse", reusing)
    monkeypatch.setattr(kernel._Kernel, "_replay", counting)
    return counts


@pytest.mark.parametrize("earn, reused", [
    # what a purchase pays at silver or gold (its discount) changes its points: the second pass's points table
    # differs at the tiers the first found, so its lockstep runs
    ("earn 1 point per 1 NOK", 0),
    # points per visit: no discount changes them, the second pass reads what the first did
    ("earn 10 points per visit", 1),
    # ... and a gift gated by the balance, which the lockstep writes into an array the state-free steps made
    # (what it read is copied before it writes there)
    ("earn 10 points per visit\n}\nreward \"coffee\" is a perk costing 1 NOK\n"
     "rule \"coffee for savers\" {\n  give \"coffee\"\n  when points balance >= 30 points", 1),
])
def test_a_pass_runs_its_lockstep_again_only_where_what_it_reads_changed(monkeypatch, earn, reused):
    """Tiers by visits in a rolling window (gym's shape) read by a tier's discount, from the first tier
    everywhere: the first pass finds the settled tiers (visits do not depend on the discount), the second
    confirms them, reusing the first's lockstep where what it reads is the same; the result is the scalar
    plan's, member by member, either way."""
    prog = loyalty.compile_source(VISIT_TIERS.replace("{earn}", earn), "visits.loyalty").compiled
    rows = [_buy("A", f"2024-03-{d:02d}T10:00", f"a{d}", "100.00") for d in range(1, 9)] + \
        [_return("A", "2024-03-09T10:00", "a6"), _buy("A", "2024-03-10T10:00", "a10", "10.00"),
         _buy("B", "2024-03-01T11:00", "b1", "50.00"), _buy("B", "2024-03-02T11:00", "b2", "50.00"),
         _buy("B", "2024-04-20T11:00", "b3", "50.00"), _buy("C", "2024-03-05T11:00", "c1", "6.00")]
    rows.sort(key=lambda r: r[1])
    history = _history(prog, rows)
    plan = make_plan(prog, program_info(prog, "visits.loyalty"), Scenario(), history, {})
    counts = _counting(monkeypatch)
    result = kernel.simulate_vector(plan, history, tail_members=0)
    assert counts == {"reused": reused, "passes": 2}
    assert any(to == "gold" for _, to in _changes(result))  # gold reached (and its discount read)
    monkeypatch.undo()
    ref = _same_on_both(prog, history)
    assert result.canonical() == ref.canonical()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 12), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["examples/programs/gym.loyalty", "examples/programs/beauty_points.loyalty"]))
def test_generated_histories_of_gym_and_beauty_points(monkeypatch, seed, members, max_events, which):
    """gym (tiers by visits in 52 weeks, passes from the first tier) and beauty_points (tiers by points earned,
    the tier-by-tier guess) on generated histories: the kernel equals the scalar plan and the kernel that never
    reuses a lockstep."""
    from loyalty.simulate.vector import simulate_vector

    from test_vector_kernel import ROOT, vector_and_scalar_on_generated

    plan, history, vec = vector_and_scalar_on_generated(ROOT / which, seed, members, max_events)
    with monkeypatch.context() as m:
        m.setattr(kernel, "same_inputs", lambda *args: False)
        assert simulate_vector(plan, history).canonical() == vec


def test_inputs_are_equal_by_value_and_type():
    """What the record compares: arrays by dtype, shape and value; containers element by element (plain lists
    such as the members' names at once); plain values of the same type; other objects by identity, of the types registered as read-only only."""
    from loyalty.simulate.vector.lockstep_inputs import _copy, _equal

    names = ["m1", "m2", None]
    assert _equal(_copy(names), names) and not _equal(names, ["m1", "m2", ""])
    assert not _equal([1], [1.0]) and not _equal([True], [1]) and not _equal((1,), [1])
    assert _equal({"a": [np.arange(3), 2]}, _copy({"a": [np.arange(3), 2]}))
    assert not _equal({"a": [np.arange(3), 2]}, {"a": [np.arange(3.0), 2]})
    assert not _equal(np.zeros(2, dtype=np.int64), np.zeros(3, dtype=np.int64))
    # an object of a type not known to stay unchanged during a kernel's life is unequal even to itself: a
    # change inside it could not be seen, so a lockstep reading it is run again; the kernel's read-only
    # objects (the program, the plan, the rows) compare by identity
    class Mutable:
        pass

    thing = Mutable()
    assert not _equal(thing, thing)
    from loyalty.simulate.vector.lockstep_inputs import READ_ONLY_TYPES
    from loyalty.runtime.program import CompiledProgram
    import loyalty.simulate.vector.kernel  # noqa: F401  (registers the kernel's read-only types)

    assert CompiledProgram in READ_ONLY_TYPES
    program = object.__new__(CompiledProgram)
    assert _equal(program, program) and not _equal(program, object.__new__(CompiledProgram))
    table = np.arange(4)
    copied = _copy({"t": table})
    table[0] = 9  # a copy, not the array the lockstep may write into
    assert copied["t"][0] == 0


def test_tiers_computed_at_once_are_not_recorded(monkeypatch):
    """Tiers by lifetime visits read by a tier's discount (grocery_club's shape) are computed before the lockstep
    (tiers.vector_tiers_at_once), and the lockstep confirms them: no pass follows, so none is recorded (a record
    copies what the lockstep reads), and the lockstep reads each event's points at them alone (gold's double
    points here). The result is the scalar plan's, member by member."""
    source = VISIT_TIERS.replace("{earn}", "earn 1 point per 1 NOK").replace(
        "tiers by visits in the last 30 days", "tiers by lifetime visits")
    prog = loyalty.compile_source(source, "visits.loyalty").compiled
    rows = [_buy("A", f"2024-03-{d:02d}T10:00", f"a{d}", "100.00") for d in range(1, 9)] + \
        [_return("A", "2024-03-09T10:00", "a6"), _buy("B", "2024-03-01T11:00", "b1", "50.00")]
    rows.sort(key=lambda r: r[1])
    history = _history(prog, rows)
    plan = make_plan(prog, program_info(prog, "visits.loyalty"), Scenario(), history, {})
    counts = _counting(monkeypatch)
    records = []
    recorded = kernel.recorded
    monkeypatch.setattr(kernel, "recorded", lambda *args: records.append(1) or recorded(*args))
    result = kernel.simulate_vector(plan, history, tail_members=0)
    assert counts == {"reused": 0, "passes": 1} and records == []
    assert any(to == "gold" for _, to in _changes(result))
    monkeypatch.undo()
    assert result.canonical() == _same_on_both(prog, history).canonical()
