"""Validate `loyalty simulate --forecast` on a history whose truth is known.

A history is drawn from the BG/NBD model with the parameters Fader, Hardie and Lee (2005) published for the
CDNOW sample (r 0.243, alpha 4.414, a 0.793, b 2.426; time in weeks), customers making their first order in
the first 12 weeks as CDNOW's did, order values from the gamma-gamma spend model with the parameters the same
authors published for CDNOW (p 6.25, q 3.74, gamma 15.44; "RFM and CLV", 2005), one latte line per order. With
`--season` the customers' rates are multiplied by 1.6 in November and December and 0.8 in January and
February (a shop's year), which the model does not know.

The first 39 weeks (to 2025-09-30) are the calibration history; `loyalty simulate --forecast 9 months` on it
is compared, month by month, with what the program did on the whole 18 months (`loyalty simulate` on it):
orders and program cost (examples/programs/coffee_stars.loyalty). Prints a Markdown table (docs/simulate.md,
"Forecast: validation").

    PYTHONPATH=src .venv/bin/python benchmarks/forecast_validation.py [--customers 5000] [--runs 20] [--season]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from loyalty.forecast.bgnbd import Params  # noqa: E402

CDNOW = Params(0.243, 4.414, 0.793, 2.426)
SPEND = (6.25, 3.74, 15.44)  # gamma-gamma p, q, gamma
START = _dt.datetime(2025, 1, 1)
WEEKS = 78
CALIBRATION_END = _dt.datetime(2025, 10, 1)  # 39 weeks and a day: the calibration months are Jan-Sep
SEASON = {11: 1.6, 12: 1.6, 1: 0.8, 2: 0.8}


def draw_history(customers: int, seed: int, season: bool) -> list[tuple[str, _dt.datetime, str]]:
    rng = np.random.default_rng(seed)
    p, q, gamma = SPEND
    rows = []
    lam = rng.gamma(CDNOW.r, 1 / CDNOW.alpha, customers)
    drop = rng.beta(CDNOW.a, CDNOW.b, customers)
    nu = rng.gamma(q, 1 / gamma, customers)  # each customer's spend rate: mean order p / nu
    for i in range(customers):
        t = rng.uniform(0, 12)  # weeks: her first order
        n = 0
        while t <= WEEKS:
            when = START + _dt.timedelta(weeks=t)
            amount = max(1.0, rng.gamma(p, 1 / nu[i]))
            rows.append((f"C{i:05d}", when.replace(microsecond=0), f"{amount:.2f}"))
            n += 1
            if n > 1 and rng.random() < drop[i]:
                break
            # the next order: a Poisson process at her rate (times the season's factor, by thinning)
            while True:
                top = max(SEASON.values()) if season else 1.0
                t += rng.exponential(1 / (lam[i] * top))
                if t > WEEKS:
                    break
                month = (START + _dt.timedelta(weeks=t)).month
                if rng.random() < (SEASON.get(month, 1.0) if season else 1.0) / top:
                    break
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows


def write(rows, path: Path, until=None) -> None:
    with path.open("w") as f:
        f.write("member,time,type,order,item,quantity,amount\n")
        for k, (member, when, amount) in enumerate(rows):
            if until is None or when < until:
                f.write(f"{member},{when.isoformat()},purchase,O{k},latte,1,{amount}\n")


def simulate(*args) -> dict:
    out = subprocess.run([sys.executable, "-m", "loyalty.cli", "simulate", *map(str, args), "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"),
                                                                       "PATH": "/usr/bin:/bin"})
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--season", action="store_true")
    args = parser.parse_args()
    program = ROOT / "examples/programs/coffee_stars.loyalty"
    rows = draw_history(args.customers, args.seed, args.season)
    with tempfile.TemporaryDirectory() as tmp:
        full, calibration = Path(tmp) / "full.csv", Path(tmp) / "calibration.csv"
        write(rows, full)
        write(rows, calibration, CALIBRATION_END)
        actual = simulate(program, full, "--jobs", "1")
        forecast = simulate(program, calibration, "--jobs", "1", "--forecast", "9", "months",
                            "--forecast-runs", args.runs, "--seed", args.seed)["forecast"]
    truth = {r["month"]: r for r in actual["by_month"]}
    print(f"{args.customers} customers, {len(rows)} orders in 18 months{', seasonal' if args.season else ''}; "
          f"fitted on Jan-Sep 2025: r {forecast['parameters']['r']}, alpha {forecast['parameters']['alpha']}, "
          f"a {forecast['parameters']['a']}, b {forecast['parameters']['b']} (true 0.243, 4.414, 0.793, 2.426); "
          f"{args.runs} runs\n")
    print("| month | orders: actual | forecast (90%) | cost: actual | forecast (90%) |")
    print("|---|---:|---:|---:|---:|")
    inside = {"orders": 0, "cost": 0}
    totals = {"orders": [0, 0], "cost": [0.0, 0.0]}
    for r in forecast["by_month"]:
        m, a = r["month"], truth.get(r["month"], {"orders": 0, "cost": "0"})
        o, c = r["orders"], r["cost"]
        inside["orders"] += o["low"] <= a["orders"] <= o["high"]
        inside["cost"] += float(c["low"]) <= float(a["cost"]) <= float(c["high"])
        totals["orders"][0] += a["orders"]
        totals["orders"][1] += o["median"]
        totals["cost"][0] += float(a["cost"])
        totals["cost"][1] += float(c["median"])
        print(f"| {m} | {a['orders']:,} | {o['median']:,} ({o['low']:,}-{o['high']:,}) | {float(a['cost']):,.2f} | "
              f"{float(c['median']):,.2f} ({float(c['low']):,.2f}-{float(c['high']):,.2f}) |")
    t = forecast["total"]
    print(f"| total | {totals['orders'][0]:,} | {t['orders']['median']:,} ({t['orders']['low']:,}-"
          f"{t['orders']['high']:,}) | {totals['cost'][0]:,.2f} | {float(t['cost']['median']):,.2f} "
          f"({float(t['cost']['low']):,.2f}-{float(t['cost']['high']):,.2f}) |")
    months = len(forecast["by_month"])
    print(f"\nactual inside the interval: orders {inside['orders']}/{months} months, cost {inside['cost']}/{months}; "
          f"total orders off by {100 * (totals['orders'][1] / totals['orders'][0] - 1):+.1f}%, "
          f"total cost by {100 * (totals['cost'][1] / totals['cost'][0] - 1):+.1f}% (medians of the runs)")


if __name__ == "__main__":
    main()
