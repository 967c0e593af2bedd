"""The vectorised kernel: every member replayed in lockstep with numpy, the same `SimResult` as the scalar one.

Plan (docs/performance.md, "The vectorised kernel"):

1. The history's columns become numpy arrays; rows group into events exactly as
   `orders.EventBuilder` groups them. Members the kernel cannot take (irregular
   grouping, explicit event ids, more events than `heavy_threshold` if one is set) go to the
   scalar evaluator and their result is merged (`SimResult.merge` is exact).
2. Everything that does not depend on a member's state is computed for all events
   at once: returns are validated and their shares worked out (a short Python pass
   over return events only), punch cards are segmented prefix sums and running
   maxima, the amount paid per line follows, and each earn rule's points for each
   order are tabulated for every tier the member could hold. The last two are the
   mechanics' own vector steps (`runtime/mechanics/punch.py` `vector_discounts`,
   `earn.py` `vector_points`), beside their scalar steps.
3. What does depend on state (tier -> points -> tier metric -> tier, FIFO expiry and
   clawback) runs in lockstep: step k processes the k-th event of every member that
   has one. Points batches are the earning slots (event, rule) in time order, so FIFO
   state per member is one number: X, the points consumed (expired, clawed back) from
   the front of the member's stream; the stream's prefix sums say the rest.
4. Effects are aggregated into the result's cells with integer group sums, keys
   created exactly where the scalar accumulator creates them.
"""

from __future__ import annotations

import collections
import datetime as _dt
import functools
from decimal import Decimal
from typing import Any, Optional

import numpy as np
from loyalty.simulate.result import KEY_SEP, region_of

from loyalty.runtime.arrays import (ADDED, ADJUSTMENT, CUSTOM, FEE, PURCHASE, REDEMPTION, REFERRAL_QUALIFIED,  # noqa: F401
                                    REFERRED, RETURN, TIMER, TYPES, VISIT,  # (the codes)
                                    INT_LIMIT, Unsupported, fits, half_even, moments_in_earning_order, segment_ids,
                                    segmented_cumsum, segmented_cummax)
from loyalty.runtime.arrays import add_duration as _add_duration
from loyalty.runtime.arrays import distinct_inverse, distinct_sums, is_one_of, row_any, row_sums
from loyalty.runtime.formulas import half_even as half_even_int
from loyalty.runtime.mechanics.context import balance_conditions, reads_lifetime_spend, reads_measure
from loyalty.runtime.mechanics.codes import vector_codes
from loyalty.runtime.mechanics.discount import vector_discount_rules
from loyalty.runtime.mechanics.draws import vector_entries
from loyalty.runtime.mechanics.earn import is_vector_staged, vector_points
from loyalty.runtime.mechanics.enrolment import vector_enrolment
from loyalty.runtime.mechanics.give import vector_gives
from loyalty.runtime.mechanics.limits import vector_limits
from loyalty.runtime.mechanics.moments import TIER_REACHED, YEARLY, vector_tier_reached, vector_yearly
from loyalty.runtime.mechanics.offers import segment_next, vector_offer_fates
from loyalty.runtime.mechanics.stock import vector_stock
from loyalty.runtime.mechanics.points import (claw_pending_only_one, vector_available,
                                              vector_claw_pending_only_slots, vector_claw_pending_slots,
                                              vector_expiry_moments,
                                              vector_inactivity,
                                              vector_inactivity_end, vector_inactivity_restart,
                                              vector_inactivity_setup, vector_matured, vector_mature,
                                              vector_pending_credit, vector_pending_setup, vector_spend,
                                              vector_waiting, spend_one, vector_expiry_holes,
                                              expire_out_of_order)
from loyalty.runtime.mechanics.punch import vector_discounts
from loyalty.runtime.mechanics.referral import vector_qualified
from loyalty.runtime.mechanics.redeem import simulated_redemptions, vector_redeem, vector_redeemers
from loyalty.runtime.mechanics.returns import vector_outside_window, vector_taken_back
from loyalty.runtime.mechanics.tiers import (VectorTiers, guess_by_tier, reads_tier, tiers_alike,
                                             vector_tier_discount, vector_tiers_at_once)
from loyalty.runtime.mechanics.triggers import MEMBER_VECTOR_TRIGGERS
from loyalty.runtime.mechanics.winback import (POINT_TIMERS, TRIGGER as TIMER_LAPSE, vector_all_lapses,
                                               vector_firing_events, vector_lapses)
from loyalty.runtime.plan import plan_of
from loyalty.runtime.program import Draw
from loyalty.simulate.budgets import claims_cover_the_cutoffs, first_pass_not_last
from loyalty.simulate.result import MemberRow, SimResult, draw_candidates, draw_key_values
from loyalty.simulate.scenario import members_redeem
from loyalty.simulate.vector.lockstep_inputs import READ_ONLY_TYPES, recorded, reuse, same_inputs
from loyalty.simulate.vector.support import supports

# members with more events than this run on the scalar plan (None: none, by size). Since the lockstep's last
# members finish one by one, the kernel is faster for busy members too (docs/performance.md, "Skewed
# histories"): 1M rows, every member in the kernel against those over 2,000 events on the scalar plan,
# 0.89 s against 1.73 s (even), 2.75 s against 11.0 s (skewed); the parameter stays for tests
HEAVY_THRESHOLD: Optional[int] = None
# when fewer members than this are left in the lockstep, they finish one by one in Python (measured:
# docs/performance.md, "Third session")
TAIL_MEMBERS = 32
# ... and when the tier step keeps more than the tier and the metric (a calendar window, reviews), which the
# one-by-one tail runs one member wide with numpy: there it pays only for the last few members (kernel CPU
# s at 100k rows of a coffee_stars variant, tail 0 / 4 / 32: even history 0.26 / 0.28 / 0.32, skewed
# (--skew 1.2) 1.21 / 0.77 / 0.92)
TAIL_MEMBERS_TIERS = 4
# ... and a tail member with at least this many events left finishes in runs of events with numpy
# (_finish_in_runs) where the program allows it: on a skewed history the tail holds half the events
# (docs/performance.md, "Skewed histories: the tail in runs")
RUN_MIN_EVENTS = 64
# Tiers that steps read settle by passes (_Kernel.run): when after the first pass at most this share of the
# members is still settling, they go on apart from the others (_settle_apart)
SETTLE_APART_AFTER = 1  # passes that must not have settled before members settle apart (run)
SETTLE_APART_SHARE = 0.5
_EPOCH = _dt.datetime(1970, 1, 1)
# discounts that depend on the lifetime spend settle in at most this many passes, else the scalar plan runs
# the program (Kernel._settle_spend; a pass per threshold a member crosses is the usual count)
MAX_SPEND_PASSES = 64
# members the kernel routed to the scalar plan for a reason of its mechanics (not irregular grouping or event
# ids), by reason, since the process started: `loyalty simulate --verbose` prints a run's, so no fallback is silent
ROUTED: "collections.Counter[str]" = collections.Counter()
# the same for the tier members hold at an event, where a tier's discount or a `for tier` condition reads it
# (Kernel.run; a pass per tier change of a member, and one more)
MAX_TIER_PASSES = 64


# condition kinds that read only the event and the member (not the tier held, the spend, a balance): the same
# every pass of a kernel (_conditions_ok)
_PASS_FREE_CONDITIONS = frozenset({"dates", "weekdays", "hours", "stores", "channels", "segments", "birthday_month",
                                   "birthday"})

_COMPARE = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less, "=": np.equal,
            "!=": np.not_equal}


class _Slot:
    """One earning slot of a point kind per event: a rule's own points (an earn rule's base, a fixed earn), or the
    extra points the member's tier or a multiplier rule adds to an earn rule's (the scalar evaluator's
    `points_earned` effects, one per source, in its order). `skey` keys its table and return shares; a tier
    slot is named by the tier the member holds."""

    __slots__ = ("skey", "name", "rule", "mult", "tier", "fixed", "adjust")

    def __init__(self, skey, name, rule, mult=None, tier=False, fixed=False, adjust=False):
        self.skey, self.name, self.rule, self.mult, self.tier, self.fixed = skey, name, rule, mult, tier, fixed
        self.adjust = adjust  # the points adjustments add (adjustments.points_added): adjusted, not earned


def _us(t: _dt.datetime) -> int:
    return (t - _EPOCH) // _dt.timedelta(microseconds=1)


def _codes(column, as_list: bool = True):
    """A string column as (int64 codes with -1 for null, its values: a list, or the Arrow array)."""
    import pyarrow.compute as pc

    from loyalty.simulate.columns import numbers  # not to_numpy/fill_null: they import pandas (~0.5 s)

    enc = pc.dictionary_encode(column).combine_chunks()  # history text columns already are: no work
    codes = numbers(enc.indices, -1)
    return codes, (enc.dictionary.to_pylist() if as_list else enc.dictionary)


def _ints(column, fill: int = 0) -> np.ndarray:
    from loyalty.simulate.columns import numbers

    return numbers(column, fill)


