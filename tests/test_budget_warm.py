"""A later budget pass starting from the first pass's tiers and spend (kernel `_Kernel._guesses_from_moments`,
`warm["tier_moments"]`): where the first pass replayed only a group's rows before a cutoff (budgets.py
`claims_prefix`), its settled tiers, looked up by member and moment, are the next pass's first guess. Where that
pass had the events, the guess is exact up to where the two passes' cutoffs differ (here none: the same known
cutoffs); whatever it is, the report is the one every member replayed whole in one group gives."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.simulate.budgets import claims_prefix
from loyalty.simulate.vector import kernel as kernel_module
from loyalty.simulate.vector.kernel import _warm_from_parts, simulate_vector
from test_budget_scout import _assert_scouted_equal
from test_vector_kernel import _history, _plan, _program


def _guess_and_settled(monkeypatch, plan, history, moments):
    """The first guess a whole kernel takes from `moments`, the tiers it settles on, and its events' moments."""
    seen = {}
    guess_from_moments = kernel_module._Kernel._guesses_from_moments

    def spying(kern, given):
        seen["guess"], seen["spend"] = guesses = guess_from_moments(kern, given)
        seen["times"], seen["members"] = kern.e_real.copy(), [kern.member_names[m] for m in kern.e_mem.tolist()]
        return guesses

    monkeypatch.setattr(kernel_module._Kernel, "_guesses_from_moments", spying)
    warm = {"tier_moments": moments}
    simulate_vector(plan, history, known={}, warm=warm)
    return seen, warm["tier_guess"], warm["spend_before"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(2, 16), max_events=st.sampled_from([12, 40]),
       cut=st.floats(0.1, 0.9))
def test_the_tiers_by_moment_are_exact_where_the_first_pass_had_the_events(tmp_path_factory, seed, members,
                                                                             max_events, cut):
    """A claims-only kernel over the rows before a moment leaves its settled tiers and spend by moment; a kernel of
    the whole rows guesses from them, for the members that kernel replayed, exactly the tiers and the spend before
    each event it settles on before that moment (several events of a member at one moment included: the k-th
    takes the k-th's)."""
    path, prog = _program(tmp_path_factory, "TIER_BUDGETS")
    history = _history(prog, seed, members, max_events)
    plan = _plan(path, prog, history, seed)
    times = np.sort(history.table.column("time").to_numpy().astype("datetime64[us]").astype(np.int64))
    before = int(times[int(cut * (len(times) - 1))]) + 1
    prefix = claims_prefix(history, before)
    if prefix is None or not len(prefix):
        return
    first: dict = {}
    simulate_vector(plan, prefix, known={}, warm=first, claims_only=True)
    if "tier_moments" not in first:  # (every member on the scalar plan)
        return
    with pytest.MonkeyPatch.context() as m:
        seen, settled, spend = _guess_and_settled(m, plan, history, first["tier_moments"])
    replayed = set(first["tier_moments"][0])
    compared = np.array([name in replayed for name in seen["members"]], dtype=bool) & (seen["times"] < before)
    assert np.array_equal(seen["guess"][compared], settled[compared])
    assert np.array_equal(seen["spend"][compared], spend[compared])


def test_the_two_parts_tiers_by_moment_put_together(tmp_path_factory):
    """Two kernels settling apart leave one kernel's tiers by moment: each part's events under its own members."""
    names_a, names_b = ["m1", "m4"], ["m2"]
    a = (names_a, np.array([0, 0, 1]), np.array([10, 20, 15]), np.array([-1, 0, -1]), np.array([0, 0, -1]),
         np.array([0, 7, 0]), np.array([7, 9, 3]))
    b = (names_b, np.array([0, 0]), np.array([5, 30]), np.array([-1, 1]), np.array([1, 1]), np.array([0, 4]),
         np.array([4, 6]))
    warm: dict = {}
    _warm_from_parts(warm, np.array([False, True, False, False, True]), {"tier_moments": a}, {"tier_moments": b})
    names, mem, when, before, after, spend_before, spend_after = warm["tier_moments"]
    assert [names[m] for m in mem.tolist()] == ["m1", "m1", "m4", "m2", "m2"]
    assert when.tolist() == [10, 20, 15, 5, 30]
    assert before.tolist() == [-1, 0, -1, -1, 1] and after.tolist() == [0, 0, -1, 1, 1]
    assert spend_before.tolist() == [0, 7, 0, 0, 4] and spend_after.tolist() == [7, 9, 3, 4, 6]
    warm = {"tier_moments": a}
    _warm_from_parts(warm, np.array([False, True]), {"tier_moments": a}, {})  # one part without: none kept
    assert "tier_moments" not in warm


def test_scouted_groups_start_the_next_pass_from_the_first_passs_tiers(monkeypatch, tmp_path_factory):
    """Many small groups, tiers a budget moves: the groups the first pass cut before the latest cutoff start the
    next pass from their tiers by moment (and settle apart at once), and the report is one group's."""
    used = []
    guess_from_moments = kernel_module._Kernel._guesses_from_moments

    def counting(kern, moments):
        used.append(kern.nev)
        return guess_from_moments(kern, moments)

    monkeypatch.setattr(kernel_module._Kernel, "_guesses_from_moments", counting)
    path, prog = _program(tmp_path_factory, "TIER_BUDGETS")
    for seed in range(4):
        history = _history(prog, seed, 16, 40)
        with monkeypatch.context() as m:
            _assert_scouted_equal(m, path, prog, history, group_rows=40, seed=seed)
    assert used, "no group started from the first pass's tiers by moment"
