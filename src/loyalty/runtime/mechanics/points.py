"""A member's points: crediting (with pending and expiry), spending oldest first, clawing back, and
what time does to them (pending points mature, batches expire, inactivity empties the balance).

`credit` is the general step every earning mechanic calls; `credit_simple` and `expire_only` are
its specialised variants, chosen at plan time for a point kind whose points are available at once
with no expiry or a fixed one (`KindPlan.simple`) and for a program whose only timers are expiry after
earning; the differential tests hold them equal to the general steps."""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.mechanics.context import due
from loyalty.runtime.mechanics.metrics import add_metric, add_to, metric_slots
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.state import NONE_YET, queue_popped
from loyalty.runtime.timeutil import add_duration, next_period_start

_tuple_new = tuple.__new__  # an Effect built in one step (a named tuple)
_MAX_TIME = _dt.datetime.max
_MAX_DELTA_DAYS = _dt.timedelta.max.days  # a longer expiry is add_duration's (NEVER: it never comes)


class KindPlan:
    """A point kind's crediting, precomputed: how its expiry moment is found, the metrics it feeds."""

    __slots__ = ("index", "kind", "simple", "expiry_delta", "earned_metrics", "one_lifetime")

    def __init__(self, prog, kind):
        self.index = kind.index
        self.kind = kind
        self.expiry_delta: Optional[_dt.timedelta] = None
        if kind.expiry == "after_earning" and kind.expiry_unit in ("day", "week") and \
                kind.expiry_amount * (1 if kind.expiry_unit == "day" else 7) <= _MAX_DELTA_DAYS:
            # add_duration for days and weeks is a timedelta
            self.expiry_delta = _dt.timedelta(days=kind.expiry_amount) if kind.expiry_unit == "day" else \
                _dt.timedelta(weeks=kind.expiry_amount)
        # credit_simple's case: points available at once, no expiry or a fixed duration after earning
        self.simple = not kind.pending and (kind.expiry is None or self.expiry_delta is not None)
        self.earned_metrics = metric_slots(prog, "earned", kind.index)
        self.one_lifetime = len(self.earned_metrics) == 1 and self.earned_metrics[0][1]


# ---------------------------------------------------------------- in


def credit(prog, st, k: int, pts: int, t, order, ev, r, out) -> None:
    """The general step: `pts` points of kind k, from rule (or multiplier source) r, at moment t."""
    kind = prog.kinds[k]
    ks = st.kinds[k]
    expires = None
    if kind.expiry == "after_earning":
        expires = add_duration(t, kind.expiry_amount, kind.expiry_unit)
    elif kind.expiry == "period_end":
        expires = next_period_start(t, kind.expiry_period)
        if kind.expiry_next:
            expires = next_period_start(expires, kind.expiry_period)
    rule_index = r.index if r is not None else -1
    oid = ev.order if order is not None else None
    if kind.pending and order is not None:  # only purchases wait: a return can take their points back
        avail = add_duration(t, kind.pending[0], kind.pending[1])
        ks.add(t, avail, expires, pts, oid, rule_index)
        due(st, avail)
        pending = True
    else:
        pay = min(ks.debt, pts)
        ks.debt -= pay
        if pts - pay > 0:
            ks.add(t, None, expires, pts - pay, oid, rule_index)
        pending = False
    if expires is not None:
        due(st, expires)
    ks.earned += pts
    if order is not None and r is not None:
        if order.points is NONE_YET:
            order.points = {}
        order.points[r.index] = order.points.get(r.index, 0) + pts
    add_metric(prog, st, "earned", k, t, pts)
    out.append(Effect("points_earned", t, r.name if r else None, r.line if r else 0, r.column if r else 0,
                      point_kind=kind.name, points=pts, pending=pending, order=oid, event=ev.id))


def credit_simple(st, kp: KindPlan, src, pts: int, t, ev, out, order) -> None:
    """`credit` of a purchase's points for a kind whose points are available at once, with no expiry or a
    fixed time after earning (`KindPlan.simple`)."""
    ks = st.kinds[kp.index]
    pay = ks.debt
    if pay:
        pay = min(pay, pts)
        ks.debt -= pay
    delta = kp.expiry_delta
    try:
        expires = t + delta if delta is not None else None
    except OverflowError:  # past the calendar's end: never (timeutil.NEVER)
        expires = _MAX_TIME
    if pts - pay > 0:
        ks.add(t, None, expires, pts - pay, ev.order, src.index)
    if expires is not None:
        due(st, expires)
    ks.earned += pts
    if order.points is NONE_YET:
        order.points = {}
    order.points[src.index] = order.points.get(src.index, 0) + pts
    if kp.earned_metrics:
        add_to(st, kp.earned_metrics, t, pts)
    out.append(_tuple_new(Effect, ("points_earned", t, src.name, src.line, src.column, kp.kind.name, pts, None,
                                   None, None, None, None, False, None, ev.order, None, None, None, None, ev.id)))


# ---------------------------------------------------------------- out


