"""Figures of a simulation report that must agree with each other, on every bundled history."""

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli

REPO = Path(__file__).resolve().parents[1]
HISTORIES = sorted((REPO / "examples" / "histories").glob("*.csv"))


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_costs_by_rule_add_up_to_the_total_cost(history: Path):
    program = REPO / "examples" / "programs" / f"{history.stem}.loyalty"
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--format", "json", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    summary = report["headline"]
    by_rule = sum(Decimal(row["cost"]) for row in report["by_rule"])
    assert by_rule == Decimal(summary["total_cost"])
    parts = ("discounts", "reward_cost", "perk_cost", "draw_prizes", "liability_end")
    assert sum(Decimal(summary[p]) for p in parts) == Decimal(summary["total_cost"])


def _report(history: Path) -> dict:
    program = REPO / "examples" / "programs" / f"{history.stem}.loyalty"
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--format", "json", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _sum(rows, key) -> Decimal:
    return sum((Decimal(r[key]) for r in rows), Decimal(0))


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_each_months_cost_splits_by_rule_and_by_cost_type_and_the_months_end_at_the_headline(history: Path):
    report = _report(history)
    summary = report["headline"]
    months = report["by_month"]
    for m in months:
        assert sum(Decimal(v) for v in m["cost_by_type"].values()) == Decimal(m["cost"]), m["month"]
        assert sum(Decimal(v) for v in m["cost_by_rule"].values()) == Decimal(m["cost"]), m["month"]
        assert Decimal(m["total_cost_to_date"]) == Decimal(m["cumulative_cost"]) + Decimal(m["liability"])
    # the cost types are the headline's, month by month
    for kind in ("discounts", "reward_cost", "perk_cost", "draw_prizes"):
        assert sum(Decimal(m["cost_by_type"][kind]) for m in months) == Decimal(summary[kind]), kind
    # each rule's monthly costs add up to the rule's cost in the by-rule table
    by_rule = {r["rule"]: Decimal(r["cost"]) for r in report["by_rule"] if r["kind"] != "liability"}
    split: dict = {}
    for m in months:
        for rule, cost in m["cost_by_rule"].items():
            split[rule] = split.get(rule, Decimal(0)) + Decimal(cost)
    assert {k: v for k, v in split.items() if v} == {k: v for k, v in by_rule.items() if v}
    # what a cumulative chart draws ends at the headline total (realized cost + the liability at the end)
    assert Decimal(months[-1]["total_cost_to_date"]) == Decimal(summary["total_cost"])


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.stem)
def test_the_by_store_and_by_region_tables_add_up_to_the_headline(history: Path):
    report = _report(history)
    summary, stores = report["headline"], report["by_store"]
    assert stores, "every bundled history names its stores"
    assert _sum(stores, "revenue") == Decimal(summary["revenue"])
    assert sum(r["orders"] for r in stores) == summary["orders"]
    assert _sum(stores, "cost") == Decimal(summary["realized_cost"])
    assert sum(r["points_issued"] for r in stores) == summary["points_issued"]
    assert sum(r["points_redeemed"] for r in stores) == sum(p["redeemed"] for p in report["points"])
    # members who bought in a store: each member at least once, at most once per store
    assert max(r["members"] for r in stores) <= summary["purchasing_members"] <= sum(r["members"] for r in stores)
    for kind in ("reward_cost", "perk_cost", "draw_prizes"):
        assert _sum(stores, kind) == Decimal(summary[kind]), kind
    if report["by_region"]:
        regions = report["by_region"]
        assert _sum(regions, "revenue") == Decimal(summary["revenue"])
        assert _sum(regions, "cost") == Decimal(summary["realized_cost"])
        assert sum(r["orders"] for r in regions) == summary["orders"]
        assert sum(r["members"] for r in regions) >= summary["purchasing_members"]


def test_out_writes_the_month_splits_and_the_store_and_region_tables_as_the_json_has_them(tmp_path):
    import csv

    history = REPO / "examples" / "histories" / "car_wash.csv"
    program = REPO / "examples" / "programs" / "car_wash.loyalty"
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--format", "json", "--jobs", "1",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    def table(name):
        with open(out / f"{name}.csv", newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    stores = table("by_store")
    assert [r["store"] for r in stores] == [r["store"] for r in report["by_store"]]
    assert [(r["revenue"], r["cost"], int(r["members"])) for r in stores] == \
        [(r["revenue"], r["cost"], r["members"]) for r in report["by_store"]]
    assert [r["region"] for r in table("by_region")] == [r["region"] for r in report["by_region"]] != []
    split = table("by_month_cost")
    for m in report["by_month"]:
        for kind in ("type", "rule"):
            parts = [Decimal(r["cost"]) for r in split if r["month"] == m["month"] and r["split"] == kind]
            assert sum(parts, Decimal(0)) == Decimal(m["cost"]), (m["month"], kind)
    # by_month.csv keeps one row per month, its splits in by_month_cost.csv
    assert "cost_by_rule" not in table("by_month")[0]
    assert table("by_month")[-1]["total_cost_to_date"] == report["headline"]["total_cost"]


def test_the_output_shown_in_docs_simulate_md_is_what_the_commands_print(tmp_path):
    docs = (REPO / "docs" / "simulate.md").read_text(encoding="utf-8")
    coffee = _report(REPO / "examples" / "histories" / "coffee_stars.csv")
    december = next(m for m in coffee["by_month"] if m["month"] == "2025-12")
    assert json.dumps(december, indent=2, sort_keys=True) in docs
    program = REPO / "examples" / "programs" / "car_wash.loyalty"
    history = REPO / "examples" / "histories" / "car_wash.csv"
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--jobs", "1", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    for table in ("by_store", "by_region"):
        assert (tmp_path / "o" / f"{table}.csv").read_text(encoding="utf-8") in docs, table
    text = result.stdout
    stores = text[text.index("By store"):text.index("Month by month")]
    assert stores in docs
    # the customer measures' tables and chart hovers, for the coffee history
    program = REPO / "examples" / "programs" / "coffee_stars.loyalty"
    history = REPO / "examples" / "histories" / "coffee_stars.csv"
    result = CliRunner().invoke(cli, ["simulate", str(program), str(history), "--jobs", "1", "--out", str(tmp_path / "c"),
                                      "--chart", str(tmp_path / "c.svg")])
    assert result.exit_code == 0, result.output
    assert "```csv\n" + (tmp_path / "c" / "customers_by_month.csv").read_text(encoding="utf-8") + "```" in docs
    cohorts = (tmp_path / "c" / "customers_cohorts.csv").read_text(encoding="utf-8").split("\n")
    assert "```csv\n" + "\n".join(cohorts[:4]) + "\n```" in docs
    svg = (tmp_path / "c.svg").read_text(encoding="utf-8")
    for hover in re.findall(r"`(2025-04 · churn: [^`]*|cohort 2025-01, month 1 since signup: [^`]*)`", docs):
        hover = " ".join(hover.split())  # the page wraps lines inside it
        assert f"<title>{hover}</title>" in svg, hover
    assert len(re.findall(r"`(2025-04 · churn: [^`]*|cohort 2025-01, month 1 since signup: [^`]*)`", docs)) == 2
