"""Peer: the reference program as a hand-tuned pandas script (a competent analyst's best).

The same plan as polars_reference.py (its docstring explains the three tricks: a running
max for the punch card, a fixed point for gold, "everything taken before a batch expires
is a prefix" for FIFO expiry), written the way a pandas user tunes it:

- `read_csv(engine="pyarrow", dtype_backend="pyarrow")` with explicit Arrow types, so
  the reader parses the times and the amounts (decimal128, exact) itself;
- members, orders and items become integer codes (`pd.factorize`, once): no string is
  copied or compared after the read; one stable sort by member (the history is in time
  order; otherwise a lexsort by member, time and file row);
- the per-row and per-event work is NumPy on the sorted columns: events are runs of rows
  (`np.add.reduceat` for their totals), per-member running sums are global running sums
  rebased at each member's first row, per-member lookups for expiry are one
  `np.searchsorted` on a (member, time) key; no `groupby().apply`, no Python per row;
- returns (2% of the rows) are worked out with ordinary pandas merges and groupbys on
  their own small frame.

Semantics: benchmarks/README.md ("The reference program by hand").

    python benchmarks/peers/pandas_reference.py HISTORY.csv     # prints the totals as JSON
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pyarrow as pa

CYCLE = 6
GOLD_FROM = 5000
EXPIRY_MS = 365 * 24 * 3600 * 1000
COLUMNS = ["member", "time", "type", "order", "item", "category", "quantity", "amount"]
DTYPES = {"time": pd.ArrowDtype(pa.timestamp("ms")), "amount": pd.ArrowDtype(pa.decimal128(18, 2)),
          "quantity": pd.ArrowDtype(pa.int64())}


def half_even(n, d):
    """n / d rounded half to even, on non-negative integer arrays."""
    q, r = np.divmod(n, d)
    return q + ((2 * r > d) | ((2 * r == d) & (q % 2 == 1)))


def read(path: str):
    """Purchase and return rows sorted by (member, time, file row) as NumPy columns, and the last timestamp."""
    raw = pd.read_csv(path, engine="pyarrow", dtype_backend="pyarrow", usecols=COLUMNS, dtype=DTYPES)
    end = int(raw["time"].max().value // 1_000_000)  # ms
    kept = np.flatnonzero(raw["type"].isin(["purchase", "return"]).to_numpy("bool"))
    if raw[["time", "amount", "quantity"]].isna().to_numpy()[kept].any():
        raise SystemExit("a purchase or return row without a time, amount or quantity")
    # Integer codes for the string keys (factorized once, on the whole column: no string is copied after this).
    mid, oid, iid = (pd.factorize(raw[c])[0][kept] for c in ("member", "order", "item"))
    time = raw["time"].astype("int64[pyarrow]").to_numpy("int64", na_value=0)[kept]
    # Histories are exported in time order: then a stable sort by member alone is the (member, time, row) order.
    order = np.argsort(mid, kind="stable") if (np.diff(time) >= 0).all() else np.lexsort((time, mid))
    at = kept[order]
    rows = pd.DataFrame({
        "mid": mid[order], "time": time[order], "order": oid[order], "item": iid[order],
        "buy": (raw["type"] == "purchase").to_numpy("bool", na_value=False)[at],
        "wash": (raw["category"] == "washes").to_numpy("bool", na_value=False)[at],
        "quantity": raw["quantity"].to_numpy("int64", na_value=0)[at],
        "cents": (raw["amount"] * 100).astype("int64[pyarrow]").to_numpy("int64", na_value=0)[at],  # exact øre
    })
    return rows, end


def member_cum_sum(x: np.ndarray, new_member: np.ndarray) -> np.ndarray:
    """Running sum within a member, on rows sorted by member (`new_member` marks each member's first row)."""
    total = np.cumsum(x)
    starts = np.flatnonzero(new_member)
    base = total[starts] - x[starts]
    return total - np.repeat(base, np.diff(np.append(starts, len(x))))


def member_cum_max(x: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Running max within a member, for 0 <= x < 2**32 (each member's values are lifted above the last's);
    rows sorted by member."""
    lift = mid.astype(np.int64) << 32
    return np.maximum.accumulate(x + lift) - lift


def member_previous(x: np.ndarray, new_member: np.ndarray) -> np.ndarray:
    """x of the member's previous row (0 on a member's first row)."""
    prev = np.concatenate([[0], x[:-1]])
    prev[new_member] = 0
    return prev


def run(path: str) -> dict:
    rows, end = read(path)
    mid, buy, time = rows["mid"].to_numpy(), rows["buy"].to_numpy(), rows["time"].to_numpy()
    quantity, cents, wash = rows["quantity"].to_numpy(), rows["cents"].to_numpy(), rows["wash"].to_numpy()
    n = len(rows)

    # ---- events: runs of rows of one member, one order and one kind (a return also at one time)
    new_member = np.ones(n, bool)
    new_member[1:] = mid[1:] != mid[:-1]
    oid = rows["order"].to_numpy()
    new_event = new_member.copy()
    new_event[1:] |= (oid[1:] != oid[:-1]) | (buy[1:] != buy[:-1]) | (~buy[1:] & (time[1:] != time[:-1]))
    eid = np.cumsum(new_event) - 1
    starts = np.flatnonzero(new_event)
    events = pd.DataFrame({
        "eid": np.arange(len(starts)), "mid": mid[starts], "new_member": new_member[starts], "buy": buy[starts],
        "time": time[starts], "order": oid[starts],
        "gross": np.add.reduceat(cents, starts), "units": np.add.reduceat(quantity * wash, starts),
        "wash_gross": np.add.reduceat(cents * wash, starts)})
    # Runs of rows are the events only if no order is split by another event of its member at the same time:
    # check it rather than assume it.
    buys, rets = events[events["buy"]], events[~events["buy"]]
    if (pd.Index(buys["mid"] * (oid.max() + 1) + buys["order"]).has_duplicates
            or rets.duplicated(["mid", "order", "time"]).any()):
        raise SystemExit("an order's rows are interleaved with another event of its member: not supported")

    # ---- returns (a few percent of the rows): the amount each return line takes back, cumulative per
    # order and item, and per order; the order's purchase event is `pidx`
    keys = ["mid", "order"]
    returned = rets[keys].drop_duplicates().merge(
        buys.loc[buys["order"].isin(rets["order"]), keys + ["eid", "gross", "units", "wash_gross"]]
        .rename(columns={"eid": "pidx", "gross": "G"}), on=keys, how="left")
    if returned["pidx"].isna().any():
        raise SystemExit("a return of an order not in the history")
    lines = rows.assign(eid=eid)
    bought = (lines[np.isin(eid, returned["pidx"].to_numpy("int64"))]
              .groupby(keys + ["item"], sort=False).agg(iq=("quantity", "sum"), ig=("cents", "sum")).reset_index())
    ret_lines = lines[~buy].merge(bought, on=keys + ["item"], how="left")
    if ret_lines["ig"].isna().any():
        raise SystemExit("a return of an item not bought in that order")
    ig, iq, q = ret_lines["ig"].to_numpy("int64"), ret_lines["iq"].to_numpy("int64"), ret_lines["quantity"].to_numpy()
    rq = ret_lines.groupby(keys + ["item"], sort=False)["quantity"].cumsum().to_numpy()
    ret_lines["r"] = half_even(ig * rq, iq) - half_even(ig * (rq - q), iq)
    ret_lines["rw"] = np.where(ret_lines["wash"], ret_lines["r"], 0)
    back = (ret_lines.groupby("eid", sort=True).agg(mid=("mid", "first"), order=("order", "first"), r=("r", "sum"),
                                                    rw=("rw", "sum"))
            .reset_index().merge(returned, on=keys, how="left"))
    if (back["pidx"] > back["eid"]).any():
        raise SystemExit("a return of an order before the order")
    by_order = back.groupby(keys, sort=False)
    R, RW = by_order["r"].cumsum().to_numpy(), by_order["rw"].cumsum().to_numpy()
    G, units, wg = back["G"].to_numpy("int64"), back["units"].to_numpy("int64"), back["wash_gross"].to_numpy("int64")
    # the punch card's share is by its own (wash) lines, unless the whole order is back
    back["units_back_cum"] = np.where((R >= G) | (RW >= wg), units, half_even(units * RW, np.maximum(wg, 1)))
    back["units_back"] = back["units_back_cum"] - by_order["units_back_cum"].shift(1, fill_value=0)
    back["pos"] = np.arange(len(back))
    prev = by_order["pos"].shift(1, fill_value=-1).to_numpy()  # the row of the order's previous return, or -1
    ret_eid, pidx = back["eid"].to_numpy(), back["pidx"].to_numpy("int64")

    def per_event(values) -> np.ndarray:
        """values at the return events, 0 at every other event."""
        out = np.zeros(len(events), np.int64)
        out[ret_eid] = values
        return out

    # ---- punch card, on every row in member time order: a wash line counts +q, a return -units back
    line = buy & wash
    delta = np.where(line, quantity, 0) - np.where(new_event, per_event(back["units_back"].to_numpy())[eid], 0)
    count = member_cum_sum(delta, new_member)
    given = member_cum_max(np.where(line, count // CYCLE, 0), mid)
    k = given - member_previous(given, new_member)
    free = np.flatnonzero(line & (k > 0))
    discount = half_even(cents[free] * k[free], quantity[free])

    # ---- points and gold: a fixed point on the per-purchase gold flag. A return claws back its share of
    # the order's points; both candidates (the order earned at 1x or at 2x) are computed once, up front.
    event_discount = np.zeros(len(events), np.int64)
    np.add.at(event_discount, eid[free], discount)
    paid = events["gross"].to_numpy() - event_discount
    ev_buy, ev_new_member, ev_mid = events["buy"].to_numpy(), events["new_member"].to_numpy(), events["mid"].to_numpy()
    pts1, pts2 = np.where(ev_buy, paid // 100, 0), np.where(ev_buy, 2 * paid // 100, 0)
    # Each source of an order's points (the earning rule's base, then the tier's extra) is taken back on
    # its own: half_even(source points x R / G) (docs/semantics.md, "Multipliers" and "Returns").
    def taken_back(parts) -> np.ndarray:
        so_far = sum(np.where(R >= G, p, half_even(p * R, np.maximum(G, 1))) for p in parts)
        return per_event(so_far - np.where(prev >= 0, so_far[prev], 0))

    base, extra = pts1[pidx], pts2[pidx] - pts1[pidx]
    claws = [taken_back([base]), taken_back([base, extra])]
    claw1, claw2 = claws
    order_of = per_event(pidx)
    gold = np.zeros(len(events), bool)
    for _ in range(100):
        pts = np.where(gold, pts2, pts1)
        claw = np.where(gold[order_of], claw2, claw1)
        delta = pts - claw
        new_gold = ev_buy & (member_cum_sum(delta, ev_new_member) - delta >= GOLD_FROM)
        if (new_gold == gold).all():
            break
        gold = new_gold
    else:
        raise SystemExit("the gold flags did not settle")

    # ---- FIFO expiry: for each expired batch, the member's points clawed back strictly before it expired,
    # by one searchsorted on a (member, time) key over the claws (sorted by member, then time)
    ev_time = events["time"].to_numpy()
    issued_to = member_cum_sum(pts, ev_new_member)
    metric = member_cum_sum(delta, ev_new_member)
    c = np.flatnonzero(claw > 0)
    claw_key = (ev_mid[c].astype(np.int64) << 32) + ev_time[c] // 1000
    clawed = np.concatenate([[0], np.cumsum(claw[c])])  # clawed[i]: the first i claws
    b = np.flatnonzero((pts > 0) & (ev_time + EXPIRY_MS <= end))
    b_mid = ev_mid[b].astype(np.int64) << 32
    before = (clawed[np.searchsorted(claw_key, b_mid + (ev_time[b] + EXPIRY_MS) // 1000, side="left")]
              - clawed[np.searchsorted(claw_key, b_mid, side="left")])
    left = issued_to[b] - before
    member_start = np.flatnonzero(np.diff(ev_mid[b], prepend=-1) != 0)
    expired = np.maximum(np.maximum.reduceat(left, member_start), 0) if len(b) else np.zeros(0, np.int64)
    at_end = np.append(ev_new_member[1:], True)  # each member's last event
    tot = {
        "free_washes": int(k[free].sum()),
        "free_wash_value": int(discount.sum()),
        "points_issued": int(pts.sum()),
        "points_clawed_back": int(claw.sum()),
        "points_expired": int(expired.sum()),
        "gold_members_at_end": int((metric[at_end] >= GOLD_FROM).sum()),
    }
    return finish(tot)


def finish(tot: dict) -> dict:
    out = dict(tot)
    out["points_outstanding"] = out["points_issued"] - out["points_clawed_back"] - out["points_expired"]
    v = out["free_wash_value"]
    out["free_wash_value"] = f"{v // 100}.{v % 100:02d}"
    return dict(sorted(out.items()))


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1]), sort_keys=True))
