"""The first budget pass's scout (simulate/budgets.py `FirstPassScout`, `claims_prefix`): once the groups run so
far make a budget run out, the groups after give their claims alone, and once every budget has run out, only
their claims (and rows) before the latest cutoff. The result must be what every group replayed whole gives:
compared here with one group of every member (no scout), on both kernels, at the cutoff's edges (a budget
running out mid-day between members at one time, at a member's last row, two rules sharing a budget, a budget
and tiers settled together) and on generated histories."""

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.simulate import parallel
from loyalty.simulate.budgets import FirstPassScout, claims_prefix, find_cutoffs
from loyalty.simulate.parallel import simulate_in_process
from test_vector_kernel import INLINE, _history, _plan, _program, _report, history_of

# ------------------------------------------------------------------ the scout's rule, on claims alone

_claim = st.tuples(st.integers(0, 20), st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 3),
                   st.sampled_from(["k1", "k2"]), st.integers(0, 9))


@settings(max_examples=300, deadline=None)
@given(groups=st.lists(st.lists(_claim, max_size=12), min_size=1, max_size=5),
       limits=st.fixed_dictionaries({"k1": st.integers(1, 40)}, optional={"k2": st.integers(1, 40)}))
def test_the_scouted_claims_give_the_cutoffs_of_every_claim(groups, limits):
    """Groups of claims taken in turn as the scout takes them (claims before `before_us` once every budget ran
    out): the cutoffs they give are those of every claim, and the scout only goes claims-only in a pass that
    finds a cutoff (so its figures are never the answer)."""
    groups = [[c for c in g if c[3] in limits] for g in groups]
    scout = FirstPassScout(limits, {})
    went_claims_only = False
    for g in groups:
        went_claims_only |= scout.claims_only
        before = scout.before_us
        scout.add(g if before is None else [c for c in g if c[0] < before])
    every = find_cutoffs(limits, [c for g in groups for c in g], {})
    assert find_cutoffs(limits, scout.claims, {}) == every
    if went_claims_only:
        assert every


def test_the_scout_waits_for_the_first_pass_and_for_every_budget():
    assert not FirstPassScout({"k": 5}, None).active  # no budgets: one pass, the answer
    assert not FirstPassScout({"k": 5}, {"k": ((1, "a", 0), 2)}).active  # a later pass may be the last
    scout = FirstPassScout({"k": 5, "j": 5}, {})
    scout.add([(10, "a", 0, "k", 5)])
    assert scout.claims_only and scout.before_us is None  # "j" has not run out: every claim of "j" counts
    scout.add([(30, "b", 0, "j", 9), (12, "b", 1, "k", 1)])
    assert scout.before_us == 31


def test_a_first_pass_whose_own_claims_run_a_budget_out_makes_no_figures(scout_program):
    """A kernel in a first budget pass (nothing known) whose members' own claims make a budget run out gives its
    claims alone (budgets.first_pass_not_last): that pass finds a cutoff, so its figures would be dropped. Where
    its claims stay below the limit (the pass may be the answer), and in a later pass, it makes them."""
    from loyalty.simulate.budgets import first_pass_not_last
    from loyalty.simulate.vector.kernel import simulate_vector

    path, prog = scout_program
    runs_out = [_row("m1", "2024-01-02T10:00:00", order="a", amount="60.00"),
                _row("m2", "2024-01-02T11:00:00", order="b", amount="60.00")]
    within = [_row("m1", "2024-01-02T10:00:00", order="a", amount="30.00")]
    for rows, out in ((runs_out, True), (within, False)):
        history = history_of(prog, rows)
        plan = _plan(path, prog, history, 0)
        first = simulate_vector(plan, history, known={})
        cutoffs = find_cutoffs(prog.budgets, first.claims, {})
        assert bool(cutoffs) == out
        assert bool(first.cells) != out, "figures only where the pass may be the last"
        assert simulate_vector(plan, history, known=cutoffs).cells  # a later pass: figures
    limits = {"k": 5}
    assert first_pass_not_last(limits, {}, [(1, "a", 0, "k", 5)])
    assert not first_pass_not_last(limits, {}, [(1, "a", 0, "k", 4), (2, "a", 1, "j", 9)])
    assert not first_pass_not_last(limits, {}, [(1, "a", 0, "k", 6), (2, "a", 1, "k", -1)])  # (then nothing known)
    assert not first_pass_not_last(limits, None, [(1, "a", 0, "k", 5)])  # no budget pass
    assert not first_pass_not_last(limits, {"k": ((1, "a", 0), 5)}, [(1, "a", 0, "k", 5)])  # a later pass


# ------------------------------------------------------------------ the rows before a moment

