"""Metrics: what tiers and discount scales measure (spend, visits, points earned) over a window.

A lifetime metric is [first moment, total]; a windowed one a `MetricLog` of moments and running
totals. `add_metric` feeds them, `metric_value` reads one at a moment."""

from __future__ import annotations

import datetime as _dt

from loyalty.runtime.timeutil import period_start, sub_duration


def metric_slots(prog, what: str, point_kind: int) -> tuple:
    """(metric index, lifetime?) of every metric that `what` (spend | visits | earned of `point_kind`) feeds."""
    return tuple((m.index, m.window == "lifetime") for m in prog.metrics
                 if m.kind == what and (what != "earned" or m.point_kind == point_kind))


def add_to(st, slots: tuple, t, value: int) -> None:
    """Add `value` at moment t to the metrics `slots` names (`metric_slots`)."""
    metrics = st.metrics
    for mi, lifetime in slots:
        if lifetime:
            c = metrics[mi]
            metrics[mi] = [t, value] if c is None else [c[0], c[1] + value]
        else:
            metrics[mi].add(t, value)


def add_metric(prog, st, kind: str, point_kind: int, t, value: int) -> None:
    for m in prog.metrics:
        if m.kind == kind and (kind != "earned" or m.point_kind == point_kind):
            if m.window == "lifetime":
                c = st.metrics[m.index]
                st.metrics[m.index] = [t, value] if c is None else [c[0], c[1] + value]
            else:
                st.metrics[m.index].add(t, value)


def metric_value(prog, st, mi: int, at: _dt.datetime, review: bool = False) -> int:
    """The metric at moment `at`; at a review (a period end) a calendar window means the period just ended."""
    m = prog.metrics[mi]
    log = st.metrics[mi]
    if m.window == "lifetime":
        return log[1] if log is not None else 0
    if m.window == "rolling":
        lo = sub_duration(at, m.amount, m.unit)
        return log.sum_between(lo, at, False, True) if not review else log.sum_between(lo, at, True, False)
    if review:
        lo = period_start(at - _dt.timedelta(microseconds=1), m.period)
        return log.sum_between(lo, at, True, False)
    lo = period_start(at, m.period)
    return log.sum_between(lo, at, True, True)
