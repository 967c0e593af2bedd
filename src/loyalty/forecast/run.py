"""`loyalty simulate --forecast N months`: fit BG/NBD on the history, extend it `runs` times, run the program
over each history + extension, and report the forecast months' figures with intervals across runs.

A run is seeded from (the scenario's seed, its number), so the same inputs give the same forecast, byte for
byte. Each run refits the model on a bootstrap sample of the customers (the parameters' uncertainty), draws
every customer's future with those parameters, and replays the whole history and its extension (the
members' states at the end of the history carry into the future: points outstanding, punch counts, tiers).
The interval is the spread across runs (nearest-rank percentiles, so every bound is one run's exact
figure): the model's randomness and its parameters' uncertainty, not the model's own error
(docs/simulate.md, "Forecast").
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Optional

import numpy as np

from loyalty.simulate.errors import InputError

INTERVAL = 90  # per cent: the 5th to the 95th percentile across runs
FIGURES = ("orders", "revenue", "cost", "rewards", "points_redeemed", "liability")
MONEY = frozenset({"revenue", "cost", "liability"})


class ForecastError(InputError):
    """A forecast that cannot be made from this history."""


@dataclass(frozen=True)
class Behaviour:
    """Assumptions about behaviour the model does not contain (docs/simulate.md); each off unless given."""

    win_back_share: Optional[Decimal] = None  # of the members the model counts as gone at the end, who come back
    goal_gradient_factor: Optional[Decimal] = None  # a member's rate times this while near her next reward
    goal_gradient_within: Decimal = Decimal("0.2")  # near: balance at least (1 - within) x the reward's price

    def shown(self) -> dict:
        return {"goal_gradient": None if self.goal_gradient_factor is None else {
                    "factor": str(self.goal_gradient_factor), "within": str(self.goal_gradient_within)},
                "win_back": None if self.win_back_share is None else {"share": str(self.win_back_share)}}


@dataclass(frozen=True)
class GoalGradient:
    """Which members are near their next reward before each future order, from their points.

    A member's balance before her k-th future order is taken as B + k x e: B her points outstanding at the end
    of the history, e what she earned an order on average over it; a member who redeems (the scenario's
    policy) spends the price P each time the balance reaches it, so her balance is (B + k e) mod P. She is near
    when that is at least (1 - within) x P and below P. This judges nearness only, to set her rate; the program
    itself then runs exactly on the orders drawn."""

    factor: float
    within: float
    price: float
    balance: np.ndarray  # per customer
    per_order: np.ndarray
    redeems: np.ndarray  # bool per customer

    def __call__(self, i: int, k: int) -> float:
        b = self.balance[i] + k * self.per_order[i]
        if self.redeems[i]:
            b = b % self.price
        return self.factor if (1 - self.within) * self.price <= b < self.price else 1.0


def _first_of_month(year: int, month: int) -> _dt.datetime:
    return _dt.datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def nearest_rank(values: list, q: Decimal):
    """The nearest-rank q-quantile of values (one of them)."""
    ordered = sorted(values)
    k = max(1, -(-(q * len(ordered)).to_integral_value(rounding="ROUND_CEILING") // 1))
    return ordered[min(int(k), len(ordered)) - 1]


def forecast_section(plan, history, months_ahead: int, runs: int, jobs: int, kernel: str,
                     behaviour: Optional[Behaviour] = None, assumptions: Optional[dict] = None) -> dict:
    try:
        import scipy  # noqa: F401
    except ImportError:
        raise ForecastError("--forecast needs scipy, which is not installed",
                            hint="pip install 'loyalty[forecast]'") from None
    import numpy as np

    from loyalty.forecast.bgnbd import FitError, fit, p_alive
    from loyalty.forecast.extend import customers_of, extend
    from loyalty.simulate.parallel import simulate_jobs
    from loyalty.simulate.report import build_report, months_between
    from loyalty.simulate.run import history_info
    from loyalty.simulate.vector.choose import choose_kernel

    behaviour = behaviour or Behaviour()
    if not len(history):
        raise ForecastError("--forecast needs a history with orders")
    end = plan.end
    first, _ = history.time_range()
    customers = customers_of(history, end)
    try:
        params = fit(customers.x, customers.tx, customers.T)
    except FitError as err:
        raise ForecastError(f"cannot fit the forecast's model: {err}",
                            hint="a forecast needs a history in which customers order more than once") from None
    gradient = goal_gradient(plan, history, customers, behaviour, jobs, kernel) \
        if behaviour.goal_gradient_factor is not None else None
    horizon_end = _first_of_month(end.year, end.month + months_ahead + 1)
    horizon_weeks = (horizon_end - end) / _dt.timedelta(weeks=1)
    all_months = tuple(months_between(first, horizon_end - _dt.timedelta(microseconds=1)))
    ahead = list(all_months[-months_ahead:])
    last = horizon_end - _dt.timedelta(microseconds=1)
    per_run: list[dict] = []
    future_orders: list[int] = []
    for run in range(1, runs + 1):
        rng = np.random.default_rng([plan.scenario.seed % (1 << 64), run])
        # the parameters' own uncertainty: each run refits on a bootstrap sample of the customers
        run_params = _refit(customers, rng, params)
        extended, n_future = extend(history, customers, run_params, end, horizon_weeks, rng, run,
                                    win_back=float(behaviour.win_back_share or 0), rate_factor=gradient)
        future_orders.append(n_future)
        run_plan = replace(plan, end=last, months=all_months)
        result = simulate_jobs(run_plan, extended, jobs, kernel=choose_kernel(run_plan, kernel))
        report = build_report(result, run_plan.info, history_info(extended), assumptions or {}, list(all_months))
        rows = {r["month"]: r for r in report["by_month"]}
        per_run.append({m: rows[m] for m in ahead})

    def figure(rows: list[dict], name: str):
        return [Decimal(r[name]) if name in MONEY else r[name] for r in rows]

    low_q, high_q = Decimal(100 - INTERVAL) / 200, 1 - Decimal(100 - INTERVAL) / 200

    def spread(values: list) -> dict:
        def text(v):
            return str(v) if isinstance(v, Decimal) else v
        return {"median": text(nearest_rank(values, Decimal("0.5"))), "low": text(nearest_rank(values, low_q)),
                "high": text(nearest_rank(values, high_q))}

    by_month = []
    for m in ahead:
        rows = [run[m] for run in per_run]
        by_month.append({"month": m, **{f: spread(figure(rows, f)) for f in FIGURES}})
    totals = {}
    for f in ("orders", "revenue", "cost", "rewards", "points_redeemed"):
        totals[f] = spread([sum(figure([run[m] for m in ahead], f), Decimal(0) if f in MONEY else 0)
                            for run in per_run])
    totals["liability_at_end"] = spread([Decimal(run[ahead[-1]]["liability"]) for run in per_run])
    alive = p_alive(params, customers.x, customers.tx, customers.T)
    return {
        "model": "BG/NBD (Fader, Hardie and Lee 2005), maximum likelihood, time in weeks",
        "parameters": params.as_dict(),
        "customers_fitted": len(customers.names),
        "expected_alive_at_end": f"{float(alive.sum()):.1f}",
        "months": months_ahead,
        "from": end.isoformat(),
        "to": last.isoformat(),
        "runs": runs,
        "seed": plan.scenario.seed,
        "interval": f"{INTERVAL}%",
        "behaviour": behaviour.shown(),
        "by_month": by_month,
        "total": totals,
    }


def _refit(customers, rng, params):
    """The model refitted on the customers resampled with replacement (the fit on all of them when a sample
    cannot be fitted, e.g. no repeat order drawn)."""
    from loyalty.forecast.bgnbd import FitError, fit

    n = len(customers.x)
    sample = rng.integers(0, n, n)
    try:
        return fit(customers.x[sample], customers.tx[sample], customers.T[sample])
    except FitError:
        return params


def behaviour_of(scenario) -> Behaviour:
    """The scenario's behaviour assumptions (none by default)."""
    return Behaviour(scenario.win_back_share, scenario.goal_gradient_factor, scenario.goal_gradient_within)