def spend_oldest(ks, amount: int, pending: bool, order: Optional[str] = None, rule: Optional[int] = None) -> int:
    """Take up to `amount` from available (or pending) batches, oldest first; returns what was taken.
    Batches are replaced, never changed (state copies share them); the scan stops once `amount` is taken.
    The list is the state's own: a partly taken batch is replaced in its slot, emptied ones are removed
    (from the front by moving the head; elsewhere by `del`, a memmove), so batches that do not match
    (another order's, pending ones) are only looked at, never copied."""
    if pending and not ks.maturing:
        return 0  # no pending batch: each has an entry in the maturing queue until it matures
    taken = 0
    batches = ks.own()
    emptied = []
    head = i = ks.head
    n = ks.n
    while i < n and taken < amount:
        b = batches[i]
        if (b.available_at is not None) == pending and (order is None or b.order == order) and (
                rule is None or b.rule == rule):
            take = min(b.amount, amount - taken)
            taken += take
            if take < b.amount:
                batches[i] = b.with_amount(b.amount - take)
            else:
                emptied.append(i)
        i += 1
    if taken:
        if emptied:
            if emptied[0] == head and emptied[-1] == head + len(emptied) - 1:  # the oldest: the usual case
                ks.drop_front(head + len(emptied))
            else:
                for j in reversed(emptied):
                    del batches[j]
                ks.n -= len(emptied)
        if pending:
            ks.pend_sum -= taken
        else:
            ks.avail_sum -= taken
    return taken


def claw(prog, st, r, amount: int, ev, out) -> None:
    """A return takes back `amount` of the points rule (or source) r gave for the order: its pending points
    first, then by the kind's balance policy (negative | zero | pending only)."""
    kind = prog.kinds[r.point_kind]
    ks = st.kinds[r.point_kind]
    t = ev.time
    from_pending = spend_oldest(ks, amount, True, order=ev.order, rule=r.index)
    if from_pending:
        out.append(Effect("points_clawed_back", t, r.name, r.line, r.column, point_kind=kind.name, points=from_pending,
                          pending=True, order=ev.order, event=ev.id))
    rest = amount - from_pending
    truncated = 0
    taken = 0
    if rest > 0:
        if kind.policy == "negative":
            taken = spend_oldest(ks, rest, False)
            ks.debt += rest - taken
            taken = rest
        elif kind.policy == "zero":
            taken = spend_oldest(ks, rest, False)
            truncated = rest - taken
        else:  # pending only
            taken = spend_oldest(ks, rest, True)
            truncated = rest - taken
        if taken or truncated:
            out.append(Effect("points_clawed_back", t, r.name, r.line, r.column, point_kind=kind.name, points=taken,
                              pending=kind.policy == "pending_only", truncated=truncated or None, order=ev.order,
                              event=ev.id))
    clawed = from_pending + taken
    ks.clawed += clawed
    if clawed:
        add_metric(prog, st, "earned", r.point_kind, st.order(ev.order).time, -clawed)


# ---------------------------------------------------------------- time


def advance_kind(kind, ks, T, timed) -> None:
    """What is due up to T for one kind, into `timed` as (time, order, seq, effect): at one moment maturing
    first, then expiry (a batch that matures and expires at once expires). Effects get `seq` in list order
    within a moment, as a scan of the batches in order would."""
    seq = len(timed)
    heap = ks.maturing
    if heap and heap.first()[0] <= T:
        heap = ks.maturing = heap.copy()  # shared by state copies (KindState.copy): replaced, never changed in place
        ks.own()  # batches are replaced in their slots below
        due_now = []
        while heap and heap.first()[0] <= T:
            _, bseq = heap.pop()
            i = ks.index_of(bseq)
            if i >= 0 and ks.batches[i].available_at is not None:
                due_now.append(i)
        if due_now:
            due_now.sort()  # debt is paid in list order
            batches = ks.batches
            gone = []
            for i in due_now:
                b = batches[i]
                at = b.available_at
                pay = min(ks.debt, b.amount)
                ks.debt -= pay
                timed.append((at, 0, seq, Effect("points_available", at, kind.name, kind.line, kind.column,
                                                 point_kind=kind.name, points=b.amount, order=b.order)))
                seq += 1
                ks.pend_sum -= b.amount
                ks.avail_sum += b.amount - pay
                if b.amount - pay > 0:
                    batches[i] = b._replace(available_at=None, amount=b.amount - pay)
                else:
                    gone.append(i)
            if gone:
                drop = set(gone)
                ks.replace_live([batches[j] for j in range(ks.head, ks.n) if j not in drop])
    if ks.exp_n > ks.exp_head and ks.exp_items[ks.exp_head][0] <= T:
        gone = set()
        batches = ks.batches
        while ks.exp_n > ks.exp_head and ks.exp_items[ks.exp_head][0] <= T:
            at, bseq = ks.pop_expiry()
            i = ks.index_of(bseq)
            if i < 0:
                continue
            b = batches[i]
            gone.add(i)
            ks.expired += b.amount
            if b.available_at is None:
                ks.avail_sum -= b.amount
            else:
                ks.pend_sum -= b.amount
            timed.append((at, 1, seq, Effect("points_expired", at, kind.name, kind.line, kind.column,
                                             point_kind=kind.name, points=b.amount)))
            seq += 1
        if gone:
            if min(gone) == ks.head and max(gone) == ks.head + len(gone) - 1:  # the usual case: the oldest
                ks.drop_front(ks.head + len(gone))
            else:
                ks.replace_live([batches[j] for j in range(ks.head, ks.n) if j not in gone])
    d = ks.inactivity_deadline
    if d is not None and d <= T:
        total = 0
        keep = []
        for b in ks.live():
            if b.available_at is None and b.earned_at <= d:
                total += b.amount
            else:
                keep.append(b)
        ks.replace_live(keep)
        ks.avail_sum -= total
        ks.inactivity_deadline = None
        if total:
            ks.expired += total
            timed.append((d, 1, seq, Effect("points_expired", d, kind.name, kind.line, kind.column,
                                            point_kind=kind.name, points=total, reason="inactivity")))


