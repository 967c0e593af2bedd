"""Customer measures from the history itself: repeat purchases, activity and churn, cohorts, value.

They do not depend on the program: they describe the customers the program is run on. Like every other
figure they are made of mergeable pieces: `add_customer_cells` adds, for some whole members' rows (the unit
of work of every engine, `parallel.evaluate_range`), counts to a `SimResult` (cells keyed by month, cohort
and segment; histograms of days between orders and of each customer's value), and `customer_report` turns
the merged result into the report's `customers` section. So `--jobs`, `--grouped` and Dask give the same
bytes as one process.

Definitions (docs/simulate.md, "Customer measures"):
- an **order** is a purchase event (the rows of one order, as the simulation groups them); a **customer**
  a member with at least one order;
- a customer's **value** is what she paid: her orders minus the returns whose order id names one of her
  orders bought before (the returns the program accepts), in minor units;
- **activity**, with a lapse gap of G days: a customer is active on day x when she ordered on a day t with
  t <= x < t + G; she lapses on day t + G when her next order is more than G days after t (or there is
  none and t + G is not after the history's last day), and returns when she orders again;
- a member's **signup** is her attributes' signup_date when given, else the day of her first row.
"""

from __future__ import annotations

import datetime as _dt
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
    """Months since 1970-01 of days since 1970-01-01 (numpy arrays)."""
    import numpy as np

    return np.asarray(days, dtype="int64").astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_text(n: int) -> str:
    return f"{1970 + n // 12:04d}-{n % 12 + 1:02d}"


def _month_of_text(text: str) -> int:
    return (int(text[:4]) - 1970) * 12 + int(text[5:7]) - 1


class Orders:
    """The purchase and return events of some whole members, as numpy arrays (one entry per event)."""

    def __init__(self, history):
        import numpy as np

        from loyalty.simulate.columns import numbers
        from loyalty.simulate.orders import EventBuilder

        h = history
        n = len(h)
        member = h.code_array("member")
        kind, kinds = h.codes("type")
        time = numbers(h.table.column("time"))
        amount = numbers(h.table.column("amount"), 0)
        order = h.code_array("order")
        starts, irregular = h.event_index()
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
        # purchases by (member, time): each member's orders in time order
        p = firsts[buy]
        by = np.lexsort((time[p], member[p]))
        p = p[by]
        self.member = member[p]
        self.time = time[p]
        self.day = np.floor_divide(self.time, DAY_US)
        self.total = totals[buy][by]
        self.order = order[p]
        r = firsts[ret]
        self.ret_member, self.ret_time, self.ret_total, self.ret_order = member[r], time[r], totals[ret], order[r]
        self.ret_day = np.floor_divide(self.ret_time, DAY_US)
        self.accepted = self._accepted_returns()
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
        if not len(ok):
            return ok
        bought: dict[tuple[int, int], int] = {}
        for m, o, t in zip(self.member.tolist(), self.order.tolist(), self.time.tolist()):
            if o >= 0 and (m, o) not in bought:
                bought[(m, o)] = t
        for i, (m, o, t) in enumerate(zip(self.ret_member.tolist(), self.ret_order.tolist(), self.ret_time.tolist())):
            when = bought.get((m, o)) if o >= 0 else None
            ok[i] = when is not None and when <= t
        return ok

    def names(self, codes) -> list[str]:
        return self.history.values_of("member", codes)


def lapse_gaps(scenario) -> tuple[int, ...]:
    """The lapse gaps to count: the analyst's, else every candidate (the report picks one from the data)."""
    chosen = getattr(scenario, "lapse_after_days", None)
    return (chosen,) if chosen is not None else LAPSE_CANDIDATES


