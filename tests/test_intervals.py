"""Bootstrap intervals over members: reproducible, and right about as often as they say."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.simulate.intervals import difference_interval, resampled_sums, total_interval
from loyalty.simulate.result import MemberRow

ROOT = Path(__file__).resolve().parents[1]
CAR_WASH = str(ROOT / "examples/programs/car_wash.loyalty")
CAR_WASH_CSV = str(ROOT / "examples/histories/car_wash.csv")
COFFEE = str(ROOT / "examples/programs/coffee_stars.loyalty")
COFFEE_CSV = str(ROOT / "examples/histories/coffee_stars.csv")


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_same_seed_gives_the_same_resamples_and_another_seed_others():
    values = np.arange(1, 301, dtype=np.int64) ** 2
    a, b = resampled_sums(values, 200, seed=7), resampled_sums(values, 200, seed=7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, resampled_sums(values, 200, seed=8))
    # batches do not change the draws: the generator is consumed in the same order whatever the batch size
    import loyalty.simulate.intervals as iv

    saved = iv.BATCH_CELLS
    try:
        iv.BATCH_CELLS = 301 * 3
        assert np.array_equal(a, resampled_sums(values, 200, seed=7))
    finally:
        iv.BATCH_CELLS = saved


def test_the_90_percent_interval_holds_the_true_total_in_about_90_percent_of_samples():
    """Members' costs from a known, skewed distribution (gamma, shape 2, mean 400.00 in minor units 40,000):
    each trial draws 300 members and a 90% interval of their total; the true total is 300 x the mean. Over
    400 seeded trials (fixed seeds: the same outcome every run) the share that holds it must be within
    0.85-0.95 (the binomial sd at 400 trials is 0.015; the percentile bootstrap runs a little narrow)."""
    rng = np.random.default_rng(20261206)
    n, mean, trials = 300, 40_000, 400
    true_total = n * mean
    held = 0
    widths = []
    for trial in range(trials):
        costs = np.rint(rng.gamma(2.0, mean / 2.0, size=n)).astype(np.int64)
        observed = Decimal(int(costs.sum()))
        iv = total_interval(costs, observed, 90, seed=trial, resamples=400)
        held += iv.low <= true_total <= iv.high
        widths.append(float(iv.high - iv.low))
    coverage = held / trials
    assert 0.85 <= coverage <= 0.95, coverage
    # and the interval is about as wide as the normal theory says: 2 x 1.645 x sd x sqrt(n)
    expected = 2 * 1.645 * (mean / np.sqrt(2.0)) * np.sqrt(n)
    assert 0.85 * expected <= np.mean(widths) <= 1.1 * expected


def _row(member: str, cost: int) -> MemberRow:
    return MemberRow(member, 1, 10_000, 0, 0, 0, 0, cost, Decimal(cost), "", Decimal(cost), Decimal(0))


def test_a_paired_difference_sees_a_small_change_the_totals_alone_would_hide():
    """Every member costs 1.00 more under the new program, on costs that vary a lot from member to member:
    each program's own interval is far wider than the difference, the paired one excludes zero."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 100_000, size=500)
    old = [_row(f"m{i}", int(c)) for i, c in enumerate(base)]
    new = [_row(f"m{i}", int(c) + 100) for i, c in enumerate(base)]
    d = difference_interval(old, new, 2, 90, seed=0)
    assert d["cost_difference"] == "500.00" and d["low"] == d["high"] == "500.00"
    assert d["verdict"] == "the new program costs more"
    lone = total_interval(np.array([int(c) for c in base]), Decimal(int(base.sum())), 90, seed=0)
    assert lone.high - lone.low > 100 * 500  # a single program's spread dwarfs the difference
    noisy = [_row(f"m{i}", int(c) + int(rng.integers(-1000, 1001))) for i, c in enumerate(base)]
    verdict = difference_interval(old, noisy, 2, 90, seed=0)
    assert Decimal(verdict["low"]) < 0 < Decimal(verdict["high"])
    assert verdict["verdict"] == "no clear difference: the interval holds zero"
    cheaper = difference_interval(new, old, 2, 90, seed=0)
    assert cheaper["verdict"] == "the new program costs less"


def test_simulate_intervals_are_reproducible_and_hold_the_headline():
    args = ("simulate", COFFEE, COFFEE_CSV, "--intervals", "90", "--format", "json")
    first, again = invoke(*args, "--seed", "5").stdout, invoke(*args, "--seed", "5").stdout
    assert first == again
    report = json.loads(first)
    section = report["intervals"]
    assert section["level"] == 90 and section["seed"] == 5 and section["members"] == report["headline"]["members"]
    for name in ("revenue", "discounts", "realized_cost", "liability_end", "total_cost"):
        iv = section["headline"][name]
        assert Decimal(iv["low"]) <= Decimal(report["headline"][name]) <= Decimal(iv["high"]), name
    assert Decimal(section["headline"]["total_cost"]["low"]) < Decimal(section["headline"]["total_cost"]["high"])
    other = json.loads(invoke(*args, "--seed", "6").stdout)["intervals"]
    assert other["headline"] != section["headline"]
    without = json.loads(invoke("simulate", COFFEE, COFFEE_CSV, "--format", "json").stdout)
    assert "intervals" not in without and without["headline"] == report["headline"]


def test_simulate_shows_each_figure_with_its_interval():
    out = invoke("simulate", CAR_WASH, CAR_WASH_CSV, "--intervals", "80").stdout
    line = next(x for x in out.splitlines() if x.strip().startswith("total cost:"))
    assert line.strip().startswith("total cost: 2,355.00 NOK (80%: ") and line.endswith(")")


def test_compare_says_more_only_when_the_interval_excludes_zero():
    cheap = ("compare", CAR_WASH, CAR_WASH, CAR_WASH_CSV, "--intervals", "90", "--format", "json")
    same = json.loads(invoke(*cheap).stdout)["difference_interval"]
    assert same["low"] == same["high"] == "0.00" and same["verdict"].startswith("no clear difference")
    much = json.loads(invoke(*cheap, "--set-new", "punch every=2nd").stdout)["difference_interval"]
    assert Decimal(much["low"]) > 0 and much["verdict"] == "the new program costs more"
    text = invoke("compare", CAR_WASH, CAR_WASH, CAR_WASH_CSV, "--intervals", "90", "--set-new", "punch every=2nd").stdout
    assert "the new program costs more" in text
    plain = invoke("compare", CAR_WASH, CAR_WASH, CAR_WASH_CSV, "--set-new", "punch every=2nd").stdout
    assert "costs more" not in plain  # no verdict without an interval