def expire_only(kinds_plan: tuple, st, T, out) -> bool:
    """The timers up to T (st.clock < T, st.due <= T) of a program whose only timers are expiry after earning:
    batches whose moment has come expire, oldest first. The expiry queue is read in place (the entries
    `TimerQueue.pop` would give, in its order), and a batch due is found at the front of the list (expiry in
    earning order, the usual case) before `KindState.index_of` searches for it. False (nothing done) when
    the state holds other timers (a state from another program): the caller then runs the general step."""
    kinds = st.kinds
    if st.next_review is not None or st.grace_until is not None or st.paid is not None:
        return False
    for ks in kinds:
        if ks.maturing or ks.inactivity_deadline is not None:
            return False
    several = len(kinds_plan) > 1
    timed = []  # (time, order, seq, effect), as advance_kind makes them, with several kinds
    seq = 0
    for kp in kinds_plan:
        ks = kinds[kp.index]
        items = ks.exp_items
        h = ks.exp_head
        qn = ks.exp_n
        if h >= qn or items[h][0] > T:
            continue
        kind = kp.kind
        name, line, column = kind.name, kind.line, kind.column
        batches = ks.batches
        head = ks.head
        n = ks.n
        gone = []  # list positions of the batches that expired, in the order they did
        front = True  # ... which are head, head + 1, ...: they leave from the front
        while h < qn:
            at, bseq = items[h]
            if at > T:
                break
            h += 1
            i = head + len(gone)
            if i >= n or batches[i].seq != bseq:
                i = ks.index_of(bseq)
                if i < 0:  # stale: the batch is gone
                    continue
                front = False
            b = batches[i]
            gone.append(i)
            amount = b.amount
            ks.expired += amount
            if b.available_at is None:
                ks.avail_sum -= amount
            else:
                ks.pend_sum -= amount
            effect = _tuple_new(Effect, ("points_expired", at, name, line, column, name, amount, None, None,
                                         None, None, None, None, None, None, None, None, None, None, None))
            if several:
                timed.append((at, 1, seq, effect))
                seq += 1
            else:
                out.append(effect)
        # the entries read are popped (and let go of, as KindState.pop_expiry does)
        ks.exp_items, ks.exp_head, ks.exp_n = queue_popped(items, h, qn)
        if gone:
            if front:  # the usual case: the oldest
                ks.drop_front(head + len(gone))
            else:
                drop = set(gone)
                ks.replace_live([batches[j] for j in range(head, n) if j not in drop])
    if timed:
        timed.sort(key=lambda e: (e[0], e[1], e[2]))
        out.extend(e[3] for e in timed)
    # next_due: the earliest expiry left (no other timer in this program)
    best = _MAX_TIME
    for ks in kinds:
        if ks.exp_n > ks.exp_head:
            first = ks.exp_items[ks.exp_head][0]
            if first < best:
                best = first
    st.due = best
    return True


def start_inactivity(kinds: tuple, st, t) -> None:
    """A purchase restarts the inactivity clock of every kind that expires after inactivity."""
    for kind in kinds:
        ks = st.kinds[kind.index]
        ks.inactivity_deadline = add_duration(t, kind.expiry_amount, kind.expiry_unit)
        due(st, ks.inactivity_deadline)


# ---------------------------------------------------------------- the vectorised steps
# The kernel (simulate/vector/kernel.py) keeps a point kind per member as numbers over the member's stream of
# earning slots in earning order: CT the points credited, X the points consumed from the front (spent, expired,
# clawed back, or owed: X > the available part is a debt). With pending points the stream's purchase slots wait:
# CP is what purchases credited, MP what of that has matured (purchases mature in earning order: one duration
# after each), so the pending points are CP - MP and `available` is `KindState.available`. A return while its
# order's points wait takes them from that order's own batch (`claw`'s first step): a hole in the stream, so
# the running sums after it (`cum` per slot, `cumP` per event) are lowered from the order's slot on.


