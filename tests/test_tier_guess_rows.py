"""The tier-by-tier first guess (kernel `_Kernel._tier_guess_by_tier`) works out, in each group's run of the
state-free steps, only the points table's rows it keeps from that run (`ptab_rows`, earn.vector_points): the
guess and its tables are those of runs that work out every row, and the result is the scalar plan's."""

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from loyalty.runtime.mechanics import earn
from loyalty.simulate.engine import simulate
from loyalty.simulate.run import load_program
from loyalty.simulate.vector import kernel, simulate_vector
from test_vector_kernel import ROOT, _history, _plan, figures, vector_and_scalar_on_generated


# the programs written for these tests: removed when the test process ends (a folder made by mkdtemp stayed behind
# in every process that collected this file, each xdist worker's too)
_PROGRAMS = tempfile.TemporaryDirectory(prefix="loyalty-test-tier-guess-")

# tiered_returns with its first tier from nothing: no member is ever without a tier, so no group's run has the
# points table's first row, which the guess keeps from the first run
_FROM_ZERO = Path(_PROGRAMS.name) / "from_zero.loyalty"
_FROM_ZERO.write_text((ROOT / "benchmarks/programs/tiered_returns.loyalty").read_text()
                      .replace('tier "silver" from 2000 NOK', 'tier "silver" from 0 NOK'))


def _guesses(monkeypatch, plan, history):
    """Each kernel's tier-by-tier guess and its points tables, and the result."""
    seen = []
    guess = kernel._Kernel._tier_guess_by_tier

    def noting(self):
        out = guess(self)
        seen.append((out.copy(), {k: v.copy() for k, v in self.ptab.items()}))
        return out

    monkeypatch.setattr(kernel._Kernel, "_tier_guess_by_tier", noting)
    result = simulate_vector(plan, history)
    monkeypatch.undo()
    return seen, result


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(1, 12), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["benchmarks/programs/tiered_returns.loyalty", "examples/programs/bookstore.loyalty",
                              "examples/programs/beauty_points.loyalty", str(_FROM_ZERO)]))
def test_the_guess_works_out_only_the_rows_it_keeps(monkeypatch, seed, members, max_events, which):
    path = ROOT / which
    prog = load_program(str(path))
    history = _history(prog, seed, members, max_events)
    plan = _plan(str(path), prog, history, seed % 7)
    rows_asked = []
    vector_parts = earn._vector_parts

    def every_row(kern, r, earns, stage, tier_factors, rows):  # the runs as before: every row worked out
        rows_asked.append(rows)
        return vector_parts(kern, r, earns, stage, tier_factors, None)

    seen, result = _guesses(monkeypatch, plan, history)
    monkeypatch.setattr(earn, "_vector_parts", every_row)
    seen_all, result_all = _guesses(monkeypatch, plan, history)
    assert len(seen) == len(seen_all)
    for (g, tables), (g_all, tables_all) in zip(seen, seen_all):
        assert np.array_equal(g, g_all)
        assert tables.keys() == tables_all.keys()
        for key in tables:
            assert np.array_equal(tables[key], tables_all[key]), key
    assert result.canonical() == result_all.canonical()
    if seen:  # (a guess was made: its runs asked for some rows only)
        assert any(rows is not None for rows in rows_asked)
    ref = simulate(plan, history).canonical()
    assert figures(result.canonical()) == figures(ref)


# tiered_returns with a multiplier for one tier: its line matches, which the returns' shares read, depend on the
# tier each pass guesses, so a pass may not reuse the returns the last one settled (kernel `_returns`)
_GOLD_ONLY = Path(_PROGRAMS.name) / "gold_only.loyalty"
_GOLD_ONLY.write_text((ROOT / "benchmarks/programs/tiered_returns.loyalty").read_text()
                      + '\nrule "gold double" {\n  earn 2x points\n  on category "extras"\n  for tier "gold"\n}\n')


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), members=st.integers(1, 12), max_events=st.sampled_from([12, 40]),
       which=st.sampled_from([str(_GOLD_ONLY), "benchmarks/programs/tiered_returns.loyalty"]))
def test_returns_settled_again_where_a_pass_guesses_other_tiers(seed, members, max_events, which):
    """Each pass of the tier guess settles the returns on its own line matches (or reuses the last pass's where
    they are the same): the result is the scalar plan's."""
    vector_and_scalar_on_generated(ROOT / which, seed, members, max_events)
