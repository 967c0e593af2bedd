"""The lockstep's returns take back all slots of their orders at once (points.vector_claw_pending_slots,
vector_claw_pending_only_slots), as the slots one after the other did (vector_claw_pending,
vector_claw_pending_only): on generated pending streams, the same figures and the same takes. Under `balance
stops at zero` the available points the slots take leave in one spend (points.vector_spend of their sum), as
one spend per slot did."""

import numpy as np
from hypothesis import given, settings, strategies as st

from loyalty.runtime.mechanics.points import (vector_claw_pending, vector_claw_pending_only,
                                              vector_claw_pending_only_slots, vector_claw_pending_slots,
                                              vector_spend)


def _stream(seed: int):
    """A pending kind's lockstep state at a step where every member returns an order: members' events up to the
    return (the last), each with `nr` slots of points, purchases' waiting; the first `f` events matured."""
    rng = np.random.default_rng(seed)
    nmem = int(rng.integers(1, 6))
    nr = int(rng.integers(1, 5))
    counts = rng.integers(2, 7, size=nmem)
    m_evstart = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    nev = int(counts.sum())
    pts = rng.integers(0, 6, size=(nev, nr)) * (rng.random((nev, nr)) < 0.7)
    pend_ev = rng.random(nev) < 0.7
    cum = np.zeros(nev * nr, dtype=np.int64)
    cumP = np.zeros(nev, dtype=np.int64)
    mfront = np.zeros(nev, dtype=np.int64)
    CT, CP, MP = (np.zeros(nmem, dtype=np.int64) for _ in range(3))
    mm = np.arange(nmem)
    order_ev, ret_ev = np.zeros(nmem, dtype=np.int64), np.zeros(nmem, dtype=np.int64)
    waiting = np.zeros(nmem, dtype=bool)
    for m in range(nmem):
        s, n = int(m_evstart[m]), int(counts[m])
        flat = pts[s:s + n].reshape(-1)
        cum[s * nr:(s + n) * nr] = np.cumsum(flat)
        cumP[s:s + n] = np.cumsum(np.where(pend_ev[s:s + n], pts[s:s + n].sum(axis=1), 0))
        f = int(rng.integers(0, n))  # events matured before the return: [s, s + f)
        mfront[s:s + n] = s + f
        ret = s + n - 1
        ret_ev[m] = ret
        order_ev[m] = s + int(rng.integers(0, n - 1))
        waiting[m] = order_ev[m] >= s + f and pend_ev[order_ev[m]]
        CT[m] = cum[(ret + 1) * nr - 1]
        CP[m] = cumP[ret]
        MP[m] = cumP[s + f - 1] if f else 0
    state = {"nr": nr, "cum": cum, "cumP": cumP, "pend_ev": pend_ev, "mfront": mfront, "CT": CT, "CP": CP,
             "MP": MP}
    slots = np.flatnonzero(rng.random(nr) < 0.8)
    if not len(slots):
        slots = np.array([nr - 1])
    # asked of each slot: mostly what the order's slot earned or less, sometimes more (an order taken before)
    own = pts[order_ev][:, slots]
    asked = np.minimum(rng.integers(0, 8, size=own.shape), np.where(rng.random(own.shape) < 0.8, own, 99))
    return state, nr, slots.astype(np.int64), mm, order_ev, ret_ev, asked.astype(np.int64), waiting, m_evstart


def _copy(state):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_pending_only_slots_at_once_as_one_by_one(seed):
    state, nr, slots, mm, order_ev, ret_ev, asked, waiting, m_evstart = _stream(seed)
    one = _copy(state)
    taken_one = np.stack([vector_claw_pending_only(one, nr, int(j), mm, order_ev, ret_ev, asked[:, a], waiting,
                                                   m_evstart) for a, j in enumerate(slots)], axis=1)
    once = _copy(state)
    taken_once = vector_claw_pending_only_slots(once, nr, slots, mm, order_ev, ret_ev, asked, waiting, m_evstart)
    assert np.array_equal(taken_once, taken_one)
    _same(once, one)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_waiting_slots_at_once_as_one_by_one(seed):
    state, nr, slots, mm, order_ev, ret_ev, asked, waiting, m_evstart = _stream(seed)
    one = _copy(state)
    for a, j in enumerate(slots):
        vector_claw_pending(one, nr, int(j), mm, order_ev, ret_ev, asked[:, a])
    once = _copy(state)
    vector_claw_pending_slots(once, nr, slots, mm, order_ev, ret_ev, asked)
    _same(once, one)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_spends_one_after_another_as_their_sum(seed):
    """Two spends of available points one after the other leave the stream as one spend of both (what the
    kernel's lockstep relies on to spend a return's slots' takes at once): the front, the holes, CT."""
    state, nr, _slots, mm, _order_ev, ret_ev, _asked, _waiting, m_evstart = _stream(seed)
    rng = np.random.default_rng(seed)
    state["X"] = rng.integers(0, 4, size=len(mm))  # consumed from the front already
    state["ptr"] = np.zeros(len(ret_ev), dtype=np.int64)  # (vector_spend reads only that the kind expires)
    first, second = rng.integers(0, 12, size=(2, len(mm)))
    apart = _copy(state)
    vector_spend(apart, nr, mm, ret_ev, first, m_evstart)
    vector_spend(apart, nr, mm, ret_ev, second, m_evstart)
    once = _copy(state)
    vector_spend(once, nr, mm, ret_ev, first + second, m_evstart)
    _same(once, apart)


def test_each_way_is_taken():
    """The generated streams reach the three ways of `vector_claw_pending_only_slots`: an order waiting and
    holding what is asked, one no longer waiting, one waiting and holding less than asked."""
    ways = set()
    for seed in range(300):
        state, nr, slots, mm, order_ev, ret_ev, asked, waiting, m_evstart = _stream(seed)
        oslots = order_ev[:, None] * nr + slots
        held = state["cum"][oslots] - np.where(oslots > (m_evstart * nr)[:, None],
                                                state["cum"][np.maximum(oslots - 1, 0)], 0)
        short = (asked > held).any(axis=1)
        ways |= {"own"} if (waiting & ~short).any() else set()
        ways |= {"gone"} if (~waiting & (asked.sum(axis=1) > 0) & (state["CP"] > state["MP"])).any() else set()
        ways |= {"short"} if (waiting & short).any() else set()
    assert ways == {"own", "gone", "short"}