def vector_expiry_moments(kind, us):
    """`credit`'s expiry moment of points of `kind` earned at each of `us` (µs, int64): a duration after
    earning, or the start of the period after the earning's (of the one after that for `next`); None for a
    kind without either."""
    from loyalty.runtime.arrays import add_duration, next_period_start

    if kind.expiry == "after_earning":
        return add_duration(us, kind.expiry_amount, kind.expiry_unit)
    if kind.expiry == "period_end":
        out = next_period_start(us, kind.expiry_period)
        return next_period_start(out, kind.expiry_period) if kind.expiry_next else out
    return None


def vector_expiry_holes(st, e_mem, e_time, own, exp_ev, end_us: int, ranks) -> None:
    """Batches that expire before batches earned before them (`N months` clamps the day to the month's end and
    keeps the time of day: 31 January 10:00 + 1 month is 29 February 10:00, 30 January 11:00 + 1 month is
    29 February 11:00). The kernel's stream expires from its front in earning order, at `exp_ev` (each
    batch's moment moved to the latest before it); where one of the member's events, or the end of the
    history, falls between a batch's own moment and the moved one, the batch expires there as a hole
    (`expire_out_of_order`), as the scalar plan's `advance_kind` expires it at its own moment. Sets, when
    there are such: `holes_at` (event -> the batches, in earning order, expiring as holes before it),
    `hole_here` (per event), `end_holes` ((member, batch) pairs at the end) and `hole` (per batch, the points
    it expired as a hole)."""
    import numpy as np

    from loyalty.runtime.arrays import Unsupported, fits

    early = np.flatnonzero(own < exp_ev)  # `own`: each batch's own moment (vector_expiry_moments)
    if not len(early):
        return
    nev = len(e_time)
    # (member, moment) packed into one sortable int64: the moments as they are where they fit (no sort), else
    # as ranks
    lo = min(int(e_time.min()), int(own[early].min()))
    span = max(int(e_time.max()), int(own[early].max())) - lo + 1
    if fits(int(e_mem[-1]) + 1, span):
        ev_key, own_key = e_mem * span + (e_time - lo), e_mem[early] * span + (own[early] - lo)
    else:
        inv, nt = ranks(np.concatenate((e_time, own[early])))
        if not fits(int(e_mem[-1]) + 1, nt):
            raise Unsupported("too many members and moments to pack")
        ev_key, own_key = e_mem * nt + inv[:nev], e_mem[early] * nt + inv[nev:]
    j = np.searchsorted(ev_key, own_key, side="left")  # the first event at or after it
    jj = np.minimum(j, nev - 1)
    at_event = (j < nev) & (e_mem[jj] == e_mem[early]) & (e_time[jj] < exp_ev[early])
    at_end = ~at_event & (own[early] <= end_us) & (end_us < exp_ev[early])
    if not (at_event.any() or at_end.any()):
        return
    holes_at: dict = {}
    for b, e in zip(early[at_event].tolist(), j[at_event].tolist()):
        holes_at.setdefault(e, []).append(b)  # `early` ascends: each list in earning order
    st["holes_at"] = holes_at
    st["hole_here"] = np.zeros(nev, dtype=bool)
    st["hole_here"][j[at_event]] = True
    st["end_holes"] = list(zip(e_mem[early[at_end]].tolist(), early[at_end].tolist()))
    st["hole"] = np.zeros(nev, dtype=np.int64)


def expire_out_of_order(cum, first: int, b: int, upto: int, nr: int, consumed: int) -> int:
    """What is left of batch `b` (its slots [b * nr, b * nr + nr) of `cum`, a numpy array or a list whose
    member's slots start at `first`) expires at its own moment, before batches earned before it: its slots drop
    to what was consumed (`consumed`: X) or earned before it, every later slot up to `upto` drops by the same
    amount; returns the amount (the kind's CT drops by it). Spending and expiry from the front then pass over
    the hole (vector_expiry_holes)."""
    lo, hi = b * nr, b * nr + nr
    base = max(consumed, int(cum[lo - 1]) if lo > first else 0)
    gone = max(int(cum[hi - 1]) - base, 0)
    if gone:
        for s in range(lo, hi):
            if cum[s] > base:
                cum[s] = base
        for s in range(hi, upto):
            cum[s] -= gone
    return gone


