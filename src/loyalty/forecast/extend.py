"""Extending a history past its end with each member's future orders, drawn from a fitted BG/NBD model.

Each member who ordered is summarised by (x, t_x, T) in weeks (bgnbd.py). One draw of her future gives the
times of her next orders; each is a copy of one of her own past orders, chosen uniformly (its lines: items,
categories, quantities and amounts as she paid them, its store and channel), so order values and baskets are
resampled from her own and money stays exact. Future orders get order ids of their own (`forecast R-N`) and
no event id; nothing else (returns, visits, signups) is extended. The extended history is a `History` like
any other: each member's rows, then her future orders, in time order.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

from loyalty.forecast.bgnbd import Params, simulate_future

WEEK_US = 7 * 86_400_000_000
SECOND_US = 1_000_000


@dataclass
class Customers:
    """The members who ordered, in member order, with what the model and the resampling need."""

    names: list[str]
    slices: list[tuple[int, int]]  # each member's rows in the history
    x: np.ndarray  # repeat orders
    tx: np.ndarray  # weeks from her first order to her last
    T: np.ndarray  # weeks from her first order to the end of the history
    orders: list[list[list[int]]]  # each member's orders, each as its rows


def customers_of(history, end: _dt.datetime) -> Customers:
    from loyalty.simulate.orders import EventBuilder

    end_us = (end - _dt.datetime(1970, 1, 1)) // _dt.timedelta(microseconds=1)
    builder = EventBuilder(history, {})
    kinds, micros = history.type, history.column("time")
    names, slices, x, tx, T, orders = [], [], [], [], [], []
    for name, start, stop in history.member_slices():
        groups = [list(g) for g in builder.groups(start, stop) if kinds[g[0]] == "purchase"]
        if not groups:
            continue
        times = sorted(micros[g[0]] for g in groups)
        names.append(name)
        slices.append((start, stop))
        x.append(len(groups) - 1)
        tx.append((times[-1] - times[0]) / WEEK_US)
        T.append((end_us - times[0]) / WEEK_US)
        orders.append(groups)
    return Customers(names, slices, np.asarray(x, np.float64), np.asarray(tx, np.float64),
                     np.asarray(T, np.float64), orders)


def extend(history, customers: Customers, params: Params, end: _dt.datetime, horizon_weeks: float, rng,
           run: int, win_back: float = 0.0, rate_factor=None):
    """The history with one draw of every member's future orders after `end` (an Arrow-backed `History`),
    and the number of future orders."""
    import pyarrow as pa

    from loyalty.simulate.columns import arrow, numbers
    from loyalty.simulate.history import History

    end_us = (end - _dt.datetime(1970, 1, 1)) // _dt.timedelta(microseconds=1)
    futures = simulate_future(params, customers.x, customers.tx, customers.T, horizon_weeks, rng,
                              win_back=win_back, rate_factor=rate_factor)
    take, ext_time, ext_order, is_ext = [], [], [], []
    order_names: list[str] = []
    slices = {s: i for i, s in enumerate(customers.slices)}
    for name, start, stop in history.member_slices():
        take.extend(range(start, stop))
        is_ext.extend([False] * (stop - start))
        i = slices.get((start, stop))
        if i is None:
            continue
        own = customers.orders[i]
        picks = rng.integers(0, len(own), len(futures[i]))
        for weeks, pick in zip(futures[i].tolist(), picks.tolist()):
            # whole seconds after the end, never at it: the future starts after the history's last moment
            when = end_us + max(SECOND_US, int(round(weeks * WEEK_US / SECOND_US)) * SECOND_US)
            order_names.append(f"forecast {run}-{len(order_names) + 1}")
            for row in own[pick]:
                take.append(row)
                ext_time.append(when)
                ext_order.append(len(order_names) - 1)
                is_ext.append(True)
    table = history.table.take(arrow(np.asarray(take, dtype=np.int64)))
    ext = np.asarray(is_ext, dtype=bool)
    n_ext = int(ext.sum())
    if not n_ext:
        return History(table, history.file, encoded=True), 0

    def set_column(t, name, array):
        return t.set_column(t.column_names.index(name), name, array)

    time = numbers(table.column("time")).copy()
    time[ext] = np.asarray(ext_time, dtype=np.int64)
    table = set_column(table, "time", arrow(time))
    # order ids: the history's dictionary and the future orders' own names after it
    order = table.column("order").combine_chunks()
    dictionary = order.dictionary
    codes = numbers(order.indices, -1).copy()
    codes[ext] = len(dictionary) + np.asarray(ext_order, dtype=np.int64)
    new_dictionary = pa.concat_arrays([dictionary, pa.array(order_names, pa.string())])
    table = set_column(table, "order", pa.DictionaryArray.from_arrays(arrow(codes.astype(np.int32),
                                                                            codes >= 0), new_dictionary))
    event = table.column("event").combine_chunks()
    event_codes = numbers(event.indices, -1).copy()
    event_codes[ext] = -1
    table = set_column(table, "event", pa.DictionaryArray.from_arrays(
        arrow(event_codes.astype(np.int32), event_codes >= 0), event.dictionary))
    rows = numbers(table.column("row")).copy()
    top = int(numbers(history.table.column("row")).max()) if len(history) else 0
    rows[ext] = top + 1 + np.arange(n_ext)
    table = set_column(table, "row", arrow(rows))
    fold = numbers(table.column("fold")).copy()
    fold[ext] = 0
    table = set_column(table, "fold", arrow(fold.astype(np.int8)))
    return History(table, history.file, encoded=True), len(order_names)