def add_customer_cells(result: SimResult, history, plan) -> None:
    """Add the customer measures of these whole members' rows to `result` (counts, cells, histograms)."""
    import numpy as np

    if not len(history):
        return
    o = Orders(history)
    cells = result.cells

    def add(table: str, key: str, column: str, value) -> None:
        if value:
            cell = (table, key, column)
            cells[cell] = cells.get(cell, 0) + int(value)

    def add_by(table: str, keys, column: str, values=None) -> None:
        """Sum `values` (default: 1 each) by key (numpy array of month numbers or texts)."""
        keys = np.asarray(keys)
        if not len(keys):
            return
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, minlength=len(uniq)) if values is None else _int_bincount(inverse, values, len(uniq))
        for k, v in zip(uniq.tolist(), sums.tolist()):
            add(table, month_text(k) if isinstance(k, int) else k, column, v)

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
    order_index = np.arange(n) - np.maximum.accumulate(np.where(new_member, np.arange(n), 0)) if n else np.zeros(0)
    result.count("customers_repeaters", int((order_index == 1).sum()))
    # gaps between a customer's consecutive orders, in days
    gap = np.diff(o.day)[~new_member[1:]] if n > 1 else np.zeros(0, np.int64)
    _observe_all(result, GAPS, gap)
    # each customer's value: her orders less her accepted returns
    buyer_starts = np.flatnonzero(new_member)
    value = np.add.reduceat(o.total, buyer_starts) if n else np.zeros(0, np.int64)
    buyers = o.member[buyer_starts]
    if o.accepted.any():
        ret_by = {}
        for m, v in zip(o.ret_member[o.accepted].tolist(), o.ret_total[o.accepted].tolist()):
            ret_by[m] = ret_by.get(m, 0) + v
        value = value - np.array([ret_by.get(m, 0) for m in buyers.tolist()], dtype=np.int64)
    _observe_all(result, VALUES, value)

    # ---------------------------------------------------------------- by month
    pair = np.unique(np.stack([o.member, month]), axis=1) if n else np.zeros((2, 0), np.int64)
    add_by(_MONTH, pair[1], "buyers")
    add_by(_MONTH, month[new_member], "new")
    for g in lapse_gaps(plan.scenario):
        # a gap of more than g days: lapsed g days after the order, returned at the next one
        after = np.append(o.day[1:], 0) if n else o.day
        next_day = np.where(last_of_member, np.iinfo(np.int64).max, after)
        lapse_day = o.day + g
        lapsed = (next_day - o.day > g) & (lapse_day <= end_day)
        add_by(_LAPSE, [f"{g}{KEY_SEP}{month_text(m)}" for m in _month_number(lapse_day[lapsed]).tolist()],
               "lapsed")
        back = ~new_member & (np.diff(o.day, prepend=0) > g) if n else new_member
        add_by(_LAPSE, [f"{g}{KEY_SEP}{month_text(m)}" for m in month[back].tolist()], "returned")

    # ---------------------------------------------------------------- cohorts by signup month
    first_month, last_month = (_month_of_text(plan.months[0]), _month_of_text(plan.months[-1])) if plan.months \
        else (0, -1)
    signup_day = o.all_first_day.copy()
    attributes = plan.attributes
    signed: dict[int, int] = {}  # member code -> signup day, from the attributes
    if attributes:
        epoch = _dt.date(1970, 1, 1)
        for code, name in zip(o.all_members.tolist(), o.names(o.all_members)):
            a = attributes.get(name)
            if a is not None and a.signup_date is not None:
                signed[code] = (a.signup_date - epoch).days
        if signed:
            signup_day = np.array([signed.get(c, d) for c, d in zip(o.all_members.tolist(), signup_day.tolist())],
                                  dtype=np.int64)
    cohort = _month_number(signup_day)
    inside = (cohort >= first_month) & (cohort <= last_month)
    result.count("customers_signup_before_history", int((cohort < first_month).sum()))
    result.count("customers_signup_after_history", int((cohort > last_month).sum()))
    add_by(_COHORT, [month_text(c) for c in cohort[inside].tolist()], "members")
    cohort_of = dict(zip(o.all_members.tolist(), cohort.tolist()))
    if n:
        c = np.array([cohort_of[m] for m in pair[0].tolist()], dtype=np.int64)
        since = pair[1] - c
        ok = (since >= 0) & (c >= first_month) & (c <= last_month)
        add_by(_COHORT, [f"{month_text(a)}{KEY_SEP}{k}" for a, k in zip(c[ok].tolist(), since[ok].tolist())],
               "active")
        # value by month since signup: orders by their month, accepted returns by theirs
        c_order = np.array([cohort_of[m] for m in o.member.tolist()], dtype=np.int64)
        _cohort_value(add_by, c_order, month, o.total, first_month, last_month)
        acc = o.accepted
        if acc.any():
            c_ret = np.array([cohort_of[m] for m in o.ret_member[acc].tolist()], dtype=np.int64)
            _cohort_value(add_by, c_ret, _month_number(o.ret_day[acc]), -o.ret_total[acc], first_month, last_month)

    # ---------------------------------------------------------------- enrolled members and the rest
    if attributes and any(a.signup_date is not None for a in attributes.values()):
        join = np.array([signed.get(m, np.iinfo(np.int64).max) for m in o.member.tolist()], dtype=np.int64)
        enrolled = o.day >= join
        for segment, mask in ((ENROLLED, enrolled), (NOT_ENROLLED, ~enrolled)):
            add(_SEGMENT, segment, "orders", mask.sum())
            add(_SEGMENT, segment, "gross", o.total[mask].sum())
            members_in, counts = np.unique(o.member[mask], return_counts=True)
            add(_SEGMENT, segment, "customers", len(members_in))
            add(_SEGMENT, segment, "repeaters", (counts >= 2).sum())
        if o.accepted.any():
            acc = o.accepted
            rjoin = np.array([signed.get(m, np.iinfo(np.int64).max) for m in o.ret_member[acc].tolist()],
                             dtype=np.int64)
            r_enrolled = o.ret_day[acc] >= rjoin
            add(_SEGMENT, ENROLLED, "returned", o.ret_total[acc][r_enrolled].sum())
            add(_SEGMENT, NOT_ENROLLED, "returned", o.ret_total[acc][~r_enrolled].sum())
        result.count("customers_enrolment_known", 1)


def _int_bincount(inverse, values, size: int):
    """Exact integer sums by group (np.bincount would sum in floats)."""
    import numpy as np

    out = np.zeros(size, dtype=object)
    np.add.at(out, inverse, np.asarray(values, dtype=np.int64).astype(object))
    return out


def _cohort_value(add_by, cohort, month, amounts, first_month: int, last_month: int) -> None:
    since = month - cohort
    ok = (since >= 0) & (cohort >= first_month) & (cohort <= last_month)
    add_by(_COHORT, [f"{month_text(a)}{KEY_SEP}{k}" for a, k in zip(cohort[ok].tolist(), since[ok].tolist())],
           "value", amounts[ok])


def _observe_all(result: SimResult, name: str, values) -> None:
    import numpy as np

    if not len(values):
        return
    uniq, counts = np.unique(np.asarray(values, dtype=np.int64), return_counts=True)
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
