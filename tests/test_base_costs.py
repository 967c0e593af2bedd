"""The kernel frame's cheaper formulations (issue 12, base costs) against the plain numpy they replace."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.runtime.arrays import distinct_sums
from loyalty.simulate.measures import _in_member_blocks

keys_and_values = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(st.one_of(st.integers(-5, 40), st.integers(-(1 << 40), 1 << 40)), min_size=n, max_size=n),
    st.lists(st.one_of(st.integers(-1000, 1000), st.integers(-(1 << 50), 1 << 50)), min_size=n, max_size=n)))


@settings(max_examples=200, deadline=None)
@given(keys_and_values)
def test_distinct_sums_is_unique_then_summed(kv):
    keys, values = np.array(kv[0], dtype=np.int64), np.array(kv[1], dtype=np.int64)
    uniq, counts = np.unique(keys, return_counts=True)
    got_keys, got_counts = distinct_sums(keys)
    assert got_keys.tolist() == uniq.tolist() and got_counts.tolist() == counts.tolist()
    got_keys, got_sums = distinct_sums(keys, values)
    expected = {}
    for k, v in zip(kv[0], kv[1]):
        expected[k] = expected.get(k, 0) + v  # Python ints: exact
    assert got_keys.tolist() == sorted(expected)
    assert got_sums.tolist() == [expected[k] for k in sorted(expected)]


def test_distinct_sums_of_nothing():
    keys, sums = distinct_sums(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert len(keys) == 0 and len(sums) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.lists(st.integers(0, 5), min_size=1, max_size=6)),
                min_size=1, max_size=10))
def test_in_member_blocks_exactly_when_each_member_is_one_block_in_time_order(blocks):
    """The customer measures read orders unsorted exactly when each member's are one block in time order (the
    runs a sort by member and time would make, in another order of members)."""
    member = np.array([m for m, times in blocks for _ in times], dtype=np.int64)
    time = np.array([t for _, times in blocks for t in times], dtype=np.int64)
    runs = [(m, list(times)) for m, times in blocks]
    merged = []  # neighbouring blocks of one member are one block
    for m, times in runs:
        if merged and merged[-1][0] == m:
            merged[-1][1].extend(times)
        else:
            merged.append((m, times))
    one_block_each = len({m for m, _ in merged}) == len(merged)
    in_order = all(times == sorted(times) for _, times in merged)
    assert _in_member_blocks(member, time) == (one_block_each and in_order)


# ------------------------------------------------------------------ tiers settled apart (kernel._settle_apart)

from hypothesis import HealthCheck  # noqa: E402

from test_vector_kernel import PROGRAMS, _history, _plan, _program  # noqa: E402

from loyalty.runtime.mechanics.tiers import reads_tier  # noqa: E402
from loyalty.simulate.engine import simulate  # noqa: E402
from loyalty.simulate.vector import kernel as vector_kernel  # noqa: E402
from loyalty.simulate.vector import simulate_vector  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), members=st.integers(2, 14), max_events=st.sampled_from([3, 12, 40]),
       which=st.sampled_from(["TIER_BENEFITS", "bookstore"]), share=st.sampled_from([0.5, 1.0]))
def test_members_whose_tiers_settled_replayed_apart_give_the_same_result(tmp_path_factory, monkeypatch, seed, members,
                                                                         max_events, which, share):
    """A program whose steps read the tier (a tier's discount): members the first pass guessed right are
    replayed apart from the ones still settling (with share 1.0, whenever any did). The result is the one of
    every member taking every pass, and the scalar plan's."""
    name = which if which in PROGRAMS else f"examples/programs/{which}.loyalty"
    path, prog = _program(tmp_path_factory, name)
    assert reads_tier(prog)
    history = _history(prog, seed, members, max_events)
    plan = _plan(path, prog, history, seed)
    with monkeypatch.context() as patch:  # (undone after each example: hypothesis reuses the fixture)
        patch.setattr(vector_kernel, "SETTLE_APART_SHARE", share)
        patch.setattr(vector_kernel, "SETTLE_APART_AFTER", 0)  # (apart from the first pass on: the split is tested)
        patch.setattr(vector_kernel, "guess_by_tier", lambda prog: False)  # (from the first tier: passes)
        apart = simulate_vector(plan, history)
    with monkeypatch.context() as patch:
        patch.setattr(vector_kernel._Kernel, "_settle_apart", lambda self, figures=True: None)
        patch.setattr(vector_kernel, "guess_by_tier", lambda prog: False)
        together = simulate_vector(plan, history)
    assert apart.canonical() == together.canonical()
    assert apart.canonical() == simulate(plan, history).canonical()


def test_a_history_whose_members_settle_apart(tmp_path_factory, monkeypatch):
    """Bookstore members of whom some reach a tier: the first pass's wrong guesses are theirs only, they settle
    apart (the split happens: the property above is not vacuous), and the result is unchanged. (From the
    first tier everywhere: the tier-by-tier first guess, tiers.guess_by_tier, leaves none to settle here.)"""
    path, prog = _program(tmp_path_factory, "examples/programs/bookstore.loyalty")
    splits = []
    original = vector_kernel._Kernel._settle_apart

    def counted(self, figures=True):
        out = original(self, figures)
        splits.append(out is not None)
        return out

    monkeypatch.setattr(vector_kernel._Kernel, "_settle_apart", counted)
    monkeypatch.setattr(vector_kernel, "SETTLE_APART_AFTER", 0)
    monkeypatch.setattr(vector_kernel, "guess_by_tier", lambda prog: False)
    history = _history(prog, 3, 14, 40)
    plan = _plan(path, prog, history, 3)
    apart = simulate_vector(plan, history)
    assert any(splits)
    assert apart.canonical() == simulate(plan, history).canonical()


def test_the_members_a_pass_got_right_take_one_pass_apart(tmp_path_factory, monkeypatch):
    """What `_settle_apart` rests on, and what taking the members a pass got right from that pass (instead of
    replaying them apart) would rest on: members are independent within a pass (no referrals; a budget's known
    cutoffs decide each claim from the member's own claims alone), so the kernel of the members a pass guessed
    right, from the same guess, finds exactly those tiers in its first pass, which is its last. With budgets
    too (TIER_BUDGETS, solved by passes: the later passes start from the tiers the last one settled on)."""
    from test_vector_kernel import _vector_solved

    original_run, original_replay = vector_kernel._Kernel.run, vector_kernel._Kernel._replay
    original_apart, original_claims_apart = vector_kernel._Kernel._settle_apart, vector_kernel._Kernel._claims_apart
    next_is_settled = []  # set by a split: the first part it runs is the members the pass got right (_settle_apart)
    settled_parts = []  # per split, that part's members, passes, and whether its first found the tiers it was given

    def replay(self):
        original_replay(self)
        seen = self.__dict__.get("seen")  # (the part's record, set by `run`)
        if seen is not None:
            seen.setdefault("exact", bool(np.array_equal(self.tier_before, self.tier_guess)))
            seen["passes"] += 1
            seen["recorded"] = self.lockstep_record is not None  # (its pass is the last: no record, _replay)

    def run(self, tier_guess=None):
        seen = None
        if tier_guess is not None and next_is_settled:
            seen = self.__dict__["seen"] = {"members": self.nmem, "passes": 0}
        next_is_settled.clear()
        out = original_run(self, tier_guess)  # (a kernel that splits clears its attributes: `seen` kept here)
        if seen is not None:
            settled_parts.append(seen)
        return out

    def apart(self, figures=True):
        next_is_settled.append(True)
        try:
            return original_apart(self, figures)
        finally:
            next_is_settled.clear()

    def claims_apart(self, unsettled):  # (its kernel is of the members still settling: not the property's part)
        next_is_settled.clear()
        try:
            return original_claims_apart(self, unsettled)
        finally:
            next_is_settled.append(True)

    monkeypatch.setattr(vector_kernel._Kernel, "run", run)
    monkeypatch.setattr(vector_kernel._Kernel, "_replay", replay)
    monkeypatch.setattr(vector_kernel._Kernel, "_settle_apart", apart)
    monkeypatch.setattr(vector_kernel._Kernel, "_claims_apart", claims_apart)
    monkeypatch.setattr(vector_kernel, "SETTLE_APART_SHARE", 1.0)  # (apart whenever any member is settling)
    monkeypatch.setattr(vector_kernel, "SETTLE_APART_AFTER", 0)
    monkeypatch.setattr(vector_kernel, "guess_by_tier", lambda prog: False)  # (from the first tier: passes)
    for which in ("TIER_BENEFITS", "examples/programs/bookstore.loyalty", "TIER_BUDGETS"):
        path, prog = _program(tmp_path_factory, which)
        for seed in range(4):
            history = _history(prog, seed, 14, 40)
            plan = _plan(path, prog, history, seed)
            assert _vector_solved(plan, history).canonical() == simulate(plan, history).canonical()
    assert settled_parts  # (splits happened: the property is not vacuous)
    assert all(seen["passes"] == 1 and seen["exact"] and not seen["recorded"] for seen in settled_parts), settled_parts


def test_a_first_budget_pass_takes_the_claims_of_the_members_it_got_right(tmp_path_factory, monkeypatch):
    """A first budget pass that cannot be the last (its settled members' claims make a budget run out) wants
    only claims: those of the members a pass got right are that pass's, and the others go on in a kernel of
    their own (`_Kernel._claims_apart`), not every member again. The budgets' passes give the scalar plan's
    result (which they would not if the claims put together missed or changed one: the cutoffs would move)."""
    from test_vector_kernel import _vector_solved

    from loyalty.simulate.budgets import find_cutoffs

    taken = []
    original = vector_kernel._Kernel._claims_apart

    def counted(self, unsettled):
        out = original(self, unsettled)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(vector_kernel._Kernel, "_claims_apart", counted)
    monkeypatch.setattr(vector_kernel, "guess_by_tier", lambda prog: False)  # (from the first tier: passes)
    monkeypatch.setattr(vector_kernel, "SETTLE_APART_SHARE", 1.0)  # (apart whenever any member is settling)
    path, prog = _program(tmp_path_factory, "TIER_BUDGETS")
    for covered in (True, False):  # (False: the settled members' claims from a kernel of theirs)
        for seed in range(8):
            history = _history(prog, seed, 14, 40)
            plan = _plan(path, prog, history, seed)
            with monkeypatch.context() as patch:
                if not covered:
                    patch.setattr(vector_kernel, "claims_cover_the_cutoffs", lambda *args: False)
                assert _vector_solved(plan, history).canonical() == simulate(plan, history).canonical(), seed
                split = find_cutoffs(prog.budgets, simulate_vector(plan, history, known={}).claims, {})
            # the first pass's cutoffs, from its claims, are those of the pass with no member apart
            with monkeypatch.context() as patch:
                patch.setattr(vector_kernel._Kernel, "_claims_apart", lambda self, unsettled: None)
                whole = find_cutoffs(prog.budgets, simulate_vector(plan, history, known={}).claims, {})
            assert split == whole, seed
        assert any(taken)
        taken.clear()


def test_a_wrong_guess_taken_as_the_tiers_found_still_settles(tmp_path_factory, monkeypatch):
    """A settled part's lockstep (as tiers computed at once) reads each event's points at the tier guessed alone
    (`_Kernel.tiers_found`). Were that guess wrong, the first event it is wrong at is found from points read
    right, and the next pass reads them at every tier: the result cannot change. Forced here: every kernel's
    first guess, the first tier everywhere, taken as found."""
    original_run = vector_kernel._Kernel.run
    wrong = []

    def run(self, tier_guess=None):
        if tier_guess is None:
            tier_guess = self.tiers_found = np.full(self.nev, self.prog.tiers.qualified(0), dtype=np.int64)
        out_guess = tier_guess
        try:
            return original_run(self, tier_guess)
        finally:
            if self.__dict__.get("tier_guess") is not None and self.tier_guess is not out_guess:
                wrong.append(True)  # (a pass after the first: the guess was wrong)

    monkeypatch.setattr(vector_kernel._Kernel, "run", run)
    for which in ("TIER_BENEFITS", "examples/programs/bookstore.loyalty"):
        path, prog = _program(tmp_path_factory, which)
        for seed in range(4):
            history = _history(prog, seed, 14, 40)
            plan = _plan(path, prog, history, seed)
            assert simulate_vector(plan, history).canonical() == simulate(plan, history).canonical(), (which, seed)
    assert wrong


def test_a_later_budget_pass_makes_no_lockstep_record(tmp_path_factory, monkeypatch):
    """A budget pass after the first starts from the tiers the last one settled on, and the members a cutoff
    moved settle apart at once (`_Kernel.run`, `splits_at_once`): no pass of all its members follows its first,
    so that pass records nothing for one to reuse (every_mechanic at 1M rows: 5 records, none read). The result
    is the scalar plan's."""
    from loyalty.simulate.budgets import solve_budgets

    original_run, original_recorded = vector_kernel._Kernel.run, vector_kernel.recorded
    later, wasted = [], []

    def run(self, tier_guess=None):
        if tier_guess is None and self.first_known:  # (a later pass's kernel of a range, not a split's part)
            self.__dict__["later_pass"] = True
            later.append(True)
        return original_run(self, tier_guess)

    def recorded(kern, lockstep):
        if kern.__dict__.get("later_pass"):
            wasted.append(kern.nmem)
        return original_recorded(kern, lockstep)

    monkeypatch.setattr(vector_kernel._Kernel, "run", run)
    monkeypatch.setattr(vector_kernel, "recorded", recorded)
    path, prog = _program(tmp_path_factory, "TIER_BUDGETS")
    for seed in range(4):
        history = _history(prog, seed, 14, 40)
        plan = _plan(path, prog, history, seed)
        warm: dict = {}  # (kept across the passes, as simulate/parallel.py keeps it per range)
        solved = solve_budgets(prog.budgets, lambda known: simulate_vector(plan, history, known=known, warm=warm))
        assert solved.canonical() == simulate(plan, history).canonical(), seed
    assert later  # (later passes ran: not vacuous)
    assert not wasted


def test_claims_put_together_cover_the_cutoffs():
    """budgets.claims_cover_the_cutoffs: the parent's claims of a key stop where they reached its limit (at
    time 5 here); claims put together that reach it by then hold every claim the cutoff needs, those that reach
    it only later (or never) may miss one of the parent's members after time 5."""
    from loyalty.simulate.budgets import claims_cover_the_cutoffs

    limits = {"k": 10}
    parent = [(1, "a", 0, "k", 4), (5, "b", 0, "k", 6)]  # (reached at b's claim: any later ones not kept)
    assert claims_cover_the_cutoffs(limits, parent, [(1, "a", 0, "k", 4), (3, "c", 0, "k", 6)])
    assert not claims_cover_the_cutoffs(limits, parent, [(1, "a", 0, "k", 4), (3, "c", 0, "k", 2)])
    assert not claims_cover_the_cutoffs(limits, parent, [(1, "a", 0, "k", 4), (6, "c", 0, "k", 6)])
    assert claims_cover_the_cutoffs(limits, [(1, "a", 0, "k", 4)], [(1, "a", 0, "k", 1)])  # (nothing cut)
    assert not claims_cover_the_cutoffs(limits, parent, [(1, "a", 0, "k", 12), (2, "c", 0, "k", -1)])


def test_tiers_computed_at_once_make_no_lockstep_record(tmp_path_factory, monkeypatch):
    """grocery_club's tiers by lifetime visits are computed before the lockstep reads them
    (tiers.vector_tiers_at_once): that pass is the last, so it records nothing for a next one to reuse."""
    path, prog = _program(tmp_path_factory, "examples/programs/grocery_club.loyalty")
    at_once, records = [], []
    original_at_once, original_recorded = vector_kernel.vector_tiers_at_once, vector_kernel.recorded

    def tiers_at_once(kern, free_metric_of):
        tiers = original_at_once(kern, free_metric_of)
        at_once.append(tiers is not None)
        return tiers

    def recorded(kern, lockstep):
        records.append(kern)
        return original_recorded(kern, lockstep)

    monkeypatch.setattr(vector_kernel, "vector_tiers_at_once", tiers_at_once)
    monkeypatch.setattr(vector_kernel, "recorded", recorded)
    for seed in range(3):
        history = _history(prog, seed, 10, 30)
        plan = _plan(path, prog, history, seed)
        assert simulate_vector(plan, history).canonical() == simulate(plan, history).canonical()
    assert at_once and all(at_once)
    assert not records


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "é", "", "order 7"])), min_size=0, max_size=30),
       st.integers(0, 30), st.integers(0, 30))