def vector_pending_setup(st, e_mem, e_time, e_purchase, avail_ev, end_us: int, ranks, expiry_ev=None,
                         passes=None) -> None:
    """State of a pending kind for the lockstep. `avail_ev`: per event, the moment its purchase points become
    available (`credit`: the event's time plus the pending duration, never before an earlier event's:
    arrays.moments_in_earning_order); `expiry_ev`, with expiry after earning or at a period's end: the moment
    they expire (in earning order too). A batch stops waiting at the first of the two (`advance_kind`: one that
    expires first never matures); both come in earning order, so those no longer waiting are a prefix of the
    member's purchases. `ranks(moments)`: order-preserving small ints and their bound, so (member, moment)
    packs into one sortable int64. `passes`: per event, whether time passes at it (default: every event); not
    at a refused one (the scalar plan refuses before time passes: `Plan.apply_event`)."""
    import numpy as np

    from loyalty.runtime.arrays import Unsupported, fits

    nev = len(e_time)
    nmem = int(e_mem[-1]) + 1 if nev else 0
    st["avail_ev"] = avail_ev
    st["pend_ev"] = e_purchase
    st["matures"] = e_purchase if expiry_ev is None else e_purchase & (avail_ev <= expiry_ev)
    if expiry_ev is not None:  # (a batch that matures and expires at once matures first)
        avail_ev = np.minimum(avail_ev, expiry_ev)
    st["wait_end"] = avail_ev
    st["cumP"] = np.zeros(nev, dtype=np.int64)
    st["CP"] = np.zeros(nmem, dtype=np.int64)
    st["MP"] = np.zeros(nmem, dtype=np.int64)
    inv, nt = ranks(np.concatenate((e_time, avail_ev, [end_us])))
    if not fits(nmem + 1, nt + 1):
        raise Unsupported("too many members and moments to pack")
    t_key = e_mem * nt + inv[:nev]
    v_key = e_mem * nt + inv[nev:2 * nev]  # sorted: `avail_ev` is in earning order
    # per event, how many events (of the whole stream, so the member's own first) have matured before it:
    # advance_kind matures a batch whose moment is at or before the event's
    st["mfront"] = np.minimum(np.searchsorted(v_key, t_key, side="right"), np.arange(nev))
    early = np.flatnonzero(st["matures"] != e_purchase)  # purchases whose points expire before they are available
    if len(early):
        # time passes at the member's accepted events (and the history's end), maturing first, then expiring,
        # whatever their moments: such a batch matures too (a points_available, then expired at its earlier
        # moment) when the first time passes after its expiry is at or after its moment to mature
        n = np.searchsorted(t_key, v_key[early], side="left")  # the first event at or after its expiry
        if passes is not None and not passes.all():  # the first there that time passes at (nev: none)
            place = np.where(np.append(passes, True), np.arange(nev + 1), nev)
            n = np.minimum.accumulate(place[::-1])[::-1][n]
        at = np.minimum(n, nev - 1)
        seen = np.where((n < nev) & (e_mem[at] == e_mem[early]) & (e_time[at] >= st["wait_end"][early]),
                        e_time[at], end_us)
        st["matures"] = st["matures"].copy()
        st["matures"][early] = seen >= st["avail_ev"][early]
    st["mfront_end"] = np.searchsorted(v_key, np.arange(nmem) * nt + inv[-1], side="right")


def vector_available(st, mm):
    """The members' available balance (`KindState.available`): credited, less consumed, less pending."""
    avail = st["CT"][mm] - st["X"][mm]
    if "CP" in st:
        avail -= st["CP"][mm] - st["MP"][mm]
    return avail


def vector_mature(st, mm, idx, first) -> None:
    """Time passes (`advance_kind`'s first part): the purchases whose moment has come before the events `idx`
    are available; what they hold is the running purchase sum at the last of them. `first`: the members' first
    events (m_evstart[mm])."""
    import numpy as np

    f = st["mfront"][idx]
    has = f > first
    st["MP"][mm] = np.where(has, st["cumP"][np.maximum(f - 1, 0)], 0)


def vector_pending_credit(st, mm, idx, event_points) -> None:
    """After the lockstep's earning: a purchase's points wait (`credit` with an order), others are available."""
    import numpy as np

    credited = st["CP"][mm] + np.where(st["pend_ev"][idx], event_points, 0)
    st["CP"][mm] = credited
    st["cumP"][idx] = credited


def vector_waiting(st, order_ev, t):
    """Per return, whether its order's points still wait at the return's moment `t` (so `claw` takes them from
    the order's own batch: all of a return's share, since nothing else touches a pending batch)."""
    return st["wait_end"][order_ev] > t


def vector_claw_pending(st, nr: int, j: int, mm, order_ev, ret_ev, amount) -> None:
    """`claw`'s first step for the members `mm`: `amount` leaves slot j of their order `order_ev`, still
    waiting, at their return `ret_ev`: a hole in the stream from that slot to the return's."""
    st["CT"][mm] -= amount
    st["CP"][mm] -= amount
    _lower_ranges(st["cum"], order_ev * nr + j, (ret_ev + 1) * nr, amount)
    _lower_ranges(st["cumP"], order_ev, ret_ev + 1, amount)


