"""The kernel records budget claims (simulate/budgets.py: every claim of a pass, for the next pass's cutoffs) in
service order, each ledger key's claims one sorted run (runtime/mechanics/stock.py `record_claims`), so the
merge and the cutoff search that sort them only merge runs. What it records is exactly the scalar plan's claims."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from loyalty.runtime.mechanics.stock import before_or_at, claims_that_can_cut, record_claims  # noqa: E402
from loyalty.runtime.mechanics import stock  # noqa: E402
from loyalty.simulate.budgets import CutoffLedger, FirstPassScout, find_cutoffs  # noqa: E402
from loyalty.simulate.engine import replay_members  # noqa: E402
from loyalty.simulate.vector import kernel as vector_kernel  # noqa: E402
from test_vector_kernel import _history, _plan, _program  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(data=st.data(), nmem=st.integers(1, 6), n=st.integers(0, 40))
def test_recorded_claims_are_in_the_claims_own_order(data, nmem, n):
    """Member ids whose text order is not their kernel order, times that tie (one minute, several members),
    a member's claim indexes, a limit or none, the earliest claims tried first or not: the recorded claims are
    the tuples (time, member, seq, key, amount) sorted, up to where they reach the limit."""
    names = data.draw(st.lists(st.text("ab1", min_size=1, max_size=3), min_size=nmem, max_size=nmem, unique=True))
    e_mem = np.array(sorted(data.draw(st.lists(st.integers(0, nmem - 1), min_size=n, max_size=n))), dtype=np.int64)
    e_time = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    # one claim per event; seq counts each member's claims (unique per member, as the kernel's are)
    ev = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    seq = np.zeros(n, dtype=np.int64)
    counts: dict = {}
    for i, e in enumerate(ev.tolist()):
        m = int(e_mem[e])
        seq[i] = counts.get(m, 0)
        counts[m] = seq[i] + 1
    amounts = np.array(data.draw(st.lists(st.integers(0, 50), min_size=n, max_size=n)), dtype=np.int64)
    limit = data.draw(st.none() | st.integers(0, 300))
    budgets = {} if limit is None else {"rule:launch bonus": limit}
    kern = SimpleNamespace(member_names=names, e_mem=e_mem, e_time=e_time, claims=[],
                           prog=SimpleNamespace(budgets=budgets))
    # how many of the earliest claims are tried first (4096 in a run; here any, so both ways are taken)
    early = data.draw(st.integers(0, 45))
    was, stock._EARLY_CLAIMS = stock._EARLY_CLAIMS, early
    try:
        record_claims(kern, "rule:launch bonus", ev, seq, amounts)
    finally:
        stock._EARLY_CLAIMS = was
    expected = sorted(zip(e_time[ev].tolist(), [names[m] for m in e_mem[ev].tolist()], seq.tolist(),
                          ["rule:launch bonus"] * n, amounts.tolist()))
    # up to the first claim (in that order) asking more than nothing at which they reach the limit
    assert kern.claims == expected[:claims_that_can_cut(np.array([c[4] for c in expected], dtype=np.int64), limit)]


def _kernel_claims(monkeypatch):
    """The claims each kernel run recorded, as it recorded them (before any merge sorts them)."""
    seen: list = []
    real = vector_kernel._Kernel._after_lockstep

    def after_lockstep(self):
        real(self)
        seen.append(list(self.claims))

    monkeypatch.setattr(vector_kernel._Kernel, "_after_lockstep", after_lockstep)
    return seen


def _without_seq(claims):
    return [(t, member, key, amount) for t, member, _seq, key, amount in claims]


def test_kernel_claims_are_the_scalar_plans_in_sorted_runs_per_key(tmp_path_factory, monkeypatch):
    """A first budget pass (no cutoff known) on generated histories of programs with budgets on fixed earns,
    earning per spend, gifts, campaigns shared by points and gifts, and rewards' stock: the pass records the
    scalar plan's claims, all of those up to where they reach each key's limit (the kernel leaves out its claims
    after its own reach it, `claims_that_can_cut`), giving the same cutoffs, and each key's claims come from the
    kernel in service order."""
    recorded = cut = 0
    for which in ("GIFT_BUDGETS", "STOCK"):
        path, prog = _program(tmp_path_factory, which)
        for seed in range(6):
            history = _history(prog, seed, 8, 30)
            plan = _plan(path, prog, history, seed)
            seen = _kernel_claims(monkeypatch)
            result = vector_kernel.simulate_vector(plan, history, known={})
            scalar = replay_members(plan, history, history.member_slices(), lambda: CutoffLedger({}))
            # (a stock's claims count the member's claims on that key alone, stock.claim_order: the same order)
            # every claim up to where all of them reach each key's limit, and none the scalar plan does not make
            # (the kernel leaves out those after its own reach the limit; the members it sends to the scalar
            # plan give all theirs)
            needed = Counter(_without_seq(_up_to_each_limit(scalar.claims, prog.budgets)))
            made = Counter(_without_seq(result.claims))
            assert made & needed == needed and made - Counter(_without_seq(scalar.claims)) == Counter(), (which, seed)
            cut += len(scalar.claims) - len(result.claims)
            if which == "GIFT_BUDGETS":
                assert find_cutoffs(prog.budgets, result.claims, {}) == find_cutoffs(prog.budgets, scalar.claims, {})
            for claims in seen:  # each replay's own (a replay records its claims anew)
                recorded += len(claims)
                for key in {c[3] for c in claims}:
                    mine = [c for c in claims if c[3] == key]
                    assert mine == sorted(mine), (which, seed, key)
    assert recorded > 100  # the kernel, not the members it sends to the scalar plan, made most of them
    assert cut > 100  # budgets ran out, and the claims after that were left out


def _up_to_each_limit(claims, limits):
    """Each key's claims (in service order) up to the first at which they reach its limit."""
    out = []
    for key in {c[3] for c in claims}:
        mine = sorted(c for c in claims if c[3] == key)
        out += mine[:claims_that_can_cut(np.array([c[4] for c in mine], dtype=np.int64), limits.get(key))]
    return out


