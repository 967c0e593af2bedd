"""Tiers: qualifying (upgrade at once), reviews with downgrade and grace, and a tier's benefits on a
purchase (its discount and perks; its multipliers are a source of the earning mechanic's staged points)."""

from __future__ import annotations

from typing import Optional

from loyalty.runtime.effects import Effect
from loyalty.runtime.formulas import half_even
from loyalty.runtime.mechanics.context import due
from loyalty.runtime.mechanics.fees import VectorFees, fee_end, has_fees, paid_floor, reviewed
from loyalty.runtime.mechanics.metrics import metric_value
from loyalty.runtime.mechanics.registry import ProgramMechanic
from loyalty.runtime.timeutil import add_duration, next_period_start


def tier_effect(prog, old: int, new: int, t, reason: str) -> Effect:
    tiers = prog.tiers.tiers
    decl = tiers[new] if new >= 0 else tiers[old]
    return Effect("tier_changed", t, decl.name, decl.line, decl.column, tier_from=tiers[old].name if old >= 0 else None,
                  tier_to=tiers[new].name if new >= 0 else None, reason=reason)


def start_reviews(prog, st, t) -> None:
    """A member holding a tier gets their first review at the end of the period that contains t."""
    st.next_review = next_period_start(t, prog.tiers.downgrade_period)
    due(st, st.next_review)


def tier_upgrade(prog, st, t, out) -> None:
    """The general step after an event: the tier the metric qualifies for, if higher, from now on."""
    tiers = prog.tiers
    if tiers is None:
        return
    upgrade_to(prog, st, tiers.qualified(metric_value(prog, st, tiers.metric, t)), t, out)


def upgrade_to(prog, st, q: int, t, out) -> None:
    """Tier `q` qualifies now: an upgrade if it is higher; qualifying again ends a grace period."""
    if q > st.tier:
        out.append(tier_effect(prog, st.tier, q, t, "upgrade"))
        st.tier = q
        if prog.tiers.downgrade_period and st.next_review is None:
            start_reviews(prog, st, t)
    if st.grace_until is not None and q >= st.tier:
        st.grace_until = None  # qualified again during the grace period


def tier_after_return(prog, st, t, out) -> None:
    """A return can lower the metric: the tier follows it either way at once (not below a paid tier)."""
    q = prog.tiers.qualified(metric_value(prog, st, prog.tiers.metric, t))
    if st.paid is not None:
        q = max(q, paid_floor(st, t))
    if q != st.tier:
        out.append(tier_effect(prog, st.tier, q, t, "return" if q < st.tier else "upgrade"))
        st.tier = q


def advance_tiers(prog, st, T, timed) -> None:
    """Reviews, grace periods and paid periods (mechanics/fees.py) that end up to T, into `timed` as
    (time, 2, seq, effect). At one moment a grace period ends first, then a review, then a paid period."""
    tiers = prog.tiers
    seq = 10_000
    while True:
        nr = st.next_review if st.next_review is not None and st.next_review <= T else None
        ng = st.grace_until if st.grace_until is not None and st.grace_until <= T else None
        npd = st.paid[1] if st.paid is not None and st.paid[1] <= T else None
        if npd is not None and (nr is None or npd < nr) and (ng is None or npd < ng):
            fee_end(prog, st, tiers.qualified(metric_value(prog, st, tiers.metric, npd)), timed, seq)
            seq += 1
            continue
        if nr is None and ng is None:
            return
        if ng is not None and (nr is None or ng <= nr):
            st.grace_until = None
            q = tiers.qualified(metric_value(prog, st, tiers.metric, ng))
            new = max(q, st.grace_target, paid_floor(st, ng))
            if new < st.tier:
                timed.append((ng, 2, seq, tier_effect(prog, st.tier, new, ng, "grace ended")))
                st.tier = new
            seq += 1
            continue
        E = nr
        st.next_review = next_period_start(E, tiers.downgrade_period)
        if st.tier < 0:
            continue
        target = tiers.qualified(metric_value(prog, st, tiers.metric, E, review=True))
        if st.paid is not None:
            reviewed(st, target)
            target = max(target, paid_floor(st, E))
        if target < st.tier and st.grace_until is None:
            if tiers.grace:
                st.grace_until = add_duration(E, tiers.grace[0], tiers.grace[1])
                st.grace_target = target
            else:
                timed.append((E, 2, seq, tier_effect(prog, st.tier, target, E, "review")))
                st.tier = target
        seq += 1