def _month_number(us: np.ndarray) -> np.ndarray:
    """year * 12 + month - 1 of µs timestamps (through a table of the days they span: calendar arithmetic
    on every timestamp is several times slower)."""
    if not len(us):
        return np.zeros(0, dtype=np.int64)
    days = us // 86_400_000_000
    first, last = int(days.min()), int(days.max())
    if last - first > 4 * len(us):
        return us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    table = np.arange(first, last + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    return table[days - first]


def _moment_ranks(moments: np.ndarray) -> tuple[np.ndarray, int]:
    """Order-preserving small non-negative ints for µs moments, and their bound: the offset from the first
    moment in units of the moments' greatest common step (a minute, usually). Dense ranks when that bound
    is far above the number of moments (a sort, so only then)."""
    offset = moments - moments.min()
    step = int(np.gcd.reduce(offset))
    if step > 1:
        offset //= step
    bound = int(offset.max()) + 1
    if bound <= 64 * len(moments):
        return offset, bound
    uniq, inv = np.unique(moments, return_inverse=True)
    return inv.reshape(-1), len(uniq)


def _month_text(n: int) -> str:
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def _where(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`values[where]`; for a bool mask by `compress`, which numpy 2.4 runs 1.5-5x faster than a mask subscript
    (whose cost grows with the mask's mix of True and False: 1.7 ms against 0.3 ms for 200,000 at a half)."""
    return values.compress(where) if where.dtype == bool else values[where]


class _Cells:
    """Group sums into `result.cells`, creating a key exactly when the scalar accumulator would (count > 0)."""

    def __init__(self, result: SimResult):
        self.result = result

    def add(self, key_of, codes: np.ndarray, values: Optional[np.ndarray], where: np.ndarray, scale=None) -> None:
        """For each distinct code among `codes[where]`: cells[key_of(code)] += sum of values (or the count), times
        `scale` when given (an exact Python number: a reward's cost, which may be a Decimal)."""
        codes = _where(codes, where)
        if not len(codes):
            return
        lo, hi = int(codes.min()), int(codes.max())
        if hi - lo <= 4 * len(codes):  # few distinct codes in a narrow range (months): count by offset, no sort
            inv = codes - lo
            counts = np.bincount(inv, minlength=hi - lo + 1)
            present = np.flatnonzero(counts)
            uniq, counts = present + lo, counts[present]
            if values is not None:
                sums = _group_sum(inv, _where(values, where), hi - lo + 1)[present]
        else:
            uniq, inv = np.unique(codes, return_inverse=True)
            counts = np.bincount(inv, minlength=len(uniq))
            if values is not None:
                sums = _group_sum(inv, _where(values, where), len(uniq))
        if values is None:
            sums = counts
        cells = self.result.cells
        for code, n, s in zip(uniq.tolist(), counts.tolist(), sums.tolist()):
            if n:
                if scale is not None:
                    s = s * scale
                key = key_of(code)
                cells[key] = cells.get(key, 0) + s


# ---------------------------------------------------------------------------------------------- the rows


class _Rows:
    """The history's rows as numpy arrays, with event boundaries and member routing."""

    def __init__(self, history, prog):
        import pyarrow.compute as pc

        t = history.table
        self.n = n = t.num_rows
        # A group's rows are a slice of the history and share its dictionaries: every member and order id of
        # the whole history (500,000 and 7 million at 10M rows). Those two stay in Arrow and are looked up
        # for the values a group uses (`History.values_of`), or each group would pay for the whole history.
        self.history = history
        self.member = history.code_array("member")
        self.time = _ints(t.column("time"))
        self.amount = _ints(t.column("amount"))
        self.qty = _ints(t.column("quantity"), 1)
        type_codes, type_names = _codes(t.column("type"))
        lookup = np.array([TYPES.index(x) if x in TYPES else ADJUSTMENT if x == "adjustment" else FEE if x == "fee"
                           else CUSTOM for x in type_names] or [0], dtype=np.int64)
        self.type = lookup[type_codes]
        self.order, self.order_names = _codes(t.column("order"), as_list=False)
        self.item, self.item_names = _codes(t.column("item"))
        self.cat, self.cat_names = _codes(t.column("category"))
        for col in ("store", "channel"):  # for conditions on the event's store and channel
            if col in t.column_names:
                codes, names = _codes(t.column(col))
            else:
                codes, names = np.full(n, -1, dtype=np.int64), []
            setattr(self, col, codes)
            setattr(self, col + "_names", names)
        self.has_event_id = _ints(pc.is_valid(t.column("event")).cast("int64")) if n else np.zeros(0, np.int64)
        # the codes rows carry (runtime/mechanics/codes.py `vector_codes` weighs them), and adjustment rows
        # (runtime/mechanics/adjustments.py)
        self.code_at, self.code_values = _codes(t.column("codes"))
        adjusting = np.array([x == "adjustment" for x in type_names] + [False], dtype=bool)
        self.adjusting = adjusting[type_codes]
        # fee rows (runtime/mechanics/fees.py, run by the tiers' vectorised step): the paid tier each names (its
        # item), -1 where none; a fee row naming no paid tier (a history read without the program's tiers, where
        # the scalar plan refuses it) sends its member to the scalar plan, counted in ROUTED
        self.fee_tier = np.full(n, -1, dtype=np.int64)
        self.bad_fee = np.zeros(n, dtype=bool)
        paying = self.type == FEE
        if paying.any():
            paid = {t.name: t.index for t in prog.tiers.tiers if t.fee is not None} if prog.tiers else {}
            by_item = np.array([paid.get(x, -1) for x in self.item_names] + [-1], dtype=np.int64)
            self.fee_tier = np.where(paying, by_item[self.item], -1)
            self.bad_fee = paying & (self.fee_tier < 0)
        # per row, the point kind and points an adjustment adds (adjustments.points_added; -1: another kind of
        # adjustment, or no adjustment), and its reason
        self.adjust_kind = np.full(n, -1, dtype=np.int64)
        self.adjust_points = np.zeros(n, dtype=np.int64)
        self.reason, self.reason_names = np.full(n, -1, dtype=np.int64), []
        if self.adjusting.any():
            from loyalty.runtime.mechanics.adjustments import points_added
            from loyalty.simulate.history import parse_adjustment

            adjust_at, adjust_values = _codes(t.column("adjust"))
            self.reason, self.reason_names = _codes(t.column("reason"))
            rows = np.flatnonzero(self.adjusting)
            pairs = np.unique(np.stack((adjust_at[rows], self.item[rows])), axis=1)
            for a, i in pairs.T.tolist():
                what, value, setting = parse_adjustment(adjust_values[a])
                target = self.item_names[i] if i >= 0 else None
                added = None if what == "tier" else points_added(prog, (what, target or None, int(value), setting))
                if added is not None:
                    at = rows[(adjust_at[rows] == a) & (self.item[rows] == i)]
                    self.adjust_kind[at], self.adjust_points[at] = added
        # event starts, as EventBuilder groups (history._event_index): a run of rows with the same member,
        # type, order and (unless a keyed purchase) time; rows of other types are one event each
        grouped = (self.type == PURCHASE) | (self.type == RETURN)
        keyed = (self.type == PURCHASE) & (self.order >= 0)
        self.gtime = np.where(keyed, 0, self.time)
        new = np.ones(n, dtype=bool)
        if n > 1:
            new[1:] = ((self.member[1:] != self.member[:-1]) | (self.type[1:] != self.type[:-1])
                       | (self.order[1:] != self.order[:-1]) | (self.gtime[1:] != self.gtime[:-1]) | ~grouped[1:])
        self.new = new
        self.grouped = grouped
        self.timer_rule = np.full(n, -1, dtype=np.int64)  # the rule of a row the kernel adds (_with_timer_points)
        self.history_row = np.arange(n, dtype=np.int64)  # (-1 on a row the kernel adds: insert_rows)

    # what a row the kernel adds says where `insert_rows` is not told: none (no order, item, store...), but these
    _ADDED_ROW = {"qty": 1, "new": True, "amount": 0, "has_event_id": 0, "adjust_points": 0}

    def insert_rows(self, pos: np.ndarray, given: dict) -> None:
        """Rows of the kernel's own (a timer's, the referral pass's) inserted before positions `pos`, in place:
        each column from `given` (one value per new row), else what `_ADDED_ROW` says, else none (-1, False)."""
        k = len(pos)
        n = self.n
        for col, values in list(vars(self).items()):
            if not (isinstance(values, np.ndarray) and values.shape == (n,)) or col.endswith("_names"):
                continue
            new = given.get(col)
            if new is None:
                fill = self._ADDED_ROW.get(col, False if values.dtype == bool else -1)
                new = np.full(k, fill, dtype=values.dtype)
            setattr(self, col, np.insert(values, pos, new))
        self.n = n + k



def _first_of_each(counts, first) -> np.ndarray:
    """Over `counts[i]` entries per i, in order: whether each is among the first `first[i]` of its i."""
    at = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(int(counts.sum())) - at < np.repeat(first, counts)


def _indebted_waiting_kinds(prog) -> list:
    """The point kinds whose purchases' points wait, expire, and whose balance may go below zero (a debt)."""
    return [k for k in prog.kinds if k.pending and k.expiry in ("after_earning", "period_end")
            and k.policy == "negative"]


def _event_starts_by_member(rows: _Rows):
    """The rows where events start, and of each its time and member's segment (members in row order)."""
    starts = np.flatnonzero(rows.new)
    mem = rows.member[starts]
    seg = np.cumsum(np.concatenate(([True], mem[1:] != mem[:-1]))) - 1
    return starts, rows.time[starts], seg


def _pending_out_of_order(rows: _Rows, prog) -> np.ndarray:
    """Rows (event starts) whose member the kernel cannot take because of pending points that expire after
    earning, in a kind whose balance may go below zero: points credited at once (a signup, a visit, an
    action) while a purchase's still wait sit behind waiting ones in earning order. The kernel spends such
    points oldest first with holes in the stream (points.vector_spend), but a debt (what a return takes
    beyond the balance) is paid by the next points credited or matured, which those holes do not follow.
    Such members are replayed by the scalar plan, and counted (`ROUTED`). (A purchase's points that expire
    before they are available stop waiting then: points.vector_pending_setup.)"""
    out = np.zeros(rows.n, dtype=bool)
    kinds = _indebted_waiting_kinds(prog)
    if not kinds or not rows.n:
        return out
    starts, t, seg = _event_starts_by_member(rows)
    typ = rows.type[starts]
    bought = typ == PURCHASE
    # per event start, the time of the member's last purchase before it (or none)
    t0 = int(t.min()) if len(t) else 0
    last = segmented_cummax(np.where(bought, t - t0 + 1, 0), seg)  # 0: no purchase yet
    last_before = np.concatenate(([0], last[:-1]))
    last_before[np.concatenate(([True], seg[1:] != seg[:-1]))] = 0
    for k in kinds:
        at_once = is_one_of(typ, sorted(_credits_at_once(prog, k.index)))
        cand = at_once & (last_before > 0)
        if cand.any():
            waiting = _add_duration(last_before[cand] - 1 + t0, *k.pending) > t[cand]
            out[starts[np.flatnonzero(cand)[waiting]]] = True
    return out


def _unmatured_expiry_under_debt(rows: _Rows, prog) -> np.ndarray:
    """Rows (event starts) whose member the kernel cannot take because a purchase's points may expire before
    they are available while she owes points, in a kind whose balance may go below zero. The kernel counts a
    debt as points consumed from the front of her stream (X beyond the available part), so a batch that
    expires unmatured while the debt reaches into its slots would expire nothing and pay the debt; the scalar
    plan expires the whole batch and the debt stays (only points earned or maturing pay a debt,
    docs/semantics.md "Point ledger"). A debt comes from a return, so these are the members with a purchase
    whose expiry is at or before its points' availability and a return at or before that expiry; they are
    replayed by the scalar plan, and counted (`ROUTED`)."""
    from loyalty.runtime.mechanics.points import vector_expiry_moments

    out = np.zeros(rows.n, dtype=bool)
    kinds = _indebted_waiting_kinds(prog)
    if not kinds or not rows.n:
        return out
    starts, t, seg = _event_starts_by_member(rows)
    typ = rows.type[starts]
    returned = typ == RETURN
    if not returned.any():
        return out
    # each member's first return (members without one: after every moment)
    first_return = np.full(int(seg[-1]) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_return, seg[returned], t[returned])
    bought = np.flatnonzero(typ == PURCHASE)
    for k in kinds:
        expires = vector_expiry_moments(k, t[bought])
        unmatured = expires <= _add_duration(t[bought], *k.pending)
        owing = unmatured & (first_return[seg[bought]] <= expires)
        out[starts[bought[owing]]] = True
    return out


def _stream_moments(kind) -> list:
    """A kind's durations counted per batch from its earning (expiry after earning, a pending time), as the
    kernel runs them: in earning order (`moments_in_earning_order`)."""
    out = []
    if kind.expiry == "after_earning":
        out.append((kind.expiry_amount, kind.expiry_unit))
    if kind.pending:
        out.append(kind.pending)
    return out


def _moments_out_of_order(rows: _Rows, prog, end_us: int) -> np.ndarray:
    """Rows (event starts) whose member the kernel cannot take because a batch earned later expires (or
    matures) earlier than one before it: `N months` clamps the day to the month's end and keeps the time of
    day, so 30 March 10:00 + 3 months is 30 June 10:00 but 31 March 09:00 + 3 months is 30 June 09:00. The
    kernel runs a member's batches from the front of her stream, in earning order, so it moves such a moment
    to the latest one before it (`moments_in_earning_order`; the same day, hence the same month). That is the
    scalar's result unless something looks at the balance in between: one of the member's events, or the
    end of the history (at or after the batch's own moment, before the moved one). There the kernel expires
    an expiry batch as a hole at its own moment (points.vector_expiry_holes), if it was available by then
    (pending points) and its month is the moved moment's; the other members are
    replayed by the scalar plan, and counted (`ROUTED`); so is any member with such a batch in a kind whose
    pending time and expiry both count months or years, or that expires after inactivity or at a period's
    end (their moments interleave). A kind that waits days or weeks and expires months after earning (its
    pending moments never go back) is the first case: the plan matures and expires only at an event's moment
    or the end (`advance`), so a moved expiry changes nothing unless one of those falls between the two."""
    out = np.zeros(rows.n, dtype=bool)
    kinds = [k for k in prog.kinds if any(unit in ("month", "year") for _, unit in _stream_moments(k))]
    if not kinds or not rows.n:
        return out
    starts, t, seg = _event_starts_by_member(rows)
    for k in kinds:
        strict = sum(unit in ("month", "year") for _, unit in _stream_moments(k)) > 1 or \
            k.expiry in ("inactivity", "period_end")
        for amount, unit in _stream_moments(k):
            own = _add_duration(t, amount, unit)
            moved = moments_in_earning_order(own, seg)
            early = np.flatnonzero(moved > own)
            if not len(early):
                continue
            if strict:
                out[starts[early]] = True
                continue
            # per early batch, whether one of its member's events, or the end, falls in [own, moved)
            seen = (own[early] <= end_us) & (end_us < moved[early])
            inv, nt = _moment_ranks(np.concatenate((t, own[early], moved[early])))
            if not fits(int(seg[-1]) + 1, nt):
                out[starts[early]] = True
                continue
            ev_key = seg * nt + inv[:len(t)]
            if np.any(ev_key[1:] < ev_key[:-1]):  # a member's starts by time (wall times may step back)
                ev_key = ev_key[np.lexsort((inv[:len(t)], seg))]
            lo = np.searchsorted(ev_key, seg[early] * nt + inv[len(t):len(t) + len(early)], side="left")
            hi = np.searchsorted(ev_key, seg[early] * nt + inv[len(t) + len(early):], side="left")
            seen |= hi > lo
            if k.expiry == "after_earning" and (amount, unit) == (k.expiry_amount, k.expiry_unit):
                # the kernel expires such a batch as a hole at its own moment (points.vector_expiry_holes),
                # counted in the month of the moved moment: the same unless the two fall in different months;
                # with pending points only once the batch and every batch before it are available
                hole = _month_number(own[early]) == _month_number(moved[early])
                if k.pending:
                    hole &= moments_in_earning_order(_add_duration(t, *k.pending), seg)[early] <= own[early]
                seen &= ~hole
            out[starts[early[seen]]] = True
    return out


def _credits_at_once(prog, k: int) -> set:
    """The event types (codes) other than purchases on which a rule credits kind k (points available at once)."""
    types: set = set()
    for r in prog.rules:
        if r.point_kind != k:
            continue
        if r in _timer_point_rules(prog):
            types.add(TIMER)
            continue
        if r.action == "earn_fixed" and r.trigger in ("referring", "referred", "referring_purchase"):
            types.update((TYPES.index("referral"), REFERRED, REFERRAL_QUALIFIED))  # the referral pass's events
        elif r.action == "earn_fixed":
            types.add(TYPES.index("signup") if r.trigger == "signup" else CUSTOM if r.trigger == "action" else VISIT)
        elif r.action == "earn_per_event":
            types.add(TYPES.index(r.event) if r.event in TYPES else CUSTOM)
    types.add(ADJUSTMENT)  # points an adjustment adds (adjustments.points_added), to any kind
    return types


def _moment_running(prog, us: np.ndarray) -> np.ndarray:
    """Per moment (µs), whether the program runs then (context.running)."""
    running = np.ones(len(us), dtype=bool)
    if prog.runs_from is not None:
        running &= us >= _us(prog.runs_from)
    if prog.runs_to is not None:
        running &= us < _us(prog.runs_to)
    return running


def _timer_point_rules(prog) -> list:
    return [r for r in prog.rules if r.action == "earn_fixed" and r.trigger in POINT_TIMERS]


class _RowEvents:
    """The history's events (row starts) as the mechanics' timers read them (winback.vector_lapses,
    moments.vector_yearly) before the kernel's own events exist: accepted are all but returns and redemptions
    (a return before any purchase is refused, and the timers read only purchases, signups and the first
    accepted event; `_Kernel._timer_events` checks that against the kernel's own)."""

    def __init__(self, rows: "_Rows", plan):
        self.plan, self.prog, self.rows = plan, plan.program, rows
        starts = np.flatnonzero(rows.new)
        mem = rows.member[starts]
        new_member = np.concatenate(([True], mem[1:] != mem[:-1]))
        self.e_mem = np.cumsum(new_member) - 1
        self.mcode = mem[new_member]
        self.nmem = len(self.mcode)
        self.e_start = starts
        self.e_time = rows.time[starts]
        self.e_type = rows.type[starts]
        self.e_valid = ~is_one_of(self.e_type, [RETURN, REDEMPTION])
        self.end_us = _us(plan.end)
        self.e_running = self.moment_running(self.e_time)
        self.m_evstart = np.flatnonzero(new_member)
        # enrolment (mechanics/enrolment.py): what does not count starts no lapse and is at her clock (its rows
        # stay where they are: in the kernel, the timer's row before them moves them to its moment)
        enrolment = vector_enrolment(self)
        if enrolment is not None:
            counted = enrolment.counted(self)
            self.e_running = self.e_running & counted
            self.e_time = enrolment.clock_times(self, counted & self.e_valid)

    def moment_running(self, us: np.ndarray) -> np.ndarray:
        return _moment_running(self.prog, us)


def _with_timer_points(rows: "_Rows", plan) -> "_Rows":
    """The rows with a row of the kernel's own (type TIMER, `timer_rule` its rule) at each moment a timer credits
    points (a lapse, a birthday, an anniversary: the scalar plan's `fire_timers`), before the member's first row
    at or after it, in the order the scalar fires them (lapses first, then rules in source order). The lockstep
    then runs them as events: time passes to the moment, the rule's points enter the member's stream, her tier
    follows; they are not events of the history (never counted, never a redemption: `_Kernel._timer_events`)."""
    import copy

    rules = _timer_point_rules(plan.program)
    if not rules or not rows.n:
        return rows
    view = _RowEvents(rows, plan)
    lapses = vector_all_lapses(view)
    found = []
    for r in rules:
        if r.trigger == TIMER_LAPSE:
            mem, at = vector_lapses(view, r)
            rank = r.index
        else:
            mem, at = vector_yearly(view, r, lapses)
            rank = len(plan.program.rules) + r.index
        found.append((mem, at, np.full(len(mem), rank, dtype=np.int64), np.full(len(mem), r.index, dtype=np.int64)))
    mem, at, rank, rule = (np.concatenate([f[i] for f in found]) for i in range(4))
    if not len(mem):
        return rows
    # where each goes: before the member's first row at or after the moment (a member's rows are in time order,
    # or the member goes to the scalar plan: simulate_vector's `back`)
    row_mem = np.cumsum(np.concatenate(([True], rows.member[1:] != rows.member[:-1]))) - 1
    inv, nt = _moment_ranks(np.concatenate((rows.time, at)))
    if not fits(int(row_mem[-1]) + 1, nt):
        raise Unsupported("too many members and moments to pack")
    pos = np.searchsorted(row_mem * nt + inv[:rows.n], mem * nt + inv[rows.n:], side="left")
    o = np.lexsort((rank, at, pos))
    pos, mem, at, rule = pos[o], mem[o], at[o], rule[o]
    out = copy.copy(rows)
    out.insert_rows(pos, {"member": view.mcode[mem], "time": at, "gtime": at, "type": np.full(len(pos), TIMER, np.int64),
                          "timer_rule": rule})
    return out


def _irregular_members(rows: _Rows) -> np.ndarray:
    """Members with one group key at more than one start (the scalar groups their rows by key)."""
    s = np.flatnonzero(rows.new & rows.grouped)
    if not len(s):
        return np.zeros(0, dtype=np.int64)
    span = (len(rows.order_names) + 1) * 2
    member, t = rows.member[s], rows.time[s]
    same = member[1:] == member[:-1]
    in_time_order = np.all(~same | (t[1:] >= t[:-1]))
    if in_time_order and fits(int(member.max()) + 1, span):
        s = s[_may_repeat_a_key(rows, s, same, t)]  # the sort below only for members that may repeat one
        if not len(s):
            return np.zeros(0, dtype=np.int64)
        member = rows.member[s]
        # one int64 key (member, order, purchase or return); a stable sort keeps each key's starts in time
        # order, so equal group times of one key are neighbours
        key = member * span + (rows.order[s] + 1) * 2 + (rows.type[s] == RETURN)
        o = np.argsort(key, kind="stable")
        k, g = key[o], rows.gtime[s][o]
        dup = (k[1:] == k[:-1]) & (g[1:] == g[:-1])
        return np.unique(k[1:][dup] // span)
    return _irregular_members_by_lexsort(rows, s)


def _may_repeat_a_key(rows: _Rows, s: np.ndarray, same: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Over the starts `s` of grouped events (each member's rows together and in time order; `same`: whether a
    start's member is the one before's, `t` their times), whether its member may start one group key twice:
    a key's group time is the time (two starts of it at one moment, so neighbours at one time) or, for a
    keyed purchase, 0 (then her keyed purchases' order codes do not strictly ascend). The others cannot, and
    need no sort (the stable sort of every start was most of `_irregular_members`)."""
    seg = np.zeros(len(s), dtype=np.int64)
    np.cumsum(~same, out=seg[1:])  # the member's block
    flag = np.zeros(int(seg[-1]) + 1, dtype=bool)
    flag[seg[1:][same & (t[1:] == t[:-1])]] = True
    keyed = np.flatnonzero((rows.type[s] == PURCHASE) & (rows.order[s] >= 0))
    k_seg, k_order = seg[keyed], rows.order[s[keyed]]
    flag[k_seg[1:][(k_seg[1:] == k_seg[:-1]) & (k_order[1:] <= k_order[:-1])]] = True
    return flag[seg]


def _irregular_members_by_lexsort(rows: _Rows, s: np.ndarray) -> np.ndarray:
    """The same for any row order (`s`: the starts of grouped events), sorting on all four keys."""
    keys = np.stack([rows.member[s], rows.type[s], rows.order[s], rows.gtime[s]], axis=1)
    order = np.lexsort(keys.T[::-1])
    k = keys[order]
    dup = np.all(k[1:] == k[:-1], axis=1)
    return np.unique(k[1:][dup][:, 0])


# ---------------------------------------------------------------------------------------------- entry


def simulate_vector(plan, history, heavy_threshold: Optional[int] = HEAVY_THRESHOLD, tail_members: Optional[int] = None,
                    known: Optional[dict] = None, warm: Optional[dict] = None, claims_only: bool = False) -> SimResult:
    """The whole history through the vectorised kernel (members it cannot take through the scalar one).
    `tail_members`: below this many members left, the lockstep finishes them one by one (0: never; None: by
    the program, TAIL_MEMBERS or TAIL_MEMBERS_TIERS).
    `known`: the budgets' cutoffs found so far in a budget pass (simulate/budgets.py), None without budgets.
    `warm`: a dict the caller keeps for this history across budget passes: the kernel leaves there the tiers and
    spend it settled on, and the next pass starts from them (a first guess only: any guess settles to the same
    answer, in fewer passes from a good one).
    `claims_only`: a budget pass known not to be the last (simulate/budgets.py `FirstPassScout`): the result
    holds the pass's budget claims alone (no figures, no customer measures)."""
    from loyalty.simulate.engine import replay_members

    prog = plan.program
    reason = supports(prog, plan)
    if reason is not None:
        raise Unsupported(reason)
    history_rows = _Rows(history, prog)
    history_events = np.flatnonzero(history_rows.new)  # the history's own events, for the customer measures
    history_member = history_rows.member  # (the history's rows: referrals' rows are inserted in place below)
    # the columns the customer measures read, as converted here (type codes index TYPES: `_Rows`)
    history_columns = (history_member, history_rows.type, TYPES, history_rows.time, history_rows.amount,
                       history_rows.order)
    rows = _with_timer_points(history_rows, plan)
    if plan.referrals:  # the referral pass's events are rows of the kernel's too (simulate/referrals.py)
        from loyalty.simulate.referrals import add_to_rows

        add_to_rows(rows, plan.referrals, prog)
    n = rows.n
    if n == 0:
        return SimResult()
    mstarts = np.flatnonzero(np.concatenate(([True], rows.member[1:] != rows.member[:-1])))
    mends = np.concatenate((mstarts[1:], [n]))
    mcode = rows.member[mstarts]
    nmem = len(mstarts)
    # route members to the scalar evaluator
    scalar = np.zeros(nmem, dtype=bool)
    mseg = segment_ids(mstarts, n)
    events_per = np.add.reduceat(rows.new.astype(np.int64), mstarts)
    if heavy_threshold is not None:
        scalar |= events_per > heavy_threshold
    irregular = _irregular_members(rows)
    if len(irregular):
        scalar |= np.isin(mcode, irregular)
    # rows are in instant order; across a DST fall-back a member's wall times can step back, which the
    # kernel's per-member time arithmetic assumes never happens (history.order_key)
    back = np.flatnonzero((rows.member[1:] == rows.member[:-1]) & (rows.time[1:] < rows.time[:-1]))
    if len(back):
        scalar[np.unique(mseg[back + 1])] = True

    def route(marked_rows: np.ndarray, reason: str) -> None:
        """The members of the marked rows to the scalar plan, counted under `reason`."""
        if marked_rows.any():
            members = np.unique(mseg[marked_rows])
            ROUTED[reason] += int(len(members))
            scalar[members] = True

    route(_pending_out_of_order(rows, prog), "pending points out of earning order")
    route(_unmatured_expiry_under_debt(rows, prog), "pending points expiring unmatured under a debt")
    route(_moments_out_of_order(rows, prog, _us(plan.end)), "expiry or pending moments out of earning order")
    # a fee the scalar plan refuses (the history was read without the program's tiers)
    route(rows.bad_fee, "fee rows naming no paid tier")
    odd = rows.has_event_id.astype(bool)  # explicit event ids: duplicates are the scalar's business
    if prog.late_window is not None and odd.any():  # where resends are: kept as long as the window (windows.py)
        ROUTED["event ids under a late-events window (resends)"] += int(len(np.unique(mseg[odd])))
    other = rows.adjusting & (rows.adjust_kind < 0)  # adjustments other than points added: the scalar plan's
    if other.any():
        ROUTED["adjustments other than points added"] += int(len(np.unique(mseg[other])))
    odd |= other
    if prog.redeem:
        odd |= rows.type == REDEMPTION
    import pyarrow.compute as pc

    from loyalty.simulate.columns import numbers

    from loyalty.simulate.columns import arrow

    returned = np.unique(rows.order[(rows.type == RETURN) & (rows.order >= 0)])  # the order ids returns name
    ret_at = returned[numbers(pc.starts_with(rows.order_names.take(arrow(returned)), "@"), False)]
    if len(ret_at):
        odd |= (rows.type == RETURN) & np.isin(rows.order, ret_at)
    if odd.any():
        scalar[np.unique(mseg[odd])] = True
    result = SimResult()
    refused: list = []  # the refused events' rows of the history, as arrays (for the customer measures)
    if scalar.any():
        picked = np.zeros(int(history_member.max()) + 2, dtype=bool)  # member code -> routed (-1: none)
        picked[mcode[scalar]] = True
        sub_rows = picked[history_member]
        sub = history.rows_where(sub_rows)  # (History.select_members, by code)
        sub_refused: list[int] = []
        if known is None:
            result = replay_members(plan, sub, sub.member_slices(), refused=sub_refused)
        else:
            from loyalty.simulate.budgets import CutoffLedger

            result = replay_members(plan, sub, sub.member_slices(), lambda: CutoffLedger(known), refused=sub_refused)
        if claims_only:
            result = SimResult(claims=result.claims)
        if sub_refused:
            refused.append(np.flatnonzero(sub_rows)[sub_refused])
    parts = [result]  # merged once at the end (SimResult.merge_many): each merge copies every table
    keep = ~scalar
    if keep.any():
        rowmask = keep[mseg]
        kern = _Kernel(plan, rows, rowmask, mstarts[keep], mends[keep], mcode[keep], tail_members, known, warm)
        kern.claims_only, kern.refused = claims_only, refused
        try:
            part = kern.run()
            claims_only = kern.claims_only  # (also where its claims showed the pass is not the last)
        finally:
            # the kernel's objects refer to each other (its steps keep it), so its arrays would wait for the
            # cyclic collector, which seldom runs while numpy, not Python objects, takes the memory: a run of
            # many groups (every batch of `--grouped`) grew ~250 MB a group of 200,000 rows of every_mechanic
            kern.__dict__.clear()
        parts.append(part)
    if claims_only:
        return SimResult.merge_many(parts)
    from loyalty.simulate.measures import add_customer_cells

    # the customers' own measures, once for the whole history; they depend on its rows alone, so a budget pass
    # after the first adds what the first made (`warm`)
    customers = warm.get("customers") if warm is not None else None
    if customers is None:
        customers = SimResult()
        # the history's events as the kernel found them (the same as `History.event_index`, not found again)
        events = (history_events, frozenset(history.values_of("member", irregular)) if len(irregular) else frozenset())
        # (a return's refusal depends on the rows alone, never on a budget: the same in every pass, `_returns`)
        add_customer_cells(customers, history, plan, events, np.concatenate(refused) if refused else None,
                           history_columns)
        if warm is not None:
            warm["customers"] = customers
    return SimResult.merge_many(parts + [customers])


# ---------------------------------------------------------------------------------------------- the kernel


def _register_read_only_types() -> None:
    """What a lockstep reads by reference and never changes once a kernel is built: compared by identity when
    a pass may reuse the last lockstep (lockstep_inputs.READ_ONLY_TYPES); any other object forbids the reuse."""
    from loyalty.runtime.mechanics.enrolment import VectorEnrolment
    from loyalty.runtime.program import CompiledProgram
    from loyalty.simulate.engine import Plan

    READ_ONLY_TYPES.update((CompiledProgram, Plan, _Rows, _Slot, VectorEnrolment))


class _Kernel:
    tiers_at_once = False  # the next pass computes the tiers before reading them (run, _state_free)
    claims_only = False  # a budget pass that cannot be the last: its budget claims are all it gives (simulate_vector)
    free_by_tier = None  # the first guess's metric per tier (_tier_guess_by_tier), else None
    _returns_memo = None  # (line matches, what `_returns` settled with them): the last pass's
    ptab_rows = None  # the points table's rows (tier + 1) a pass works out (earn.vector_points), None: all
    lockstep_record = None  # what the last lockstep read and wrote, while the next pass may reuse it (_replay)
    lockstep_differed = False  # a pass's lockstep read what the last one did not (_replay: no more records)
    # where the result's refused events' rows (`rows.history_row`, arrays) go: the caller's list (simulate_vector)
    refused: Optional[list] = None
    guess_exact = False  # the tiers guessed are the answer (computed at once, or a settled part's): no record (_replay)
    splits_at_once = False  # members a pass gets wrong settle apart after it (run): no record either (seldom read)
    # the tiers computed at once (_state_free), or a settled part's (_settle_apart): a guess no pass after it
    # changes, so the lockstep reads each event's points at that tier alone (a wrong one would be seen there: the
    # first event whose tier differs from it is found from points read right, and the next pass reads them all)
    tiers_found = None

    def __init__(self, plan, rows: _Rows, rowmask, mstarts, mends, mcode, tail_members: Optional[int] = None,
                 known: Optional[dict] = None, warm: Optional[dict] = None):
        self.plan = plan
        self.known = known or {}
        self.first_known = known  # (None where no budget pass runs: budgets.first_pass_not_last)
        self.warm = warm if warm is not None else {}  # first guesses of the tier and spend passes (simulate_vector)
        self.claims: list[tuple] = []  # budget claims of budgets without a known cutoff (vector_budgets)
        self.budget_cut: list[tuple] = []  # (budget, claims cut, points cut)
        self.stock_out: dict[str, int] = {}  # reward -> units its stock refused (stock.vector_stock)
        self.code_used_at: dict[str, np.ndarray] = {}  # code -> the events that used it (codes.vector_codes)
        self.code_counts: dict[tuple, int] = {}  # (code, column of the codes table) -> count
        self.fixed: dict = {}  # fixed earns' and adjustments' points per event, by slot key (earn.vector_points)
        self.tail_members = tail_members
        self.prog = plan.program
        self.rows = rows
        self.mstarts, self.mends = mstarts, mends  # the members' rows in `rows` (for a kernel of some of them)
        self.members_given = (rowmask, mstarts, mends, mcode)  # for kernels of some of them (_settle_apart)
        sel = np.flatnonzero(rowmask)
        self.sel = sel
        # row arrays over the kernel's members only (each its own array); all of them, the usual case, copied
        # whole: several times faster than a gather through `sel`
        chosen = (lambda column: column.copy()) if len(sel) == rows.n else (lambda column: column[sel])
        self.r_time = chosen(rows.time)
        self.r_amount = chosen(rows.amount)
        self.r_qty = chosen(rows.qty)
        self.r_type = chosen(rows.type)
        self.r_order = chosen(rows.order)
        self.r_item = chosen(rows.item)
        self.r_cat = chosen(rows.cat)
        self.nrows = len(sel)
        lengths = mends - mstarts
        self.m_rowstart = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        self.mcode = mcode
        self.nmem = len(mcode)
        self.r_mem = segment_ids(self.m_rowstart, self.nrows)
        # events
        new = chosen(rows.new)
        self.e_start = np.flatnonzero(new)
        self.nev = len(self.e_start)
        self.r_ev = np.cumsum(new) - 1
        self.e_mem = self.r_mem[self.e_start]
        self.e_type = self.r_type[self.e_start]
        self.e_time = self.r_time[self.e_start]
        # the events' own moments; under enrolment `e_time` becomes the timeline's (`_replay`)
        self.e_real = self.e_time
        self.e_order = self.r_order[self.e_start]
        e_rows = sel[self.e_start]  # the events' first rows in `rows`
        self.e_adjust_kind = rows.adjust_kind[e_rows]  # points adjustments (adjustments.points_added)
        self.e_adjust_points = rows.adjust_points[e_rows]
        self.e_fee_tier = rows.fee_tier[e_rows]  # the paid tier a fee event pays (-1: not a fee)
        # every sum the kernel forms of amounts or quantities (an order's, a member's, the history's) stays in
        # int64 when the history's total does: else the scalar plan replays it (Python ints do not overflow)
        for column in (self.r_amount, self.r_qty):
            if len(column) and float(np.abs(column).sum(dtype=np.float64)) >= float(INT_LIMIT):
                raise Unsupported("amounts or quantities too large for 64-bit sums")
        self.e_total = np.add.reduceat(self.r_amount, self.e_start) if self.nev else np.zeros(0, np.int64)
        self.m_evstart = np.flatnonzero(np.concatenate(([True], self.e_mem[1:] != self.e_mem[:-1])))
        self.m_nev = np.diff(np.concatenate((self.m_evstart, [self.nev])))
        prog = self.prog
        running = self.moment_running(self.e_time)
        # `members join at signup` / the scenario's enrolment (mechanics/enrolment.py): an event that does not
        # count is masked as one outside `runs from/to` is; the returns' pass decides the returns (_returns)
        self.enrolment = vector_enrolment(self)
        self.e_counted = self.enrolment.counted(self) if self.enrolment is not None else np.ones(self.nev, bool)
        self.e_running = running & self.e_counted
        self.e_month = _month_number(self.e_time)
        self.e_store = rows.store[e_rows]  # -1: no store
        self.e_timer_rule = rows.timer_rule[e_rows]  # the kernel's own events (_with_timer_points)
        self.e_timer = self.e_type == TIMER
        self.end_us = _us(plan.end)
        self._pred_masks = {}
        self._draw_docs = {d["name"]: d for d in prog.doc.get("draws", ())}
        self.vtiers: Optional[VectorTiers] = None  # the tier step (made by the lockstep)
        self.tier_discounts: dict = {}  # per tier, its discount per event (tiers.vector_tier_discount)
        self.discount_refused: dict = {}  # per capped discount rule, what its cap refused per event

    def _timer_events(self) -> None:
        """The kernel's own events (_with_timer_points), once the history's are accepted or refused: never
        accepted themselves (not counted, no redemption, no review started), booked at the store of the
        event time passes at (the scalar engine's `acc.store`; none at the end of the history). Their
        moments followed the member's first accepted event as `_RowEvents` guessed it: checked here."""
        timer = self.e_timer
        self.e_valid[timer] = False
        idx = np.flatnonzero(timer)
        host = vector_firing_events(self, self.e_mem[idx], self.e_time[idx])
        self.e_store[idx] = np.where(host >= 0, self.e_store[np.maximum(host, 0)], -1)
        valid = np.flatnonzero(self.e_valid)
        first = np.full(self.nmem, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, self.e_mem[valid], self.e_time[valid])
        if (self.e_time[idx] <= first[self.e_mem[idx]]).any():
            raise Unsupported("a timer's moment before the member's first accepted event")

    def moment_running(self, us: np.ndarray) -> np.ndarray:
        return _moment_running(self.prog, us)

    def _store_name(self, code: int) -> str:
        return self.rows.store_names[code] or "" if code >= 0 else ""

    # ------------------------------------------------------------------ conditions on the event
    def _event_ok(self, rule) -> np.ndarray:
        """Per event, whether a rule's (or a draw's) conditions hold."""
        if isinstance(rule, Draw):
            return self._conditions_ok(("draw", rule.name), self._draw_docs[rule.name].get("conditions", ()))
        ok = self._conditions_ok(rule.index, self.prog.doc["rules"][rule.index].get("conditions", ()))
        if rule.code is not None:  # a rule requiring a code applies where a purchase used it (codes.vector_codes)
            ok = ok & self.code_used_at[rule.code]
        return ok

    def _conditions_ok(self, key, conditions) -> np.ndarray:
        """Per event, whether the rule's conditions hold (those runtime/mechanics/context.py admits: time, store,
        channel, and `when` expressions of the order alone). As the scalar `Ctx`: a purchase carries its first
        row's store and channel, a visit its store, a signup or referral neither."""
        got = self._pred_masks.get(key)
        if got is not None:
            return got
        # conditions on the event and the member alone give the same mask every pass (tiers, spend and budget
        # passes ask again): kept for the kernel's life, read only (callers combine it, never write to it). Not
        # under enrolment, where a pass's moments change once the returns are known (`_state_free`)
        fixed = self.__dict__.setdefault("_fixed_masks", {})
        if key in fixed:
            return fixed[key]
        ok = np.ones(self.nev, dtype=bool)
        t = self.e_time
        day_us = 86_400_000_000
        for c in conditions:
            k = c["kind"]
            if k == "dates":
                if c.get("from"):
                    ok &= t >= _us(_dt.datetime.fromisoformat(c["from"]))
                if c.get("to"):
                    ok &= t < _us(_dt.datetime.fromisoformat(c["to"])) + day_us
            elif k == "weekdays":
                ok &= is_one_of((t // day_us + 3) % 7, list(c["days"]))  # 1970-01-01 was a Thursday (3)
            elif k == "hours":
                a = c["from"][0] * 60 + c["from"][1]
                b = c["to"][0] * 60 + c["to"][1]
                minute = (t // 60_000_000) % 1440
                ok &= ((a <= minute) & (minute < b)) if a <= b else ~((b <= minute) & (minute < a))
            elif k in ("stores", "channels"):
                col = "store" if k == "stores" else "channel"
                names = getattr(self.rows, col + "_names")
                wanted = np.array([x in set(c["names"]) for x in names] + [False], dtype=bool)  # -1: none
                codes = getattr(self.rows, col)[self.sel][self.e_start]
                # the scalar Ctx: a purchase carries its store and channel, a visit its store only
                carries = (self.e_type == PURCHASE) | ((self.e_type == VISIT) if k == "stores" else False)
                codes = np.where(carries, codes, -1)
                ok &= wanted[codes]
            elif k == "segments":
                ok &= self._member_segments(frozenset(c["names"]))[self.e_mem]
            elif k == "tiers":  # the tier held at the event, as settled by passes (run)
                tiers = self.prog.tiers
                ok &= is_one_of(self.tier_guess, [tiers.names[n] for n in c["names"]] if tiers else [])
            elif k == "birthday_month":  # program.build_condition: the birthday's month is the event's
                month, _ = self.member_birthdays
                ok &= month[self.e_mem] == self.e_month % 12 + 1
            elif k == "birthday":
                ok &= self._on_birthday()
            elif k == "expr":
                if reads_measure(c["expr"], "balance"):
                    continue  # in the lockstep, where the balances are (_balance_ok)
                ok &= self._expr_ok(c["expr"])
            else:  # support.condition_reason refuses every other kind
                raise Unsupported(f"condition {k!r} is not vectorised")
        if self.enrolment is None and all(c["kind"] in _PASS_FREE_CONDITIONS for c in conditions):
            ok.flags.writeable = False
            fixed[key] = ok
        else:
            self._pred_masks[key] = ok
        return ok

    # ------------------------------------------------------------------ the member's spend
    def _spend_deltas(self) -> np.ndarray:
        """Per event, what it adds to the member's net spend (plan._purchase, returns.take_back): a running
        purchase what was paid, a valid return the share of its order's amount paid it takes back."""
        counted = (self.e_type == PURCHASE) & self.e_running
        rets = np.flatnonzero((self.ret_order_ev >= 0) & self.e_valid)  # (few: the shares only for them)
        G, R, P = self.ret_G[rets], self.ret_R[rets], self.ret_prev[rets]
        paid_o = self.e_paid[self.ret_order_ev[rets]]

        def share(total, upto):  # formulas.share, per return
            full = (G == 0) | (upto >= G)
            return np.where(full, total, half_even(total * upto, np.where(G == 0, 1, G)))

        deltas = np.where(counted, self.e_paid, 0)
        deltas[rets] -= share(paid_o, R) - share(paid_o, P)
        return deltas

    def _settle_spend(self) -> None:
        """The amount paid for every line, each event's `spend_before` (the member's net spend before it) and
        `spend_deltas` (what it adds to the spend: `_spend_deltas`).

        Discounts that look at the spend before the order (`when lifetime spend ...`, a scale by lifetime
        spend) and the spend, which is what was paid after them, depend on each other along a member's
        events. Settled by passes: each pass runs the discount steps on the last pass's spend and sums the
        spend again; once a pass leaves it unchanged, every event saw the spend the scalar plan shows it
        (the spend before an event depends only on earlier events, so pass i makes at least the first i
        events of every member exact, and in practice a pass per threshold crossed settles it). Any first guess
        settles to the same spend, so a later replay (a tier pass, a budget pass: `warm`) starts from the spend
        the last one settled on, which is usually already the answer or one pass from it."""
        if getattr(self, "spend_before", None) is None:
            guess = self.warm.get("spend_before")
            self.spend_before = guess if guess is not None and len(guess) == self.nev else \
                np.zeros(self.nev, dtype=np.int64)
        dependent = any(r.action == "discount_scale" or reads_lifetime_spend(self.prog.doc["rules"][r.index])
                        for r in self.discount_rules)
        self.discount_worths: dict = {}  # discount.vector_discount_rules: worths that read no spend, kept across passes
        for _ in range(MAX_SPEND_PASSES):
            self._pred_masks = {}  # masks may read the spend of the last pass
            self.paid = self.r_amount.copy()  # what each line still costs, lowered by the discount steps in order
            self.discounts, self.discount_costs = {}, {}
            vector_tier_discount(self)  # runtime/mechanics/tiers.py: a tier's discount comes first
            vector_discount_rules(self)  # runtime/mechanics/discount.py
            vector_discounts(self)  # runtime/mechanics/punch.py
            deltas = self._spend_deltas()
            before = segmented_cumsum(deltas, self.e_mem, self.m_evstart) - deltas
            if not dependent or np.array_equal(before, self.spend_before):
                self.spend_before, self.spend_deltas = before, deltas
                self.warm["spend_before"] = before
                return
            self.spend_before = before
        raise Unsupported(f"discounts that depend on the lifetime spend did not settle in {MAX_SPEND_PASSES} passes")

    # ------------------------------------------------------------------ what is known of the member
    @functools.cached_property
    def member_names(self) -> list:
        """Each kernel member's id, in member order."""
        return self.rows.history.values_of("member", self.mcode)

    @functools.cached_property
    def member_attributes(self) -> list:
        """Each kernel member's attributes (simulate/history.MemberAttributes, or None), as the scalar replay
        gives them to `new_member` (engine._attributes)."""
        if not self.plan.attributes:  # no attributes given: no name looked up
            return [None] * len(self.mcode)
        return [self.plan.attributes.get(n) for n in self.member_names]

    def _member_segments(self, names: frozenset) -> np.ndarray:
        """Per member, whether she is in one of the segments `names` (program.build_condition "segments")."""
        return np.array([a is not None and not names.isdisjoint(a.segments) for a in self.member_attributes],
                        dtype=bool)

    @functools.cached_property
    def member_birthdays(self) -> tuple[np.ndarray, np.ndarray]:
        """Per member, her birthday's month and day (0 and 0 without one)."""
        if not self.plan.attributes:
            return np.zeros(len(self.mcode), dtype=np.int64), np.zeros(len(self.mcode), dtype=np.int64)
        days = [(a.birthday.month, a.birthday.day) if a is not None and a.birthday is not None else (0, 0)
                for a in self.member_attributes]
        pairs = np.array(days, dtype=np.int64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]

    def _on_birthday(self) -> np.ndarray:
        """Per event, whether it falls on the member's birthday, as program._on_birthday: the birthday's month
        and day, and a 29 February birthday on 28 February in a year without one."""
        month, day = self.member_birthdays
        bm, bd = month[self.e_mem], day[self.e_mem]
        date = (self.e_time // 86_400_000_000).astype("datetime64[D]")
        first_of_month = date.astype("datetime64[M]")
        t_day = (date - first_of_month.astype("datetime64[D]")).astype(np.int64) + 1
        t_month = first_of_month.astype(np.int64) % 12 + 1
        year = first_of_month.astype(np.int64) // 12 + 1970
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        moved = (bm == 2) & (bd == 29) & ~leap
        return np.where(moved, (t_month == 2) & (t_day == 28), (t_month == bm) & (t_day == bd))

    # ------------------------------------------------------------------ line filters
    def _line_match(self, rule) -> np.ndarray:
        """rule.line_matches(item, category) for every row, evaluated once per distinct (item, category), and the
        rule's conditions on the row's event (a rule whose conditions fail matches no line of that event)."""
        ok = self._event_ok(rule)
        if not rule.filters:
            return ok[self.r_ev]
        lines = self._rows_where(rule.line_matches)
        # (a rule without conditions, the usual one, holds on every event: no gather of the rows' events)
        return lines.copy() if ok.all() else lines & ok[self.r_ev]

    @functools.cached_property
    def _r_purchase_running(self) -> np.ndarray:
        """Per row, whether it is a line of a purchase while the program runs (and counts: enrolment), once per
        kernel: read by every line step (`purchase_lines`)."""
        purchase = self.r_type == PURCHASE
        return purchase if self.e_running.all() else purchase & self.e_running[self.r_ev]

    @functools.cached_property
    def max_event_amount(self) -> int:
        """The most an event's rows cost together (earn.vector_points' bound for 64-bit points), once per kernel."""
        return int(self.e_total.max(initial=0))

    def purchase_lines(self, rule) -> np.ndarray:
        """The rows a rule's (or a draw's) line step reads: its lines (`_line_match`) of running purchases."""
        return self._line_match(rule) & self._r_purchase_running

    @functools.cached_property
    def _row_pairs(self) -> tuple:
        """The distinct (item, category) pairs of the rows as the scalar event's lines have them (an empty item is
        "", a missing category the catalog's), and each row's index among them: np.unique's sort once per kernel,
        not once per filter."""
        rows = self.rows
        catalog = self.prog.catalog
        pair = self.r_item * (len(rows.cat_names) + 1) + (self.r_cat + 1)
        uniq, inv = distinct_inverse(pair)  # (np.unique's, without sorting every row)
        named = []
        for p in uniq.tolist():
            ic, cc = divmod(p, len(rows.cat_names) + 1)
            item = (rows.item_names[ic] if ic >= 0 else None) or ""
            cat = rows.cat_names[cc - 1] if cc > 0 else None
            named.append((item, cat or catalog.get(item)))
        return named, inv

    def _rows_where(self, test) -> np.ndarray:
        """test(item, category) for every row, as the scalar event's lines have them (an empty item is "", a
        missing category the catalog's), evaluated once per distinct (item, category)."""
        # a rule's own test (a bound `line_matches`) is answered once per kernel: every pass (tiers, spend,
        # budgets) asks again, and the rows' (item, category) pairs are state-free
        owner = getattr(test, "__self__", None)
        key = (id(owner), test.__func__) if owner is not None else None
        cache = self.__dict__.setdefault("_rows_where_cache", {})
        if key is not None and key in cache:
            return cache[key][1]
        named, inv = self._row_pairs
        ok = np.fromiter((bool(test(item, cat)) for item, cat in named), dtype=bool, count=len(named))
        out = ok[inv]
        if key is not None:
            out.flags.writeable = False  # shared by every pass: callers combine it, never write to it
            cache[key] = (owner, out)  # (the owner kept, so its id stays its own)
        return out

    def _expr_ok(self, e: dict) -> np.ndarray:
        """Per event, a `when` expression whose parts depend only on the event (context.EVENT_EXPRESSIONS), as
        program.build_expr evaluates it on the scalar `Ctx`: an event without lines has a total and item
        count of 0 and no item; `first purchase` is the member's first purchase while the program runs."""
        op = e["op"]
        if op in ("and", "or"):
            parts = [self._expr_ok(a) for a in e["args"]]
            out = parts[0].copy()
            for p in parts[1:]:
                out = (out & p) if op == "and" else (out | p)
            return out
        if op == "not":
            return ~self._expr_ok(e["arg"])
        purchase = self.e_type == PURCHASE
        if op == "first_purchase":
            running = np.flatnonzero(purchase & self.e_running)
            first = np.zeros(self.nev, dtype=bool)
            if len(running):
                mem = self.e_mem[running]
                first[running[np.concatenate(([True], mem[1:] != mem[:-1]))]] = True
            return first
        if op in ("has_item", "has_category"):
            name = e["name"]
            rows = self._rows_where((lambda item, cat: item == name) if op == "has_item" else
                                    (lambda item, cat: cat == name))
            return (np.add.reduceat(rows.astype(np.int64), self.e_start) > 0) & purchase
        if op == "cmp" and e["measure"] in ("order_total", "order_items"):
            per_row = self.r_amount if e["measure"] == "order_total" else self.r_qty
            value = np.where(purchase, np.add.reduceat(per_row, self.e_start), 0)
            # an event's total or item count fits in int64 (fits checks elsewhere): a bound beyond it compares
            # as the nearest one within
            return _COMPARE[e["cmp"]](value, max(-INT_LIMIT, min(e["value"], INT_LIMIT)))
        if op == "cmp" and e["measure"] == "lifetime_spend":  # before this event (_settle_spend)
            return _COMPARE[e["cmp"]](self.spend_before, max(-INT_LIMIT, min(e["value"], INT_LIMIT)))
        if op == "cmp" and e["measure"] == "visits":
            # the scalar plan counts a running purchase or visit before its rules look (plan._purchase, _visit)
            visits = ((purchase | (self.e_type == VISIT)) & self.e_running).astype(np.int64)
            value = segmented_cumsum(visits, self.e_mem, self.m_evstart)
            return _COMPARE[e["cmp"]](value, max(-INT_LIMIT, min(e["value"], INT_LIMIT)))
        raise Unsupported(f"a {op!r} expression is not vectorised")  # context.condition_vector_reason refuses it

    def _expr_at(self, e: dict, idx: "np.ndarray | int", balance) -> np.ndarray:
        """A `when` expression at the events `idx` of one lockstep step: a balance comparison reads
        `balance(kind index)` (each event's member's available balance before the event), every other part
        the up-front masks (`_expr_ok`)."""
        op = e["op"]
        if op in ("and", "or"):
            parts = [self._expr_at(a, idx, balance) for a in e["args"]]
            out = parts[0].copy()
            for p in parts[1:]:
                out = (out & p) if op == "and" else (out | p)
            return out
        if op == "not":
            return ~self._expr_at(e["arg"], idx, balance)
        if op == "cmp" and e["measure"] == "balance":
            return self._balance_holds(e, balance(self.prog.kind_index[e["point_kind"]]))
        key = ("expr", id(e))
        mask = self._pred_masks.get(key)
        if mask is None:
            mask = self._pred_masks[key] = self._expr_ok(e)
        return mask[idx]

    def _expr_one(self, e: dict, i: int, balances: list) -> bool:
        """`_expr_at` at one event `i` (the one-by-one tail), its member's available balance of each kind in
        `balances`: the same parts, in Python."""
        op = e["op"]
        if op in ("and", "or"):
            parts = [self._expr_one(a, i, balances) for a in e["args"]]
            return all(parts) if op == "and" else any(parts)
        if op == "not":
            return not self._expr_one(e["arg"], i, balances)
        if op == "cmp" and e["measure"] == "balance":
            return bool(self._balance_holds(e, balances[self.prog.kind_index[e["point_kind"]]]))
        return bool(self._expr_at(e, i, None))  # the up-front mask's value at the event

    @staticmethod
    def _balance_holds(e: dict, balance):
        """A balance comparison of a `when` expression (`e`) on `balance`: the available points, one member's
        or an array of them."""
        return _COMPARE[e["cmp"]](balance, max(-INT_LIMIT, min(e["value"], INT_LIMIT)))

    def _balance_gates(self, idx: np.ndarray, mm: np.ndarray) -> None:
        """Lockstep, after time passes and before earning: the balance conditions of the gift rules that have
        them (context.balance_conditions; program.build_condition reads `available` when the purchase's
        rules are chosen, before its points), into `self.balance_ok`."""
        for ri, exprs in self.balance_rules.items():
            ok = np.ones(len(idx), dtype=bool)
            for e in exprs:
                ok &= self._expr_at(e, idx, lambda k: vector_available(self.kstate[k], mm))
            self.balance_ok[ri][idx] = ok

    def _item_text(self, row: int) -> str:
        ic = int(self.r_item[row])
        return (self.rows.item_names[ic] if ic >= 0 else None) or ""

    # ------------------------------------------------------------------ returns (state-free part)
    # what `_returns` settles: read by the rest of the pass (e_valid is written after, so each pass gets a copy)
    _RETURNS_OUT = ("e_valid", "e_reason", "ret_order_ev", "ret_R", "ret_prev", "ret_G", "punch_back", "share_num",
                    "share_den")

    def _returns(self) -> None:
        """`_settle_returns`, or what it settled the last pass where the rules' line matches are the same (the only
        inputs a pass changes: a `for tier` condition makes them depend on the tier guess, a `when` on the spend
        on the discounts). Under enrolment a pass's clock moves with the returns: settled every pass."""
        memo = self._returns_memo
        matches = None
        if memo is not None and self.enrolment is None:
            matches = self._return_matches()
            if all(np.array_equal(matches[k], memo[0][k]) for k in matches):
                for name, value in zip(self._RETURNS_OUT, memo[1]):
                    setattr(self, name, value)
                self.e_valid, self.e_reason = self.e_valid.copy(), dict(self.e_reason)
                return
        matches = self._settle_returns(matches)
        if matches is not None and self.enrolment is None:
            self._returns_memo = (matches, [getattr(self, name) for name in self._RETURNS_OUT])
            self.e_valid, self.e_reason = self.e_valid.copy(), dict(self.e_reason)

    def _return_matches(self) -> dict:
        """Each punch, earn and multiplier rule's line matches (`_line_match`), as the returns' shares read them."""
        return {r.index: self._line_match(r) for r in self.punch_rules + self.earn_rules + self.mults}

    def _settle_returns(self, matches=None):
        """Validate every return and work out its shares, as the scalar `_check_return`/`_return` do; returns the
        line matches it read (None: no return to read them for). `matches`: `_return_matches()`, when the caller
        has them already.

        Only the order's lines and earlier returns of the same order matter, never points or tiers, so a
        Python pass over return events (a few percent of events) settles them all before the lockstep loop.
        """
        nev = self.nev
        self.e_valid = np.ones(nev, dtype=bool)
        self.e_reason: dict[int, str] = {}
        self.ret_order_ev = np.full(nev, -1, dtype=np.int64)
        self.ret_R = np.zeros(nev, dtype=np.int64)
        self.ret_prev = np.zeros(nev, dtype=np.int64)
        self.ret_G = np.zeros(nev, dtype=np.int64)
        self.punch_back = {r.index: np.zeros(nev, dtype=np.int64) for r in self.punch_rules}
        self.share_num = {sl.skey: np.zeros(nev, dtype=np.int64) for sl in self.claw_slots}
        self.share_den = {sl.skey: np.ones(nev, dtype=np.int64) for sl in self.claw_slots}
        if not self.prog.redeem:  # nothing can be redeemed: every redemption is rejected
            for ev in np.flatnonzero(self.e_type == REDEMPTION).tolist():
                self.e_valid[ev] = False
                self.e_reason[ev] = "redemption rejected by the program: reward"
        if self.enrolment is not None:
            self.enrolment.accept_never_joined(self)
        rets = np.flatnonzero(self.e_type == RETURN)
        if not len(rets):
            return None
        # the purchase each return names: same member and order id, earlier, counted (within `runs`)
        purchases = np.flatnonzero((self.e_type == PURCHASE) & (self.e_order >= 0) & self.e_running)
        norders = len(self.rows.order_names) + 1
        pkey = self.e_mem[purchases] * norders + self.e_order[purchases]
        porder = np.argsort(pkey, kind="stable")
        pkey_sorted = pkey[porder]
        rkey = self.e_mem[rets] * norders + self.e_order[rets]
        pos = np.searchsorted(pkey_sorted, rkey)
        pos_ok = pos < len(pkey_sorted)
        found = np.full(len(rets), -1, dtype=np.int64)
        hit = pos_ok.copy()
        hit[pos_ok] &= pkey_sorted[pos[pos_ok]] == rkey[pos_ok]
        found[hit] = purchases[porder[pos[hit]]]
        found[found >= rets] = -1  # bought after the return: not known yet
        found[self.e_order[rets] < 0] = -1
        outside = np.zeros(len(rets), dtype=bool)
        if self.prog.return_window is not None:  # returns.py `check_return`: refused as an order not known
            outside = self.e_order[rets] >= 0
            known = found >= 0
            outside[known] = vector_outside_window(self.prog, self.e_time[rets[known]], self.e_time[found[known]])
            if self.enrolment is not None:  # one of an order she does not have is not counted, before any window
                outside &= ~self.enrolment.unknown_order_not_counted(self, rets, found)
            for ev in rets[outside].tolist():
                self.e_valid[ev] = False
                self.e_reason[ev] = "return outside the return window"
            found[outside] = -1
        if self.enrolment is not None:  # a return of an order she does not have: not counted (enrolment.py)
            found = self.enrolment.returns(self, rets, found)
        if matches is None:
            matches = self._return_matches()
        e_start, e_end = self.e_start, np.concatenate((self.e_start[1:], [self.nrows]))
        simple = self._simple_line_returns(rets, found, e_end, matches)
        orders: dict[int, dict] = {}
        amount, qty, item = self.r_amount, self.r_qty, self.r_item
        rest = ~simple & ~outside
        for ev, pev in zip(rets[rest].tolist(), found[rest].tolist()):
            s, e = int(e_start[ev]), int(e_end[ev])
            if pev < 0:
                if not self.e_counted[ev]:
                    continue
                self.e_valid[ev] = False
                self.e_reason[ev] = ("return without an order id" if self.e_order[ev] < 0
                                     else "return of an order not in the history")
                continue
            o = orders.get(pev)
            if o is None:
                o = orders[pev] = self._order_record(int(pev), matches)
            lines = o["lines"]
            all_items = all(item[i] >= 0 and self._item_text(i) for i in range(s, e))
            reason = None
            if all_items:
                wanted: dict[str, int] = {}
                ret_lines = [(self._item_text(i), int(qty[i])) for i in range(s, e)]
                for i, (name, q) in enumerate(ret_lines):
                    rec = lines.get(name)
                    if rec is None:
                        reason = f"lines.{i}.item"
                        break
                    wanted[name] = wanted.get(name, 0) + q
                    if rec[2] + wanted[name] > rec[0]:
                        reason = f"lines.{i}.quantity"
                        break
            else:
                total = int(amount[s:e].sum())
                ret_amount = total or None
                if ret_amount is not None:
                    if o["returned"] + ret_amount > o["gross"]:
                        reason = "amount"
                elif o["returned"] >= o["gross"] and o["gross"] > 0:
                    reason = "order"
            if reason is not None:
                self.e_valid[ev] = False
                self.e_reason[ev] = f"return rejected by the program: {reason}"
                continue
            G = o["gross"]
            if all_items:
                r_amount = 0
                for name, q in ret_lines:
                    rec = lines[name]
                    before = half_even_int(rec[1] * rec[2], rec[0])
                    rec[2] += q
                    r_amount += half_even_int(rec[1] * rec[2], rec[0]) - before
            elif ret_amount is not None:
                r_amount = ret_amount
                o["by_amount"] = True
            else:
                r_amount = G - o["returned"]
                for rec in lines.values():
                    rec[2] = rec[0]
            prev = o["returned"]
            R = prev + r_amount
            o["returned"] = R
            whole = R >= G
            self.ret_order_ev[ev] = pev
            self.ret_R[ev], self.ret_prev[ev], self.ret_G[ev] = R, prev, G

            def fraction(ri):
                items = o["items"].get(ri)
                if whole or o["by_amount"] or items is None:
                    return (1, 1) if G == 0 or R >= G else (R, G)
                g = sum(lines[i][1] for i in items)
                back = sum(half_even_int(lines[i][1] * lines[i][2], lines[i][0]) for i in items)
                return (1, 1) if back >= g else ((back, g) if g else (0, 1))

            for r in self.punch_rules:
                units = o["units"].get(r.index, 0)
                if units:
                    num, den = fraction(r.index)
                    delta = (units if (num, den) == (1, 1) else half_even_int(units * num, den)) - o["back"][r.index]
                    if delta > 0:
                        o["back"][r.index] += delta
                        self.punch_back[r.index][ev] = delta
            for sl in self.claw_slots:
                num, den = fraction(sl.skey)
                self.share_num[sl.skey][ev], self.share_den[sl.skey][ev] = num, den
        return matches

    def _simple_line_returns(self, rets, found, e_end, matches) -> np.ndarray:
        """Settle at once the common return: one line naming an item, of an order returned only this once.
        Such a return sees no earlier return of its order, so the scalar `_return`'s running state starts
        empty and each figure is a closed form over the order's lines (below, with the names of the
        Python pass that handles every other return). Returns the mask of `rets` it settled."""
        nret = len(rets)
        simple = np.zeros(nret, dtype=bool)
        known = found >= 0
        if not known.any():
            return simple
        rstart = self.e_start[rets]
        canon = self._item_canon()
        ritem = canon[self.r_item[rstart]]
        rq = self.r_qty[rstart]
        uniq, counts = np.unique(found[known], return_counts=True)
        once = np.zeros(nret, dtype=bool)
        once[known] = counts[np.searchsorted(uniq, found[known])] == 1
        simple = once & (e_end[rets] - rstart == 1) & (ritem >= 0) & (rq > 0)
        if not simple.any():
            return simple
        k_ev, k_pev, k_item, k_q = rets[simple], found[simple], ritem[simple], rq[simple]
        # the rows of each order returned, grouped by return (each order appears once)
        ps, pe = self.e_start[k_pev], e_end[k_pev]
        lengths = pe - ps
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        row_k = np.repeat(np.arange(len(k_ev)), lengths)
        prow = np.repeat(ps - offsets, lengths) + np.arange(int(lengths.sum()))
        p_item, p_qty, p_amount = canon[self.r_item[prow]], self.r_qty[prow], self.r_amount[prow]
        same = p_item == k_item[row_k]  # the rows of the item returned (lines are keyed by item text)
        present = np.add.reduceat(same.astype(np.int64), offsets) > 0
        qty_item = np.add.reduceat(np.where(same, p_qty, 0), offsets)
        amount_item = np.add.reduceat(np.where(same, p_amount, 0), offsets)
        top_amount = int(np.add.reduceat(np.abs(p_amount), offsets).max())
        top_qty = int(np.add.reduceat(np.abs(p_qty), offsets).max())
        if not fits(top_amount + 1, max(top_qty, int(k_q.max())) + 1) or (present & (qty_item <= 0)).any():
            return np.zeros(nret, dtype=bool)  # int64 could overflow, or an odd order: the Python pass
        bad_item = ~present
        bad_qty = present & (k_q > qty_item)
        for ev in k_ev[bad_item].tolist():
            self.e_valid[ev] = False
            self.e_reason[ev] = "return rejected by the program: lines.0.item"
        for ev in k_ev[bad_qty].tolist():
            self.e_valid[ev] = False
            self.e_reason[ev] = "return rejected by the program: lines.0.quantity"
        ok = ~(bad_item | bad_qty)
        G = self.e_total[k_pev]
        R = half_even(amount_item * k_q, np.where(ok, qty_item, 1))  # the share of the item's amount returned
        full = (G == 0) | (R >= G)  # `fraction`: the whole order back, or no lines to weigh it by
        okv = k_ev[ok]
        self.ret_order_ev[okv] = k_pev[ok]
        self.ret_R[okv], self.ret_prev[okv], self.ret_G[okv] = R[ok], 0, G[ok]
        # a name matches a rule when any of its rows does; g: the amount of the order's matching names
        key = row_k * (len(self.rows.item_names) + 1) + (p_item + 1)
        _, name_of_row = np.unique(key, return_inverse=True)

        def fraction(match_rows):
            """(num, den) per return, as the scalar `fraction` with the rule's items listed ((1, 1): all of it)."""
            name_matched = np.bincount(name_of_row, weights=match_rows)[name_of_row] > 0
            g = np.add.reduceat(np.where(name_matched, p_amount, 0), offsets)
            back = np.where(np.add.reduceat((same & match_rows).astype(np.int64), offsets) > 0, R, 0)
            all_of_it = (R >= G) | (back >= g)
            return np.where(all_of_it, 1, np.where(g == 0, 0, back)), np.where(all_of_it | (g == 0), 1, g)

        for r in self.punch_rules:
            m = matches[r.index][prow]
            units = np.add.reduceat(np.where(m, p_qty, 0), offsets)
            num, den = fraction(m)
            delta = np.where((num == 1) & (den == 1), units, half_even(units * num, den))
            give = ok & (units > 0) & (delta > 0)
            self.punch_back[r.index][k_ev[give]] = delta[give]
        for sl in self.claw_slots:
            r, mu = sl.rule, sl.mult
            if not sl.fixed and (r.filters or (mu is not None and mu.filters)):
                m = matches[r.index][prow]
                if mu is not None:
                    m = m & matches[mu.index][prow]
                num, den = fraction(m)
            else:  # no items to weigh by: the share of the order's amount
                num, den = np.where(full, 1, R), np.where(full, 1, G)
            self.share_num[sl.skey][okv] = num[ok]
            self.share_den[sl.skey][okv] = den[ok]
        return simple

    def _item_canon(self) -> np.ndarray:
        """Item codes to one code per item text (-1 for none or empty), indexable by code -1 too (last)."""
        first: dict[str, int] = {}
        canon = [first.setdefault(name, c) if name else -1 for c, name in enumerate(self.rows.item_names)]
        return np.array(canon + [-1], dtype=np.int64)

    def _order_record(self, ev: int, matches) -> dict:
        s, e = int(self.e_start[ev]), int(self.e_start[ev + 1]) if ev + 1 < self.nev else self.nrows
        names = self.rows.item_names
        texts = [(names[c] if c >= 0 else None) or "" for c in self.r_item[s:e].tolist()]
        qtys = self.r_qty[s:e].tolist()
        amounts = self.r_amount[s:e].tolist()
        lines: dict[str, list[int]] = {}
        for name, q, a in zip(texts, qtys, amounts):
            rec = lines.get(name)
            if rec is None:
                lines[name] = [q, a, 0]
            else:
                rec[0] += q
                rec[1] += a
        items: dict[int, list[str]] = {}
        units: dict[int, int] = {}
        for r in self.punch_rules:
            m = matches[r.index][s:e].tolist()
            u = sum(q for q, ok in zip(qtys, m) if ok)
            units[r.index] = u
            if u:
                items[r.index] = sorted({t for t, ok in zip(texts, m) if ok})
        for sl in self.earn_slots:  # a source's points came from the lines its rule and its multiplier match
            r, mu = sl.rule, sl.mult
            if r.filters or (mu is not None and mu.filters):
                m = matches[r.index][s:e].tolist()
                if mu is not None:
                    m = [a and b for a, b in zip(m, matches[mu.index][s:e].tolist())]
                items[sl.skey] = sorted({t for t, ok in zip(texts, m) if ok})
        return {"lines": lines, "gross": sum(amounts), "returned": 0, "by_amount": False,
                "items": items, "units": units, "back": {r.index: 0 for r in self.punch_rules}}

    # ------------------------------------------------------------------ run
    # The state-free part of a purchase is the mechanics' own vector steps, beside their scalar steps:
    # punch.vector_discounts (the discount per line, the amount paid) and earn.vector_points (each earning
    # slot's points per event for every tier). What depends on state runs here, in lockstep.
    def run(self, tier_guess: Optional[np.ndarray] = None) -> SimResult:
        """The kernel's result. `tier_guess`: the tier each event starts its passes from (any guess gives the
        same result; a good one saves passes), default the start tier everywhere."""
        prog = self.prog
        self.punch_rules = [r for r in prog.rules if r.action == "punch"]
        self.earn_rules = [r for r in prog.rules if is_vector_staged(r)]  # per spend and per visit (earn.py)
        self.mults = [r for r in prog.rules if r.action == "multiplier"]
        self.give_rules = [r for r in prog.rules if r.action == "give"]
        # in the order of the scalar plan's phases: discounts, then discount scales (PURCHASE_PHASES)
        # (from the plan: each rule's mechanic's purchase phase; every one of them runs in vector_discount_rules)
        phase_of = plan_of(prog).phase_of
        self.discount_rules = [r for r in prog.rules if phase_of[r.index] == "discount"] + \
            [r for r in prog.rules if phase_of[r.index] == "discount_scale"]
        # fixed earns: on signup, on purchases and visits by trigger, per referral (what EarnFixed and
        # EarnPerEvent.vector_reason admit, and supports() has passed)
        self.fixed_rules = [r for r in prog.rules if r.action in ("earn_fixed", "earn_per_event")
                            and not is_vector_staged(r)]
        self._slots()
        # What reads the tier a member holds at an event (a tier's discount, `for tier` conditions) reads a
        # guess, settled by passes like the spend (_settle_spend): each pass replays everything with the
        # tiers the last one ended with; the tier before an event depends only on earlier events, so each pass
        # makes at least one more event of every member exact, and a pass that changes no tier is the answer.
        # Two first guesses save passes: tier by tier where tiers count points a tier's discount changes, and
        # tiers no lockstep state moves (lifetime visits), computed by the first pass before it reads them.
        tiers = prog.tiers
        # any first guess settles to the same tiers: a kernel of members settling apart (_settle_apart) goes on
        # from its own, a later budget pass starts from the last one's (`warm`); else the best first guess we have
        warm_guess = self.warm.get("tier_guess")
        apart_after = SETTLE_APART_AFTER
        if tier_guess is None and (self.warm.get("tier_moments") is not None or warm_guess is not None):
            # a later budget pass, from the tiers the last one settled on: exact up to the earliest cutoff, wrong
            # for the members a cutoff moved (every_mechanic at 1M rows: a tenth of a range's), who settle apart
            # at once (the next pass of them all left ~1%: a replay of every member more)
            apart_after = 0
        # a pass whose wrong members settle apart at once seldom has a next pass of all its members (only where
        # most of them are wrong, which then runs its lockstep again: time, never a result), so its lockstep
        # record (_replay) would go unread (every_mechanic's second budget pass: 5 at 1M rows)
        self.splits_at_once = apart_after == 0 and not self.plan.referrals
        if tier_guess is not None:
            self.tier_guess = tier_guess
        elif warm_guess is not None and len(warm_guess) == self.nev:
            self.tier_guess = warm_guess
        elif self.warm.get("tier_moments") is not None:  # another kernel's rows of these members (a first pass's
            # rows before a cutoff, simulate/budgets.py `claims_prefix`): its tiers where it had the events, carried on
            self.tier_guess, self.warm["spend_before"] = self._guesses_from_moments(self.warm.pop("tier_moments"))
        else:
            self.tier_guess = np.full(self.nev, tiers.qualified(0) if tiers else -1, dtype=np.int64)
            if reads_tier(prog) and guess_by_tier(prog):
                self.tier_guess = self._tier_guess_by_tier()
            self.tiers_at_once = reads_tier(prog) and not guess_by_tier(prog)
        for passes in range(MAX_TIER_PASSES):
            self._replay()
            if not reads_tier(prog) or np.array_equal(self.tier_before, self.tier_guess):
                if reads_tier(prog):
                    self.lockstep_record = None  # (its copies: no pass follows)
                    self.warm["tier_guess"] = self.tier_guess
                    if self.claims_only:  # (a prefix of the rows, maybe: the next pass's guess by moment)
                        self.warm["tier_moments"] = (self.member_names, self.e_mem, self.e_real, self.tier_before,
                                                     self.tier_after, self.spend_before,
                                                     self.spend_before + self.spend_deltas)
                # a first budget pass whose members' own claims make a budget run out is not the last: its figures
                # would be dropped (budgets.first_pass_not_last; every_mechanic: a group's aggregate and customer
                # measures, and the whole first pass's at 200k rows)
                self.claims_only = self.claims_only or first_pass_not_last(prog.budgets, self.first_known, self.claims)
                return self._claims_result() if self.claims_only else self._aggregate()
            # apart only once a pass after the first has not settled: a lockstep's cost follows its busiest
            # member's steps more than its width, so two kernels cost about two passes, and most wrong first
            # guesses settle in the next pass of them all (gym at 1M rows: 15 replays together, 30 apart)
            # (in a first budget pass whose settled members' claims make a budget run out, apart at once: only
            # the claims are wanted, and those members' are this pass's, `_claims_apart`)
            apart = self._settle_apart(figures=passes >= apart_after)
            if apart is not None:
                return apart
            self.tier_guess = self.tier_before.copy()
        raise Unsupported(f"the tiers members hold did not settle in {MAX_TIER_PASSES} passes")

    def _settle_apart(self, figures: bool = True) -> Optional[SimResult]:
        """After a pass whose guessed tiers were wrong for some members only: those members' tiers go on
        settling by passes in a kernel of their own (from the tiers this pass found), and the members the pass
        got right are replayed once more, apart, by a kernel that starts from the same guess (so its first pass
        is exact and the last), instead of every member replaying every pass (bookstore at 1M rows: 4 passes
        of 9,779 members per group, the last two for 114 and 1 of them). Members are independent unless
        something program-wide couples them within a pass (referrals: then None, and every member takes every
        pass; budgets, stock and codes do not, below); the two results merge as any two groups of members do.
        None too when most members are unsettled: another pass of them all costs no more. In a pass that cannot
        be the last, the members the pass got right are not replayed (`_claims_apart`); without `figures`, only
        that is tried."""
        # a code's total uses and a reward's stock are budgets too (compiler); a code's single use per member is
        # the member's own. Budgets do not couple the members of one pass: the pass's cutoffs (`known`, none
        # without a pass) decide each claim from the member's own claims alone (limits.vector_budgets,
        # stock.grant_in_service_order), which is why a pass splits into processes at all (simulate/budgets.py)
        if self.plan.referrals:
            return None
        unsettled = np.zeros(self.nmem, dtype=bool)
        unsettled[self.e_mem[self.tier_before != self.tier_guess]] = True
        if unsettled.all() or int(unsettled.sum()) > SETTLE_APART_SHARE * self.nmem:
            return None
        claims = self._claims_apart(unsettled)
        if claims is not None or not figures:
            return claims
        rowmask, mstarts, mends, mcode = self.members_given
        ev_unsettled = unsettled[self.e_mem]
        apart = []
        for members, guess in ((~unsettled, self.tier_guess[~ev_unsettled]),
                               (unsettled, self.tier_before[ev_unsettled])):
            rows_of = np.zeros(len(rowmask), dtype=bool)
            rows_of[self.sel] = members[self.r_mem]
            # the spend this pass settled on, the first guess of theirs (any guess settles to the same, _settle_spend)
            spend = {"spend_before": self.spend_before[members[self.e_mem]]}
            apart.append((rows_of, mstarts[members], mends[members], mcode[members], guess, spend))
        plan, rows, tail_members, first_known = self.plan, self.rows, self.tail_members, self.first_known
        claims_only, warm, refused = self.claims_only, self.warm, self.refused
        # this kernel is done (its members go on below): its arrays are freed now, not when the collector
        # finds the kernel's cycles (the tier step refers back to it), so memory stays that of one pass
        self.__dict__.clear()
        parts: list[SimResult] = []
        for rows_of, starts, ends, codes, guess, spend in apart:
            part = _Kernel(plan, rows, rows_of, starts, ends, codes, tail_members, first_known, spend)
            part.claims_only, part.refused = claims_only, refused
            part.guess_exact = not parts  # (the members this pass got right: exact at once, as said above)
            if not parts:  # (so its lockstep reads each event's points at that tier alone, as tiers found at once)
                part.tiers_found = guess
            parts.append(part.run(guess))
            claims_only = claims_only or part.claims_only  # (a part's claims showed the pass is not the last)
            part.__dict__.clear()
        self.claims_only = claims_only  # (for simulate_vector: no customer measures either)
        _warm_from_parts(warm, ev_unsettled, apart[0][5], apart[1][5])
        return parts[0].merge(parts[1])

    def _claims_apart(self, unsettled: np.ndarray) -> Optional[SimResult]:
        """`_settle_apart` in a first budget pass known not to be the last (`claims_only`), or that the claims of
        the members this pass got right (`unsettled` False) show cannot be (budgets.first_pass_not_last): only
        claims are wanted of it, and theirs are this pass's (a member's replay depends on her own events and tiers
        alone, as `_settle_apart` says), so only the others go on, in a kernel of their own giving its claims
        alone. Where the claims put together may miss one the cutoffs need (budgets.claims_cover_the_cutoffs),
        the settled members' own come from a claims-only kernel of theirs (from the same guess: exact in one
        pass). None, with nothing run, where the settled members' claims do not show that the pass cannot be the
        last: `_settle_apart` goes on as without it. every_mechanic at 1M rows: the first pass's group 1 (3 of
        9,779 members wrong after its first replay) and the last group's prefix make no second replay of every
        member."""
        budgets = self.prog.budgets
        if self.first_known != {} or not budgets:  # (a later pass, or no budget pass: may be the last)
            return None
        names = self.member_names
        out = {names[m] for m in np.flatnonzero(unsettled).tolist()}
        settled = [c for c in self.claims if c[1] not in out]
        if not self.claims_only and not first_pass_not_last(budgets, self.first_known, settled):  # (claims_only:
            return None  # the pass is known not to be the last, FirstPassScout)
        rowmask, mstarts, mends, mcode = self.members_given
        ev_unsettled = unsettled[self.e_mem]
        ev_settled = ~ev_unsettled

        def kernel_of(members, warm):
            rows_of = np.zeros(len(rowmask), dtype=bool)
            rows_of[self.sel] = members[self.r_mem]
            kern = _Kernel(self.plan, self.rows, rows_of, mstarts[members], mends[members], mcode[members],
                           self.tail_members, self.first_known, warm)
            kern.claims_only, kern.refused = True, self.refused
            return kern

        def claims_of(kern, guess):
            try:
                return kern.run(guess).claims
            finally:
                kern.__dict__.clear()

        part_warm = {"spend_before": self.spend_before[ev_unsettled]}
        part_claims = claims_of(kernel_of(unsettled, part_warm), self.tier_before[ev_unsettled])
        # the next budget pass's first guesses: the settled members' tiers and spend as this pass found them
        settled_warm = {"tier_guess": self.tier_guess[ev_settled], "spend_before": self.spend_before[ev_settled]}
        if self.claims_only:  # (a prefix of the rows, maybe: as `run` leaves them, by moment)
            index = np.cumsum(~unsettled) - 1  # (each settled member's index among them)
            settled_warm["tier_moments"] = ([names[m] for m in np.flatnonzero(~unsettled).tolist()],
                                            index[self.e_mem[ev_settled]], self.e_real[ev_settled],
                                            self.tier_before[ev_settled], self.tier_after[ev_settled],
                                            self.spend_before[ev_settled],
                                            (self.spend_before + self.spend_deltas)[ev_settled])
        claims = settled + part_claims
        if not claims_cover_the_cutoffs(budgets, self.claims, claims):
            settled_kern = kernel_of(~unsettled, {"spend_before": settled_warm["spend_before"]})
            guess, settled_warm = settled_warm["tier_guess"], settled_kern.warm
            settled_kern.guess_exact = True  # (as `_settle_apart`'s part of the members this pass got right)
            settled_kern.tiers_found = guess
        else:
            settled_kern = None
        warm = self.warm
        self.__dict__.clear()  # (done: its arrays freed before another kernel's, as in `_settle_apart`)
        self.claims_only = True  # (for simulate_vector: no customer measures either)
        if settled_kern is not None:
            claims = claims_of(settled_kern, guess) + part_claims
        _warm_from_parts(warm, ev_unsettled, settled_warm, part_warm)
        return SimResult(claims=claims)

    def _guesses_from_moments(self, moments: tuple) -> tuple[np.ndarray, np.ndarray]:
        """First guesses of the tier each event sees and of the member's spend before it (`_settle_spend`), from
        another kernel's settled ones over some of the same members' events (`warm["tier_moments"]`: member names,
        each event's member, moment, tier before and after it, spend before and after it): at a moment where that
        kernel had the member's k-th event there, its value before it; after, the value after her last event
        before; else the start tier and no spend. Used where a first budget pass replayed only the rows before a
        cutoff (budgets.py `claims_prefix`): the tiers there are the next pass's up to the earliest cutoff, and
        carried on they are a better start than the tier-by-tier guess costs (every_mechanic at 1M rows: three
        replays against the guess's per-tier runs and two); the spend so, 1-2 discount passes where none took 5.
        Only guesses: the passes settle from any (`run`, `_settle_spend`)."""
        names, o_mem, o_time, *values = moments  # (tier before, tier after, spend before, spend after)
        tiers = self.prog.tiers
        guess = np.full(self.nev, tiers.qualified(0) if tiers else -1, dtype=np.int64)
        spend = np.zeros(self.nev, dtype=np.int64)
        index = {name: i for i, name in enumerate(self.member_names)}
        mine = np.array([index.get(name, -1) for name in names], dtype=np.int64)[o_mem]  # its events' members here
        have = mine >= 0
        if not have.any() or not self.nev:
            return guess, spend
        o_mem, o_time = mine[have], o_time[have]
        inv, nt = _moment_ranks(np.concatenate((self.e_real, o_time)))
        if not fits(self.nmem + 1, nt + 1):
            return guess, spend
        key = self.e_mem * nt + inv[:self.nev]
        o_key = o_mem * nt + inv[self.nev:]
        order = np.argsort(o_key, kind="stable")  # (its events by member and moment, in its event order at a tie)
        o_key = o_key[order]
        first = np.searchsorted(o_key, key, side="left")
        # the k-th event of a member at a moment is its k-th there (`key` ascends: members in order, each member's
        # events in time order, where DST back-steps went to the scalar plan)
        at = first + (np.arange(self.nev) - np.searchsorted(key, key, side="left"))
        same = (at < len(o_key)) & (o_key[np.minimum(at, len(o_key) - 1)] == key)
        last = first - 1  # its last event of the member before this moment
        after = ~same & (last >= 0)
        after &= (o_key[np.maximum(last, 0)] // nt) == self.e_mem
        for out, o_before, o_after in ((guess, *values[0:2]), (spend, *values[2:4])):
            out[same] = o_before[have][order][at[same]]
            out[after] = o_after[have][order][last[after]]
        return guess, spend

    def _tier_guess_by_tier(self) -> np.ndarray:
        """A first guess of the tier each event sees, for tiers by points earned that a tier's own discount or
        a `for tier` rule changes (tiers.guess_by_tier): the state-free steps once per tier as if every event
        saw it, each event's points in the lockstep taken from the run of the tier it finds there (the points
        table's row of that tier, from that tier's run). Where what an event earns reads only that event's
        tier, that is every event's exact tier and the next pass confirms it; from the usual guess (the first
        tier everywhere) the passes took three or four. Whatever it guesses, the passes settle (`run`)."""
        tables: dict = {}
        # tiers by spend: what each event adds to it per tier too (what it paid after that tier's discount)
        by_spend = self.prog.metrics[self.prog.tiers.metric].kind == "spend"
        free = None
        groups = tiers_alike(self.prog)
        # each run works out only the rows it gives the guess (its group's; the first run also those of no
        # group, which the guess keeps from it): a points table has a row per tier
        unread = set(range(len(self.prog.tiers.tiers) + 1)) - {t + 1 for group in groups for t in group}
        for group in groups:  # tiers whose runs would be the same: one run for them all
            self.tier_guess = np.full(self.nev, group[0], dtype=np.int64)
            self.ptab_rows = {t + 1 for t in group} | (unread if not tables else set())
            try:
                self._state_free()
            finally:
                self.ptab_rows = None
            for key, table in self.ptab.items():
                if key not in tables:
                    tables[key] = table  # (each run makes its own tables: no copy needed)
                for t in group:
                    tables[key][t + 1] = table[t + 1]
            if by_spend:
                deltas = self._free_metric()
                if free is None:
                    free = np.repeat(deltas[None, :], len(self.prog.tiers.tiers) + 1, axis=0)
                for t in group:
                    free[t + 1] = deltas
        self.ptab = tables
        self.free_by_tier = free
        try:
            self.lockstep_record = recorded(self, self._lockstep)  # (the pass that confirms it may reuse it)
        finally:
            self.free_by_tier = None
        return self.tier_before.copy()

    def _replay(self) -> None:
        """One pass over the history: the state-free steps (on `tier_guess`), then the lockstep."""
        self._state_free()
        # a lockstep that would read what the last one read is not run again (lockstep_inputs.py): typically
        # the pass that confirms the tiers the last one found
        record, self.lockstep_record = self.lockstep_record, None
        if record is not None and np.array_equal(record.after["tier_before"], self.tier_guess) and \
                same_inputs(self, record, self._free_metric):
            reuse(self, record)
            return self._after_lockstep()
        # (the record holds the last lockstep's outputs: let them go before this one makes its own)
        self.lockstep_differed = self.lockstep_differed or record is not None
        record = None
        if reads_tier(self.prog) and not self.lockstep_differed and not self.guess_exact and \
                not self.splits_at_once:  # another pass of the same members may
            # follow; not once a pass's inputs differed: the next ones would likely too (budget cutoffs moving the
            # tiers), and a record costs a copy of what the lockstep reads and a hook on every attribute it reads;
            # nor where the guess is the answer, so this pass is the last (grocery_club's tiers at once: 5 records
            # at 1M rows, none read)
            self.lockstep_record = recorded(self, self._lockstep)
        else:
            # tiers computed at once (vector_tiers_at_once: by visits, which no point moves) are what this lockstep
            # finds, or a pass follows that reads the whole table: each event's points are read at its tier there
            self._lockstep(self.tier_guess if self.tier_guess is self.tiers_found else None)
        self._after_lockstep()

    def _state_free(self) -> None:
        """What a pass computes before the lockstep: the steps that need no state, on `tier_guess`."""
        prog = self.prog
        self._pred_masks = {}
        self.claims, self.budget_cut = [], []  # this pass's (vector_budgets)
        self.stock_out = {}
        self.e_time = self.e_real
        vector_codes(self)  # runtime/mechanics/codes.py: which purchases use which codes, before any rule runs
        self._returns()
        if self.enrolment is not None:  # what does not count is at her clock: time passes only at what counts
            self.e_time = self.enrolment.clock_times(self)
        if self.e_timer.any():
            self._timer_events()
        if self.tiers_at_once:  # once, with the returns' validity known (runtime/mechanics/tiers.py)
            self.tiers_at_once = False
            at_once = vector_tiers_at_once(self, self._free_metric)
            if at_once is not None:
                self.tier_guess = self.tiers_found = at_once
                self.guess_exact = True
        self._settle_spend()  # the discount steps, and the spend they leave
        vector_points(self)  # runtime/mechanics/earn.py
        for k in self.adjust_j:  # points adjustments credit at once, whether or not the program runs (not to a
            # customer the scenario's enrolment leaves out: she is not replayed)
            self.fixed[("adjust", k)] = np.where((self.e_adjust_kind == k) & self.e_counted, self.e_adjust_points, 0)
        self.draw_entries = vector_entries(self) if prog.draws else {}  # runtime/mechanics/draws.py
        # gift rules with a balance condition: their up-front firings, gated in the lockstep (_balance_gates)
        self.balance_rules = {r.index: balance_conditions(prog.doc["rules"][r.index]) for r in self.give_rules}
        self.balance_rules = {ri: exprs for ri, exprs in self.balance_rules.items() if exprs}
        self.balance_ok = {ri: np.zeros(self.nev, dtype=bool) for ri in self.balance_rules}
        self.gives = vector_gives(self, set(self.balance_rules)) if self.give_rules else {}  # give.py
        # runtime/mechanics/limits.py: what the earning parts' caps and the budgets grant of each part, fixed
        # earn and gift, before the lockstep
        self.cap_cut: list[tuple] = []  # (rule, claims cut, points cut) of earning parts' caps
        vector_limits(self)

    def _after_lockstep(self) -> None:
        """What a pass computes after the lockstep: gifts gated by a balance, the stock, rewards taken back."""
        prog = self.prog
        if self.balance_rules:
            self.gives.update(vector_gives(self, set(), self.balance_ok))
        if self.give_rules and any(rw.stock is not None for rw in prog.rewards.values()):
            vector_stock(self)  # runtime/mechanics/stock.py: what the rewards' stock grants of what was given
        self.taken_back = vector_taken_back(self)  # returns.py: of what was given (after the stock), what goes back

    def _slots(self) -> None:
        """The earning slots of every point kind, in the order the scalar evaluator emits their effects."""
        prog = self.prog
        tiers = prog.tiers.tiers if prog.tiers else ()
        self.earn_slots = []
        self.claw_slots = []  # the slots whose points a return takes back: earn slots, fixed earns on purchases
        self.slot_rules = {k.index: [] for k in prog.kinds}
        for r in prog.rules:
            if r in self.earn_rules:
                k = r.point_kind
                slots = [_Slot(r.index, r.name, r)]
                if any(mk in (-1, k) and mn != md for t in tiers for mk, mn, md in t.multipliers):
                    slots.append(_Slot(prog.extra_key(r.index, tier=0), None, r, tier=True))
                for m in self.mults:
                    if m.point_kind in (-1, k):
                        slots.append(_Slot(prog.extra_key(r.index, rule=m.index), m.name, r, mult=m))
                self.earn_slots += slots
                self.slot_rules[k] += slots
            elif r in self.fixed_rules:
                slot = _Slot(r.index, r.name, r, fixed=True)
                self.slot_rules[r.point_kind].append(slot)
                # earned on a purchase (or a visit); a goal's or a referral's points are the member's, not an
                # order's, and so are a timer's
                if (r.action == "earn_fixed" and r.trigger != "signup" and r.trigger not in MEMBER_VECTOR_TRIGGERS
                        and r.trigger not in POINT_TIMERS):
                    self.claw_slots.append(slot)
        self.claw_slots = self.earn_slots + self.claw_slots
        self.adjust_j = {}  # kind -> the position of its adjustments' slot (points added; no return takes them)
        for k in np.unique(self.e_adjust_kind[self.e_adjust_kind >= 0]).tolist():
            self.adjust_j[k] = len(self.slot_rules[k])
            self.slot_rules[k].append(_Slot(("adjust", k), None, None, fixed=True, adjust=True))

    def _free_metric(self) -> np.ndarray:
        """Per event, what it adds to the tiers' metric where no lockstep state decides it: the spend (a
        return's share taken off), a visit (a running purchase or visit); zero for points earned."""
        metric = self.prog.metrics[self.prog.tiers.metric] if self.prog.tiers else None
        counted = (self.e_type == PURCHASE) & self.e_running
        if metric is not None and metric.kind == "spend":
            return self.spend_deltas
        if metric is not None and metric.kind == "visits":
            return (counted | ((self.e_type == VISIT) & self.e_running)).astype(np.int64)
        return np.zeros(self.nev, dtype=np.int64)

    def _lockstep(self, points_at: Optional[np.ndarray] = None) -> None:
        """The steps that keep state, all members in lockstep. `points_at`: the tier of each event, where known
        before (its points are then read at that tier alone, `_earning_sources`)."""
        prog = self.prog
        nev, nmem = self.nev, self.nmem
        kinds = prog.kinds
        tiers = prog.tiers
        metric = prog.metrics[tiers.metric] if tiers else None
        thresholds = [t.threshold for t in tiers.tiers] if tiers else []
        start_tier = tiers.qualified(0) if tiers else -1
        tier = np.full(nmem, start_tier, dtype=np.int64)
        mval = np.zeros(nmem, dtype=np.int64)
        self.tier_before = np.full(nev, start_tier, dtype=np.int64)
        self.tier_after = np.full(nev, start_tier, dtype=np.int64)
        free_metric = self._free_metric()
        counted = (self.e_type == PURCHASE) & self.e_running
        earned_metric_kind = metric.point_kind if metric is not None and metric.kind == "earned" else None
        # runtime/mechanics/tiers.py: the tier step (metric, upgrades, reviews and grace), over the same arrays
        vt = self.vtiers = VectorTiers(self, tier, mval, free_metric) if tiers is not None else None
        if vt is not None and self.e_timer.any():  # a timer's points: `fire_at` then calls `tier_upgrade`
            vt.upgrades = vt.upgrades | self.e_timer
        if vt is not None and self.free_by_tier is not None:  # the first guess of tiers by spend
            vt.free_by_tier(self.free_by_tier)
        tail_members = self.tail_members if self.tail_members is not None else (
            TAIL_MEMBERS_TIERS if vt is not None and vt.in_steps else TAIL_MEMBERS)

        # per kind: slots, their expiry and the FIFO pointers
        self.kstate = {}
        for kind in kinds:
            rules = self.slot_rules[kind.index]
            nr = len(rules)
            st: dict[str, Any] = {"nr": nr, "rules": rules, "cum": np.zeros(nev * nr, dtype=np.int64),
                  "pts": np.zeros(nev * nr, dtype=np.int64), "clawed": np.zeros(nev * nr, dtype=np.int64),
                  "X": np.zeros(nmem, dtype=np.int64), "CT": np.zeros(nmem, dtype=np.int64)}
            if nr and kind.expiry in ("after_earning", "period_end"):
                # in earning order: the stream runs from its front (_moments_out_of_order routed the members
                # for whom that moves a batch's expiry past a moment anything looks at; a period's end never
                # moves: it grows with the earning moment)
                own_ev = vector_expiry_moments(kind, self.e_time)
                exp_ev = moments_in_earning_order(own_ev, self.e_mem)
                st["exp_ev"] = exp_ev
                # every moment as a small order-preserving int, so (member, moment) packs into one sortable int64
                inv, nt = _moment_ranks(np.concatenate((self.e_time, exp_ev, [self.end_us])))
                if not fits(nmem + 1, nt + 1):
                    raise Unsupported("too many members and moments to pack")
                ev_key = self.e_mem * nt + inv[:nev]
                exp_key = self.e_mem * nt + inv[nev:2 * nev]  # sorted: in earning order (above)
                # the slots are each event's `nr` slots in a row (slot keys: exp_key repeated), so searching the
                # slots is searching exp_key, times nr
                st["ptr"] = nr * np.searchsorted(exp_key, ev_key, side="right")
                st["ptr_end"] = nr * np.searchsorted(exp_key, np.arange(nmem) * nt + inv[-1], side="right")
                j = np.searchsorted(ev_key, exp_key, side="left")
                at_event = (j < nev) & (self.e_mem[np.minimum(j, nev - 1)] == self.e_mem)
                st["exp_at"] = np.repeat(np.where(at_event, j, -1), nr)
                st["exp_tick"] = np.repeat(~at_event & (exp_ev <= self.end_us), nr)
                st["Xexp"] = np.zeros(nev, dtype=np.int64)
                if kind.expiry == "after_earning" and kind.expiry_unit in ("month", "year"):
                    # batches out of earning order expire as holes (_moments_out_of_order routed the others)
                    vector_expiry_holes(st, self.e_mem, self.e_time, own_ev, exp_ev, self.end_us, _moment_ranks)
            if nr and kind.pending:  # runtime/mechanics/points.py: purchases' points wait
                vector_pending_setup(st, self.e_mem, self.e_time, self.e_type == PURCHASE,
                                     moments_in_earning_order(_add_duration(self.e_time, *kind.pending), self.e_mem),
                                     self.end_us, _moment_ranks, st.get("exp_ev"),
                                     self.e_valid | self.e_timer)  # (time passes at a timer's moment too)
            if nr and kind.expiry == "inactivity":  # points.py: a running purchase restarts the clock
                vector_inactivity_setup(st, _add_duration(self.e_time, kind.expiry_amount, kind.expiry_unit),
                                        counted, nmem)
            self.kstate[kind.index] = st
        # simulated redemptions (runtime/mechanics/redeem.py): per reward (price, point kind, times per event)
        plan = self.plan
        self.redeem_names = list(plan.redeem_rewards)
        self.redeems = [(prog.redeem[r].price, prog.redeem[r].kind, np.zeros(nev, dtype=np.int64))
                        for r in self.redeem_names]
        self.m_redeems = np.zeros(nmem, dtype=bool)
        if self.redeems:
            self.m_redeems = np.array(members_redeem(plan.scenario, self.member_names), dtype=bool)
        # the earn rules whose points a return may take back, with the kind each belongs to
        self.claw = {sl.skey: (np.zeros(nev, dtype=np.int64), np.zeros(nev, dtype=np.int64),
                               np.zeros(nev, dtype=bool)) for sl in self.claw_slots}
        is_ret = (self.e_type == RETURN) & self.e_valid & self.e_counted
        top_pts = max([int(t.max(initial=0)) for t in self.ptab.values()] + [0])
        if not fits(top_pts + 1, int(self.ret_G.max(initial=0)) + 1):
            raise Unsupported("amounts too large for 64-bit clawback arithmetic")

        earning = self._earning_sources(earned_metric_kind, points_at)
        order = np.argsort(-self.m_nev, kind="stable")
        counts_sorted = self.m_nev[order]
        starts_sorted = self.m_evstart[order]
        steps = int(counts_sorted[0]) if len(counts_sorted) else 0
        # what every step reads, bound once (a step is ~100 numpy calls on few members: attribute look-ups count,
        # more so through a recording lockstep's hook, lockstep_inputs.py); each is read in the first step anyway
        kstate, m_evstart, e_time, claw = self.kstate, self.m_evstart, self.e_time, self.claw
        tier_before_ev, tier_after_ev = self.tier_before, self.tier_after
        balance_rules, redeems = self.balance_rules, self.redeems
        claw_shares: dict = {}  # per kind, its slots a return takes back from and their shares (`_claw_shares`)
        # each return's row in those tables (they hold the returns' rows alone: ~2.5% of a history's events)
        ret_row = np.cumsum(is_ret) - 1 if self.claw_slots else np.zeros(0, dtype=np.int64)  # (none: never read)
        # per step, the members with more than `step` events (a prefix of `order`): found for every step at once
        widths = np.searchsorted(-counts_sorted, -np.arange(steps), side="left").tolist()
        # per kind with expiry, each member's first slot (in `order`): a step's expiry pointers are compared to it
        first_slots = {kind.index: starts_sorted * kstate[kind.index]["nr"] for kind in kinds
                       if "ptr" in kstate[kind.index]}
        # per event, whether a simulated member redeems after it (redeem.vector_redeem)
        redeem_at = vector_redeemers(self) if self.redeems else None
        for step, na in enumerate(widths):
            if na < tail_members:
                # the few members left (the busiest) finish one by one: a lockstep step costs ~30 numpy calls
                # whatever its width, and at 1M rows three steps in four had fewer than 32 members
                self._finish_one_by_one(order[:na], starts_sorted[:na], counts_sorted[:na], step, tier, mval,
                                        free_metric, is_ret, earned_metric_kind, thresholds)
                break
            mm = order[:na]
            first_of = starts_sorted[:na]  # (m_evstart[mm])
            idx = first_of + step
            # (1) time passes: batches whose expiry is due are taken from the front of the stream
            for kind in kinds:
                st = kstate[kind.index]
                if "ptr" not in st:
                    continue
                X = st["X"]
                xb = X[mm]
                st["Xexp"][idx] = xb
                e = st["ptr"][idx]
                has = e > first_slots[kind.index][:na]
                if has.any():
                    mh = mm[has]
                    X[mh] = np.maximum(xb[has], st["cum"][e[has] - 1])
                if "hole_here" in st:  # batches expiring before batches earned before them
                    self._expire_holes(st, mm, idx)
            for kind in kinds:  # ... and pending points whose moment has come are available
                st = kstate[kind.index]
                if "CP" in st:
                    vector_mature(st, mm, idx, first_of)
                if "DL" in st:
                    vector_inactivity(st, mm, idx, e_time[idx])
            if vt is not None:  # reviews and grace periods due, a calendar window's turn
                vt.before(mm, idx)
            if balance_rules:
                self._balance_gates(idx, mm)
            t_before = tier[mm]
            tier_before_ev[idx] = t_before
            # (2) earning: purchases by the points table of the member's tier, fixed earns; a kind's slots of
            # these events as one (events x slots) block, rows of its table (`_earning_sources`)
            rows = idx if points_at is not None else (t_before + 1) * nev + idx
            for kind in kinds:
                st = kstate[kind.index]
                event_points = 0
                by_tier, earned = earning[kind.index]
                if by_tier is not None:
                    block = np.take(by_tier, rows, axis=0)  # (take: ~3x indexing by two arrays, or rows)
                    # the running total slot by slot, a column at a time: numpy's cumsum and sum along rows of a
                    # few slots loop per row (2-6x slower from ~1,000 members; every_mechanic at 1M rows)
                    CT = st["CT"]
                    before = CT[mm]
                    total = before.copy()
                    running = np.empty_like(block)
                    for j in range(block.shape[1]):
                        total += block[:, j]
                        running[:, j] = total
                    st["cum2"][idx] = running
                    st["pts2"][idx] = block
                    CT[mm] = total
                    event_points = total - before
                    if earned is not None:
                        mval[mm] += event_points if earned is True else block[:, earned].sum(axis=1)
                if "CP" in st:
                    vector_pending_credit(st, mm, idx, event_points)
                if "DL" in st:
                    vector_inactivity_restart(st, mm, idx)
            # (3) returns take back points, oldest first, by the kind's policy
            ri = is_ret[idx]
            if ri.any():
                ridx = idx[ri]
                rmm = mm[ri]
                oev = self.ret_order_ev[ridx]
                rows_ret = None  # (the returns' rows in the share tables, read for the first kind with any)
                for kind in kinds:
                    st = kstate[kind.index]
                    # what each return takes back of each slot of its order, for all the kind's slots at once (a
                    # slot's take changes only that slot's `clawed`: the slots' figures do not depend on each other)
                    shares = claw_shares.get(kind.index)
                    if shares is None:
                        shares = claw_shares[kind.index] = self._claw_shares(st["rules"], is_ret)
                    cols, nums, dens = shares
                    if not len(cols):  # signup and referral points: no order to return
                        continue
                    if rows_ret is None:
                        rows_ret = ret_row[ridx]
                    oslots = oev[:, None] * st["nr"] + cols
                    deltas = _claw_target(st["pts"][oslots], np.take(nums, rows_ret, axis=0),
                                          np.take(dens, rows_ret, axis=0)) - st["clawed"][oslots]
                    active = np.flatnonzero((deltas > 0).any(axis=0))
                    if not len(active):
                        continue
                    asked = np.maximum(deltas[:, active], 0)  # per return and slot taken from (0: nothing)
                    st["clawed"][oslots[:, active]] += asked  # (each return's order its own: no repeats)
                    # whether each return's order still waits (the same for every slot)
                    waiting = vector_waiting(st, oev, e_time[ridx]) if "CP" in st else None
                    pending_only = kind.policy == "pending_only"
                    # the slots' takes from pending batches, all slots at once: from the order's own batch while it
                    # waits (a return's members are its own, so this touches no figure the slots read below)
                    if pending_only:  # the order's own batch, then the oldest pending: no available point is taken
                        taken_all = vector_claw_pending_only_slots(st, st["nr"], cols[active], rmm, oev, ridx,
                                                                   asked, waiting, m_evstart)
                    elif waiting is not None and waiting.any():
                        vector_claw_pending_slots(st, st["nr"], cols[active], rmm[waiting], oev[waiting],
                                                  ridx[waiting], asked[waiting])
                    zero = kind.policy == "zero"
                    if zero:  # each slot takes what the slots before it left of the balance (a slot's take lowers
                        # it by exactly that): in slot order, each its ask up to what is left
                        left = np.maximum(vector_available(st, rmm), 0)[:, None] - (np.cumsum(asked, axis=1) - asked)
                        taken_all = np.minimum(np.maximum(left, 0), asked)
                        spent = taken_all.sum(axis=1)
                        if waiting is not None:  # a waiting order's: all it asks, from its own batch (above)
                            taken_all = np.where(waiting[:, None], asked, taken_all)
                    elif not pending_only:  # negative: all it asks
                        taken_all = asked
                        spent = asked.sum(axis=1)
                    for a, c in enumerate(active.tolist()):
                        ta, tr, fx = claw[st["rules"][int(cols[c])].skey]
                        taken = taken_all[:, a]
                        ta[ridx] = taken
                        tr[ridx] = asked[:, a] - taken
                        fx[ridx] = asked[:, a] > 0
                    if earned_metric_kind == kind.index and vt is not None:  # (what the metric loses: in
                        # proportion to what was taken, so the slots' sum at once)
                        mval[rmm] -= vt.taken_back(ridx, taken_all.sum(axis=1))
                    if not pending_only:  # what the slots took of the available points (a waiting order's: none),
                        # at once: one slot's take after another's takes what one take of both does
                        if waiting is not None:
                            spent = np.where(waiting, 0, spent)
                        if zero:  # oldest first (points.vector_spend)
                            vector_spend(st, st["nr"], rmm, ridx, spent, m_evstart)
                        else:
                            st["X"][rmm] += spent
            # (4) the tier metric and the tier (after any event the member holds the tier the metric meets)
            if vt is not None:
                tier_after_ev[idx] = vt.after(mm, idx, t_before)
            # (5) simulated members redeem as soon as the balance allows
            if redeems:
                vector_redeem(self, mm, idx, redeem_at)
        self._end_of_history(tier)

    def _claw_shares(self, rules, is_ret) -> tuple:
        """Of a kind's slots, those a return takes back from (positions), and per return (the events `is_ret`,
        in order) the share of its order each returns (numerator, denominator) as (returns x those slots)
        tables, so that a lockstep step finds what its returns take of every slot by one look-up, not one per
        slot. Only the returns' rows: tables of every event cost a lockstep ~2-4 ms and ~10 MB per 160k events
        (coffee_stars), for the ~2.5% of rows a step reads."""
        cols = [j for j, sl in enumerate(rules) if sl.skey in self.claw]
        if not cols:
            return np.zeros(0, dtype=np.int64), None, None
        at = np.flatnonzero(is_ret)
        nums = np.stack([self.share_num[rules[j].skey][at] for j in cols], axis=1)
        dens = np.stack([self.share_den[rules[j].skey][at] for j in cols], axis=1)
        return np.array(cols, dtype=np.int64), nums, dens

    def _earning_sources(self, earned_metric_kind, at=None) -> dict:
        """Per kind, for the lockstep's earning: each slot's points per tier state and event as one (tier + 1,
        events, slots) table (a fixed earn's the same at every tier, an earning slot's its points table's row),
        so a step reads its events' slots at the tier each member holds by one look-up, not one per slot: row
        (tier + 1) * events + event of the table seen as (tier states x events, slots) (None: the kind has no
        slot); with `at` (the tier of each event, known) only that tier's, row event of an (events, slots)
        table; and which slots count toward a tier metric of points earned (True: all, None: none, else their
        columns); and the kind's `cum` and `pts` seen as (events x slots) blocks (`cum2`,
        `pts2`: views, so the rest of the kernel reads them as before)."""
        out = {}
        states = len(self.prog.tiers.tiers) + 1 if self.prog.tiers else 1
        if at is not None:  # (a flat index into each (tier states, events) table: `take`, ~8x indexing by two)
            states, at = 1, (at + 1) * self.nev + np.arange(self.nev)
        for kind in self.prog.kinds:
            st = self.kstate[kind.index]
            rules, nr = st["rules"], st["nr"]
            by_tier: Optional[np.ndarray] = None
            if nr:
                table = np.empty((states, self.nev, nr), dtype=np.int64)
                for j, sl in enumerate(rules):
                    table[:, :, j] = self.fixed[sl.skey] if sl.fixed else \
                        self.ptab[sl.skey] if at is None else np.take(self.ptab[sl.skey], at)
                by_tier = table.reshape(states * self.nev, nr)
            earned = None
            if earned_metric_kind == kind.index and nr:
                cols = [j for j, sl in enumerate(rules) if not sl.adjust]
                earned = True if len(cols) == nr else (np.array(cols, dtype=np.int64) if cols else None)
            st["cum2"], st["pts2"] = st["cum"].reshape(self.nev, nr), st["pts"].reshape(self.nev, nr)
            out[kind.index] = (by_tier, earned)
        return out

    def _finish_one_by_one(self, members, starts, counts, first_step: int, tier, mval, free_metric, is_ret,
                           earned_metric_kind, thresholds) -> None:
        """The lockstep's steps from `first_step` on for these members, member by member in Python: the same
        five phases on the same figures, each member's events in order (members are independent, so the
        order among them does not matter). A member's figures are read into Python lists first and written
        back after her last event: numpy's per-element access costs several times a list's."""
        kinds = self.prog.kinds
        has_tiers = self.prog.tiers is not None
        e_valid, ret_order_ev, m_evstart = self.e_valid, self.ret_order_ev, self.m_evstart
        qualified = self.prog.tiers.qualified if self.prog.tiers is not None else (lambda value: -1)
        vt = self.vtiers
        in_steps = vt is not None and vt.in_steps
        runs = self._runs_fit()
        for m, start, count in zip(members.tolist(), starts.tolist(), counts.tolist()):
            end = start + count
            first = start + first_step
            if runs and count - first_step >= RUN_MIN_EVENTS and self._member_runs_fit(m, start, first, end):
                self._finish_in_runs(m, start, first, end, tier, mval, free_metric, is_ret, earned_metric_kind)
                continue
            # the member's figures: events [start, end), their slots [start * nr, end * nr); positions below
            # are relative to `start` (a return's order and an expiry pointer are always the member's own)
            per_kind = []
            for kind in kinds:
                st = self.kstate[kind.index]
                nr = st["nr"]
                lo, hi = start * nr, end * nr
                rules = []
                for j, sl in enumerate(st["rules"]):
                    table = self.fixed[sl.skey][start:end].tolist() if sl.fixed else None
                    tiered = None if sl.fixed else self.ptab[sl.skey][:, start:end].tolist()
                    claw = None if sl.skey not in self.claw else (
                        self.share_num[sl.skey][start:end].tolist(), self.share_den[sl.skey][start:end].tolist(),
                        self.claw[sl.skey])
                    rules.append((j, table, tiered, claw))
                expires = "ptr" in st
                # pending points (points.vector_pending_setup): [CP, MP, cumP, wait_end, pend_ev, mfront]
                pend = [int(st["CP"][m]), int(st["MP"][m]), st["cumP"][start:end].tolist(),
                        st["wait_end"][start:end].tolist(), st["pend_ev"][start:end].tolist(),
                        st["mfront"][start:end].tolist()] if "CP" in st else None
                # inactivity (points.vector_inactivity_setup): [DL, dl_ev, inact_amt, inact_at]
                idle = [int(st["DL"][m]), st["dl_ev"][start:end].tolist(), st["inact_amt"][start:end].tolist(),
                        st["inact_at"][start:end].tolist()] if "DL" in st else None
                per_kind.append([kind, st, nr, lo, rules, expires, int(st["X"][m]), int(st["CT"][m]),
                                 st["cum"][lo:hi].tolist(), st["pts"][lo:hi].tolist(), st["clawed"][lo:hi].tolist(),
                                 st["ptr"][start:end].tolist() if expires else None,
                                 st["Xexp"][start:end].tolist() if expires else None, pend, idle])
            valid = e_valid[start:end].tolist()
            counted = self.e_counted[start:end].tolist()
            upgrades = (e_valid[start:end] | self.e_timer[start:end]).tolist()  # a timer's points: `tier_upgrade`
            ret = is_ret[start:end].tolist()
            order_ev = ret_order_ev[start:end].tolist()
            free = free_metric[start:end].tolist()
            # the first guess of tiers by spend: per tier (_tier_guess_by_tier; a return: its order's tier)
            free_tab = None if self.free_by_tier is None else self.free_by_tier[:, start:end].tolist()
            t_bef = self.tier_before[start:end].tolist()
            t_aft = self.tier_after[start:end].tolist()
            t_now = int(tier[m])
            v = int(mval[m])
            first_slot_of = int(m_evstart[m])
            etimes = self.e_time[start:end].tolist()
            redeems = [(price, k, times) for price, k, times in self.redeems] if self.m_redeems[m] else ()
            one_m = np.array([m])
            for i in range(first - start, count):
                idx = start + i
                # (1) time passes: batches whose expiry is due are taken from the front of the stream
                for pk in per_kind:
                    if pk[5]:
                        xb = pk[6]
                        pk[12][i] = xb
                        e = pk[11][i]
                        if e > first_slot_of * pk[2]:
                            c = pk[8][e - 1 - pk[3]]
                            if c > xb:
                                pk[6] = c
                        holes = pk[1].get("holes_at")
                        if holes and idx in holes:  # points.expire_out_of_order, on her lists
                            for b in holes[idx]:
                                gone = expire_out_of_order(pk[8], 0, b - start, i * pk[2], pk[2], pk[6])
                                pk[7] -= gone
                                pk[1]["hole"][b] += gone
                    pend, idle = pk[13], pk[14]
                    if pend is not None:  # points.vector_mature
                        f = pend[5][i]
                        pend[1] = pend[2][f - 1 - start] if f > first_slot_of else 0
                    if idle is not None and 0 <= idle[0] <= etimes[i]:  # points.vector_inactivity
                        amount = max(pk[7] - pk[6] - (pend[0] - pend[1] if pend is not None else 0), 0)
                        pk[6] += amount
                        idle[2][i], idle[3][i] = amount, idle[0]
                        idle[0] = -1
                if in_steps and vt is not None:  # the tier step's own state (reviews, a window): one member wide
                    tier[m], mval[m] = t_now, v
                    vt.before(one_m, np.array([idx]))
                    t_now, v = int(tier[m]), int(mval[m])
                if self.balance_rules:  # per_kind is in kind order: pk[7] - pk[6] is the kind's balance
                    balances = [_tail_available(pk) for pk in per_kind]
                    for ri, exprs in self.balance_rules.items():
                        self.balance_ok[ri][idx] = all([self._expr_one(e, idx, balances) for e in exprs])
                t_before = t_now
                t_bef[i] = t_before
                # (2) earning: purchases by the points table of the member's tier, fixed earns
                for pk in per_kind:
                    kind, nr = pk[0], pk[2]
                    cum, pts_list = pk[8], pk[9]
                    event_points = 0
                    for j, table, tiered, _claw in pk[4]:
                        pts = table[i] if table is not None else tiered[t_before + 1][i]
                        slot = i * nr + j
                        pk[7] += pts
                        cum[slot] = pk[7]
                        pts_list[slot] = pts
                        event_points += pts
                        if earned_metric_kind == kind.index and j != self.adjust_j.get(kind.index):
                            v += pts
                    pend, idle = pk[13], pk[14]
                    if pend is not None:  # points.vector_pending_credit
                        if pend[4][i]:
                            pend[0] += event_points
                        pend[2][i] = pend[0]
                    if idle is not None and idle[1][i] >= 0:  # points.vector_inactivity_restart
                        idle[0] = idle[1][i]
                # (3) returns take back points, oldest first, by the kind's policy
                if ret[i]:
                    o = order_ev[i] - start
                    for pk in per_kind:
                        kind, nr = pk[0], pk[2]
                        for j, table, _tiered, claw in pk[4]:
                            if claw is None:
                                continue
                            num_l, den_l, (ta, tr, fx) = claw
                            oslot = o * nr + j
                            pts_o = pk[9][oslot]
                            num, den = num_l[i], den_l[i]
                            target = pts_o if num == den else half_even_int(pts_o * num, den)
                            delta = target - pk[10][oslot]
                            if delta <= 0:
                                continue
                            pk[10][oslot] += delta
                            pend = pk[13]
                            if kind.policy == "pending_only":  # points.claw_pending_only_one: no available point
                                taken = 0 if pend is None else claw_pending_only_one(
                                    pk[8], pend[2], pend[4], nr, j, o, i, pend[5][i] - start, delta,
                                    pend[3][o] > etimes[i], pend[1], pend[0])
                                pk[7] -= taken
                                if pend is not None:
                                    pend[0] -= taken
                            elif pend is not None and pend[3][o] > etimes[i]:  # points.vector_claw_pending
                                taken = delta
                                pk[7] -= delta
                                pend[0] -= delta
                                cum = pk[8]
                                for s_ in range(oslot, (i + 1) * nr):
                                    cum[s_] -= delta
                                cumP = pend[2]
                                for e_ in range(o, i + 1):
                                    cumP[e_] -= delta
                            else:
                                if kind.policy == "negative":
                                    taken = delta
                                elif kind.policy == "zero":
                                    taken = min(delta, max(_tail_available(pk), 0))
                                else:
                                    taken = 0
                                _tail_spend(pk, taken, i, start, kind.policy == "zero")
                            ta[idx] = taken
                            tr[idx] = delta - taken
                            fx[idx] = True
                            if earned_metric_kind == kind.index:
                                v -= taken if vt is None else int(vt.taken_back(idx, taken))
                # (4) the tier metric and the tier (after any event the member holds the tier the metric meets)
                if in_steps and vt is not None:
                    tier[m], mval[m] = t_now, v
                    self.tier_before[idx] = t_before  # (a return's order's tier, read by VectorTiers.after)
                    t_now = t_aft[i] = int(vt.after(one_m, np.array([idx]), np.array([t_before]))[0])
                    v = int(mval[m])
                elif has_tiers:
                    if free_tab is None:
                        v += free[i]
                    else:
                        v += free_tab[t_bef[order_ev[i] - start] + 1 if ret[i] else t_before + 1][i]
                    q = qualified(v)
                    if not upgrades[i]:
                        q = t_before
                    t_now = q
                    t_aft[i] = q
                # (5) simulated members redeem as soon as the balance allows (redeem.vector_redeem)
                if redeems and valid[i] and counted[i]:
                    for price, k, times in redeems:
                        pk = per_kind[k]
                        n = simulated_redemptions(_tail_available(pk), price)
                        if n:
                            _tail_spend(pk, n * price, i, start, True)
                            times[idx] = n
            for pk in per_kind:
                st, lo = pk[1], pk[3]
                hi = lo + len(pk[8])
                st["X"][m], st["CT"][m] = pk[6], pk[7]
                st["cum"][lo:hi], st["pts"][lo:hi], st["clawed"][lo:hi] = pk[8], pk[9], pk[10]
                if pk[5]:
                    st["Xexp"][start:end] = pk[12]
                pend, idle = pk[13], pk[14]
                if pend is not None:
                    st["CP"][m], st["MP"][m] = pend[0], pend[1]
                    st["cumP"][start:end] = pend[2]
                if idle is not None:
                    st["DL"][m] = idle[0]
                    st["inact_amt"][start:end], st["inact_at"][start:end] = idle[2], idle[3]
            self.tier_before[start:end] = t_bef
            self.tier_after[start:end] = t_aft
            tier[m] = t_now
            mval[m] = v

    def _expire_holes(self, st, mm, idx) -> None:
        """Batches expiring before batches earned before them, at the events `idx` of members `mm` where they
        are due (points.vector_expiry_holes): a few members of a history, one at a time."""
        here = st["hole_here"][idx]
        if not here.any():
            return
        nr, cum, X, CT = st["nr"], st["cum"], st["X"], st["CT"]
        for m, e in zip(mm[here].tolist(), idx[here].tolist()):
            for b in st["holes_at"][e]:
                gone = expire_out_of_order(cum, int(self.m_evstart[m]) * nr, b, e * nr, nr, int(X[m]))
                CT[m] -= gone
                st["hole"][b] += gone

    def _runs_fit(self) -> bool:
        """Whether the tail's members may finish in runs (`_finish_in_runs`): the program's steps keep no state
        beyond the streams (X, CT), the tier and the metric: no pending points, inactivity, balance gates, tier
        step of its own (a window, reviews), first guess of tiers by tier; and returns take back under the
        `negative` policy (what they take does not depend on the balance)."""
        vt = self.vtiers
        if (vt is not None and vt.in_steps) or self.balance_rules or self.free_by_tier is not None:
            return False
        for kind in self.prog.kinds:
            st = self.kstate[kind.index]
            if "CP" in st or "DL" in st:
                return False
            if kind.policy != "negative" and any(sl.skey in self.claw for sl in st["rules"]):
                return False
        return True

    def _member_runs_fit(self, m: int, start: int, first: int, end: int) -> bool:
        """... and this member: she does not redeem, and no batch of hers expires at the moment it is earned
        (the lockstep reads a stream's expiry before the event earns; a run reads the run's figures)."""
        if self.redeems and self.m_redeems[m]:
            return False
        for st in self.kstate.values():
            if "hole_here" in st and st["hole_here"][first:end].any():
                return False
            if "ptr" in st:
                nr = st["nr"]
                e = st["ptr"][first:end]
                if ((e > start * nr) & (e > np.arange(first, end) * nr)).any():
                    return False
        return True

    def _finish_in_runs(self, m: int, start: int, first: int, end: int, tier, mval, free_metric, is_ret,
                        earned_metric_kind) -> None:
        """Member `m`'s events [first, end) in runs (for programs `_runs_fit` admits): the same phases as the
        lockstep's on the same arrays, a run of events at a time with numpy, each run as long as the member's
        tier stays the one it started with (the run ends with the event that changes it) and no two of its
        returns take back from the same order. Within a run every figure follows from the run's start:
        the points by the tier's table, the streams by running sums, the stream's consumed front X by a running
        maximum (expiry) shifted by what returns took (see below), the metric by a running sum."""
        kinds = self.prog.kinds
        tiers = self.prog.tiers
        upgrades_all = self.e_valid | self.e_timer  # a timer's points: `tier_upgrade` (as _finish_one_by_one)
        X = {k.index: int(self.kstate[k.index]["X"][m]) for k in kinds}
        CT = {k.index: int(self.kstate[k.index]["CT"][m]) for k in kinds}
        t, v = int(tier[m]), int(mval[m])
        a = first
        while a < end:
            b = end
            n = b - a
            # (2) earning, by the table of tier t, every slot of the run
            per_kind: list[Optional[np.ndarray]] = []
            earned = np.zeros(n, dtype=np.int64)
            for kind in kinds:
                st = self.kstate[kind.index]
                nr = st["nr"]
                if not nr:
                    per_kind.append(None)
                    continue
                P = np.empty((n, nr), dtype=np.int64)
                for j, sl in enumerate(st["rules"]):
                    P[:, j] = self.fixed[sl.skey][a:b] if sl.fixed else self.ptab[sl.skey][t + 1, a:b]
                    if earned_metric_kind == kind.index and j != self.adjust_j.get(kind.index):
                        earned += P[:, j]
                st["pts"][a * nr:b * nr] = P.ravel()  # (a return's order may be in the run)
                per_kind.append(P)
            # (3) returns: what each takes back (the `negative` policy: all of it), at most one per order a run
            rets = np.flatnonzero(is_ret[a:b])
            if len(rets) > 1:
                _, firsts = np.unique(self.ret_order_ev[a + rets], return_index=True)
                if len(firsts) < len(rets):  # the run ends before a second return of the same order
                    again = np.setdiff1d(np.arange(len(rets)), firsts)[0]
                    n = int(rets[again])
                    rets = rets[:again]
            claws = []  # (kind, rule, return events, order slots, what each takes)
            for kind in kinds:
                st = self.kstate[kind.index]
                for j, sl in enumerate(st["rules"]):
                    if sl.skey not in self.claw or not len(rets):
                        continue
                    ridx = a + rets
                    oslot = self.ret_order_ev[ridx] * st["nr"] + j
                    pts_o = st["pts"][oslot]
                    num, den = self.share_num[sl.skey][ridx], self.share_den[sl.skey][ridx]
                    target = _claw_target(pts_o, num, den)
                    delta = target - st["clawed"][oslot]
                    pos = delta > 0
                    claws.append((kind, j, sl, rets[pos], oslot[pos], delta[pos]))
                    if earned_metric_kind == kind.index:
                        np.subtract.at(earned, rets[pos], delta[pos])  # (VectorTiers.taken_back: all of it)
            # (4) the tier: the run ends with the first event after which the member holds another tier
            t_after = t
            if tiers is not None:
                vs = v + np.cumsum(earned[:n] + free_metric[a:a + n])
                q = np.where(upgrades_all[a:a + n], self.prog.tiers.qualified(vs), t)
                moved = np.flatnonzero(q != t)
                if len(moved):
                    n = int(moved[0]) + 1
                    t_after = int(q[n - 1])
                v = int(vs[n - 1])
            b = a + n
            self.tier_before[a:b] = t
            if tiers is not None:
                self.tier_after[a:b] = t
                self.tier_after[b - 1] = t_after
            spent: dict = {}
            for kind, j, sl, r, oslot, delta in claws:
                keep = r < n
                r, oslot, delta = r[keep], oslot[keep], delta[keep]
                self.kstate[kind.index]["clawed"][oslot] += delta
                ta, tr, fx = self.claw[sl.skey]
                ta[a + r], tr[a + r], fx[a + r] = delta, 0, True
                s = spent.setdefault(kind.index, np.zeros(n, dtype=np.int64))
                np.add.at(s, r, delta)
            for kind, P in zip(kinds, per_kind):
                if P is None:
                    continue
                st = self.kstate[kind.index]
                nr = st["nr"]
                cum = CT[kind.index] + np.cumsum(P[:n].ravel())
                st["cum"][a * nr:b * nr] = cum
                CT[kind.index] = int(cum[-1])
                if "ptr" not in st:
                    X[kind.index] += int(spent[kind.index].sum()) if kind.index in spent else 0
                    continue
                # (1) expiry, then what returns took: X_i = max(X_(i-1), c_i) + s_i; with S the running sum of
                # s, Y_i = X_i - S_i = max(Y_(i-1), c_i - S_(i-1)) is a running maximum
                e = st["ptr"][a:b]
                due = e > start * nr
                c = st["cum"][np.maximum(e - 1, 0)]
                s = spent.get(kind.index)
                S = np.cumsum(s) if s is not None else np.zeros(n, dtype=np.int64)
                S_before = S - (s if s is not None else 0)
                x0 = X[kind.index]
                Y = np.maximum.accumulate(np.where(due, c - S_before, x0))
                Y = np.maximum(Y, x0)
                X_after = Y + S
                st["Xexp"][a:b] = np.concatenate(([x0], X_after[:-1]))
                X[kind.index] = int(X_after[-1])
            t = t_after
            a = b
        for kind in kinds:
            st = self.kstate[kind.index]
            st["X"][m], st["CT"][m] = X[kind.index], CT[kind.index]
        tier[m], mval[m] = t, v

    def _end_of_history(self, tier) -> None:
        """The end of the history: the last batches due expire; `tier` is each member's final tier."""
        kinds = self.prog.kinds
        for kind in kinds:
            st = self.kstate[kind.index]
            if "DL" in st:
                vector_inactivity_end(st, self.end_us, self.m_evstart)
            if "ptr" not in st:
                continue
            X = st["X"]
            st["Xend"] = X.copy()
            e = st["ptr_end"]
            has = e > self.m_evstart * st["nr"]
            X[has] = np.maximum(X[has], st["cum"][e[has] - 1])
            nr = st["nr"]
            for m, b in st.get("end_holes", ()):  # points.expire_out_of_order, at the end of the history
                gone = expire_out_of_order(st["cum"], int(self.m_evstart[m]) * nr, b,
                                           int(self.m_evstart[m] + self.m_nev[m]) * nr, nr, int(X[m]))
                st["CT"][m] -= gone
                st["hole"][b] += gone
        if self.vtiers is not None:
            self.vtiers.at_end()  # reviews and grace periods due by the end of the history
        self.final_tier = tier
        if self.enrolment is not None and self.enrolment.never.any():  # not replayed: no tier at the end
            self.final_tier = np.where(self.enrolment.never, -1, tier)

    def _claims_result(self) -> SimResult:
        """A pass's budget claims alone (`claims_only`): a pass that is not the last gives the next its claims,
        and its figures would be dropped (simulate/budgets.py `FirstPassScout`)."""
        res = SimResult()
        res.claims = self.claims
        return res

    # ------------------------------------------------------------------ effects to figures
    def _aggregate(self) -> SimResult:
        prog, plan = self.prog, self.plan
        # the per-member sums (events by member) only for the member rows: by_member.csv and compare read them,
        # a report alone does not
        per_member = plan.member_rows
        res = SimResult()
        cells = _Cells(res)
        res.claims = self.claims  # budget claims for the next pass (simulate/budgets.py)
        for budget, times, truncated in self.budget_cut:  # budget_reached effects (accumulate: the budget table)
            res.add("budget", budget, "times", times)
            res.add("budget", budget, "truncated", truncated)
        for rule, times, truncated in self.cap_cut:  # earning parts' cap_reached effects (the cap table)
            res.add("cap", rule, "times", times)
            res.add("cap", rule, "truncated", truncated)
        for reward, units in self.stock_out.items():  # stock_out effects (accumulate: the stock table)
            res.add("stock", reward, "refused", units)
        for (code, column), count in self.code_counts.items():  # code_used / code_refused (accumulate: codes)
            res.add("code", code, column, count)
        nev, nmem = self.nev, self.nmem
        mon = self.e_month
        valid = self.e_valid
        typ = self.e_type
        # events (accepted ones), and rejections by reason
        counts = res.counts
        n_events = int((valid & ~is_one_of(typ, ADDED)).sum())  # the history's (not the referral pass's, which have no rows)
        if n_events:
            counts["events"] = n_events
        if self.plan.referrals:  # what the new members' purchases qualify (mechanics/referral.py)
            qualified = vector_qualified(self)
            if qualified:
                counts["effects_referral_qualified"] = qualified
        P = valid & (typ == PURCHASE)
        R = valid & (typ == RETURN)
        if P.any():
            counts["orders"] = int(P.sum())
        if P.any() or R.any():
            counts["revenue"] = int(self.e_total[P].sum()) - int(self.e_total[R].sum())
        if R.any():
            counts["returns"] = int(R.sum())
            counts["refunded"] = int(self.e_total[R].sum())
        # the scalar adds the month cells one event at a time; the order of keys does not matter, their presence does
        cells.add(lambda m: ("month", _month_text(m), "orders"), mon, None, P)
        signed = np.where(P, self.e_total, -self.e_total)
        cells.add(lambda m: ("month", _month_text(m), "revenue"), mon, signed, P | R)
        cells.add(lambda m: ("month", _month_text(m), "returns"), mon, None, R)
        # by store: the event's store is its first row's (the scalar engine's MemberEvents.stores)
        est, store_name = self.e_store, self._store_name
        cells.add(lambda c: ("store", store_name(c), "orders"), est, None, P)
        cells.add(lambda c: ("store", store_name(c), "revenue"), est, signed, P | R)
        if P.any():  # members who bought in the store: distinct (member, store name) pairs
            names = sorted({store_name(c) for c in range(-1, len(self.rows.store_names))})
            canon = np.array([names.index(store_name(c)) for c in range(-1, len(self.rows.store_names))], np.int64)
            pairs = distinct_sums(self.e_mem[P] * len(names) + canon[est[P] + 1])[0]  # (np.unique's, by a table)
            for i, n in zip(*distinct_sums(pairs % len(names))):
                res.add("store", names[int(i)], "members", int(n))
            stores = self.prog.stores
            if any(stores.values()):  # members per region (the scalar MemberAccumulator.finish)
                regions = sorted({region_of(name, stores) for name in names})
                region_ix = np.array([regions.index(region_of(name, stores)) for name in names], np.int64)
                pairs = distinct_sums((pairs // len(names)) * len(regions) + region_ix[pairs % len(names)])[0]
                for i, n in zip(*distinct_sums(pairs % len(regions))):
                    res.add("region", regions[int(i)], "members", int(n))
        for code, name in [*enumerate(TYPES), (ADJUSTMENT, "adjustment"), (FEE, "fee")]:
            if code in (PURCHASE, RETURN):
                continue
            n = int((valid & (typ == code)).sum())
            if n:
                counts[f"events_{name}"] = counts.get(f"events_{name}", 0) + n
        for ev in sorted(self.e_reason):
            res.add("rejected", self.e_reason[ev], "events")
        if self.e_reason and self.refused is not None:  # the refused events' rows, for the customer measures
            self.refused.append(self.rows.history_row[self.sel[self.e_start[np.fromiter(self.e_reason, np.int64)]]])
        if self.vtiers is not None and self.vtiers.fees is not None:  # fee_paid effects (mechanics/fees.py)
            for tier, paying in self.vtiers.fees.paid():
                name, amount = tier.name, tier.fee[0]
                cells.add(lambda m: ("fee", f"{name}{KEY_SEP}{_month_text(m)}", "payments"), mon, None, paying)
                cells.add(lambda m: ("fee", f"{name}{KEY_SEP}{_month_text(m)}", "amount"), mon,
                          np.full(nev, amount, dtype=np.int64), paying)
                res.add("fee_tier", name, "members", int(len(np.unique(self.e_mem[paying]))))
        if self.enrolment is not None:
            self.enrolment.aggregate(self, counts)
        # points earned, discounts, clawbacks, expiry
        m_earned = {}
        m_clawed = {}
        m_expired = {}
        m_adjusted = {}
        for kind in prog.kinds:
            st = self.kstate[kind.index]
            nr = st["nr"]
            pk = kind.name
            if not nr:
                continue
            pts = st["pts"]
            by_rule = pts.reshape(nev, nr)  # slot ev * nr + j: a row per event, a column per rule's slot
            got = by_rule > 0
            if kind.index in self.adjust_j:  # points adjustments: apart from what is earned (accumulate)
                aj = self.adjust_j[kind.index]
                adj = np.zeros((nev, nr), dtype=bool)
                adj[:, aj] = got[:, aj]
                got[:, aj] = False
                m_adjusted[pk] = self._adjusted(res, cells, kind, pts, adj.reshape(-1))
            # what each event earned: the month and store sums go over events, not every rule's slot (a key is
            # made where some slot earned, as where some event did)
            ev_pts = row_sums(np.where(got, by_rule, 0))
            ev_got = row_any(got)
            cells.add(lambda m, pk=pk: ("points", f"{pk}{KEY_SEP}{_month_text(m)}", "issued"), mon, ev_pts, ev_got)
            cells.add(lambda c: ("store", store_name(c), "points_issued"), est, ev_pts, ev_got)
            for j, sl in enumerate(st["rules"]):
                mine, earned = got[:, j], by_rule[:, j]
                for name, sel in self._by_source_name(sl, mine, self.tier_before):
                    res.cells[("rule", name, "points_issued")] = res.cells.get(("rule", name, "points_issued"), 0) + int(earned[sel].sum())
                    times = self.fixed_times.get(sl.skey) if sl.fixed else None  # one effect per firing
                    count = int(sel.sum()) if times is None else int(times[sel].sum())
                    res.cells[("rule", name, "effects")] = res.cells.get(("rule", name, "effects"), 0) + count
            if per_member:
                m_earned[pk] = (np.bincount(self.e_mem[ev_got], minlength=nmem) > 0,
                                _group_sum(self.e_mem, ev_pts, nmem))
            clawed = np.zeros(nmem, dtype=np.int64)
            for j, sl in enumerate(st["rules"]):
                if sl.skey not in self.claw:
                    continue
                taken, trunc, fx = self.claw[sl.skey]
                cells.add(lambda m, pk=pk: ("points", f"{pk}{KEY_SEP}{_month_text(m)}", "clawed_back"), mon, taken, fx)
                otier = self.tier_before[np.maximum(self.ret_order_ev, 0)]  # a tier's extra: the tier at the order
                for name, sel in self._by_source_name(sl, fx, otier):
                    key = ("rule", name, "points_clawed_back")
                    res.cells[key] = res.cells.get(key, 0) + int(taken[sel].sum())
                if per_member:
                    clawed += _group_sum(self.e_mem, np.where(fx, taken, 0), nmem)
            m_clawed[pk] = clawed
            if "ptr" in st:
                cum = st["cum"]
                prev = np.concatenate(([0], cum[:-1]))
                prev[self.m_evstart[self.m_nev > 0] * nr] = 0  # each member's first slot
                at = st["exp_at"]
                # the stream's front where the slot's expiry was read (an event's, else the member's at the end),
                # then what expired of the slot: in place, one array of slots rather than a temporary per step
                expiring = at >= 0
                amount = np.repeat(st["Xend"][self.e_mem], nr)
                amount[expiring] = st["Xexp"][at[expiring]]
                np.maximum(amount, prev, out=amount)
                np.subtract(cum, amount, out=amount)
                np.maximum(amount, 0, out=amount)
                amount[~(expiring | st["exp_tick"])] = 0  # (not due)
                ev_amount = row_sums(amount.reshape(nev, nr))  # never negative: > 0 where a slot's is
                if "hole" in st:  # expired before batches earned before it (points.expire_out_of_order)
                    ev_amount = ev_amount + st["hole"]
                cells.add(lambda m, pk=pk: ("points", f"{pk}{KEY_SEP}{_month_text(m)}", "expired"),
                          _month_number(st["exp_ev"]), ev_amount, ev_amount > 0)
                if per_member:
                    m_expired[pk] = _group_sum(self.e_mem, ev_amount, nmem)
            if "DL" in st:  # points expired after inactivity, in the month of the deadline
                for amount, at, mem in ((st["inact_amt"], st["inact_at"], self.e_mem),
                                        (st["inact_end"], st["inact_end_at"], np.arange(nmem))):
                    cells.add(lambda m, pk=pk: ("points", f"{pk}{KEY_SEP}{_month_text(m)}", "expired"),
                              _month_number(at), amount, amount > 0)
                    if per_member:
                        m_expired[pk] = m_expired.get(pk, 0) + _group_sum(mem, amount, nmem)
            if "CP" in st:  # points_available effects, in the month their moment falls in
                matured = vector_matured(st, self.e_mem, self.m_evstart, self.end_us)
                cells.add(lambda m, pk=pk: ("points", f"{pk}{KEY_SEP}{_month_text(m)}", "matured"),
                          _month_number(st["avail_ev"]), matured, matured > 0)
        m_redeemed, m_rewards, m_face, m_reward_cost = self._rewards(res, cells)
        m_discount = np.zeros(nmem, dtype=np.int64)
        # (name, discount per event, its cost, the events with an effect): a tier's discount (one effect where it
        # is not zero, tiers.tier_discount), then the rules' (where they take something off)
        sources = [(prog.tiers.tiers[ti].name, d, d, d != 0) for ti, d in self.tier_discounts.items()]
        sources += [(r.name, self.discounts[r.index], self.discount_costs[r.index], self.discounts[r.index] > 0)
                    for r in self.discount_rules + self.punch_rules]
        for r in self.discount_rules:  # a rule's own cap: a cap_reached for each order it cut, by what it cut
            refused = self.discount_refused.get(r.index)
            if refused is not None and (refused > 0).any():
                res.add("cap", r.name, "times", int((refused > 0).sum()))
                res.add("cap", r.name, "truncated", int(refused.sum()))
        for name, d, cost, has in sources:
            if has.any():
                s = int(d[has].sum())
                for col, v in (("discount", s), ("discount_cost", int(cost[has].sum())),
                               ("discounted_orders", int(has.sum())),
                               ("effects", int(has.sum()))):
                    key = ("rule", name, col)
                    res.cells[key] = res.cells.get(key, 0) + v
            cells.add(lambda m: ("month", _month_text(m), "discount"), mon, cost, has)
            cells.add(lambda m, name=name: ("rule_month", f"{name}{KEY_SEP}{_month_text(m)}", "discount_cost"), mon,
                      cost, has)
            cells.add(lambda c: ("store", store_name(c), "discount_cost"), est, cost, has)
            if per_member:
                m_discount += _group_sum(self.e_mem, d, nmem)
        m_perks = self._perks(res, cells)
        # tiers
        tiers = prog.tiers
        names = [t.name for t in tiers.tiers] if tiers else []
        final = self.final_tier
        if tiers is not None:
            changed = self.tier_after != self.tier_before
            # every change: at events, and at reviews and grace periods' ends between them (VectorTiers.timed),
            # each member's in the order they happen (an event's position, then timed before at-event ones)
            assert self.vtiers is not None  # made by the lockstep of a program with tiers
            t_mem, t_pos, t_seq, t_at, t_from, t_to = self.vtiers.changes()
            c_mem = np.concatenate((self.e_mem[changed], t_mem))
            c_mon = np.concatenate((mon[changed], _month_number(t_at)))
            c_from = np.concatenate((self.tier_before[changed], t_from))
            c_to = np.concatenate((self.tier_after[changed], t_to))
            c_pos = np.concatenate((2 * np.flatnonzero(changed) + 3, 2 * t_pos + 2))
            c_seq = np.concatenate((np.zeros(int(changed.sum()), np.int64), t_seq))
            # each (from, to) pair's count, in the order the pairs first occur (as a count per change would add them)
            width = len(names) + 1
            pairs, first, times = np.unique((c_from + 1) * width + c_to + 1, return_index=True, return_counts=True)
            seen = np.argsort(first)
            for pair, n in zip(pairs[seen].tolist(), times[seen].tolist()):
                a, b = pair // width - 1, pair % width - 1
                res.add("tier_change", f"{names[a] if a >= 0 else ''}{KEY_SEP}{names[b] if b >= 0 else ''}", "members", n)
            start = tiers.qualified(0)
            # the start tier at the member's first event counts as a change, for reached and per month
            if start >= 0:
                c_mem = np.concatenate((self.e_mem[self.m_evstart], c_mem))
                c_mon = np.concatenate((mon[self.m_evstart], c_mon))
                c_to = np.concatenate((np.full(nmem, start), c_to))
                c_pos = np.concatenate((np.zeros(nmem, np.int64), c_pos))
                c_seq = np.concatenate((np.zeros(nmem, np.int64), c_seq))
            if self.enrolment is not None and self.enrolment.never.any():  # not replayed: no tier (engine.py)
                kept = ~self.enrolment.never[c_mem]
                c_mem, c_mon, c_to, c_pos, c_seq = c_mem[kept], c_mon[kept], c_to[kept], c_pos[kept], c_seq[kept]
            o = np.lexsort((c_seq, c_pos, c_mem))
            c_mem, c_mon, c_to = c_mem[o], c_mon[o], c_to[o]
            reached = c_to >= 0
            if reached.any():
                pair = distinct_sums(c_mem[reached] * (len(names) + 1) + c_to[reached])[0]  # (np.unique's, by a table)
                for ti, n in zip(*distinct_sums(pair % (len(names) + 1))):
                    res.add("tier", names[int(ti)], "members_reached", int(n))
            for ti, n in zip(*distinct_sums(final[final >= 0])):
                res.add("tier", names[int(ti)], "members_at_end", int(n))
            self._tier_months(res, names, c_mem, c_mon, c_to)
        # members
        res.count("members", nmem)
        purchasing = _distinct_count(self.e_mem.compress(P))  # (the events are in member order)
        if purchasing:
            res.count("purchasing_members", purchasing)
        if per_member:
            P_mem = _group_sum(self.e_mem, P.astype(np.int64), nmem)
            revenue = _group_sum(self.e_mem, np.where(P, self.e_total, 0) - np.where(R, self.e_total, 0), nmem)
            costs = plan.info.point_costs
            earned_total = np.zeros(nmem, dtype=np.int64)
            outstanding = np.zeros(nmem, dtype=np.int64)
            for pk, (_has, e) in m_earned.items():
                earned_total += e
                outstanding += e - m_clawed.get(pk, 0) - m_expired.get(pk, 0) - m_redeemed.get(pk, 0)
            for a in m_adjusted.values():
                outstanding += a
            redeemed_total = np.zeros(nmem, dtype=np.int64)
            for r in m_redeemed.values():
                redeemed_total += r
            # the member's value: discounts, and points earned at their kind's cost (a kind she earned any of)
            points_value = [Decimal(0)] * nmem
            for pk, (has, e) in m_earned.items():
                cost = costs.get(pk, Decimal(0))
                for i, got in zip(np.flatnonzero(has).tolist(), e[has].tolist()):
                    points_value[i] += Decimal(got) * cost
            value = [Decimal(d + f) + pv for d, f, pv in zip(m_discount.tolist(), m_face.tolist(), points_value)]
            # the member's cost: discounts, rewards at cost, and the points she holds at their kind's cost
            held_value = [Decimal(0)] * nmem
            for pk, (has, e) in m_earned.items():
                cost = costs.get(pk, Decimal(0))
                held = e - m_clawed.get(pk, 0) - m_expired.get(pk, 0) - m_redeemed.get(pk, 0)
                if pk in m_adjusted:  # the points an adjustment added are held too (a kind the member has any of)
                    held = held + m_adjusted[pk]
                    has = has | (m_adjusted[pk] != 0)
                for i, n in zip(np.flatnonzero(has).tolist(), held[has].tolist()):
                    held_value[i] += Decimal(n) * cost
            member_cost = [Decimal(d + r + p) + h for d, r, p, h in zip(m_discount.tolist(), m_reward_cost.tolist(),
                                                                        m_perks.tolist(), held_value)]
            tier_names = [names[t] if t >= 0 else "" for t in final.tolist()]
            rows = list(map(MemberRow._make, zip(
                self.member_names, P_mem.tolist(), revenue.tolist(),
                earned_total.tolist(), redeemed_total.tolist(), outstanding.tolist(), m_rewards.tolist(),
                m_discount.tolist(), value, tier_names, member_cost, held_value)))
            res.members = rows
        if self.draw_entries:
            self._draws(res)
        return res

    def _adjusted(self, res: SimResult, cells: "_Cells", kind, pts, adj) -> np.ndarray | int:
        """The points adjustments added to `kind` (the slots `adj` of its table `pts`), as the scalar accumulator
        counts `points_adjusted` effects: by month, and in the adjustments table by reason and kind (points,
        adjustments, members). Per member, the points added (0 without member rows)."""
        nr = self.kstate[kind.index]["nr"]
        ev = np.flatnonzero(adj) // nr
        added = pts[adj]
        cells.add(lambda m: ("points", f"{kind.name}{KEY_SEP}{_month_text(m)}", "adjusted"), self.e_month[ev], added,
                  np.ones(len(ev), dtype=bool))
        reason = self.rows.reason[self.sel][self.e_start][ev]
        for rc in np.unique(reason).tolist():
            mine = reason == rc
            row = f"{self.rows.reason_names[rc]}{KEY_SEP}{kind.name}"
            res.add("adjustment", row, "points_added", int(added[mine].sum()))
            res.add("adjustment", row, "adjustments", int(mine.sum()))
            res.add("adjustment", row, "members", int(len(np.unique(self.e_mem[ev[mine]]))))
        return _group_sum(self.e_mem[ev], added, self.nmem) if self.plan.member_rows else 0

    def _rewards(self, res: SimResult, cells: "_Cells"):
        """The rewards the kernel gives, as the scalar accumulator adds their effects: simulated redemptions (each a
        points_redeemed and a reward_issued, `times` of them at an event), give rules (a reward_issued, or a
        cap_reached where a cap refused it) and the gifts timers fire between events (`_timer_gives`); then the
        fate of each offer with a lifetime (reward_used, reward_lapsed: `offers.vector_offer_fates`). Per
        member: points redeemed (by point kind), rewards, face value, cost; and the days to each member's first
        reward."""
        prog, plan = self.prog, self.plan
        nmem = self.nmem
        m_points: dict = {}
        m_rewards = np.zeros(nmem, dtype=np.int64)
        m_face = np.zeros(nmem, dtype=np.int64)
        m_cost = np.zeros(nmem, dtype=object)  # a scenario's reward cost may be finer than the currency (Decimal)
        never = np.iinfo(np.int64).max
        first = np.full(nmem, never, dtype=np.int64)  # the moment of the first reward
        per_member = plan.member_rows  # (the per-member sums: _aggregate)
        reached: dict = {}  # reward -> the members it reached
        mon = self.e_month
        # per event, the next event when it is the same member's (-1: none): where an offer given at the
        # event can first be used
        after = np.arange(1, self.nev + 1)
        after[np.concatenate((self.m_evstart[1:] - 1, [self.nev - 1]))] = -1
        at_events = (self.e_mem, mon, self.e_store, self.e_time, after)
        given = [(f"redeem for {reward}", reward, times, price, k, at_events)
                 for reward, (price, k, times) in zip(self.redeem_names, self.redeems)]
        for r in self.give_rules:
            if r.index not in self.gives:  # fired by a timer (_timer_gives)
                continue
            times, refused = self.gives[r.index]
            given.append((r.name, r.reward, times, None, None, at_events))
            if refused.any():
                n = int(refused.sum())
                rw = prog.rewards[r.reward]
                res.add("cap", r.name, "times", n)
                res.add("cap", r.name, "truncated", rw.cost * n)
        rule_of = {r.name: r.index for r in self.give_rules if r.index in self.gives}  # gifts at events
        for r, firings in self._timer_gives():
            given.append((r.name, r.reward, np.ones(len(firings[0]), dtype=np.int64), None, None, firings))
        for r in self.fixed_rules:  # fixed earns' caps: a cap_reached for each claim cut, by what was cut
            refused = self.fixed_refused[r.index]
            if refused.any():
                res.add("cap", r.name, "times", int((refused > 0).sum()))
                res.add("cap", r.name, "truncated", int(refused.sum()))
        for label, reward, times, price, k, (g_mem, g_mon, g_store, g_time, g_use) in given:
            has = times > 0
            if not has.any():
                continue
            rw = prog.rewards[reward]
            cost = plan.reward_costs.get(reward, rw.cost)
            n = int(times[has].sum())
            cells_add = [(("reward", reward, "given"), n), (("reward", reward, "face_value"), rw.face * n),
                         (("reward", reward, "cost"), cost * n), (("rule", label, "rewards"), n),
                         (("rule_reward", f"{label}{KEY_SEP}{reward}", "cost"), cost * n), (("rule", label, "effects"), n)]
            if price is not None:  # a redemption
                res.count("simulated_redemptions", n)
                cells_add.append((("reward", reward, "points_spent"), price * n))
                pk = prog.kinds[k].name
                cells.add(lambda m, pk=pk: ("points", f"{pk}{KEY_SEP}{_month_text(m)}", "redeemed"), g_mon,
                          times * price, has)
                cells.add(lambda c: ("store", self._store_name(c), "points_redeemed"), g_store, times * price, has)
            cells.add(lambda c: ("store_reward", f"{self._store_name(c)}{KEY_SEP}{reward}", "cost"), g_store, times,
                      has, scale=cost)
            cells.add(lambda m: ("rule_reward_month", f"{label}{KEY_SEP}{reward}{KEY_SEP}{_month_text(m)}", "cost"),
                      g_mon, times, has, scale=cost)
            for key, v in cells_add:
                res.cells[key] = res.cells.get(key, 0) + v
            cells.add(lambda m: ("month", _month_text(m), "rewards"), g_mon, times, has)
            cells.add(lambda m: ("reward_month", f"{reward}{KEY_SEP}{_month_text(m)}", "cost"), g_mon, times, has,
                      scale=cost)
            # members reached: each member once, whichever rules or redemptions gave the reward
            got = reached.get(reward)
            if got is None:
                got = reached[reward] = np.zeros(nmem, dtype=bool)
            got[g_mem[has]] = True
            if per_member:
                by_member = _group_sum(g_mem, times, nmem)
                if price is not None:
                    m_points[pk] = m_points.get(pk, 0) + by_member * price
                m_rewards += by_member
                m_face += by_member * rw.face
                m_cost += by_member * cost
            np.minimum.at(first, g_mem[has], g_time[has])
            if rw.is_offer and price is None:  # offers.py: each used by a later purchase, or lapsed
                taken = self.offers_taken_back.get(rule_of.get(label, -1))  # ... unless a return took it back
                m_cost -= self._offer_fates(res, cells, label, rw, cost, np.repeat(g_mem[has], times[has]),
                                            np.repeat(g_time[has], times[has]), np.repeat(g_store[has], times[has]),
                                            np.repeat(g_use[has], times[has]),
                                            None if taken is None else _first_of_each(times[has], taken[has]))
        for r in self.give_rules:  # rewards a whole return takes back (returns.py `vector_taken_back`)
            back = self.taken_back.get(r.index)
            if back is None or not back.any():
                continue
            has = back > 0
            reward, label = r.reward, r.name
            rw = prog.rewards[reward]
            cost = plan.reward_costs.get(reward, rw.cost)
            n = int(back.sum())
            for key, v in ((("reward", reward, "taken_back"), n), (("reward", reward, "face_value"), -rw.face * n),
                           (("reward", reward, "cost"), -cost * n), (("rule", label, "rewards"), -n),
                           (("rule_reward", f"{label}{KEY_SEP}{reward}", "cost"), -cost * n)):
                res.cells[key] = res.cells.get(key, 0) + v
            cells.add(lambda m: ("reward_month", f"{reward}{KEY_SEP}{_month_text(m)}", "cost"), mon, -back, has,
                      scale=cost)
            cells.add(lambda c: ("store_reward", f"{self._store_name(c)}{KEY_SEP}{reward}", "cost"), self.e_store,
                      -back, has, scale=cost)
            cells.add(lambda m: ("rule_reward_month", f"{label}{KEY_SEP}{reward}{KEY_SEP}{_month_text(m)}", "cost"),
                      mon, -back, has, scale=cost)
            if per_member:
                by_member = _group_sum(self.e_mem, back, nmem)
                m_rewards -= by_member
                m_face -= by_member * rw.face
                m_cost -= by_member * cost
        for reward, got in reached.items():
            if got.any():
                res.add("reward", reward, "members", int(got.sum()))
        got = first < never
        if got.any():
            acc = np.flatnonzero(self.e_valid & ~is_one_of(self.e_type, ADDED))  # the history's events
            mem_acc = self.e_mem[acc]
            starts = np.flatnonzero(np.concatenate(([True], mem_acc[1:] != mem_acc[:-1])))
            first_seen = np.zeros(nmem, dtype=np.int64)
            first_seen[mem_acc[starts]] = self.e_real[acc[starts]]
            days = (first[got] - first_seen[got]) // 86_400_000_000
            h = res.histograms.setdefault("days_to_first_reward", {})
            for d, c in zip(*np.unique(days, return_counts=True)):
                h[int(d)] = h.get(int(d), 0) + int(c)
        return m_points, m_rewards, m_face, m_cost

    def _timer_gives(self) -> list:
        """The give rules timers fire (win-back lapses, birthdays, anniversaries, tiers reached), each with its
        firings as (member, month, store, moment, first event an offer it gives can be used at), in member
        order: moments from the mechanics' vectorised timers (winback.vector_lapses, moments.vector_yearly,
        moments.vector_tier_reached), booked at the store of the event they fire before (none at the end)."""
        out = []
        changes = None
        for r in self.give_rules:
            if r.trigger == TIMER_LAPSE:
                mem, moment = vector_lapses(self, r)
            elif r.trigger in YEARLY:
                mem, moment = vector_yearly(self, r, vector_all_lapses(self))
            elif r.trigger == TIER_REACHED:
                if changes is None:
                    changes = self._tier_changes()
                c_mem, c_at, c_from, c_to, c_ev = changes
                fires = vector_tier_reached(self, r, c_at, c_from, c_to)
                mem, moment, ev = c_mem[fires], c_at[fires], c_ev[fires]
            else:
                continue
            if r.trigger != TIER_REACHED:
                ev = vector_firing_events(self, mem, moment)
            store = np.where(ev >= 0, self.e_store[np.maximum(ev, 0)], -1)
            if r.trigger == TIER_REACHED:  # fired after the event's own steps: usable from the next event on
                # ... but reached at a timer's moment (its points: the kernel's own event), fired at that moment
                # (moments.fire_timers): usable from the event time passes at, as a lapse's gift
                mine = (ev >= 0) & self.e_timer[np.maximum(ev, 0)]
                nxt = np.where((ev >= 0) & (ev + 1 < self.nev), ev + 1, -1)
                nxt = np.where((nxt >= 0) & (self.e_mem[np.maximum(nxt, 0)] == mem), nxt, -1)
                if mine.any():
                    nxt[mine] = vector_firing_events(self, mem[mine], moment[mine])
                ev = nxt
            o = np.argsort(mem, kind="stable")
            out.append((r, (mem[o], _month_number(moment)[o], store[o], moment[o], ev[o])))
        return out

    def _tier_changes(self) -> tuple:
        """Every tier change (member, moment, from, to, the event it happens in: -1 for the end of the history):
        at events, and reviews' and grace periods' between them (in the event time brings them at)."""
        changed = np.flatnonzero(self.tier_after != self.tier_before)
        assert self.vtiers is not None  # made by the lockstep of a program with tiers
        t_mem, _pos, _seq, t_at, t_from, t_to = self.vtiers.changes()
        return (np.concatenate((self.e_mem[changed], t_mem)), np.concatenate((self.e_time[changed], t_at)),
                np.concatenate((self.tier_before[changed], t_from)), np.concatenate((self.tier_after[changed], t_to)),
                np.concatenate((changed, vector_firing_events(self, t_mem, t_at))))

    def _offer_fates(self, res, cells, label, rw, cost, mem, moment, store, first_use, gone=None) -> np.ndarray | int:
        """Offers of `rw` given by `label` (one per entry): a reward_used or a reward_lapsed for each, as the
        accumulator books them (a lapse takes the offer's cost off every table that counted it, in the month
        of its end and at the store of the event time passes at). Per member, the cost lapses took off (0 without
        member rows)."""
        used, lapsed, at = vector_offer_fates(self, rw, mem, moment, first_use, gone)
        name = rw.name
        if used.any():
            res.add("reward", name, "redeemed", int(used.sum()))
        if not lapsed.any():
            return np.zeros(self.nmem, dtype=np.int64)
        n = int(lapsed.sum())
        res.add("reward", name, "lapsed", n)
        res.add("reward", name, "cost", -cost * n)
        res.add("rule_reward", f"{label}{KEY_SEP}{name}", "cost", -cost * n)
        # where time passed the end: the event that brought the clock there (none at the end of the history),
        # or the giving event's own store for a `valid until` given on or after its end
        ev = vector_firing_events(self, mem, at)
        # ... not before where it could first be used (a gift on reaching a tier comes after its event's time
        # passing, which may be past the offer's end already): then the next accepted event from there
        early = (ev >= 0) & (ev < first_use)
        if early.any():
            nxt = segment_next(np.where(self.e_valid, np.arange(self.nev), self.nev), self.m_evstart, self.m_nev)
            ev[early] = np.where(nxt[first_use[early]] < self.nev, nxt[first_use[early]], -1)
        ev[(ev >= 0) & (first_use == -1)] = -1
        lstore = np.where(at == moment, store, np.where(ev >= 0, self.e_store[np.maximum(ev, 0)], -1))
        lmon = _month_number(at)
        cells.add(lambda m: ("reward_month", f"{name}{KEY_SEP}{_month_text(m)}", "cost"), lmon, None, lapsed,
                  scale=-cost)
        cells.add(lambda c: ("store_reward", f"{self._store_name(c)}{KEY_SEP}{name}", "cost"), lstore, None, lapsed,
                  scale=-cost)
        cells.add(lambda m: ("rule_reward_month", f"{label}{KEY_SEP}{name}{KEY_SEP}{_month_text(m)}", "cost"), lmon,
                  None, lapsed, scale=-cost)
        return _group_sum(mem, lapsed.astype(np.int64), self.nmem) * cost if self.plan.member_rows else 0

    def _perks(self, res: SimResult, cells: "_Cells") -> np.ndarray:
        """Tier perks (tiers.perks): on every running purchase, each perk of the tier the member held, at its
        cost per order, as the scalar accumulator counts them (a tier's cost, not a reward). Per member, their cost
        (zeros without member rows, as `_adjusted` and `_offer_fates`)."""
        m_perks = np.zeros(self.nmem, dtype=np.int64)
        tiers = self.prog.tiers
        if tiers is None:
            return m_perks
        purchases = self.e_valid & (self.e_type == PURCHASE) & self.e_running
        for t in tiers.tiers:
            at = purchases & (self.tier_before == t.index)
            n = int(at.sum())
            if not t.perks or not n:
                continue
            for _name, cost in t.perks:
                for key, v in ((("tier", t.name, "perk_cost"), cost * n), (("tier", t.name, "perk_orders"), n)):
                    res.cells[key] = res.cells.get(key, 0) + v
                each = np.full(self.nev, cost, dtype=np.int64)
                cells.add(lambda m: ("month", _month_text(m), "perk_cost"), self.e_month, each, at)
                cells.add(lambda c: ("store", self._store_name(c), "perk_cost"), self.e_store, each, at)
                if self.plan.member_rows:
                    m_perks += _group_sum(self.e_mem, np.where(at, cost, 0), self.nmem)
        return m_perks

    def period_starts(self, period):
        """Per event, the calendar period it falls in (timeutil.period_key's), as (codes, in_days): the period's
        first day (days since 1970-01-01, in_days True) or first month (year * 12 + month - 1, False); for
        no period one code, 0 (in_days None)."""
        if period in ("day", "week"):
            day = self.e_time // 86_400_000_000
            return (day if period == "day" else day - (day + 3) % 7), True  # 1970-01-01 was a Thursday
        if period in ("month", "quarter", "year"):
            mon = self.e_month
            return mon - (mon % 12) % {"month": 1, "quarter": 3, "year": 12}[period], False
        return np.zeros(self.nev, dtype=np.int64), None

    def _draws(self, res: SimResult) -> None:
        """Each member's entries per draw and period, and her weighted-reservoir key (as the scalar
        accumulator's `finish`: the largest keys win), from the draws' vector step. Sums by (member, period)
        and by period in numpy; in Python only each entrant's key (a seeded hash, `result.draw_key_values`)
        and, per period, the few keys that can win."""
        plan = self.plan
        names = None
        for dr in self.prog.draws:
            entries = self.draw_entries[dr.name]
            has = entries > 0
            if not has.any():
                continue
            if names is None:
                names = self.member_names
            start, in_days = self.period_starts(plan.draw_periods.get(dr.name))
            idx = np.flatnonzero(has)
            low = int(start[idx].min())
            # (member, period) in one int64, member first: in ascending order, as the scalar offers them
            key, totals = distinct_sums(self.e_mem[idx] * (1 << 32) + (start[idx] - low), entries[idx])
            mem, period = key >> 32, (key & ((1 << 32) - 1)) + low
            by_period = np.argsort(period, kind="stable")  # each period's entrants, still by member
            periods, counts = distinct_sums(period)
            bounds = np.concatenate(([0], np.cumsum(counts)))
            winners = plan.draw_winners.get(dr.name, 1)
            for p_i, s in enumerate(periods.tolist()):
                if in_days is None:
                    text = ""
                elif in_days:
                    text = (_EPOCH + _dt.timedelta(days=s)).date().isoformat()
                else:
                    text = f"{s // 12:04d}-{s % 12 + 1:02d}-01"
                cell = f"{dr.name}{KEY_SEP}{text}"
                mine = by_period[bounds[p_i]:bounds[p_i + 1]]
                total = totals[mine]
                res.add("draw", cell, "entries", int(total.sum()))
                res.add("draw", cell, "entrants", len(mine))
                who = [names[m] for m in mem[mine].tolist()]
                values = draw_key_values(plan.scenario.seed, dr.name, text, who, total.tolist())
                res.offer_draws(cell, winners, draw_candidates(values, who, winners), len(values))

    def _by_source_name(self, sl: _Slot, mask: np.ndarray, tier_of: np.ndarray):
        """(name, mask) per name the slot's effects carry: its rule's, or for a tier's extra the tier's."""
        if not mask.any():
            return []
        if not sl.tier:
            return [(sl.name, mask)]
        tiers = self.prog.tiers.tiers
        return [(tiers[ti].name, mask & (tier_of == ti)) for ti in distinct_sums(tier_of[mask])[0].tolist() if ti >= 0]

    def _tier_months(self, res, names, c_mem, c_mon, c_to) -> None:
        """Members per tier at the end of each month, from each member's first accepted event's month on."""
        months = list(self.plan.months)
        if not months or not len(c_mem):
            return
        base = int(months[0][:4]) * 12 + int(months[0][5:]) - 1
        nm = len(months)
        acc = np.flatnonzero(self.e_valid & ~is_one_of(self.e_type, ADDED))  # the history's events
        if not len(acc):
            return
        first_acc = np.full(self.nmem, -1, dtype=np.int64)
        mem_acc = self.e_mem[acc]
        firsts = np.flatnonzero(np.concatenate(([True], mem_acc[1:] != mem_acc[:-1])))
        first_acc[mem_acc[firsts]] = self.e_month[acc[firsts]] - base
        nxt = np.concatenate((c_mon[1:], [0])) - base
        last = np.concatenate((c_mem[1:] != c_mem[:-1], [True]))
        nxt = np.where(last, nm, nxt)
        a = np.maximum(c_mon - base, first_acc[c_mem])
        ok = (first_acc[c_mem] >= 0) & (c_to >= 0) & (nxt > a)
        diff = np.zeros((len(names), nm + 1), dtype=np.int64)
        np.add.at(diff, (c_to[ok], np.clip(a[ok], 0, nm)), 1)
        np.add.at(diff, (c_to[ok], np.clip(nxt[ok], 0, nm)), -1)
        per = np.cumsum(diff, axis=1)[:, :nm]
        for ti, name in enumerate(names):
            for mi in np.flatnonzero(per[ti] > 0).tolist():
                res.add("tier_month", f"{name}{KEY_SEP}{months[mi]}", "members", int(per[ti, mi]))


# the timers read the history's rows as they read the kernel's events (_with_timer_points)
for _name in ("member_names", "member_attributes", "member_birthdays"):
    setattr(_RowEvents, _name, _Kernel.__dict__[_name])


def _warm_from_parts(warm: dict, second: np.ndarray, first_warm: dict, second_warm: dict) -> None:
    """What two kernels of a kernel's members settled apart (`_Kernel._settle_apart`) left as their first guesses
    (the tiers and spend they settled on), put together for the whole kernel's events, so that the next budget
    pass over these rows starts from them too (`warm`). `second`: per event of the whole kernel, whether it is
    the second kernel's (each kernel's events are the whole kernel's in their order)."""
    first_moments, second_moments = first_warm.get("tier_moments"), second_warm.get("tier_moments")
    if first_moments is not None and second_moments is not None:  # (names, each event's member, moment, ...)
        (names_a, *a), (names_b, *b) = first_moments, second_moments
        warm["tier_moments"] = (list(names_a) + list(names_b), np.concatenate((a[0], b[0] + len(names_a))),
                                *(np.concatenate((x, y)) for x, y in zip(a[1:], b[1:])))
    else:
        warm.pop("tier_moments", None)
    for key in ("tier_guess", "spend_before"):
        a, b = first_warm.get(key), second_warm.get(key)
        if a is None or b is None or len(a) + len(b) != len(second):
            warm.pop(key, None)  # (a stale guess costs passes, never the result; none costs the first guess)
            continue
        both = np.empty(len(second), dtype=np.int64)
        both[~second] = a
        both[second] = b
        warm[key] = both


def _claw_target(pts_o, num, den):
    """What returns of an order have taken back of its points `pts_o` once they returned the share num/den of it:
    all of them for the whole order, else the share rounded half to even (the lockstep and `_finish_in_runs`;
    `_finish_one_by_one` writes it out per event with `formulas.half_even`)."""
    return np.where(num == den, pts_o, half_even(pts_o * num, den))


def _tail_available(pk) -> int:
    """A kind's available balance in `_finish_one_by_one` (points.vector_available): credited, less consumed,
    less pending."""
    pend = pk[13]
    return pk[7] - pk[6] - (pend[0] - pend[1] if pend is not None else 0)


def _tail_spend(pk, amount: int, i: int, start: int, oldest_available: bool) -> None:
    """`amount` available points spent in `_finish_one_by_one` (points.vector_spend; `spend_one` where the kind
    has pending points and expiry and the points are the oldest available, else from the front: X)."""
    pend = pk[13]
    if not oldest_available or pend is None or not pk[5] or not amount:
        pk[6] += amount
        return
    pk[6], holes = spend_one(pk[8], pend[2], pend[4], pk[2], max(pend[5][i] - start, 0), i, pk[6], amount)
    pk[7] -= holes


def _distinct_count(sorted_values: np.ndarray) -> int:
    """How many distinct values a sorted array holds."""
    if not len(sorted_values):
        return 0
    return 1 + int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1]))


def _group_sum(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum of int64 `values` per group 0..n-1, exactly. bincount adds in float64, which is exact while every
    partial sum stays below 2**53 (bounded here by the sum of magnitudes); otherwise integer np.add.at."""
    values = values.astype(np.int64, copy=False)  # read only: no copy of int64 values
    if len(values) and max(int(values.max()), -int(values.min())) * len(values) < (1 << 53):
        return np.bincount(groups, weights=values, minlength=n).astype(np.int64)
    sums = np.zeros(n, dtype=np.int64)
    np.add.at(sums, groups, values)
    return sums


_register_read_only_types()
