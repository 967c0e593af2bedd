"""The BG/NBD model of repeat purchases (Fader, Hardie and Lee, "Counting Your Customers the Easy Way", 2005).

While a customer is alive she orders as a Poisson process of rate lambda; after each order she drops out with
probability p. Across customers lambda ~ Gamma(r, alpha) (shape r, rate alpha) and p ~ Beta(a, b). A customer
is summarised by x (repeat orders after her first), t_x (time of her last order since her first) and T (time
from her first order to the end of the history); time is in weeks here. `fit` maximises the likelihood with
scipy; `simulate_future` draws one future from a customer's posterior (given her x, t_x, T): alive at T with
P(alive), then lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x), which is the model's exact
conditional. `generate` draws customers from the model itself (tests, benchmarks/forecast_validation.py).

Floats are fine here: the model yields order counts and times; money stays exact (orders are copies of the
member's own, extend.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Params:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, str]:
        """Four significant digits, as text (the report's JSON has no floats)."""
        return {k: f"{getattr(self, k):.4g}" for k in ("r", "alpha", "a", "b")}


class FitError(Exception):
    """The model cannot be fitted (too few customers, or no repeat orders at all)."""


def log_likelihood(params: Params, x, tx, T) -> np.ndarray:
    """Each customer's log-likelihood (the paper's equation 6)."""
    from scipy.special import gammaln

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (x, tx, T))
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = (np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + tx[repeat]))
    return a1 + a2 + np.logaddexp(a3, a4)


MIN_CUSTOMERS = 2


def fit(x, tx, T) -> Params:
    """Maximum likelihood (L-BFGS-B on the logarithms of the parameters, from fixed starting values, so the
    same data always give the same fit)."""
    from scipy.optimize import minimize

    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (x, tx, T))
    if len(x) < MIN_CUSTOMERS:
        raise FitError(f"the model needs at least {MIN_CUSTOMERS} customers with an order (found {len(x)})")
    if not (x > 0).any():
        raise FitError("no customer ordered twice: the model cannot tell how often customers buy")
    if not (T > 0).any():
        raise FitError("every customer's first order is at the end of the history")

    def objective(logs):
        p = Params(*np.exp(logs))
        ll = log_likelihood(p, x, tx, T)
        return -float(np.sum(ll)) / len(x)

    start = np.log([1.0, max(float(np.mean(T)), 1e-3), 1.0, 1.0])
    best = minimize(objective, start, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4)
    if not np.isfinite(best.fun):
        raise FitError("the likelihood could not be maximised")
    return Params(*(float(v) for v in np.exp(best.x)))


def p_alive(params: Params, x, tx, T) -> np.ndarray:
    """P(alive at T | x, t_x, T) (the paper's equation 11)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (x, tx, T))
    out = np.ones_like(x)
    rep = x > 0
    log_ratio = (r + x[rep]) * (np.log(alpha + T[rep]) - np.log(alpha + tx[rep]))
    out[rep] = 1.0 / (1.0 + np.exp(np.log(a) - np.log(b + x[rep] - 1) + log_ratio))
    return out


def simulate_future(params: Params, x, tx, T, horizon: float, rng, win_back: float = 0.0,
                    rate_factor=None) -> list[np.ndarray]:
    """For each customer, the times (weeks after T) of her orders in (0, horizon], one draw of her future.

    `win_back`: the share of customers who dropped out by T that come back at T anyway (an assumption,
    docs/simulate.md); `rate_factor(i, k)`: a factor on customer i's rate before her k-th future order
    (goal gradient), or None."""
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (x, tx, T))
    n = len(x)
    alive = rng.random(n) < p_alive(params, x, tx, T)
    back = rng.random(n) < win_back
    lam = rng.gamma(params.r + x, 1.0 / (params.alpha + T))
    drop = rng.beta(params.a, params.b + x)
    out = []
    for i in range(n):
        times = []
        if alive[i] or back[i]:
            t = 0.0
            k = 0
            while True:
                rate = lam[i] * (rate_factor(i, k) if rate_factor is not None else 1.0)
                t += rng.exponential(1.0 / rate) if rate > 0 else np.inf
                if t > horizon:
                    break
                times.append(t)
                k += 1
                if rng.random() < drop[i]:
                    break
        out.append(np.asarray(times))
    return out


def generate(params: Params, n: int, T, rng) -> list[np.ndarray]:
    """`n` customers drawn from the model: each one's order times (weeks from her first order, which is at 0)
    up to her T (a number, or one per customer)."""
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,))
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    out = []
    for i in range(n):
        times, t = [0.0], 0.0
        while True:  # orders until T; after each repeat order she drops out with probability p
            t += rng.exponential(1.0 / lam[i])
            if t > T[i]:
                break
            times.append(t)
            if rng.random() < drop[i]:
                break
        out.append(np.asarray(times))
    return out


def summarise(times: list[np.ndarray], T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of customers from their order times (weeks, first order at 0)."""
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (len(times),))
    x = np.array([len(t) - 1 for t in times], dtype=np.float64)
    tx = np.array([t[-1] if len(t) else 0.0 for t in times], dtype=np.float64)
    return x, tx, np.array(T, dtype=np.float64)


def expected_future(params: Params, t: float, x, tx, T) -> np.ndarray:
    """E[orders in (T, T + t] | x, t_x, T] (the paper's equation 10; needs a != 1)."""
    from scipy.special import hyp2f1

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (x, tx, T))
    head = (a + b + x - 1) / (a - 1)
    inner = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0)
    return head * inner / (1 + odds)