PROGRAM = """
program "Scout" {
  currency NOK
  timezone "Europe/Oslo"
  runs from 2024-01-01
}
points "points" {
  cost 0.10 NOK each
}
catalog {
  category "washes"
  item "basic wash" in category "washes" costing 35 NOK
  item "coffee" in category "washes" costing 6 NOK
}
reward "free coffee" is a free "coffee"
redeem 50 points for "free coffee"
rule "a point per NOK" {
  earn 1 point per 1 NOK
  budget 100 points
}
"""
INLINE["SCOUT"] = PROGRAM


def _row(member, when, kind="purchase", order="", item="basic wash", amount="35.00"):
    return {"member": member, "time": when, "type": kind, "order": order, "item": item, "category": "washes",
            "quantity": "1", "amount": amount}


def _us(text):
    return (dt.datetime.fromisoformat(text) - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


@pytest.fixture(scope="module")
def scout_program(tmp_path_factory):
    return _program(tmp_path_factory, "SCOUT")


def test_claims_prefix_keeps_each_members_rows_before_the_moment(scout_program):
    _, prog = scout_program
    rows = [_row("m1", "2024-01-02T10:00:00", order="o1"), _row("m1", "2024-01-05T10:00:00", order="o2"),
            _row("m1", "2024-01-06T10:00:00", kind="return", order="o1"),
            _row("m2", "2024-01-04T09:00:00", order="o3"), _row("m2", "2024-01-04T09:00:00", order="o3",
                                                                   item="coffee", amount="6.00")]
    history = history_of(prog, rows)
    before = claims_prefix(history, _us("2024-01-05T10:00:00"))
    assert [(m, e - s) for m, s, e in before.member_slices()] == [("m1", 1), ("m2", 2)]
    # a return after the moment of an order before it is a later event, not the order cut in two
    assert len(claims_prefix(history, _us("2024-01-06T00:00:00"))) == 4


def test_claims_prefix_declines_an_order_cut_in_two(scout_program):
    _, prog = scout_program
    rows = [_row("m1", "2024-01-02T10:00:00", order="o1"),
            _row("m1", "2024-01-02T10:05:00", order="o1", item="coffee", amount="6.00")]
    history = history_of(prog, rows)
    assert claims_prefix(history, _us("2024-01-02T10:01:00")) is None
    assert len(claims_prefix(history, _us("2024-01-02T10:06:00"))) == 2


# ------------------------------------------------------------------ whole runs: scouted groups against one group

def _small_groups(monkeypatch, rows: int):
    monkeypatch.setattr(parallel, "GROUP_ROWS", rows)


def _scouted_calls(monkeypatch):
    """Counts the groups the scout ran for their claims alone (and those cut before a moment)."""
    seen = {"claims": 0, "prefix": 0}
    evaluate, prefix = parallel.evaluate_range, parallel.claims_prefix

    def counting(plan, history, known, kernel="python", progress=None, warm=None, claims_only=False):
        seen["claims"] += claims_only
        return evaluate(plan, history, known, kernel, progress, warm, claims_only)

    def counting_prefix(history, before):
        out = prefix(history, before)
        seen["prefix"] += out is not None
        return out

    monkeypatch.setattr(parallel, "evaluate_range", counting)
    monkeypatch.setattr(parallel, "claims_prefix", counting_prefix)
    return seen


def _one_group(plan, history, kernel):
    saved = parallel.GROUP_ROWS
    parallel.GROUP_ROWS = 10**9
    try:
        return simulate_in_process(plan, history, kernel=kernel)
    finally:
        parallel.GROUP_ROWS = saved


def _assert_scouted_equal(monkeypatch, path, prog, history, group_rows, seed=0):
    plan = _plan(path, prog, history, seed)
    whole = _one_group(plan, history, "python")
    _small_groups(monkeypatch, group_rows)
    seen = _scouted_calls(monkeypatch)
    for kernel in ("python", "vector"):
        got = simulate_in_process(plan, history, kernel=kernel)
        assert got.canonical() == whole.canonical(), kernel
        assert _report(plan, history, got) == _report(plan, history, whole), kernel
    return seen


def test_a_budget_running_out_mid_day_between_members_at_one_time(monkeypatch, scout_program):
    """The budget runs out at 10:00 in the first group (m1 and m2 at that time); m0 and m3 of later groups buy at
    10:00 too, m0 before m1 in service order (member ids break ties), so the cutoff moves to m0's claim, and
    m3's rows after 10:00 are left out of the first pass. m9 redeems points, which the kernel leaves to the
    scalar plan: her claim at 9:30, in a group after the budget ran out, moves the cutoff too (her rows before
    the cutoff hold the redemption, so she is on the scalar plan in the first pass too)."""
    path, prog = scout_program
    rows = [_row("m1", "2024-01-02T10:00:00", order="a", amount="60.00"),
            _row("m2", "2024-01-02T10:00:00", order="b", amount="60.00"),
            _row("m1", "2024-01-02T15:00:00", order="c"),
            _row("m0", "2024-01-02T10:00:00", order="d", amount="20.00"),
            _row("m0", "2024-01-02T18:00:00", order="e"),
            _row("m9", "2024-01-02T09:30:00", order="i", amount="20.00"),
            {"member": "m9", "time": "2024-01-02T09:45:00", "type": "redemption", "item": "free coffee"},
            _row("m3", "2024-01-02T09:00:00", order="f", amount="10.00"),
            _row("m3", "2024-01-02T10:00:00", order="g"),
            _row("m3", "2024-01-02T16:00:00", order="h")]
    history = history_of(prog, rows)
    seen = _assert_scouted_equal(monkeypatch, path, prog, history, group_rows=3)
    assert seen["claims"] and seen["prefix"]


def test_a_budget_running_out_at_a_members_last_row(monkeypatch, scout_program):
    """The first group's last claim is its member's last row and the budget's end; the next group's claim at
    the same moment by a member sorting later comes after it (so it is refused), and one by a member sorting
    earlier comes before it."""
    path, prog = scout_program
    rows = [_row("m2", "2024-01-03T08:00:00", order="a", amount="70.00"),
            _row("m2", "2024-01-03T12:00:00", order="b", amount="40.00"),
            _row("m1", "2024-01-03T12:00:00", order="c", amount="5.00"),
            _row("m1", "2024-01-04T12:00:00", order="d", amount="5.00"),
            _row("m3", "2024-01-03T12:00:00", order="e", amount="5.00")]
    history = history_of(prog, rows)
    seen = _assert_scouted_equal(monkeypatch, path, prog, history, group_rows=2)
    assert seen["claims"]


def test_two_rules_sharing_a_budget_and_a_budget_with_tiers_on_generated_histories(monkeypatch, tmp_path_factory):
    """BUDGETS: a campaign's two rules share its budget beside a rule's own; TIER_BUDGETS: what a budget cuts
    moves the tier and the tier what is claimed (settled together). Many small groups, so the scout has later
    groups to leave out."""
    used = {"claims": 0, "prefix": 0}
    for which in ("BUDGETS", "TIER_BUDGETS"):
        path, prog = _program(tmp_path_factory, which)
        for seed in range(6):
            history = _history(prog, seed, 14, 30)
            with monkeypatch.context() as m:
                seen = _assert_scouted_equal(m, path, prog, history, group_rows=40, seed=seed)
            used = {k: used[k] + seen[k] for k in used}
    assert used["claims"] and used["prefix"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(2, 20), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["BUDGETS", "TIER_BUDGETS", "SCOUT"]), group_rows=st.sampled_from([5, 30, 120]))