def tier_discount(tier, lines: list, t, order, event, out: list) -> None:
    """The tier's percentage off each working line's amount paid (line[4]); one effect for the order."""
    total = 0
    num, den = tier.discount
    for ln in lines:
        d = half_even(ln[4] * num, den * 100)
        ln[4] -= d
        total += d
    if total:
        out.append(Effect("discount_applied", t, tier.name, tier.line, tier.column, amount=total, order=order,
                          event=event))


def perks(tier, t, order, event, out: list) -> None:
    """A purchase's tier perks: rewards at no charge."""
    for name, cost in tier.perks:
        out.append(Effect("reward_issued", t, tier.name, tier.line, tier.column, reward=name, amount=0, cost=cost,
                          order=order, reason="tier perk", event=event))


def reads_tier(prog) -> bool:
    """Whether a step the kernel runs before its lockstep reads the tier a member holds at an event: a tier's
    discount, a rule's or a draw's `for tier` condition, a budget's or an earning cap's claims (the points earned at the tier)
    (the kernel then settles the tiers by passes, Kernel.run)."""
    if prog.tiers is None:
        return False
    if prog.budgets or any(t.discount is not None for t in prog.tiers.tiers):
        return True
    if any(r.limits for r in prog.rules if r.action in ("earn_per_spend", "multiplier")):
        return True  # an earning part's cap counts the points earned at the tier (limits.vector_part_caps)
    docs = list(prog.doc.get("rules", ())) + list(prog.doc.get("draws", ()))
    return any(c.get("kind") == "tiers" for d in docs for c in d.get("conditions", ()))


def guess_by_tier(prog) -> bool:
    """Whether the kernel's first guess of the tiers is worth making tier by tier (Kernel._tier_guess_by_tier):
    tiers by points earned or by spend, which a tier's discount (or a `for tier` rule) changes through the
    points each purchase earns or what it pays, so that passes from the first tier everywhere go back and
    forth."""
    tiers = prog.tiers
    return tiers is not None and prog.metrics[tiers.metric].kind in ("earned", "spend")


def tiers_alike(prog) -> list:
    """The tier states a member can hold (-1: none, where the first tier needs more than nothing), in groups
    that the kernel's state-free steps cannot tell apart: with no `for tier` condition anywhere, they read a
    tier only through its discount, so tiers with the same discount (or none) are alike. Not under budgets or
    earning parts' caps: those cut the points of the tier a run guesses only (limits.vector_limits), so each
    tier needs a run of its own."""
    tiers = prog.tiers
    states = range(min(tiers.qualified(0), 0), len(tiers.tiers))
    docs = list(prog.doc.get("rules", ())) + list(prog.doc.get("draws", ()))
    if any(c.get("kind") == "tiers" for d in docs for c in d.get("conditions", ())):
        return [[t] for t in states]
    if prog.budgets or any(r.limits for r in prog.rules if r.action in ("earn_per_spend", "multiplier")):
        return [[t] for t in states]
    groups: dict = {}
    for t in states:
        groups.setdefault(tiers.tiers[t].discount if t >= 0 else None, []).append(t)
    return list(groups.values())


