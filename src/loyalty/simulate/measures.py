"""Customer measures from the history itself: repeat purchases, activity and churn, cohorts, value.

They do not depend on the program: they describe the customers the program is run on. Like every other
figure they are made of mergeable pieces: `add_customer_cells` adds, for some whole members' rows, counts to
a `SimResult` (once per history a result is made for: `vector.kernel.simulate_vector`, the evaluator's groups
in `parallel.evaluate_range`, and `engine.simulate`; never in `engine.replay_members`) (cells keyed by month, cohort
and segment; histograms of days between orders and of each customer's value), and `customer_report` turns
the merged result into the report's `customers` section. So `--jobs`, `--grouped` and Dask give the same
bytes as one process.

Definitions (docs/simulate.md, "Customer measures"):
- an **order** is a purchase event (the rows of one order, as the simulation groups them); a **customer**
  a member with at least one order;
- a customer's **value** is what she paid: her orders minus the returns the program accepts (whose order id
  names one of her orders bought before, and which the run did not refuse), in minor units;
- **activity**, with a lapse gap of G days: a customer is active on day x when she ordered on a day t with
  t <= x < t + G; she lapses on day t + G when her next order is more than G days after t (or there is
  none and t + G is not after the history's last day), and returns when she orders again;
- a member's **signup** is her attributes' signup_date when given, else the day of her first row;
- she is **enrolled** from her attributes' signup_date, else from her first `signup` row (the members against
  the rest: a customer's orders before that day, and every order of a customer with neither, are the rest's).
"""

from __future__ import annotations

import datetime as _dt
import functools
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Optional

from loyalty.simulate.result import KEY_SEP, SimResult

DAY_US = 86_400_000_000
# The lapse gaps (days) the report can choose from when the analyst sets none: every one is counted, and the
# report shows the smallest one that covers LAPSE_QUANTILE of the gaps between consecutive orders.
LAPSE_CANDIDATES = (30, 60, 90, 120, 180, 270, 365, 540, 730)
LAPSE_QUANTILE = Decimal("0.9")
MAX_LAPSE_DAYS = 36_500

_T = "customers"  # the table of whole-history counts
_MONTH, _LAPSE, _COHORT, _SEGMENT = "customers_month", "customers_lapse", "customers_cohort", "customers_segment"
GAPS, VALUES = "customers_gap_days", "customers_value"
ENROLLED, NOT_ENROLLED = "enrolled", "not_enrolled"