def test_a_few_rows_of_a_long_dictionary_read_as_the_texts_they_hold(values, start, length):
    """A slice of a dictionary column (a group's rows share the whole history's dictionary) as a list: the values
    of its rows, None where null, whether the dictionary is longer than the slice or not."""
    import pyarrow as pa

    from loyalty.simulate.history import _pylist

    column = pa.array(values, pa.string()).dictionary_encode()
    part = column.slice(min(start, len(values)), length)
    assert _pylist(part) == values[min(start, len(values)):][:length]
    assert _pylist(pa.chunked_array([part, part], part.type)) == 2 * values[min(start, len(values)):][:length]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(1_600_000_000_000_000, 1_900_000_000_000_000), min_size=1, max_size=5),
                min_size=1, max_size=40), st.booleans())
def test_moments_in_earning_order_packed_or_ranked(segments, huge):
    """The running max of each member's moments, whether (member, moment) packs into an int64 (µs moments of
    a few decades: a cummax, no sort) or not (moments spread over millennia: by ranks)."""
    from loyalty.runtime.arrays import moments_in_earning_order, segment_ids

    if huge:
        segments = [[v * 4000 if i % 2 else -v * 4000 for i, v in enumerate(s)] for s in segments]
    moments = np.array([v for s in segments for v in s], dtype=np.int64)
    seg = segment_ids(np.cumsum([0] + [len(s) for s in segments[:-1]]), len(moments))
    assert moments_in_earning_order(moments, seg).tolist() == [max(s[:i + 1]) for s in segments for i in range(len(s))]
