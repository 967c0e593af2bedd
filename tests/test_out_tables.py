"""The --out tables: every table with its header, money with the currency's minor units, CSV or Parquet."""

import csv
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from loyalty.cli import cli

REPO = Path(__file__).resolve().parents[1]
CAR_WASH = str(REPO / "examples/programs/car_wash.loyalty")
CAR_WASH_CSV = str(REPO / "examples/histories/car_wash.csv")
CUSTOMER_TABLES = ("customers", "customers_by_month", "customers_cohorts", "customers_value_by_tenure",
                   "customers_enrolment")
TABLES = ("summary", "by_rule", "by_reward", "by_tier", "by_month", "by_month_cost", "by_store", "by_region", "draws",
          *CUSTOMER_TABLES, "by_member")


def simulate(*args):
    result = CliRunner().invoke(cli, ["simulate", CAR_WASH, CAR_WASH_CSV, *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_an_empty_table_still_has_its_header_and_pandas_and_polars_read_it(tmp_path):
    simulate("--out", tmp_path / "out")
    draws = tmp_path / "out" / "draws.csv"
    assert draws.read_text(encoding="utf-8") == "draw,period,entries,entrants,winners,paid\n"
    assert pd.read_csv(draws).columns.tolist() == ["draw", "period", "entries", "entrants", "winners", "paid"]
    assert pl.read_csv(draws).columns == ["draw", "period", "entries", "entrants", "winners", "paid"]
    assert (tmp_path / "out" / "by_reward.csv").read_text(encoding="utf-8").startswith("reward,kind,given,")


def test_money_has_the_currencys_minor_units_in_every_table(tmp_path):
    simulate("--out", tmp_path / "out")
    money = {"revenue", "discount", "value_received", "cost", "reward_cost", "points_value", "face_value",
             "perk_cost", "cumulative_cost", "liability", "paid", "average_order_value", "value_total",
             "value_per_customer_mean", "value_per_customer_median", "cumulative_value_per_member",
             "value_per_customer"}
    for table in TABLES:
        with open(tmp_path / "out" / f"{table}.csv", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for column in money & set(row):
                    assert row[column] == "" or len(row[column].split(".")[1]) == 2, (table, column, row)
    with open(tmp_path / "out" / "by_member.csv", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    assert first["revenue"] == "3960.00" and first["discount"] == "540.00"


def test_parquet_tables_are_typed_and_equal_the_csv_ones(tmp_path):
    simulate("--out", tmp_path / "csv")
    result = simulate("--out", tmp_path / "pq", "--out-format", "parquet")
    assert f"wrote {len(TABLES)} Parquet tables" in result.stderr
    assert sorted(p.name for p in (tmp_path / "pq").iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    for table in TABLES:
        typed = pq.read_table(tmp_path / "pq" / f"{table}.parquet")
        assert not any(pa.types.is_floating(f.type) for f in typed.schema), table
        with open(tmp_path / "csv" / f"{table}.csv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert typed.column_names == (list(rows[0]) if rows else typed.column_names)
        for row, back in zip(rows, typed.to_pylist()):
            for column, text in row.items():
                value = back[column]
                assert ("" if value is None else str(value)) == text, (table, column)
    cost = pq.read_table(tmp_path / "pq" / "by_month.parquet").schema.field("cost").type
    assert cost == pa.decimal128(38, 2)
    assert pq.read_table(tmp_path / "pq" / "draws.parquet").num_rows == 0
    # the folder written as CSV before can be replaced by Parquet, and back
    simulate("--out", tmp_path / "csv", "--out-format", "parquet")
    assert sorted(p.suffix for p in (tmp_path / "csv").iterdir()) == [".parquet"] * len(TABLES)


def test_the_json_report_and_the_tables_agree(tmp_path):
    report = json.loads(simulate("--out", tmp_path / "out", "--format", "json").stdout)
    with open(tmp_path / "out" / "by_member.csv", encoding="utf-8") as fh:
        members = list(csv.DictReader(fh))
    assert sum(Decimal(m["revenue"]) for m in members) == Decimal(report["headline"]["revenue"])


def test_the_customer_measures_are_tables_that_agree_with_the_json_report(tmp_path):
    attributes = tmp_path / "a.csv"
    attributes.write_text("member,signup_date\nM01,2025-01-01\nM02,2025-03-01\n", encoding="utf-8")
    report = json.loads(simulate("--out", tmp_path / "out", "--attributes", attributes, "--format", "json").stdout)
    simulate("--out", tmp_path / "pq", "--attributes", attributes, "--out-format", "parquet")
    c = report["customers"]

    def table(name):
        with open(tmp_path / "out" / f"{name}.csv", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    (whole,) = table("customers")
    assert (int(whole["customers"]), int(whole["orders"]), whole["repeat_purchase_rate"], whole["average_order_value"],
            whole["value_total"], int(whole["lapse_after_days"])) == \
        (c["customers"], c["orders"], c["repeat_purchase_rate"], c["average_order_value"], c["value"]["total"],
         c["lapse_after_days"])
    assert whole["value_total"] == report["headline"]["revenue"]
    months = table("customers_by_month")
    assert [m["month"] for m in months] == [m["month"] for m in report["by_month"]]
    assert [int(m["active_at_end"]) for m in months] == [m["active_at_end"] for m in c["by_month"]]
    assert months[0]["churn_rate"] == ""  # null in the first month: an empty cell, not 0
    cohorts = table("customers_cohorts")  # one row per cohort and month since signup
    assert len(cohorts) == sum(len(k["active"]) for k in c["cohorts"])
    for k in c["cohorts"]:
        rows = [r for r in cohorts if r["cohort"] == k["cohort"]]
        assert [int(r["active"]) for r in rows] == k["active"] and [r["retention"] for r in rows] == k["retention"]
        assert [int(r["months_since_signup"]) for r in rows] == list(range(len(k["active"])))
    enrolment = table("customers_enrolment")
    assert [r["segment"] for r in enrolment] == ["enrolled", "not_enrolled"]
    assert sum(Decimal(r["revenue"]) for r in enrolment) == Decimal(report["headline"]["revenue"])
    # typed in Parquet: counts int64, money and shares decimal128 with the currency's (or four) decimals
    cohorts_pq = pq.read_table(tmp_path / "pq" / "customers_cohorts.parquet").schema
    assert cohorts_pq.field("active").type == pa.int64() and cohorts_pq.field("retention").type == pa.decimal128(38, 4)
    value = pq.read_table(tmp_path / "pq" / "customers_value_by_tenure.parquet").schema
    assert value.field("cumulative_value_per_member").type == pa.decimal128(38, 2)
    # with neither signup dates nor signup rows the enrolment table is its header alone
    no_signups = tmp_path / "no_signups.csv"
    no_signups.write_text("".join(line for line in open(CAR_WASH_CSV, encoding="utf-8") if ",signup," not in line),
                          encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", CAR_WASH, str(no_signups), "--out", str(tmp_path / "plain")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plain" / "customers_enrolment.csv").read_text(encoding="utf-8") == \
        "segment,customers,orders,revenue,average_order_value,orders_per_customer,repeat_purchase_rate," \
        "value_per_customer\n"
    assert pl.read_csv(tmp_path / "plain" / "customers_enrolment.csv").columns[0] == "segment"