def _month_number(days):
    """Months since 1970-01 of days since 1970-01-01 (numpy arrays). Many days over a short span (orders over
    a few years) are looked up in a table of the span's days, each converted once: a gather costs about half
    of converting every entry through datetime64."""
    import numpy as np

    days = np.asarray(days, dtype="int64")
    if len(days) > 256:
        lo, hi = int(days.min()), int(days.max())
        if hi - lo < len(days):
            table = np.arange(lo, hi + 1, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
            return table.astype(np.int64)[days - lo]
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


@functools.lru_cache(maxsize=4096)
def month_text(n: int) -> str:
    # (cached: every group names the same few dozen months, once per distinct key of each table)
    return f"{1970 + n // 12:04d}-{n % 12 + 1:02d}"


def _day_months(lo: int, hi: int):
    """Month numbers (`_month_number`) of the days lo..hi, as a table indexed by day - lo."""
    import numpy as np

    return np.arange(lo, hi + 1, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_of_text(text: str) -> int:
    return (int(text[:4]) - 1970) * 12 + int(text[5:7]) - 1


class Orders:
    """The purchase and return events of some whole members, as numpy arrays (one entry per event)."""

    def __init__(self, history, events=None, refused=None, columns=None):
        """`events`: the history's `event_index()` (event starts as a numpy array or list, irregular members) when
        the caller has it already (the vectorised kernel finds the same events), else found here. `refused`: the
        first rows of the events the run refused (`add_customer_cells`). `columns`: the history's columns as
        numpy when the caller converted them already (`add_customer_cells`)."""
        import numpy as np

        from loyalty.simulate.columns import numbers
        from loyalty.simulate.orders import EventBuilder

        h = history
        n = len(h)
        if columns is None:
            member, order = h.code_array("member"), h.code_array("order")
            kind, kinds = h.dictionary_codes("type")
            time, amount = numbers(h.table.column("time")), numbers(h.table.column("amount"), 0)
        else:
            member, kind, kinds, time, amount, order = columns
        starts, irregular = h.event_index() if events is None else events
        starts = np.asarray(starts, dtype=np.int64)
        if n:
            totals = np.add.reduceat(amount, starts)
        else:
            totals = np.zeros(0, np.int64)
        firsts = starts
        if irregular:  # members whose order lines are not adjacent: their events grouped by key
            names = h.values_of("member", member[starts]) if len(starts) else []
            keep = np.array([name not in irregular for name in names], dtype=bool)
            firsts, totals = firsts[keep], totals[keep]
            builder = EventBuilder(h, {})
            extra_first, extra_total = [], []
            for name, start, end in h.member_slices():
                if name in irregular:
                    for g in builder.groups(start, end):
                        extra_first.append(g[0])
                        extra_total.append(int(amount[list(g)].sum()))
            firsts = np.concatenate([firsts, np.asarray(extra_first, np.int64)])
            totals = np.concatenate([totals, np.asarray(extra_total, np.int64)])
        code = {name: i for i, name in enumerate(kinds)}
        ev_kind = kind[firsts]
        self.member_codes = member
        self.history = h
        buy = ev_kind == code.get("purchase", -2)
        ret = ev_kind == code.get("return", -2)
        # purchases by member, each member's orders one run in time order: as the rows are (grouped by member,
        # in time order), unless irregular members' events were added at the end: then by (member code, time)
        p = firsts[buy]
        by = None
        if len(p) > 1:
            mp, tp = member[p], time[p]
            if not _in_member_blocks(mp, tp):
                by = np.lexsort((tp, mp))
                p = p[by]
        self.member = member[p]
        self.time = time[p]
        self.day = np.floor_divide(self.time, DAY_US)
        self.total = totals[buy] if by is None else totals[buy][by]
        self.order = order[p]
        r = firsts[ret]
        self.ret_member, self.ret_time, self.ret_total, self.ret_order = member[r], time[r], totals[ret], order[r]
        signup = kind == code.get("signup", -2)  # rows: a signup is one row
        self.signup_member, self.signup_day = member[signup], np.floor_divide(time[signup], DAY_US)
        self.ret_day = np.floor_divide(self.ret_time, DAY_US)
        self.accepted = self._accepted_returns()
        if refused is not None and len(refused) and self.accepted.any():
            # the run's own refusals (over the amount or quantity bought, outside the return window...): the
            # measures leave out what the headline does, without a copy of the program's rules here
            refused_row = np.zeros(n, dtype=bool)
            at = np.asarray(refused, dtype=np.int64)
            refused_row[at[at >= 0]] = True  # (-1: a row the kernel added, not one of the history's)
            self.accepted &= ~refused_row[r]
        # every member of the rows (buyers or not): her first row's day
        if n:
            mstarts = h.member_starts()
            self.all_members = member[mstarts]
            first_time = np.minimum.reduceat(time, mstarts)
            self.all_first_day = np.floor_divide(first_time, DAY_US)
        else:
            self.all_members = np.zeros(0, np.int64)
            self.all_first_day = np.zeros(0, np.int64)

    def _accepted_returns(self):
        """Returns whose order id names an order of the same member bought at or before the return."""
        import numpy as np

        ok = np.zeros(len(self.ret_member), dtype=bool)
        keyed = self.order >= 0
        if not len(ok) or not keyed.any():
            return ok
        width = int(max(self.order.max(), self.ret_order.max())) + 1
        named = np.zeros(width, dtype=bool)  # only orders a return names (codes: a table, not np.isin's sort)
        named[self.ret_order[self.ret_order >= 0]] = True
        keyed &= named[np.maximum(self.order, 0)]
        if not keyed.any():
            return ok
        pkey = self.member[keyed] * width + self.order[keyed]
        ptime = self.time[keyed]
        by = np.lexsort((ptime, pkey))
        pkey, ptime = pkey[by], ptime[by]
        first = np.ones(len(pkey), dtype=bool)
        first[1:] = pkey[1:] != pkey[:-1]
        pkey, ptime = pkey[first], ptime[first]  # each (member, order): its earliest purchase
        rkey = self.ret_member * width + self.ret_order
        at = np.minimum(np.searchsorted(pkey, rkey), len(pkey) - 1)
        return (self.ret_order >= 0) & (pkey[at] == rkey) & (ptime[at] <= self.ret_time)

    def names(self, codes) -> list[str]:
        return self.history.values_of("member", codes)


def _in_member_blocks(member, time) -> bool:
    """Whether each member's entries are one block, in time order (a history's rows are): what the customer
    measures need of their orders (each customer's one run), so they are read as they are, unsorted."""
    import numpy as np

    from loyalty.runtime.arrays import distinct_sums

    same = member[1:] == member[:-1]
    if not np.all(~same | (time[1:] >= time[:-1])):
        return False
    heads = member[np.flatnonzero(np.concatenate(([True], ~same)))]  # each block's member
    return int(distinct_sums(heads)[1].max()) == 1


def lapse_gaps(scenario) -> tuple[int, ...]:
    """The lapse gaps to count: the analyst's, else every candidate (the report picks one from the data)."""
    chosen = getattr(scenario, "lapse_after_days", None)
    return (chosen,) if chosen is not None else LAPSE_CANDIDATES


def add_customer_cells(result: SimResult, history, plan, events=None, refused=None, columns=None) -> None:
    """Add the customer measures of these whole members' rows to `result` (counts, cells, histograms).
    Keys are numbers until the sums are made: only distinct keys become text. `events`: the history's
    `event_index()` if the caller found it already (`Orders`). `refused`: the rows of `history` that begin
    an event the run refused (`engine.replay_member`'s, the kernel's `_Kernel.refused`); None: none.
    `columns`: (member codes, type codes, the type names they index, time, amount, order codes), int64 arrays
    of `history`'s rows the caller read already (the vectorised kernel's), so they are not converted twice."""
    import numpy as np

    from loyalty.runtime.arrays import distinct_sums

    if not len(history):
        return
    o = Orders(history, events, refused, columns)
    cells = result.cells
    big = np.iinfo(np.int64).max

    def add(table: str, key: str, column: str, value) -> None:
        if value:
            cell = (table, key, column)
            cells[cell] = cells.get(cell, 0) + int(value)

    def add_by(table: str, column: str, text, keys, values=None) -> None:
        """Sum `values` (default: 1 each) by the int64 `keys`; `text(key)` names a distinct key."""
        uniq, sums = distinct_sums(keys, values)  # exact: amounts are int64 minor units
        for k, v in zip(uniq.tolist(), sums.tolist()):
            add(table, text(k), column, v)

    end_day = (plan.end - _dt.datetime(1970, 1, 1)) // _dt.timedelta(days=1)
    n = len(o.member)
    new_member = np.ones(n, dtype=bool)
    if n:
        new_member[1:] = o.member[1:] != o.member[:-1]
    last_of_member = np.append(new_member[1:], True) if n else new_member
    month = _month_number(o.day)

    # ---------------------------------------------------------------- whole history
    customers = int(new_member.sum())
    result.count("customers_customers", customers)
    result.count("customers_orders", n)
    result.count("customers_gross", int(o.total.sum()))
    result.count("customers_returned", int(o.ret_total[o.accepted].sum()))
    # a repeater's first order is followed by another of hers
    result.count("customers_repeaters", int((new_member[:-1] & ~new_member[1:]).sum()) if n else 0)
    # gaps between a customer's consecutive orders, in days
    day_step = np.diff(o.day, prepend=0) if n else o.day  # (day_step[i]: days since order i - 1)
    gap = day_step[1:][~new_member[1:]] if n > 1 else np.zeros(0, np.int64)
    _observe_all(result, GAPS, gap)
    # each customer's value: her orders less her accepted returns (every accepted return's member ordered)
    buyer_starts = np.flatnonzero(new_member)
    value = np.add.reduceat(o.total, buyer_starts) if n else np.zeros(0, np.int64)
    buyers = o.member[buyer_starts]
    if o.accepted.any():
        buyer_of = np.zeros(int(buyers.max()) + 1, dtype=np.int64)  # member code -> her place among the buyers
        buyer_of[buyers] = np.arange(len(buyers))
        np.add.at(value, buyer_of[o.ret_member[o.accepted]], -o.ret_total[o.accepted])
    _observe_all(result, VALUES, value)

    # ---------------------------------------------------------------- by month
    # each customer's months with an order: her orders are one run in time order (Orders), so a pair starts
    # where the member or the month changes
    first_in_month = np.ones(n, dtype=bool)
    if n:
        first_in_month[1:] = (o.member[1:] != o.member[:-1]) | (month[1:] != month[:-1])
    add_by(_MONTH, "buyers", month_text, month[first_in_month])
    add_by(_MONTH, "new", month_text, month[new_member])
    gaps = lapse_gaps(plan.scenario)
    # days to the customer's next order (none: never) and since her previous one (none: 0), once for every gap;
    # only orders with a gap over the smallest lapse gap can lapse or return, so each gap looks at those alone
    next_day = np.where(last_of_member, big, np.append(o.day[1:], 0)) if n else o.day
    ahead = np.flatnonzero(next_day - o.day > min(gaps))
    ahead_day, ahead_gap = o.day[ahead], (next_day - o.day)[ahead]
    behind = np.flatnonzero(~new_member & (day_step > min(gaps))) if n else ahead
    behind_month, behind_gap = month[behind], day_step[behind] if n else ahead
    # the lapse days counted fall in [the first order's day + the smallest gap, the history's last day]: their
    # months by one table of those days (unless the span is long for the orders), not a conversion per gap
    lapse_lo = int(ahead_day.min()) + min(gaps) if len(ahead) else end_day + 1
    lapse_months = _day_months(lapse_lo, end_day) \
        if lapse_lo <= end_day and end_day - lapse_lo < max(4 * len(ahead), 1 << 12) else None
    for g in gaps:
        # a gap of more than g days: lapsed g days after the order, returned at the next one
        named = lambda m, g=g: f"{g}{KEY_SEP}{month_text(m)}"  # noqa: E731
        if lapse_lo <= end_day:
            lapse_day = ahead_day + g
            lapsed = lapse_day[(ahead_gap > g) & (lapse_day <= end_day)]
            add_by(_LAPSE, "lapsed", named,
                   _month_number(lapsed) if lapse_months is None else lapse_months[lapsed - lapse_lo])
        add_by(_LAPSE, "returned", named, behind_month[behind_gap > g])

    # ---------------------------------------------------------------- cohorts by signup month
    first_month, last_month = (_month_of_text(plan.months[0]), _month_of_text(plan.months[-1])) if plan.months \
        else (0, -1)
    codes = int(max(o.all_members.max(), 0)) + 1 if len(o.all_members) else 1
    signup_day = o.all_first_day.copy()
    signed = np.full(codes, big, dtype=np.int64)  # member code -> signup day, from the attributes
    attributes = plan.attributes
    if attributes:
        epoch = _dt.date(1970, 1, 1)
        for code, name in zip(o.all_members.tolist(), o.names(o.all_members)):
            a = attributes.get(name)
            if a is not None and a.signup_date is not None:
                signed[code] = (a.signup_date - epoch).days
        known = signed[o.all_members] != big
        signup_day = np.where(known, signed[o.all_members], signup_day)
    cohort = _month_number(signup_day)
    inside = (cohort >= first_month) & (cohort <= last_month)
    result.count("customers_signup_before_history", int((cohort < first_month).sum()))
    result.count("customers_signup_after_history", int((cohort > last_month).sum()))
    add_by(_COHORT, "members", month_text, cohort[inside])
    cohort_of = np.zeros(codes, dtype=np.int64)
    cohort_of[o.all_members] = cohort
    def tenure(members, months) -> tuple:
        """Of entries (member, month): months since the member's cohort, the cohort (from first_month), and
        whether they are counted (a cohort inside the history, a month not before it)."""
        c = cohort_of[members]
        since = months - c
        return since, c - first_month, (since >= 0) & (c >= first_month) & (c <= last_month)

    def by_tenure(column: str, of: tuple, values=None, sel=None) -> None:
        """Sums by (cohort, months since signup) of the entries `of` (`tenure`), keyed cohort * wide + k: keys
        in a small range (distinct_sums counts them without a sort), in the same order as the pairs. `sel`: a
        bool per entry, the entries to count (default: every counted one)."""
        since, cohort, ok = of
        if sel is not None:
            ok = ok & sel
        wide = int(np.max(since, where=ok, initial=-1)) + 1
        if not wide:  # (no entry counted)
            return
        keys = cohort * wide + since
        if not ok.all():
            keys, values = keys[ok], None if values is None else values[ok]

        def cohort_text(key: int) -> str:
            return f"{month_text(key // wide + first_month)}{KEY_SEP}{key % wide}"

        add_by(_COHORT, column, cohort_text, keys, values)

    if n:
        # a member's months with an order (the orders that start a (member, month) pair), and her orders' value
        # by their month: the orders' cohorts found once for both
        orders_tenure = tenure(o.member, month)
        by_tenure("active", orders_tenure, sel=first_in_month)
        by_tenure("value", orders_tenure, o.total)
        acc = o.accepted
        if acc.any():  # accepted returns by their month
            by_tenure("value", tenure(o.ret_member[acc], _month_number(o.ret_day[acc])), -o.ret_total[acc])

    # ---------------------------------------------------------------- enrolled members and the rest
    # enrolled from the attributes' signup_date, else from the member's first `signup` row; the split is
    # counted in every group (so it merges whatever the split of members) and shown when any member has a date
    enrolled_from = signed.copy()
    if len(o.signup_member):
        first_signup = np.full(codes, big, dtype=np.int64)
        np.minimum.at(first_signup, o.signup_member, o.signup_day)
        enrolled_from = np.where(enrolled_from == big, first_signup, enrolled_from)
    enrolled = o.day >= enrolled_from[o.member]
    # each customer's orders are one run in time order (Orders), so her orders before enrolling are a prefix of
    # it and the rest a suffix: she is a customer of a part when her first (the rest) or last (enrolled) order is
    # in it, and repeats there when the next (the rest) or the one before her last (enrolled) is too
    same_next = ~new_member[1:]  # (order i + 1 is the same customer's as order i)
    for segment, mask in ((ENROLLED, enrolled), (NOT_ENROLLED, ~enrolled)):
        in_seg = int(mask.sum())
        add(_SEGMENT, segment, "orders", in_seg)
        add(_SEGMENT, segment, "gross", o.total.sum(where=mask) if in_seg < n else o.total.sum())
        if segment == ENROLLED:
            add(_SEGMENT, segment, "customers", (mask & last_of_member).sum())
            add(_SEGMENT, segment, "repeaters", (mask[:-1] & same_next & last_of_member[1:]).sum())
        else:
            add(_SEGMENT, segment, "customers", (mask & new_member).sum())
            add(_SEGMENT, segment, "repeaters", (mask[1:] & same_next & new_member[:-1]).sum())
    if o.accepted.any():
        acc = o.accepted
        r_enrolled = o.ret_day[acc] >= enrolled_from[o.ret_member[acc]]
        add(_SEGMENT, ENROLLED, "returned", o.ret_total[acc][r_enrolled].sum())
        add(_SEGMENT, NOT_ENROLLED, "returned", o.ret_total[acc][~r_enrolled].sum())
    # members who enrolled (a sum over groups, so the same however the members are split): the report shows
    # the split when there is any
    enrolled_members = int((enrolled_from[o.all_members] != big).sum())
    if enrolled_members:
        result.count("customers_enrolment_known", enrolled_members)


def _observe_all(result: SimResult, name: str, values) -> None:
    from loyalty.runtime.arrays import distinct_sums

    if not len(values):
        return
    uniq, counts = distinct_sums(values)
    h = result.histograms.setdefault(name, {})
    for v, c in zip(uniq.tolist(), counts.tolist()):
        h[v] = h.get(v, 0) + c


# ==================================================================== the report's section


def _quantile(hist: dict[int, int], q: Decimal) -> Optional[int]:
    """The nearest-rank q-quantile of a histogram (the smallest value with at least q of the mass at or below)."""
    n = sum(hist.values())
    if not n:
        return None
    seen = 0
    for value, count in sorted(hist.items()):
        seen += count
        if seen >= q * n:
            return value
    return None


def default_lapse_days(gaps: dict[int, int]) -> tuple[int, Optional[int]]:
    """The smallest candidate gap at least the LAPSE_QUANTILE quantile of days between consecutive orders
    (and that quantile); 90 days when no customer ordered twice."""
    q = _quantile(gaps, LAPSE_QUANTILE)
    if q is None:
        return 90, None
    return next((c for c in LAPSE_CANDIDATES if c >= q), LAPSE_CANDIDATES[-1]), q


def customer_report(result: SimResult, months: list[str], lapse_after_days: Optional[int], exponent: int) -> dict:
    """The `customers` section of the report, from a merged result."""
    counts, tables = result.counts, result.tables
    scale = Decimal(1).scaleb(-exponent)

    def money(minor) -> str:
        return str((Decimal(minor) * scale).quantize(scale, rounding=ROUND_HALF_EVEN))

    def ratio(a, b, places: str = "0.0001") -> Optional[str]:
        return str((Decimal(a) / Decimal(b)).quantize(Decimal(places), rounding=ROUND_HALF_EVEN)) if b else None

    def money_ratio(a, b) -> Optional[str]:
        return money(Decimal(a) / Decimal(b)) if b else None

    gaps = result.histograms.get(GAPS, {})
    values = result.histograms.get(VALUES, {})
    customers = counts.get("customers_customers", 0)
    orders = counts.get("customers_orders", 0)
    gross = counts.get("customers_gross", 0)
    net = gross - counts.get("customers_returned", 0)
    if lapse_after_days is not None:
        lapse, lapse_from = lapse_after_days, "set by the analyst"
    else:
        lapse, q = default_lapse_days(gaps)
        lapse_from = (f"default: the smallest of {', '.join(map(str, LAPSE_CANDIDATES))} days that is at least "
                      f"the {int(LAPSE_QUANTILE * 100)}th percentile of days between a customer's consecutive "
                      f"orders ({q} days)" if q is not None else "default: no customer ordered twice, so 90 days")

    # ------------------------------------------------ activity by month
    month_rows = tables.get(_MONTH, {})
    lapse_rows = tables.get(_LAPSE, {})
    by_month, active = [], 0
    for m in months:
        row = month_rows.get(m, {})
        lrow = lapse_rows.get(f"{lapse}{KEY_SEP}{m}", {})
        new, back, lapsed = row.get("new", 0), lrow.get("returned", 0), lrow.get("lapsed", 0)
        start = active
        active = start + new + back - lapsed
        by_month.append({"month": m, "buyers": row.get("buyers", 0), "new": new, "returned": back,
                         "lapsed": lapsed, "active_at_end": active, "churn_rate": ratio(lapsed, start)})

    # ------------------------------------------------ cohorts
    cohort_rows = tables.get(_COHORT, {})
    cohorts, tenure_value, tenure_members = [], {}, {}
    for i, c in enumerate(months):
        size = cohort_rows.get(c, {}).get("members", 0)
        if not size:
            continue
        active_k, cumulative = [], 0
        for k in range(len(months) - i):
            cell = cohort_rows.get(f"{c}{KEY_SEP}{k}", {})
            active_k.append(cell.get("active", 0))
            cumulative += cell.get("value", 0)
            tenure_value[k] = tenure_value.get(k, 0) + cumulative
            tenure_members[k] = tenure_members.get(k, 0) + size
        cohorts.append({"cohort": c, "members": size, "active": active_k,
                        "retention": [ratio(a, size) for a in active_k]})
    value_by_tenure = [{"months_since_signup": k, "members": tenure_members[k],
                        "cumulative_value_per_member": money_ratio(tenure_value[k], tenure_members[k])}
                       for k in sorted(tenure_members)]

    # ------------------------------------------------ value per customer
    top = max(1, -(-customers // 10)) if customers else 0
    top_value, left = 0, top
    for v, c in sorted(values.items(), reverse=True):
        take = min(c, left)
        top_value += v * take
        left -= take
        if not left:
            break
    n_gaps = sum(gaps.values())
    section = {
        "customers": customers,
        "orders": orders,
        "repeat_customers": counts.get("customers_repeaters", 0),
        "repeat_purchase_rate": ratio(counts.get("customers_repeaters", 0), customers),
        "average_order_value": money_ratio(gross, orders),
        "orders_per_customer": ratio(orders, customers, "0.01"),
        "days_between_orders": {"gaps": n_gaps, "mean": ratio(sum(v * c for v, c in gaps.items()), n_gaps, "0.1"),
                                "median": _quantile(gaps, Decimal("0.5"))},
        "value": {"total": money(net), "per_customer_mean": money_ratio(net, customers),
                  "per_customer_median": money(_quantile(values, Decimal("0.5"))) if customers else None,
                  "top_tenth_share": ratio(top_value, net) if net > 0 else None},
        "lapse_after_days": lapse,
        "lapse_after_from": lapse_from,
        "by_month": by_month,
        "cohorts": cohorts,
        "signups_outside_history": {"before": counts.get("customers_signup_before_history", 0),
                                    "after": counts.get("customers_signup_after_history", 0)},
        "value_by_months_since_signup": value_by_tenure,
        "enrolment": None,
    }
    if counts.get("customers_enrolment_known"):
        seg = tables.get(_SEGMENT, {})
        section["enrolment"] = {name: _segment(seg.get(name, {}), money, ratio, money_ratio)
                                for name in (ENROLLED, NOT_ENROLLED)}
    return section


def _segment(row: dict, money, ratio, money_ratio) -> dict:
    customers, orders, gross = row.get("customers", 0), row.get("orders", 0), row.get("gross", 0)
    net = gross - row.get("returned", 0)
    return {"customers": customers, "orders": orders, "revenue": money(net),
            "average_order_value": money_ratio(gross, orders), "orders_per_customer": ratio(orders, customers, "0.01"),
            "repeat_purchase_rate": ratio(row.get("repeaters", 0), customers),
            "value_per_customer": money_ratio(net, customers)}
