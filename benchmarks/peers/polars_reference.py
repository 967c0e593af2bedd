"""Peer: the reference program as a hand-tuned polars query (a competent analyst's best).

Vectorised end to end: no Python loop over members or rows. How it is tuned
(benchmarks/README.md, "How the peers are tuned", has the measurements):

- one lazy `scan_csv` with an explicit schema: the reader parses the times (Datetime)
  and the amounts (Decimal, so exact: its physical integer is the amount in øre),
  skips the unused columns, and members become integer ids (Categorical codes);
- one sort: a stable sort by member id (the history is in time order; otherwise a
  sort by member, time and file row); events (an order, or a return of an order at
  one time) are runs of rows, numbered by a running sum of "a new event starts here";
- every per-member sequential quantity is a running sum or max over that sorted
  layout, rebased at each member's first row (cheaper than `.over("member")`, which
  regroups the rows each time); returns (2% of the rows) are worked out on their own
  small frame and scattered back by event id.

The three sequential parts of the program:

- punch card: washes counted = running sum of washes bought less washes returned;
  free washes given = running max of (count // 6), so a return never re-grants one;
- gold (which doubles the points of a purchase) depends on the points before it, and
  returns can take a member out of gold again: solved by fixed-point iteration on the
  per-purchase gold flag. The system is causal (a flag depends only on earlier events),
  so its only fixed point is the sequential answer; the first pass is already exact for
  every member without a return. Each pass is a few gathers and one cumulative sum;
- FIFO expiry with returns taking the oldest points first: with points laid out in the
  order they were earned, everything removed before a batch expires is a prefix, so
  expired = max(0, max over expired batches of (points issued up to the batch - points
  clawed back before it expired)), an as-of join per member.

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
SCHEMA = {
    "member": pl.String, "time": pl.Datetime("ms"), "type": pl.String, "order": pl.String, "item": pl.String,
    "category": pl.String, "quantity": pl.Int64, "amount": pl.Decimal(18, 2), "store": pl.String,
    "channel": pl.String,
}


def half_even(n: pl.Expr, d: pl.Expr) -> pl.Expr:
    """n / d rounded half to even, on non-negative integers."""
    q, r = n // d, n % d
    up = (2 * r > d) | ((2 * r == d) & (q % 2 == 1))
    return q + up.cast(pl.Int64)


# The frames below are sorted by member, and `new_member` marks each member's first row: a member's running
# sum is then the global running sum less its value where the member starts. Measured 3x cheaper than
# `.over("member")`, which regroups the rows every time.


def member_cum_sum(x: pl.Expr) -> pl.Expr:
    total = x.cum_sum()
    return total - pl.when("new_member").then(total - x).forward_fill()


def member_cum_max(x: pl.Expr) -> pl.Expr:
    """Running max within a member, for 0 <= x < 2**32 (each member's values are lifted above the last's)."""
    lift = pl.col("mid").cast(pl.Int64) * 2**32
    return (x + lift).cum_max() - lift


def member_previous(x: pl.Expr) -> pl.Expr:
    """x of the member's previous row (0 on a member's first row)."""
    return pl.when("new_member").then(0).otherwise(x.shift(1))


def read(path: str) -> tuple[pl.DataFrame, dt.datetime]:
    """Purchase and return rows sorted by (member id, time, file row), with an event id `eid` numbering the
    orders and returns in that order, and the history's last timestamp."""
    rows = (
        pl.scan_csv(path, schema=SCHEMA).with_row_index("row")
        .with_columns(pl.col("time").max().alias("end"))
        .filter(pl.col("type").is_in(["purchase", "return"]))
        .select(
            "row", "time", "end", "order", "item", "quantity",
            pl.col("member").cast(pl.Categorical).to_physical().alias("mid"),
            (pl.col("type") == "purchase").alias("buy"),
            (pl.col("category") == "washes").alias("wash"),
            pl.col("amount").to_physical().cast(pl.Int64).alias("cents"),  # exact minor units
        )
        .collect()
    )
    if rows["time"].null_count() or rows["cents"].null_count() or rows["quantity"].null_count():
        raise SystemExit("a purchase or return row without a time, amount or quantity")
    # Histories are exported in time order: then a stable sort by member alone is the (member, time, row) order.
    rows = rows.sort("mid", maintain_order=True) if rows["time"].is_sorted() else rows.sort("mid", "time", "row")
    # An event is a run of rows of one member, one order and one kind (a return also at one time).
    new_member = (pl.col("mid") != pl.col("mid").shift(1)).fill_null(True)
    new_event = (new_member | (pl.col("order") != pl.col("order").shift(1)) | (pl.col("buy") != pl.col("buy").shift(1))
                 | (~pl.col("buy") & (pl.col("time") != pl.col("time").shift(1)))).fill_null(True)
    rows = rows.with_columns(new_member.alias("new_member"), new_event.alias("new_event")).with_columns(
        (pl.col("new_event").cum_sum() - 1).cast(pl.Int64).set_sorted().alias("eid"))
    return rows.drop("end"), rows["end"][0]