def vector_tiers_at_once(kern, free_metric_of):
    """Each event's tier before it (`tier_before`), computed at once, where nothing the lockstep keeps moves
    it: a lifetime metric that only grows and is known before the lockstep (visits), no reviews, no window.
    Then `upgrade_to` after an event and `tier_after_return` both leave the tier what the metric then
    qualifies for (never above it: the metric only grows), so after each event the member holds what the
    metric qualified for at her last event that could move the tier. None where that does not hold; the
    kernel's passes confirm whatever it returns (Kernel.run). `free_metric_of()`: per event, what it adds."""
    import numpy as np

    from loyalty.runtime.arrays import segmented_cummax, segmented_cumsum

    tiers = kern.prog.tiers
    metric = kern.prog.metrics[tiers.metric] if tiers is not None else None
    if metric is None or metric.kind != "visits" or metric.window != "lifetime" or tiers.downgrade_period:
        return None
    free_metric = free_metric_of()  # `kern._free_metric`: what each event adds to the metric
    if (free_metric < 0).any():
        return None
    vt = VectorTiers(kern, np.zeros(kern.nmem, dtype=np.int64), np.zeros(kern.nmem, dtype=np.int64), free_metric)
    moves = vt.upgrades | vt.returns | kern.e_timer
    q = tiers.qualified(segmented_cumsum(free_metric, kern.e_mem, kern.m_evstart))
    pos = np.arange(kern.nev, dtype=np.int64)
    last = segmented_cummax(np.where(moves, pos + 1, 0), kern.e_mem)  # 0: none yet
    after = np.where(last > 0, q[np.maximum(last - 1, 0)], tiers.qualified(0))
    before = np.concatenate(([0], after[:-1]))
    before[kern.m_evstart] = tiers.qualified(0)
    return before


def vector_tier_discount(kern) -> None:
    """The vectorised `tier_discount`: on each running purchase's lines, the percentage off of the tier the
    member holds (`kern.tier_guess`, settled by passes), off `kern.paid` in place before the discount rules';
    per tier the discount of each event (`kern.tier_discounts`), rounded half to even per line."""
    import numpy as np

    from loyalty.runtime.arrays import Unsupported, fits, half_even

    kern.tier_discounts = {}
    tiers = kern.prog.tiers
    if tiers is None or all(t.discount is None for t in tiers.tiers):
        return
    rows = kern._r_purchase_running  # (the rows of running purchases, as every line step reads them)
    r_tier = kern.tier_guess[kern.r_ev]
    for t in tiers.tiers:
        if t.discount is None:
            continue
        num, den = t.discount
        if not fits(int(np.abs(kern.paid).max(initial=0)), num) or not fits(den, 100):
            raise Unsupported("amounts too large for 64-bit discounts")
        # (worked out on the tier's lines alone: a pass of the first guess has one tier everywhere, mostly another)
        at = np.flatnonzero(rows & (r_tier == t.index))
        if not len(at):
            kern.tier_discounts[t.index] = np.zeros(kern.nev, dtype=np.int64)
            continue
        d = np.zeros(len(kern.paid), dtype=np.int64)
        d[at] = half_even(kern.paid[at] * num, den * 100)
        kern.paid -= d
        kern.tier_discounts[t.index] = np.add.reduceat(d, kern.e_start)


class Tiers(ProgramMechanic):
    name = "tiers"

    def program_vector_reason(self, program, sim_plan) -> Optional[str]:
        t = program.tiers
        if t is None:
            return None
        return None


# ---------------------------------------------------------------- the vectorised step (simulate/vector/kernel.py)

_NONE = (1 << 63) - 1  # no review or grace period pending (int64 max as a µs moment: never due)


def ordered_thresholds(thresholds):
    """The tiers' thresholds as an int64 array where they are ints in order (each at least the one before),
    so that the last one a value meets (formulas.qualified_tier) is where the value falls among them; None
    otherwise."""
    import numpy as np

    if not thresholds or not all(type(x) is int and abs(x) < 1 << 62 for x in thresholds):
        return None
    if any(a > b for a, b in zip(thresholds, thresholds[1:])):
        return None
    return np.array(thresholds, dtype=np.int64)


