"""Peer: the reference program as a hand-written pandas script (a competent analyst's best).

The same vectorised plan as polars_reference.py (its docstring explains the three
tricks: running max for the punch card, fixed point for gold, an as-of join for FIFO
expiry), written the pandas way: pyarrow CSV engine, groupby cumulative operations,
merge_asof. Semantics: benchmarks/README.md ("The reference program by hand").

    python benchmarks/peers/pandas_reference.py HISTORY.csv     # prints the totals as JSON
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

CYCLE = 6
GOLD_FROM = 5000
EXPIRY = pd.Timedelta(days=365)
KEY = ["member", "order"]


def half_even(n, d):
    """n / d rounded half to even, on non-negative integer arrays."""
    q, r = np.divmod(n, d)
    return q + ((2 * r > d) | ((2 * r == d) & (q % 2 == 1)))


def run(path: str) -> dict:
    raw = pd.read_csv(path, usecols=["member", "time", "type", "order", "item", "category", "quantity", "amount"],
                      dtype={"amount": "string", "quantity": "Int64"}, engine="pyarrow")
    end = pd.Timestamp(raw["time"].max())
    df = raw[raw["type"].isin(["purchase", "return"])].copy()
    df["row"] = df.index
    df["time"] = pd.to_datetime(df["time"], format="%Y-%m-%dT%H:%M")
    df["amount"] = df["amount"].str.replace(".", "", regex=False).astype("int64")  # exact minor units
    df["quantity"] = df["quantity"].astype("int64")
    df["wash"] = df["category"] == "washes"
    df = df.sort_values(["member", "time", "row"], kind="stable")
    buys = df[df["type"] == "purchase"]
    rets = df[df["type"] == "return"].copy()

    # ---- orders and returns
    orders = buys.groupby(KEY, sort=False).agg(time=("time", "first"), seq=("row", "first"),
                                               gross=("amount", "sum")).reset_index()
    washes = buys[buys["wash"]].groupby(KEY, sort=False).agg(units=("quantity", "sum"), wash_gross=("amount", "sum"))
    orders = orders.merge(washes, on=KEY, how="left").fillna({"units": 0, "wash_gross": 0})
    items = buys.groupby(KEY + ["item"], sort=False).agg(iq=("quantity", "sum"), ig=("amount", "sum")).reset_index()
    rets = rets.merge(items, on=KEY + ["item"], how="left")
    if rets["ig"].isna().any():
        raise SystemExit("a return of an order not in the history")
    rets["rq"] = rets.groupby(KEY + ["item"])["quantity"].cumsum()
    rets["r"] = half_even(rets["ig"] * rets["rq"], rets["iq"]) - half_even(
        rets["ig"] * (rets["rq"] - rets["quantity"]), rets["iq"])
    rets["rw"] = np.where(rets["wash"], rets["r"], 0)
    back = rets.groupby(KEY + ["time"], sort=False).agg(seq=("row", "first"), r=("r", "sum"),
                                                        rw=("rw", "sum")).reset_index()
    back = back.merge(orders[KEY + ["gross", "units", "wash_gross"]], on=KEY, how="left")
    back["R"] = back.groupby(KEY)["r"].cumsum()
    back["RW"] = back.groupby(KEY)["rw"].cumsum()

    def share(frame, col):
        x = frame[col].to_numpy()
        return np.where(frame["R"] >= frame["gross"], x, half_even(x * frame["R"].to_numpy(), frame["gross"].to_numpy()))

    # the punch card's share is by its own (wash) lines, unless the whole order is back
    units, wg, rw = back["units"].to_numpy("int64"), back["wash_gross"].to_numpy("int64"), back["RW"].to_numpy("int64")
    back["units_back_cum"] = np.where((back["R"] >= back["gross"]).to_numpy() | (rw >= wg), units,
                                      half_even(units * rw, np.maximum(wg, 1)))
    back["units_back"] = back["units_back_cum"] - back.groupby(KEY)["units_back_cum"].shift(1, fill_value=0)

    # ---- punch card
    lines = buys[buys["wash"]][["member", "order", "row", "quantity", "amount"]].rename(
        columns={"row": "seq", "quantity": "delta"})
    lines["is_line"] = True
    returns = back[["member", "order", "seq"]].assign(delta=-back["units_back"], amount=0, is_line=False)
    tl = pd.concat([lines, returns], ignore_index=True).sort_values(["member", "seq"], kind="stable")
    tl["count"] = tl.groupby("member")["delta"].cumsum()
    tl["given"] = np.where(tl["is_line"], tl["count"] // CYCLE, 0)
    tl["given"] = tl.groupby("member")["given"].cummax()
    tl["k"] = tl["given"] - tl.groupby("member")["given"].shift(1, fill_value=0)
    free = tl[tl["is_line"] & (tl["k"] > 0)].copy()
    free["discount"] = half_even(free["amount"] * free["k"], free["delta"])
    orders = orders.merge(free.groupby(KEY)["discount"].sum(), on=KEY, how="left").fillna({"discount": 0})
    orders["paid"] = orders["gross"] - orders["discount"].astype("int64")
    orders["pts1"] = orders["paid"] // 100
    orders["pts2"] = 2 * orders["paid"] // 100

    # ---- points and gold: fixed point on the per-purchase gold flag
    ev = pd.concat([orders[["member", "order", "seq", "time", "pts1", "pts2"]].assign(buy=True),
                    back[["member", "order", "seq", "time", "R", "gross"]].assign(buy=False)],
                   ignore_index=True).sort_values(["member", "seq"], kind="stable").reset_index(drop=True)
    buy = ev["buy"].to_numpy()
    pts1, pts2 = ev["pts1"].fillna(0).to_numpy("int64"), ev["pts2"].fillna(0).to_numpy("int64")
    gold = np.zeros(len(ev), dtype=bool)
    by_order = ev.groupby(KEY, sort=False)
    by_member = ev.groupby("member", sort=False)
    for _ in range(100):
        ev["pts"] = np.where(buy, np.where(gold, pts2, pts1), 0)
        ev["order_pts"] = by_order["pts"].transform("first")  # an order's purchase comes before its returns
        ev["claw_cum"] = np.where(buy, 0, share(ev.fillna({"R": 0, "gross": 1}), "order_pts"))
        ev["claw"] = ev["claw_cum"] - by_order["claw_cum"].shift(1, fill_value=0)
        ev["delta"] = np.where(buy, ev["pts"], -ev["claw"])
        before = by_member["delta"].cumsum() - ev["delta"]
        new_gold = buy & (before.to_numpy() >= GOLD_FROM)
        if (new_gold == gold).all():
            break
        gold = new_gold
    else:
        raise SystemExit("the gold flags did not settle")

    # ---- FIFO expiry
    claws = ev[~ev["buy"] & (ev["claw"] > 0)][["member", "time", "claw"]].copy()
    claws["clawed_before"] = claws.groupby("member")["claw"].cumsum()
    batches = ev[ev["buy"]].copy()
    batches["issued_to"] = batches.groupby("member")["pts"].cumsum()
    batches = batches[batches["pts"] > 0]
    batches["expires"] = (batches["time"] + EXPIRY).astype(claws["time"].dtype)
    batches = batches[batches["expires"] <= end].sort_values("expires")
    batches = pd.merge_asof(batches[["member", "expires", "issued_to"]],
                            claws[["member", "time", "clawed_before"]].sort_values("time"),
                            left_on="expires", right_on="time", by="member", allow_exact_matches=False)
    batches["left"] = batches["issued_to"] - batches["clawed_before"].fillna(0).astype("int64")
    expired = batches.groupby("member")["left"].max().clip(lower=0)
    metric = by_member["delta"].sum()
    tot = {
        "free_washes": int(free["k"].sum()),
        "free_wash_value": int(free["discount"].sum()),
        "points_issued": int(ev["pts"].sum()),
        "points_clawed_back": int(ev["claw"].sum()),
        "points_expired": int(expired.sum()),
        "gold_members_at_end": int((metric >= GOLD_FROM).sum()),
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
