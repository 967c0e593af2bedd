"""Peer: the reference program as a hand-written polars query (a competent analyst's best).

Vectorised end to end: no Python loop over members or rows. The sequential parts of
the program are turned into cumulative operations per member:

- punch card: washes counted = running sum of washes bought less washes returned;
  free washes given = running max of (count // 6), so a return never re-grants one;
- gold (which doubles the points of a purchase) depends on the points before it, and
  returns can take a member out of gold again: solved by fixed-point iteration on the
  per-purchase gold flag (each pass is exact for one more tier change; it stops when
  nothing changes, usually after two or three passes);
- FIFO expiry with returns taking the oldest points first: with points laid out in the
  order they were earned, everything removed before a batch expires is a prefix, so
  expired = max(0, max over expired batches of (points issued up to the batch - points
  clawed back before it expired)), an as-of join.

Semantics: benchmarks/README.md ("The reference program by hand").

    python benchmarks/peers/polars_reference.py HISTORY.csv     # prints the totals as JSON
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import polars as pl

CYCLE = 6
GOLD_FROM = 5000
EXPIRY = dt.timedelta(days=365)
KEY = ["member", "order"]


def half_even(n: pl.Expr, d: pl.Expr) -> pl.Expr:
    """n / d rounded half to even, on non-negative integers."""
    q, r = n // d, n % d
    up = (2 * r > d) | ((2 * r == d) & (q % 2 == 1))
    return q + up.cast(pl.Int64)


def run(path: str) -> dict:
    raw = pl.read_csv(path, columns=["member", "time", "type", "order", "item", "category", "quantity", "amount"],
                      schema_overrides={"amount": pl.String, "quantity": pl.Int64})
    end = raw["time"].max()
    rows = (
        raw.lazy().with_row_index("row")
        .filter(pl.col("type").is_in(["purchase", "return"]))
        .with_columns(
            pl.col("time").str.to_datetime("%Y-%m-%dT%H:%M"),
            pl.col("amount").str.replace(".", "", literal=True).cast(pl.Int64),  # exact minor units
            (pl.col("category") == "washes").alias("wash"),
        )
        .sort("member", "time", "row")
        .collect()
    )
    buys = rows.filter(pl.col("type") == "purchase")
    rets = rows.filter(pl.col("type") == "return")

    # ---- orders (gross, washes) and returns (the amount each return takes back, cumulative per order)
    orders = buys.group_by(KEY, maintain_order=True).agg(
        pl.col("time").first(), pl.col("row").first().alias("seq"), pl.col("amount").sum().alias("gross"),
        pl.col("quantity").filter(pl.col("wash")).sum().alias("units"),
        pl.col("amount").filter(pl.col("wash")).sum().alias("wash_gross"))
    items = buys.group_by(KEY + ["item"]).agg(pl.col("quantity").sum().alias("iq"), pl.col("amount").sum().alias("ig"))
    back = (
        rets.join(items, on=KEY + ["item"], how="left")
        .with_columns(pl.col("quantity").cum_sum().over(KEY + ["item"]).alias("rq"))
        .with_columns((half_even(pl.col("ig") * pl.col("rq"), pl.col("iq"))
                       - half_even(pl.col("ig") * (pl.col("rq") - pl.col("quantity")), pl.col("iq"))).alias("r"))
        .group_by(KEY + ["time"], maintain_order=True)
        .agg(pl.col("row").first().alias("seq"), pl.col("r").sum(), pl.col("r").filter("wash").sum().alias("rw"))
        .join(orders.select(KEY + ["gross", "units", "wash_gross"]), on=KEY, how="left")
        .with_columns(pl.col("r").cum_sum().over(KEY).alias("R"), pl.col("rw").cum_sum().over(KEY).alias("RW"))
    )
    if back["gross"].null_count():
        raise SystemExit("a return of an order not in the history")

    def share(x: str) -> pl.Expr:  # the part of x that the returned amount so far carries
        return pl.when(pl.col("R") >= pl.col("gross")).then(pl.col(x)).otherwise(
            half_even(pl.col(x) * pl.col("R"), pl.col("gross")))

    # the punch card's share is by its own (wash) lines, unless the whole order is back
    back = back.with_columns(
        pl.when((pl.col("R") >= pl.col("gross")) | (pl.col("RW") >= pl.col("wash_gross"))).then(pl.col("units"))
        .otherwise(half_even(pl.col("units") * pl.col("RW"), pl.col("wash_gross"))).alias("units_back_cum")
    ).with_columns(
        (pl.col("units_back_cum") - pl.col("units_back_cum").shift(1, fill_value=0).over(KEY)).alias("units_back"))

    # ---- punch card: one timeline of wash lines (+q) and returns (-units back)
    timeline = pl.concat([
        buys.filter("wash").select("member", "order", pl.col("row").alias("seq"), pl.col("row").alias("line"),
                                   pl.col("quantity").alias("delta"), "amount", pl.col("quantity").alias("q")),
        back.select("member", "order", "seq", pl.lit(None, pl.UInt32).alias("line"),
                    (-pl.col("units_back")).alias("delta"), pl.lit(None, pl.Int64).alias("amount"),
                    pl.lit(None, pl.Int64).alias("q")),
    ]).sort("member", "seq")
    free = (
        timeline.with_columns(pl.col("delta").cum_sum().over("member").alias("count"))
        .with_columns(pl.when(pl.col("line").is_not_null()).then(pl.col("count") // CYCLE).otherwise(0)
                      .cum_max().over("member").alias("given"))
        .with_columns((pl.col("given") - pl.col("given").shift(1, fill_value=0).over("member")).alias("k"))
        .filter(pl.col("line").is_not_null() & (pl.col("k") > 0))
        .with_columns(half_even(pl.col("amount") * pl.col("k"), pl.col("q")).alias("discount"))
    )
    orders = orders.join(free.group_by(KEY).agg(pl.col("discount").sum()), on=KEY, how="left").with_columns(
        (pl.col("gross") - pl.col("discount").fill_null(0)).alias("paid")).with_columns(
        (pl.col("paid") // 100).alias("pts1"), (2 * pl.col("paid") // 100).alias("pts2"))

    # ---- points and gold: fixed point on the per-purchase gold flag
    events = pl.concat([
        orders.select("member", "order", "seq", "time", pl.lit(True).alias("buy"), "pts1", "pts2",
                      pl.lit(None, pl.Int64).alias("R"), pl.lit(None, pl.Int64).alias("gross")),
        back.select("member", "order", "seq", "time", pl.lit(False).alias("buy"), pl.lit(None, pl.Int64).alias("pts1"),
                    pl.lit(None, pl.Int64).alias("pts2"), "R", "gross"),
    ]).sort("member", "seq").with_columns(pl.lit(False).alias("gold"))
    for _ in range(100):
        ev = (
            events.with_columns(pl.when("buy").then(pl.when("gold").then("pts2").otherwise("pts1")).alias("pts"))
            .with_columns(pl.col("pts").fill_null(strategy="forward").over(KEY).alias("order_pts"))
            .with_columns(pl.when(pl.col("buy")).then(0).otherwise(share("order_pts")).alias("claw_cum"))
            .with_columns((pl.col("claw_cum") - pl.col("claw_cum").shift(1, fill_value=0).over(KEY)).alias("claw"))
            .with_columns(pl.when("buy").then("pts").otherwise(-pl.col("claw")).alias("delta"))
            .with_columns((pl.col("delta").cum_sum().over("member") - pl.col("delta")).alias("before"))
            .with_columns((pl.col("buy") & (pl.col("before") >= GOLD_FROM)).alias("new_gold"))
        )
        if ev["new_gold"].equals(ev["gold"]):
            break
        events = events.with_columns(ev["new_gold"].alias("gold"))
    else:
        raise SystemExit("the gold flags did not settle")

    # ---- FIFO expiry
    claws = ev.filter(~pl.col("buy") & (pl.col("claw") > 0)).select(
        "member", "time", pl.col("claw").cum_sum().over("member").alias("clawed_before")).sort("time")
    batches = (
        ev.filter(pl.col("buy")).with_columns(pl.col("pts").cum_sum().over("member").alias("issued_to"))
        .filter(pl.col("pts") > 0)
        .with_columns((pl.col("time") + EXPIRY).alias("expires"))
        .filter(pl.col("expires") <= dt.datetime.fromisoformat(end))
        .select("member", "expires", "issued_to").sort("expires")
        .join_asof(claws, left_on="expires", right_on="time", by="member", strategy="backward",
                   allow_exact_matches=False, check_sortedness=False)  # a return at the moment of expiry comes after it
    )
    expired = batches.group_by("member").agg(
        (pl.col("issued_to") - pl.col("clawed_before").fill_null(0)).max().clip(0).alias("expired"))
    per_member = ev.group_by("member").agg(pl.col("delta").sum().alias("metric"))
    tot = {
        "free_washes": int(free["k"].sum()),
        "free_wash_value": int(free["discount"].sum()),
        "points_issued": int(ev["pts"].sum()),
        "points_clawed_back": int(ev["claw"].sum()),
        "points_expired": int(expired["expired"].sum()),
        "gold_members_at_end": int((per_member["metric"] >= GOLD_FROM).sum()),
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