def goal_gradient(plan, history, customers, behaviour: Behaviour, jobs: int, kernel: str) -> GoalGradient:
    """The goal gradient's view of each customer's points at the end of the history (one run of the history
    with a row per member). Needs one point kind that buys the reward the scenario redeems for."""
    from loyalty.simulate.parallel import simulate_jobs
    from loyalty.simulate.scenario import member_redeems
    from loyalty.simulate.vector.choose import choose_kernel

    prog = plan.program
    if len(prog.kinds) != 1 or not plan.redeem_rewards:
        raise ForecastError("the goal_gradient assumption needs a program with one point kind whose points buy a "
                            f"reward, and a scenario that redeems (this program has {len(prog.kinds)} point kinds"
                            f"{'' if plan.redeem_rewards else ', nothing redeemed'})",
                            hint="leave out behaviour.goal_gradient in the scenario file")
    price = float(prog.redeem[plan.redeem_rewards[0]].price)
    with_rows = replace(plan, member_rows=True)
    rows = {m.member: m for m in simulate_jobs(with_rows, history, jobs,
                                               kernel=choose_kernel(with_rows, kernel)).members}
    balance = np.array([float(rows[n].points_outstanding) for n in customers.names])
    per_order = np.array([float(rows[n].points_earned) / max(1, rows[n].orders) for n in customers.names])
    redeems = np.array([member_redeems(plan.scenario, n) for n in customers.names], dtype=bool)
    return GoalGradient(float(behaviour.goal_gradient_factor), float(behaviour.goal_gradient_within), price,
                        balance, per_order, redeems)