def all_distinct(frame: pl.DataFrame, *key: str) -> bool:
    """Whether no two rows share `key`: by the key's 64-bit hash first (distinct hashes are distinct keys),
    exactly only if two hashes collide."""
    hashed = frame.select(pl.struct(*key).hash().n_unique()).item()
    return hashed == frame.height or frame.select(pl.struct(*key).n_unique()).item() == frame.height


def run(path: str) -> dict:
    rows, end = read(path)

    # ---- events: one row per order or return, in member time order (eid is the row number)
    # (an event's totals are differences of running sums at its last row: cheaper than a group_by)
    sums = {"gross": pl.col("cents"), "units": pl.col("quantity") * pl.col("wash"),
            "wash_gross": pl.col("cents") * pl.col("wash")}
    last = rows.select(pl.col("new_event").shift(-1, fill_value=True)).to_series()
    ends = rows.select(x.cum_sum().alias(name) for name, x in sums.items()).filter(last)
    events = rows.filter("new_event").select("eid", "mid", "new_member", "order", "buy", "time").with_columns(
        ends.select(pl.col(name) - pl.col(name).shift(1, fill_value=0) for name in sums))
    # Runs of rows are the events only if no order is split by another event of its member at the same time:
    # check it rather than assume it.
    buys, rets = events.filter("buy"), events.filter(~pl.col("buy"))
    if not (all_distinct(buys, "mid", "order") and all_distinct(rets, "mid", "order", "time")):
        raise SystemExit("an order's rows are interleaved with another event of its member: not supported")

    # ---- returns (a few percent of the rows): the amount each return line takes back, cumulative per
    # order and item, and per order; the order's purchase event is `pidx`
    returned = rets.select("mid", "order").unique().join(
        buys.filter(pl.col("order").is_in(rets["order"].implode()))
        .select("mid", "order", pl.col("eid").alias("pidx"), pl.col("gross").alias("G"), "units", "wash_gross"),
        on=["mid", "order"], how="left")
    if returned["pidx"].null_count():
        raise SystemExit("a return of an order not in the history")
    bought = rows.filter(pl.col("eid").is_in(returned["pidx"].implode())).group_by("mid", "order", "item").agg(
        pl.col("quantity").sum().alias("iq"), pl.col("cents").sum().alias("ig"))
    back = (
        rows.filter(~pl.col("buy")).join(bought, on=["mid", "order", "item"], how="left", maintain_order="left")
        .with_columns(pl.col("quantity").cum_sum().over("mid", "order", "item").alias("rq"))
        .with_columns((half_even(pl.col("ig") * pl.col("rq"), pl.col("iq"))
                       - half_even(pl.col("ig") * (pl.col("rq") - pl.col("quantity")), pl.col("iq"))).alias("r"))
        .group_by("eid", maintain_order=True)
        .agg(pl.col("mid", "order").first(), pl.col("r").sum(), pl.col("r").filter("wash").sum().alias("rw"))
        .join(returned, on=["mid", "order"], how="left", maintain_order="left")
        .with_row_index("pos")
        .with_columns(pl.col("r").cum_sum().over("mid", "order").alias("R"),
                      pl.col("rw").cum_sum().over("mid", "order").alias("RW"),
                      pl.col("pos").shift(1).over("mid", "order").alias("prev"))  # the order's previous return
    )
    if back["r"].null_count() or (back["pidx"] > back["eid"]).any():
        raise SystemExit("a return of an item not bought in that order, or before the order")
    # the punch card's share is by its own (wash) lines, unless the whole order is back
    back = back.with_columns(
        pl.when((pl.col("R") >= pl.col("G")) | (pl.col("RW") >= pl.col("wash_gross"))).then(pl.col("units"))
        .otherwise(half_even(pl.col("units") * pl.col("RW"), pl.col("wash_gross"))).alias("units_back_cum")
    ).with_columns(
        (pl.col("units_back_cum") - pl.col("units_back_cum").shift(1, fill_value=0).over("mid", "order"))
        .alias("units_back"))

    def per_event(frame: pl.DataFrame, values: str) -> pl.Series:
        """frame's `values` at the event rows frame["eid"], 0 at every other event."""
        return pl.zeros(events.height, pl.Int64, eager=True).scatter(frame["eid"], frame[values]).alias(values)

    # ---- punch card, on every row in member time order: a wash line counts +q, a return -units back
    line = pl.col("buy") & pl.col("wash")
    free = (
        rows.with_columns(per_event(back, "units_back").gather(rows["eid"]))
        .with_columns(member_cum_sum(pl.when(line).then("quantity").when("new_event").then(-pl.col("units_back"))
                                     .otherwise(0)).alias("count"))
        .with_columns(member_cum_max(pl.when(line).then(pl.col("count") // CYCLE).otherwise(0)).alias("given"))
        .with_columns((pl.col("given") - member_previous(pl.col("given"))).alias("k"))
        .filter(line & (pl.col("k") > 0))
        .select("eid", "k", half_even(pl.col("cents") * pl.col("k"), pl.col("quantity")).alias("discount"))
    )

    # ---- points and gold: a fixed point on the per-purchase gold flag. A return claws back its share of
    # the order's points; both candidates (the order earned at 1x or at 2x) are computed once, up front.
    paid = events["gross"] - per_event(free.group_by("eid").agg(pl.col("discount").sum()), "discount")
    ev = events.select("eid", "mid", "new_member", "buy", "time").with_columns(
        pl.when("buy").then(paid // 100).otherwise(0).alias("pts1"),
        pl.when("buy").then(2 * paid // 100).otherwise(0).alias("pts2"),
        per_event(back, "pidx"), pl.lit(False).alias("gold"))
    # Each source of an order's points (the earning rule's base, then the tier's extra) is taken back on
    # its own: half_even(source points x R / G) (docs/semantics.md, "Multipliers" and "Returns").
    base = ev["pts1"].gather(back["pidx"])
    sources = {"1": [base], "2": [base, ev["pts2"].gather(back["pidx"]) - base]}
    for x, parts in sources.items():
        clawed_so_far = back.select(pl.sum_horizontal(
            pl.when(pl.col("R") >= pl.col("G")).then(p).otherwise(half_even(p * pl.col("R"), pl.col("G")))
            for p in parts).alias("c"), "prev")
        claw = clawed_so_far.select("c", pl.col("c").gather(pl.col("prev").fill_null(0)).alias("before"), "prev") \
            .select(pl.col("c") - pl.when(pl.col("prev").is_not_null()).then("before").otherwise(0))
        ev = ev.with_columns(per_event(back.with_columns(claw.to_series().alias("claw" + x)), "claw" + x))
    for _ in range(100):
        ev = (
            ev.with_columns(pl.when("gold").then("pts2").otherwise("pts1").alias("pts"),
                            pl.when(pl.col("gold").gather("pidx")).then("claw2").otherwise("claw1").alias("claw"))
            .with_columns((pl.col("pts") - pl.col("claw")).alias("delta"))
            .with_columns((pl.col("buy") & (member_cum_sum(pl.col("delta")) - pl.col("delta") >= GOLD_FROM))
                          .alias("new_gold"))
        )
        if ev["new_gold"].equals(ev["gold"]):
            break
        ev = ev.with_columns(pl.col("new_gold").alias("gold"))
    else:
        raise SystemExit("the gold flags did not settle")

    # ---- FIFO expiry
    ev = ev.with_columns(member_cum_sum(pl.col("pts")).alias("issued_to"),
                         member_cum_sum(pl.col("claw")).alias("clawed"),
                         member_cum_sum(pl.col("delta")).alias("metric"))
    batches = (
        ev.filter(pl.col("pts") > 0)
        .select("mid", (pl.col("time") + EXPIRY).alias("expires"), "issued_to")
        .filter(pl.col("expires") <= end)
        # both sides are sorted by time within each member; a return at the moment of expiry comes after it
        .join_asof(ev.filter(pl.col("claw") > 0).select("mid", "time", "clawed"), left_on="expires",
                   right_on="time", by="mid", strategy="backward", allow_exact_matches=False, check_sortedness=False)
    )
    expired = batches.group_by("mid").agg(
        (pl.col("issued_to") - pl.col("clawed").fill_null(0)).max().clip(0).alias("expired"))
    at_end = ev.filter(pl.col("new_member").shift(-1, fill_value=True))  # each member's last event
    tot = {
        "free_washes": int(free["k"].sum()),
        "free_wash_value": int(free["discount"].sum()),
        "points_issued": int(ev["pts"].sum()),
        "points_clawed_back": int(ev["claw"].sum()),
        "points_expired": int(expired["expired"].sum()),
        "gold_members_at_end": int((at_end["metric"] >= GOLD_FROM).sum()),
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