def vector_claw_pending_only(st, nr: int, j: int, mm, order_ev, ret_ev, amount, waiting, m_evstart):
    """`claw` under `returns take from pending only`, for the members `mm` at their returns `ret_ev`: `amount`
    leaves slot j of their order `order_ev` while it waits (as far as that batch still holds: an earlier
    return may have taken from it), then the rest leaves the member's pending batches oldest first (the
    purchases not matured yet, in earning order), as far as they hold; what none holds is truncated. Each
    take is a hole in the stream. Returns what was taken per return."""
    import numpy as np

    if "CP" not in st:  # no pending points: nothing to take from
        return np.zeros_like(amount)
    some = np.flatnonzero(amount > 0)
    if len(some) < len(amount):  # only returns that take anything (the others: 0)
        out = np.zeros_like(amount)
        if len(some):
            out[some] = vector_claw_pending_only(st, nr, j, mm[some], order_ev[some], ret_ev[some], amount[some],
                                                 waiting[some], m_evstart)
        return out
    cum = st["cum"]
    oslot = order_ev * nr + j
    first_slot = m_evstart[mm] * nr
    held = cum[oslot] - np.where(oslot > first_slot, cum[np.maximum(oslot - 1, 0)], 0)
    own = np.where(waiting, np.minimum(amount, held), 0)
    if own.any():
        vector_claw_pending(st, nr, j, mm, order_ev, ret_ev, own)
    rest = np.minimum(amount - own, st["CP"][mm] - st["MP"][mm])
    go = rest > 0
    if go.any():
        _take_pending_oldest(st, nr, mm[go], ret_ev[go], rest[go], m_evstart)
    return own + np.maximum(rest, 0)


def _take_pending_oldest(st, nr: int, mm, ret_ev, amount, m_evstart) -> None:
    """`amount` (> 0, at most what waits) leaves the pending batches of the members `mm` oldest first, at their
    returns `ret_ev`: holes in the stream. Two takes one after the other are one take of their sum (each takes
    from the front of what the last left)."""
    import numpy as np

    cum, cumP = st["cum"], st["cumP"]
    base = st["MP"][mm]  # what has matured: the pending points start after it in the stream
    start = m_evstart[mm]
    lo = np.maximum(st["mfront"][ret_ev], start)  # the member's first event not matured
    # per event of each range [lo, ret], and per slot of those events: the pending sum through the slot
    k, e, ks, s, pend_slot = _range_slots(lo, ret_ev, start, nr, cum, cumP, st["pend_ev"])
    after = cumP[e]
    cum[s] -= np.minimum(np.maximum(pend_slot - base[ks], 0), amount[ks])
    cumP[e] = after - np.minimum(np.maximum(after - base[k], 0), amount[k])
    st["CT"][mm] -= amount
    st["CP"][mm] -= amount


def vector_claw_pending_slots(st, nr: int, slots, mm, order_ev, ret_ev, amounts) -> None:
    """`vector_claw_pending` for several slots at once (`slots` ascending, `amounts`: returns x slots): one
    slot's hole lowers the stream from that slot on, so the order's own slots drop by what the slots up to
    each gave, and every later slot up to the return's by the whole."""
    import numpy as np

    total = amounts.sum(axis=1)
    st["CT"][mm] -= total
    st["CP"][mm] -= total
    row = np.zeros((len(mm), nr), dtype=np.int64)
    row[:, slots] = amounts
    own = (order_ev[:, None] * nr + np.arange(nr)).reshape(-1)  # (each return's order its own: no repeats)
    st["cum"][own] -= np.cumsum(row, axis=1).reshape(-1)
    _lower_ranges(st["cum"], (order_ev + 1) * nr, (ret_ev + 1) * nr, total)
    _lower_ranges(st["cumP"], order_ev, ret_ev + 1, total)


def vector_claw_pending_only_slots(st, nr: int, slots, mm, order_ev, ret_ev, amounts, waiting, m_evstart):
    """`vector_claw_pending_only` for several slots of the same returns at once (`slots` ascending,
    `amounts`: returns x slots, each >= 0), as one after the other: returns the taken per return and slot.
    A return whose order waits and holds what each slot asks takes from the order's own batch alone
    (`vector_claw_pending_slots`); one whose order no longer waits takes from the pending batches oldest
    first, each slot what the slots before it left (`_take_pending_oldest`, once for their sum); any other
    (an order's slot holding less than asked: the rest may come out of its own later slots) slot by slot."""
    import numpy as np

    out = np.zeros_like(amounts)
    if "CP" not in st:  # no pending points: nothing to take from
        return out
    cum = st["cum"]
    oslots = order_ev[:, None] * nr + slots
    first_slot = (m_evstart[mm] * nr)[:, None]
    held = cum[oslots] - np.where(oslots > first_slot, cum[np.maximum(oslots - 1, 0)], 0)
    short = waiting & (amounts > held).any(axis=1)
    for a in range(len(slots)) if short.any() else ():
        out[short, a] = vector_claw_pending_only(st, nr, int(slots[a]), mm[short], order_ev[short], ret_ev[short],
                                                 amounts[short, a], waiting[short], m_evstart)
    own = waiting & ~short
    if own.any():
        vector_claw_pending_slots(st, nr, slots, mm[own], order_ev[own], ret_ev[own], amounts[own])
        out[own] = amounts[own]
    gone = ~waiting
    if gone.any():
        mg = mm[gone]
        asked = amounts[gone]
        left = st["CP"][mg] - st["MP"][mg]  # what waits, less what the slots before took
        rest = np.empty_like(asked)
        for a in range(len(slots)):
            rest[:, a] = np.minimum(asked[:, a], left)
            left = left - np.maximum(rest[:, a], 0)
        rest = np.maximum(rest, 0)
        total = rest.sum(axis=1)
        go = total > 0
        if go.any():
            _take_pending_oldest(st, nr, mg[go], ret_ev[gone][go], total[go], m_evstart)
        out[gone] = rest
    return out