_claims = st.lists(st.tuples(st.integers(0, 5), st.sampled_from("abc"), st.sampled_from(["x", "y", "z"]),
                             st.integers(0, 30)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(claims=_claims, groups=st.integers(1, 4), data=st.data(),
       limits=st.fixed_dictionaries({"x": st.integers(0, 60), "y": st.integers(1, 200)}))
def test_claims_after_a_groups_own_limit_never_move_a_cutoff(claims, groups, data, limits):
    """Claims (some of no amount, ties in time, a key without a limit) split among groups of members: each group
    keeping only its claims up to where they alone reach a key's limit gives the same cutoffs, what was left at
    each, and the same first pass's moment before which the claims matter (`FirstPassScout`), as every claim."""
    full = [(t, m, i, key, amount) for i, (t, m, key, amount) in enumerate(claims)]
    group_of = {m: data.draw(st.integers(0, groups - 1)) for m in "abc"}
    kept = []
    for g in range(groups):
        kept += _up_to_each_limit([c for c in full if group_of[c[1]] == g], limits)
    assert find_cutoffs(limits, kept, {}) == find_cutoffs(limits, full, {})
    scouts = []
    for given_claims in (full, kept):
        scout = FirstPassScout(limits, {})
        for g in range(groups):
            scout.add([c for c in given_claims if group_of[c[1]] == g])
        scouts.append((scout.claims_only, scout.before_us))
    assert scouts[0] == scouts[1]


def test_claims_that_can_cut():
    """Up to the first claim asking more than nothing at which the claims reach the limit; all of them when they
    never do, when a key has no limit, or when an amount is negative (then nothing is assumed)."""
    assert claims_that_can_cut(np.array([3, 4, 0, 5, 1]), 7) == 2
    assert claims_that_can_cut(np.array([3, 4, 0, 5, 1]), 8) == 4
    assert claims_that_can_cut(np.array([0, 0, 2]), 0) == 3  # a claim of nothing is never a cutoff
    assert claims_that_can_cut(np.array([3, 4]), 100) == 2
    assert claims_that_can_cut(np.array([3, 4]), None) == 2
    assert claims_that_can_cut(np.array([9, -4, 3]), 5) == 3
    assert claims_that_can_cut(np.array([], dtype=np.int64), 5) == 0


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(0, 30))
def test_before_or_at_a_cutoff_is_the_claims_tuple_order(data, n):
    """Claims at tied times of members whose ids sort otherwise than their kernel order, against a cutoff's
    position (time, member id, seq) that is one of them or none of them (a member of another group of rows):
    before it and at it exactly as the tuples (time, member id, seq) compare."""
    names = data.draw(st.lists(st.text("ab1", min_size=1, max_size=3), min_size=1, max_size=5, unique=True))
    mem = np.array(data.draw(st.lists(st.integers(0, len(names) - 1), min_size=n, max_size=n)), dtype=np.int64)
    t = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    seq = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    claims = list(zip(t.tolist(), [names[m] for m in mem.tolist()], seq.tolist()))
    position = data.draw(st.sampled_from(claims) if claims and data.draw(st.booleans()) else
                         st.tuples(st.integers(0, 3), st.text("ab1", min_size=1, max_size=3), st.integers(0, 3)))
    before, here = before_or_at(SimpleNamespace(member_names=names), t, mem, seq, position)
    assert before.tolist() == [c < position for c in claims]
    assert here.tolist() == [c == position for c in claims]