def test_scouted_groups_equal_one_group(tmp_path_factory, seed, members, max_events, which, group_rows):
    path, prog = _program(tmp_path_factory, which)
    history = _history(prog, seed, members, max_events)
    with pytest.MonkeyPatch.context() as m:
        _assert_scouted_equal(m, path, prog, history, group_rows, seed=seed)


@pytest.mark.parametrize("kernel", ["vector", "python"])
def test_grouped_streaming_scouts_its_batches(monkeypatch, tmp_path_factory, tmp_path, kernel):
    """`--grouped`: the batches after a budget ran out give their claims alone (and their rows before the
    latest cutoff); the report is the in-memory one, byte for byte but the file name."""
    from loyalty.commands.generate import catalog_from_program
    from loyalty.simulate import stream
    from loyalty.simulate.generate import GenerateOptions, generate_text
    from test_stream import same_report, simulate

    path, _ = _program(tmp_path_factory, "TIER_BUDGETS")
    catalog, stores, minor, _ = catalog_from_program(path)
    options = dict(rows=3000, seed=4, catalog=catalog, stores=stores or ("S1",), minor_units=minor,
                   start=dt.date(2024, 1, 3))
    by_time, grouped = tmp_path / "by_time.csv", tmp_path / "grouped.csv"
    by_time.write_text(generate_text(GenerateOptions(**options)), encoding="utf-8")
    grouped.write_text(generate_text(GenerateOptions(**options, grouped=True)), encoding="utf-8")
    code, whole, err = simulate(path, by_time, "--kernel", kernel)
    assert code == 0, err
    monkeypatch.setattr(stream, "BLOCK_BYTES", 8192)  # many batches
    seen = _scouted_calls(monkeypatch)
    code, streamed, err = simulate(path, grouped, "--grouped", "--kernel", kernel)
    assert code == 0, err
    assert same_report(streamed, whole, grouped, by_time)
    assert json.loads(whole)["budgets"], "the budgets run out"
    assert seen["claims"] and seen["prefix"]