def claw_pending_only_one(cum: list, cumP: list, pend_ev: list, nr: int, j: int, o: int, i: int, f: int,
                          amount: int, waiting: bool, matured: int, credited: int) -> int:
    """`vector_claw_pending_only` for one member, on her figures as lists (the kernel's one-by-one tail):
    positions relative to her first event (o: the order's, i: the return's, f: the first not matured);
    `matured`, `credited`: MP and CP. Lowers `cum` and `cumP`; returns what was taken (CT and CP drop by it)."""
    oslot = o * nr + j
    own = 0
    if waiting:
        own = min(amount, cum[oslot] - (cum[oslot - 1] if oslot > 0 else 0))
        if own > 0:
            for s in range(oslot, (i + 1) * nr):
                cum[s] -= own
            for e in range(o, i + 1):
                cumP[e] -= own
        own = max(own, 0)
    rest = min(amount - own, credited - own - matured)
    if rest <= 0:
        return own
    prev_p = cumP[f - 1] if f > 0 else 0  # before the holes below (they start at f)
    prev_c = cum[f * nr - 1] if f > 0 else 0
    for e in range(f, i + 1):
        waits = pend_ev[e]
        for s in range(e * nr, e * nr + nr):
            c = cum[s]
            pc = prev_p + (c - prev_c if waits else 0)
            cum[s] = c - min(max(pc - matured, 0), rest)
            last_c = c
        p = cumP[e]
        cumP[e] = p - min(max(p - matured, 0), rest)
        prev_p, prev_c = p, last_c
    return own + rest


def vector_spend(st, nr: int, mm, idx, amount, m_evstart) -> None:
    """`spend_oldest` of available points (a redemption; a return's rest under `balance stops at zero`) for
    the members `mm` at their events `idx`. Without pending points, or without expiry (where which batch is
    spent changes nothing later), the points leave the front of the stream (X). With both, points credited at
    once may sit behind a purchase's that still wait (the scalar spends them, not the waiting ones): the
    stream before the first event still waiting (`mfront`: all of it available) is spent from its front, and
    the rest from the slots of the waiting part that are available (not a purchase's), in earning order, each
    take a hole in the stream (`cum` lowered from that slot on, CT by what was taken), as a return's take from
    a waiting batch is. What expires later is then what the scalar's batches still hold."""
    import numpy as np

    X = st["X"]
    if "CP" not in st or "ptr" not in st:
        X[mm] += amount
        return
    cum, cumP = st["cum"], st["cumP"]
    start = m_evstart[mm]
    f = np.maximum(st["mfront"][idx], start)  # the member's first event whose purchase points still wait
    front = np.where(f > start, cum[np.maximum(f * nr - 1, 0)], 0) - X[mm]
    a = np.minimum(amount, np.maximum(front, 0))
    X[mm] += a
    rest = amount - a
    go = rest > 0
    if not go.any():
        return
    mg, rg, eg, lo, sg = mm[go], rest[go], idx[go], f[go], start[go]
    base_c = np.where(lo > sg, cum[np.maximum(lo * nr - 1, 0)], 0)
    base_p = np.where(lo > sg, cumP[np.maximum(lo - 1, 0)], 0)
    # per slot of the events [lo, idx]: what the slots credited at once hold through it, from lo
    _k, _e, ks, s, pend_slot = _range_slots(lo, eg, sg, nr, cum, cumP, st["pend_ev"])
    at_once = (cum[s] - base_c[ks]) - (pend_slot - base_p[ks])
    cum[s] -= np.minimum(np.maximum(at_once, 0), rg[ks])
    st["CT"][mg] -= rg


def spend_one(cum: list, cumP: list, pend_ev: list, nr: int, f: int, i: int, consumed: int, amount: int):
    """`vector_spend` for one member on her figures as lists (the kernel's one-by-one tail): positions relative
    to her first event (f: the first still waiting, i: the event); `consumed`: X. Lowers `cum` for the holes;
    returns X's new value and what the holes took (CT drops by it)."""
    front = (cum[f * nr - 1] if f > 0 else 0) - consumed
    a = min(amount, max(front, 0))
    rest = amount - a
    if rest <= 0:
        return consumed + a, 0
    base_c = cum[f * nr - 1] if f > 0 else 0
    base_p = cumP[f - 1] if f > 0 else 0
    prev_p, prev_c = base_p, base_c  # before the holes below (they start at f)
    for e in range(f, i + 1):
        waits = pend_ev[e]
        for s in range(e * nr, e * nr + nr):
            c = cum[s]
            pc = prev_p + (c - prev_c if waits else 0)
            cum[s] = c - min(max((c - base_c) - (pc - base_p), 0), rest)
            last_c = c
        prev_p, prev_c = cumP[e], last_c
    return consumed + a, rest