class VectorTiers:
    """The tier steps above over every member in the kernel's lockstep (`kern`: the kernel, its per-event
    arrays): the metric (lifetime, a calendar or a rolling window), upgrades after an event (`upgrade_to`), a return's
    tier (`tier_after_return`), and reviews with downgrades and grace periods due before an event or at the
    end of the history (`start_reviews`, `advance_tiers`), in the scalar steps' order.

    Per member: `tier` and `value` (the metric; for a calendar window, its sum in period `period`) are the
    kernel's arrays; `next_review`, `grace_until` and `grace_target` are the state's fields. Changes at a
    review or a grace period's end are kept in `timed` (member, step, sequence, moment, from, to) for the
    report; those at events are the kernel's `tier_before`/`tier_after`."""

    def __init__(self, kern, tier, value, free_metric):
        import numpy as np

        from loyalty.runtime.arrays import (CUSTOM, PURCHASE, REFERRAL, REFERRAL_QUALIFIED, REFERRED, RETURN, SIGNUP,
                                            VISIT, duration_shift, is_one_of, period_code, period_starts)

        prog = kern.prog
        self.kern, self.tiers, self.tier, self.value = kern, prog.tiers, tier, value
        metric = prog.metrics[prog.tiers.metric]
        self.window = metric.period if metric.window == "calendar" else None
        self.downgrade = prog.tiers.downgrade_period
        nmem = kern.nmem
        # events after which the scalar plan calls `upgrade_to`: accepted, while the program runs, of a type
        # that can move the metric (a purchase, visit, signup, action or referral)
        self.upgrades = kern.e_valid & kern.e_running & is_one_of(kern.e_type, [PURCHASE, VISIT, SIGNUP, REFERRAL,
                                                                                 CUSTOM, REFERRED, REFERRAL_QUALIFIED])
        self.returns = kern.e_valid & kern.e_counted & (kern.e_type == RETURN)  # (enrolment: one not counted)
        self.free = free_metric
        if self.window is not None:
            self.period = np.full(nmem, np.iinfo(np.int64).min, dtype=np.int64)
            self.e_period = period_code(kern.e_time, self.window)
            # a return takes back what its order added, dated at the order (returns.take_back): it moves the
            # window's sum only while the order's period is the return's
            order = np.maximum(kern.ret_order_ev, 0)
            self.same_window = self.returns & (self.e_period[order] == self.e_period)
            self.free = np.where(self.returns & ~self.same_window, 0, free_metric)
        # the moments the day tables answer for (reviews, grace ends, a rolling window's start): events' moments,
        # reviews and grace ends, up to the end of the history
        t = kern.e_time
        lo = int(t.min()) if len(t) else kern.end_us
        hi = max(int(t.max(initial=lo)), kern.end_us)
        self.rolling = (metric.amount, metric.unit) if metric.window == "rolling" else None
        if self.rolling is not None:
            self._rolling_setup(lo, hi)
        self.next_review = np.full(nmem, _NONE, dtype=np.int64)
        self.grace_until = np.full(nmem, _NONE, dtype=np.int64)
        self.grace_target = np.full(nmem, -1, dtype=np.int64)
        # the next review after a moment and a grace period's end, from day tables
        if self.downgrade is not None:
            self.review_after = period_starts(self.downgrade, lo, hi)
        if self.tiers.grace:
            self.grace_end = duration_shift(self.tiers.grace[0], self.tiers.grace[1], lo, hi)
        # paid periods (mechanics/fees.py), where the history has fee rows: a floor under reviews, grace ends and
        # returns, and a timer moment of their own (their end)
        self.fees = VectorFees(kern) if has_fees(prog) and kern.e_fee_tier.max(initial=-1) >= 0 else None
        self.timed: list = []
        self.seq = 0
        # per member the first of her review, grace end and paid period's end (_NONE: none): a lockstep step
        # none of whose members has one due by her event skips `_advance` (kept by `_refresh_due` wherever one
        # of the three is written)
        self.next_due = np.full(nmem, _NONE, dtype=np.int64)
        self.sorted_thresholds = ordered_thresholds(self.tiers.thresholds)  # (`qualified`)
        self.may_grace = False  # whether a grace period was ever set (after: only then can one end at an event)
        self.by_tier = False  # `free` per tier (free_by_tier)
        self.earned = metric.kind == "earned"  # (the lockstep's earning and returns move the metric too)
        self.ahead = None  # a rolling window's metric found before the steps (`_rolling_ahead`), once looked for
        self.ahead_looked = False
        # no event adds to the metric by itself (points earned: the lockstep adds them): `after` skips adding
        self.free_none = not self.free.any()

    def free_by_tier(self, table) -> None:
        """What each event adds to the metric, per tier state (row t + 1: as if the event saw tier t), for the
        kernel's first guess of the tiers (Kernel._tier_guess_by_tier): an event takes the row of the tier the
        lockstep finds it at, a return the row of its order's (what the order paid is what it takes back)."""
        import numpy as np

        self.free = table if self.window is None else np.where(self.returns & ~self.same_window, 0, table)
        self.by_tier = True
        self.free_none = False

    def qualified(self, values):
        """formulas.qualified_tier of int64 `values` (the last tier whose threshold a value meets, -1 for
        none): with thresholds in order that is where the value falls among them, one numpy call, not three
        per tier."""
        import numpy as np

        if self.sorted_thresholds is None:
            return self.tiers.qualified(values)
        return np.searchsorted(self.sorted_thresholds, values, side="right") - 1

    def _refresh_due(self, m) -> None:
        """Members `m`'s first timer moment again, after one of their reviews, grace ends or paid periods moved."""
        import numpy as np

        due = np.minimum(self.next_review[m], self.grace_until[m])
        if self.fees is not None:
            due = np.minimum(due, self.fees.until[m])
        self.next_due[m] = due

    @property
    def in_steps(self) -> bool:
        """Whether the state is more than the lockstep's tier and metric (a window or reviews): then the
        kernel's one-by-one tail, which keeps those two in Python, runs these steps one member wide."""
        return self.window is not None or self.downgrade is not None or self.rolling is not None or \
            self.fees is not None

    def taken_back(self, ridx, taken):
        """What points clawed back at the return events `ridx` take from an earned metric (dated at the order)."""
        if self.rolling is not None:
            self._taken_at_order(ridx, taken)
        return taken if self.window is None else taken * self.same_window[ridx]

    # A rolling window: `value` is every contribution so far (each event's own, less what returns took back,
    # dated at their orders); the window's sum is that less what is dated before the window's start: the
    # events before it (their own contributions, `own_cum`, each member's running sum) less what returns
    # took back from orders before it (`dec`: member, order event, amount, in the order they were taken).
    def _rolling_setup(self, lo: int, hi: int) -> None:
        import numpy as np

        from loyalty.runtime.arrays import Unsupported, duration_shift, fits

        k = self.kern
        t = k.e_time
        self.t0 = int(t.min()) if len(t) else 0
        offsets = t - self.t0
        self.step = max(int(np.gcd.reduce(offsets)) if len(t) else 1, 1)
        self.span = int(offsets.max(initial=0)) // self.step + 3
        if not fits(k.nmem + 1, self.span):
            raise Unsupported("too many members and moments for a rolling tier window")
        self.ev_key = k.e_mem * self.span + offsets // self.step + 1  # in order: members, then time
        self.own_cum = np.zeros(k.nev + 1, dtype=np.int64)  # (and a last 0: `_before_window`)
        self.dec: list = []
        self.dec_total = np.zeros(k.nmem, dtype=np.int64)
        # scratch per member for _rolling_at (left as made: -1), so a step allocates nothing per member
        self.dec_limit = np.full(k.nmem, -1, dtype=np.int64)
        # per member, what `dec` held of hers that was dated before a window start of hers: a member's window
        # start only moves on (her events, reviews and grace ends come in time order), so it stays before every
        # later one and leaves `dec`, which then holds only what may still fall in a window (`_rolling_at`)
        self.dec_gone = np.zeros(k.nmem, dtype=np.int64)
        self.any_gone = False
        # per member the earliest order among hers in `dec` (_NONE: none): a step none of whose members' window
        # has passed it leaves `dec` as it is, without reading it through (most steps; `dec` holds thousands)
        self.dec_first = np.full(k.nmem, _NONE, dtype=np.int64)
        # a window's start from its end: every end is an event's moment, a review or a grace end (`lo`, `hi`)
        self.back = duration_shift(-self.rolling[0], self.rolling[1], lo, hi)
        self.window_start = self._window_start(k.e_mem, t, False)  # after each event: the same every pass
        self.window_prev = self._before_window(k.e_mem, self.window_start)

    def _rolling_ahead(self):
        """A rolling window's metric after each event and the tier it qualifies for, found at once for all events
        where no step's state moves it: not points earned, not per tier (the first guess), and no return taking
        anything from it (visits: a return is no visit), so `value` is each member's running sum of `free` and the
        window's sum that less the running sum before the window's first event (`_rolling_at` with no
        take-backs). Then `after` reads them instead of summing step by step. None where that does not hold."""
        import numpy as np

        from loyalty.runtime.arrays import segmented_cumsum

        k = self.kern
        if self.rolling is None or self.by_tier or self.earned or (self.free[self.returns] != 0).any():
            return None
        value_after = segmented_cumsum(self.free.astype(np.int64), k.e_mem, k.m_evstart)
        # what `after` would have written event by event (no take-backs: dec_total 0)
        self.own_cum = np.append(value_after, 0)
        before = self.own_cum[self.window_prev]
        return value_after, self.qualified(value_after - before)

    def _taken_at_order(self, ridx, amount) -> None:
        """Returns at `ridx` took `amount` back from their orders' contributions."""
        import numpy as np

        k = self.kern
        if not (isinstance(amount, np.ndarray) and isinstance(ridx, np.ndarray) and amount.shape == ridx.shape
                and amount.dtype == np.int64):  # (the lockstep's arrays as they are; the tail's ints)
            ridx = np.atleast_1d(ridx)
            amount = np.broadcast_to(np.asarray(amount, dtype=np.int64), ridx.shape)
        took = amount != 0
        if took.any():
            m = k.e_mem[ridx[took]]
            order = k.ret_order_ev[ridx[took]]
            self.dec.append((m, order, amount[took].copy()))
            np.add.at(self.dec_total, m, amount[took])
            np.minimum.at(self.dec_first, m, order)

    def _window_start(self, m, at, review: bool):
        """Each member's first event in the window ending at `at` (after its start; at a review, from it)."""
        import numpy as np

        lo = self.back(at) - self.t0
        # (np.minimum of np.maximum, not np.clip: the same ints, without clip's per-call overhead)
        if review:  # the first event at or after lo
            q = np.minimum(np.maximum(-((-lo) // self.step), -1), self.span - 2) + 1
            return np.searchsorted(self.ev_key, m * self.span + q, side="left")
        q = np.minimum(np.maximum(lo // self.step, -1), self.span - 2) + 1  # the first event after lo
        return np.searchsorted(self.ev_key, m * self.span + q, side="right")

    def _before_window(self, m, p):
        """Per member `m` whose window starts at event `p`, the event before it (`own_cum`'s index), or the
        history's length where the window starts at her first event (`own_cum`'s last entry, 0)."""
        import numpy as np

        return np.where(p > self.kern.m_evstart[m], p - 1, self.kern.nev)

    def _rolling_at(self, m, at, review: bool, p=None, prev=None, value=None):
        """metric_value over a rolling window, for members `m` at moments `at`: contributions dated in
        (at - d, at], or at a review [at - d, at); `p`, `prev`: the window's first events and `_before_window`'s,
        when known; `value`: the members' `value`, when at hand."""
        import numpy as np

        if p is None:
            p = self._window_start(m, at, review)
            prev = self._before_window(m, p)
        before = self.own_cum[prev]
        if self.dec and (self.dec_first[m] < p).any():
            dm, do, da = (np.concatenate(c) for c in zip(*self.dec)) if len(self.dec) > 1 else self.dec[0]
            self.dec = [(dm, do, da)]
            limit = self.dec_limit
            limit[m] = p
            gone = do < limit[dm]
            limit[m] = -1
            if gone.any():  # before this window start, so before every later one of hers: out of `dec` for good
                np.add.at(self.dec_gone, dm[gone], da[gone])
                self.any_gone = True
                kept = ~gone
                self.dec = [(dm[kept], do[kept], da[kept])] if kept.any() else []
                # the earliest order left of the members who lost some
                first = self.dec_first
                first[dm[gone]] = _NONE
                if self.dec:
                    dm, do, _ = self.dec[0]
                    again = first[dm] == _NONE
                    np.minimum.at(first, dm[again], do[again])
        if self.any_gone:
            before = before - self.dec_gone[m]
        return (self.value[m] if value is None else value) - before

    def before(self, mm, idx, T=None) -> None:
        """Time passes to each event `idx` of member `mm` (or to the moments T): reviews start for a member
        holding a tier, reviews and grace periods due up to then end, and a calendar window moves on."""
        k = self.kern
        at_end = T is not None
        if T is None:
            T = k.e_time[idx]
        if self.downgrade is not None:
            starts = (self.tier[mm] >= 0) & (self.next_review[mm] == _NONE)
            if not at_end:
                starts &= k.e_valid[idx]
            if starts.any():
                ms = mm[starts]
                self.next_review[ms] = self.review_after(T[starts])
                self._refresh_due(ms)
        if (self.downgrade is not None or self.fees is not None) and (self.next_due[mm] <= T).any():
            self._advance(mm, T, idx)
        if self.window is not None and not at_end:  # (only the members whose period moves: few, most steps)
            p = self.e_period[idx]
            moved = self.period[mm] != p
            if moved.any():
                mv = mm[moved]
                self.value[mv] = 0
                self.period[mv] = p[moved]

    def _metric_at(self, m, at, review: bool):
        """metrics.metric_value of members `m` at moments `at` (every contribution so far is earlier)."""
        if self.rolling is not None:
            return self._rolling_at(m, at, review)
        if self.window is None:
            return self.value[m]
        from loyalty.runtime.arrays import period_code

        code = period_code(at - 1 if review else at, self.window)
        return self.value[m] * (self.period[m] == code)

    def _advance(self, mm, T, pos) -> None:
        """advance_tiers for members `mm` up to T, one review, grace end or paid period's end per member a round."""
        import numpy as np

        tiers = self.tiers
        fees = self.fees
        # (only members something is due for can have anything due this round or the next: `next_due` is the
        # first of their timer moments, `_refresh_due`; the others' figures are not gathered)
        sel = np.flatnonzero(self.next_due[mm] <= T)
        moved = None  # the members something was due for: their next timer moment is found again at the end
        while len(sel):
            m, t = mm[sel], T[sel]
            nr, ng = self.next_review[m], self.grace_until[m]
            npd = fees.until[m] if fees is not None else nr  # (read only with fees)
            due = (nr <= t) | (ng <= t)
            if fees is not None:
                due |= npd <= t
            if not due.any():
                break
            sel, m, nr, ng = sel[due], m[due], nr[due], ng[due]
            if moved is None:
                moved = m
            t = t[due]
            ended = np.zeros(len(m), dtype=bool)
            if fees is not None:  # a paid period ends (fees.fee_end) before a review or grace end after it
                npd = npd[due]
                ended = (npd <= t) & (npd < nr) & (npd < ng)
                if ended.any():
                    me, at = m[ended], npd[ended]
                    new = fees.end(me, self.qualified(self._metric_at(me, at, False)), self.tier[me])
                    self._change(me, at, new, pos[sel[ended]] if pos is not None else None)
            grace = ~ended & (ng <= t) & ((nr > t) | (ng <= nr))
            if grace.any():  # a grace period ends: down to what the metric then meets, not below the target
                mg, at = m[grace], ng[grace]
                self.grace_until[mg] = _NONE
                new = np.maximum(self.qualified(self._metric_at(mg, at, False)), self.grace_target[mg])
                if fees is not None:
                    new = np.maximum(new, fees.floor(mg, at))
                self._change(mg, at, new, pos[sel[grace]] if pos is not None else None)
            review = ~grace & ~ended
            if review.any():
                mr, E = m[review], nr[review]
                self.next_review[mr] = self.review_after(E)
                target = self.qualified(self._metric_at(mr, E, True))
                if fees is not None:  # fees.reviewed, for a member holding a tier; then the paid floor
                    held = self.tier[mr] >= 0
                    fees.reviewed(mr[held], target[held])
                    target = np.maximum(target, fees.floor(mr, E))
                lower = (self.tier[mr] >= 0) & (target < self.tier[mr]) & (self.grace_until[mr] == _NONE)
                if lower.any():
                    ml, El, tl = mr[lower], E[lower], target[lower]
                    if tiers.grace:
                        self.grace_until[ml] = self.grace_end(El)
                        self.grace_target[ml] = tl
                        self.may_grace = True
                    else:
                        self._change(ml, El, tl, pos[sel[review][lower]] if pos is not None else None)
            self.seq += 1
        if moved is not None:
            self._refresh_due(moved)

    def _change(self, m, at, new, pos) -> None:
        """Members `m` move down to `new` at moments `at` (where lower), before event `pos` (None: at the end)."""
        import numpy as np

        down = new < self.tier[m]
        if not down.any():
            return
        m, at, new = m[down], at[down], new[down]
        where = pos[down] if pos is not None else self.kern.nev + np.zeros(len(m), dtype=np.int64)
        self.timed.append((m, where, np.full(len(m), self.seq, dtype=np.int64), at, self.tier[m].copy(), new))
        self.tier[m] = new

    def after(self, mm, idx, t_before):
        """After each event `idx` of members `mm` (holding `t_before`): the metric takes the event's part
        (its earned points are in already), and the tier is what `upgrade_to` or `tier_after_return` make it."""
        import numpy as np

        if not self.ahead_looked:
            self.ahead_looked = True
            self.ahead = self._rolling_ahead()
        back = self.returns[idx]
        any_back = back.any()  # (returns: a few steps' events; looked for once)
        if self.ahead is not None:  # the window's metric, found before the steps
            value_after, q_ahead = self.ahead
            self.value[mm] = value_after[idx]  # (what a review reads: `_metric_at`)
            q = q_ahead[idx]
        elif self.by_tier:
            row = t_before + 1
            if any_back:  # a return: its order's tier
                row = np.where(back, self.kern.tier_before[np.maximum(self.kern.ret_order_ev[idx], 0)] + 1, row)
            free = self.free[row, idx]
        elif self.free_none:  # (points earned: the lockstep adds them; a return's part is then none too)
            free = None
        else:
            free = self.free[idx]
        if self.ahead is None:
            value = self.value[mm]
            if free is not None:
                value += free
                self.value[mm] = value
            if self.rolling is not None:
                if free is not None and any_back:  # a return's part (what it took off the spend) is dated at
                    self._taken_at_order(idx[back], -free[back])  # its order
                self.own_cum[idx] = value + self.dec_total[mm]
                q = self.qualified(self._rolling_at(mm, None, False, self.window_start[idx], self.window_prev[idx],
                                                    value))
            else:
                q = self.qualified(value)
        up = self.upgrades[idx]
        raised = up & (q > t_before)
        new = np.where(raised, q, t_before)
        fees = self.fees
        if fees is None:
            if any_back:
                new = np.where(back, q, new)
        else:
            if any_back:  # tier_after_return: not below a paid tier
                new[back] = np.maximum(q[back], fees.floor(mm[back], self.kern.e_time[idx[back]]))
            paying = fees.paying[idx]
            if paying.any():  # fees.pay_fee: the paid tier if higher; paying during a grace period ends it
                mp, ip, tb = mm[paying], idx[paying], t_before[paying]
                new[paying] = fees.pay(mp, ip, tb)
                raised = raised.copy()
                raised[paying] = new[paying] > tb
                ends = self.grace_until[mp] != _NONE
                ends &= self.kern.e_fee_tier[ip] >= tb
                self.grace_until[mp[ends]] = _NONE
                self._refresh_due(mp)
        self.tier[mm] = new
        if self.downgrade is not None:
            starts = raised & (self.next_review[mm] == _NONE)
            if starts.any():
                ms = mm[starts]
                self.next_review[ms] = self.review_after(self.kern.e_time[idx[starts]])
                self._refresh_due(ms)
            if self.may_grace:  # (no grace period was ever set: none to end)
                ends = up & (self.grace_until[mm] != _NONE) & (q >= new)  # qualified again during the grace period
                if ends.any():
                    me = mm[ends]
                    self.grace_until[me] = _NONE
                    self._refresh_due(me)
        return new

    def at_end(self) -> None:
        """The end of the history (the scalar replay's last tick): reviews start, and what is due ends."""
        import numpy as np

        if self.downgrade is None and self.fees is None:
            return
        mm = np.arange(self.kern.nmem)
        self.before(mm, None, np.full(len(mm), self.kern.end_us, dtype=np.int64))

    def changes(self):
        """The timed changes as arrays (member, event position, sequence, moment, from, to); empty when none."""
        import numpy as np

        if not self.timed:
            return tuple(np.zeros(0, dtype=np.int64) for _ in range(6))
        return tuple(np.concatenate([c[i] for c in self.timed]) for i in range(6))