def _lower_ranges(a, lo, hi, by) -> None:
    """a[lo[i]:hi[i]] -= by[i] for each i (ranges of different members: disjoint)."""
    import numpy as np

    lengths = hi - lo
    total = int(lengths.sum())
    if not total:
        return
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    a[starts + np.arange(total)] -= np.repeat(by, lengths)


def vector_matured(st, e_mem, m_evstart, end_us: int):
    """Per event, the points of its purchase that matured by the end of the history (`points_available`
    effects, at the event's `avail_ev`): what its batches held then, after the holes returns made."""
    import numpy as np

    cumP = st["cumP"]
    prev = np.concatenate(([0], cumP[:-1]))
    prev[m_evstart] = 0
    held = cumP - prev
    return np.where(st["matures"] & (st["avail_ev"] <= end_us), held, 0)


def vector_inactivity_setup(st, deadline_ev, restarts, nmem: int) -> None:
    """State of a kind that expires after inactivity: per event, the deadline a running purchase starts
    (`start_inactivity`: its time plus the duration), and per member the one running (-1: none)."""
    import numpy as np

    st["dl_ev"] = np.where(restarts, deadline_ev, -1)
    st["DL"] = np.full(nmem, -1, dtype=np.int64)
    nev = len(deadline_ev)
    st["inact_amt"] = np.zeros(nev, dtype=np.int64)  # what expired before each event, at ...
    st["inact_at"] = np.zeros(nev, dtype=np.int64)  # ... the deadline that passed
    st["inact_end"] = np.zeros(nmem, dtype=np.int64)  # what expired by the end of the history, at ...
    st["inact_end_at"] = np.zeros(nmem, dtype=np.int64)


def vector_inactivity(st, mm, idx, t) -> None:
    """Time passes (`advance_kind`'s last part, after pending points matured): a deadline at or before the
    events' moments `t` takes every available point (none when the balance is owed), and the clock stops
    until the next purchase."""
    import numpy as np

    DL = st["DL"]
    dl = DL[mm]
    due = (dl >= 0) & (dl <= t)
    if not due.any():
        return
    mh, ih = mm[due], idx[due]
    amount = np.maximum(vector_available(st, mh), 0)
    st["X"][mh] += amount
    st["inact_amt"][ih] = amount
    st["inact_at"][ih] = dl[due]
    DL[mh] = -1


def vector_inactivity_restart(st, mm, idx) -> None:
    """A running purchase restarts the clock (`start_inactivity`)."""
    import numpy as np

    dl = st["dl_ev"][idx]
    st["DL"][mm] = np.where(dl >= 0, dl, st["DL"][mm])


def vector_inactivity_end(st, end_us: int, m_evstart) -> None:
    """The end of the history: pending points due by then mature, then a deadline passed takes the rest."""
    import numpy as np

    members = np.arange(len(st["DL"]))
    if "CP" in st:
        f = st["mfront_end"]
        has = f > m_evstart
        st["MP"][:] = np.where(has, st["cumP"][np.maximum(f - 1, 0)], 0)
    DL = st["DL"]
    due = (DL >= 0) & (DL <= end_us)
    amount = np.where(due, np.maximum(vector_available(st, members), 0), 0)
    st["X"] += amount
    st["inact_end"] = amount
    st["inact_end_at"] = np.where(due, DL, 0)


class PointsOverTime(ProgramMechanic):
    """Pending points and expiry: the kernel runs pending points, expiry after earning, at a period's end (both
    in earning order, `vector_expiry_moments`) and after inactivity."""

    name = "points over time"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        for k in program.kinds:
            if k.expiry not in (None, "after_earning", "inactivity", "period_end"):
                return f"expiry {k.expiry!r} of {k.name!r} is not vectorised yet"
        return None


def _range_slots(lo, last, first, nr: int, cum, cumP, pend_ev):
    """Each event of the ranges [lo, last] (one per member, `first` her first event) and each of its `nr` slots:
    the range of each event (`k`) and the event (`e`); per slot, its range (`ks`), its index in the stream
    (`s`) and the pending points through it (a purchase's slots wait, the others do not)."""
    import numpy as np

    n_ev = last + 1 - lo
    k = np.repeat(np.arange(len(lo)), n_ev)
    e = np.repeat(lo - np.concatenate(([0], np.cumsum(n_ev)[:-1])), n_ev) + np.arange(int(n_ev.sum()))
    before_p = np.where(e > first[k], cumP[np.maximum(e - 1, 0)], 0)
    ks = np.repeat(k, nr)
    es = np.repeat(e, nr)
    s = (e[:, None] * nr + np.arange(nr)).reshape(-1)  # (each event's slots in a row; np.tile costs more)
    cum_before = np.where(es > first[ks], cum[np.maximum(es * nr - 1, 0)], 0)
    pend_slot = np.repeat(before_p, nr) + np.where(pend_ev[es], cum[s] - cum_before, 0)
    return k, e, ks, s, pend_slot
