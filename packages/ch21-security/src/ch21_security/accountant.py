"""Rényi-DP accountant for the subsampled Gaussian mechanism (DP-SGD's privacy loss).

One DP-SGD step samples each example with probability ``q`` (Poisson sampling), clips per-example
gradients to norm ``C`` and adds ``N(0, (sigma C)^2)`` noise. Its Rényi divergence of order
``alpha`` is bounded by ``log A_alpha / (alpha - 1)`` (Mironov, Talwar & Zhang 2019, "Rényi
Differential Privacy of the Sampled Gaussian Mechanism"), where ``A_alpha`` is a binomial sum for
integer orders and two erfc-weighted series for fractional ones. RDP composes by adding over steps,
and converts to ``(epsilon, delta)``-DP with the tighter bound of Balle et al. 2020 ("Hypothesis
testing interpretations and Rényi DP"), minimised over the orders:

    eps = min_a  rdp(a) + log((a - 1) / a) - (log delta + log a) / (a - 1)

The orders, the series cut-off and the conversion are those of opacus' ``RDPAccountant`` (and of
TensorFlow Privacy, which it follows), so the numbers agree to float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from llmpath_core import UserError

#: Rényi orders searched by default (opacus' ``RDPAccountant.DEFAULT_ALPHAS``).
DEFAULT_ORDERS: list[float] = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def _log_add(logx: float, logy: float) -> float:
    a, b = min(logx, logy), max(logx, logy)
    if a == -np.inf:
        return b
    return math.log1p(math.exp(a - b)) + b


def _log_sub(logx: float, logy: float) -> float:
    if logx < logy:
        raise ValueError("the result of the subtraction would be negative")
    if logy == -np.inf:
        return logx
    if logx == logy:
        return -np.inf
    try:
        return math.log(math.expm1(logx - logy)) + logy
    except OverflowError:
        return logx


def _log_erfc(x: float) -> float:
    return math.log(2) + special.log_ndtr(-x * 2**0.5)


def _log_a_int(q: float, sigma: float, alpha: int) -> float:
    log_a = -np.inf
    for i in range(alpha + 1):
        log_coef = (
            math.log(special.binom(alpha, i)) + i * math.log(q) + (alpha - i) * math.log(1 - q)
        )
        log_a = _log_add(log_a, log_coef + (i * i - i) / (2 * sigma**2))
    return float(log_a)


def _log_a_frac(q: float, sigma: float, alpha: float) -> float:
    log_a0, log_a1 = -np.inf, -np.inf
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    i = 0
    while True:
        coef = special.binom(alpha, i)
        log_coef = math.log(abs(coef))
        j = alpha - i
        log_t0 = log_coef + i * math.log(q) + j * math.log(1 - q)
        log_t1 = log_coef + j * math.log(q) + i * math.log(1 - q)
        log_e0 = math.log(0.5) + _log_erfc((i - z0) / (math.sqrt(2) * sigma))
        log_e1 = math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
        log_s0 = log_t0 + (i * i - i) / (2 * sigma**2) + log_e0
        log_s1 = log_t1 + (j * j - j) / (2 * sigma**2) + log_e1
        if coef > 0:
            log_a0, log_a1 = _log_add(log_a0, log_s0), _log_add(log_a1, log_s1)
        else:
            log_a0, log_a1 = _log_sub(log_a0, log_s0), _log_sub(log_a1, log_s1)
        i += 1
        if max(log_s0, log_s1) < -30:
            break
    return _log_add(log_a0, log_a1)


def rdp_sampled_gaussian(q: float, sigma: float, alpha: float) -> float:
    """RDP of order ``alpha`` of one step of the sampled Gaussian mechanism."""
    if q == 0:
        return 0.0
    if sigma == 0:
        return math.inf
    if q == 1.0:
        return alpha / (2 * sigma**2)
    if math.isinf(alpha):
        return math.inf
    log_a = (
        _log_a_int(q, sigma, int(alpha))
        if float(alpha).is_integer()
        else _log_a_frac(q, sigma, alpha)
    )
    return log_a / (alpha - 1)


def rdp_to_epsilon(
    orders: Sequence[float], rdp: Sequence[float], delta: float
) -> tuple[float, float]:
    """``(epsilon, best order)`` from RDP values at ``orders`` (Balle et al. 2020 conversion)."""
    a = np.atleast_1d(np.asarray(orders, dtype=float))
    r = np.atleast_1d(np.asarray(rdp, dtype=float))
    eps = r - (np.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    if np.isnan(eps).all():
        return math.inf, math.nan
    best = int(np.nanargmin(eps))
    return float(eps[best]), float(a[best])


def check_privacy_args(
    noise_multiplier: float, sample_rate: float, steps: int, delta: float
) -> None:
    """Raise :class:`UserError` for arguments outside the mechanism's domain."""
    if not 0 < delta < 1:
        raise UserError(f"--delta must be in (0, 1), got {delta}")
    if not 0 < sample_rate <= 1:
        raise UserError(f"--sample-rate must be in (0, 1], got {sample_rate}")
    if noise_multiplier <= 0:
        raise UserError(
            f"--noise-multiplier must be > 0 (0 gives no privacy: epsilon is infinite), "
            f"got {noise_multiplier}"
        )
    if steps < 0:
        raise UserError(f"--steps must be >= 0, got {steps}")


@dataclass
class RDPAccountant:
    """Tracks DP-SGD steps ``(sigma, q, steps)`` and reports ``epsilon`` for a given ``delta``."""

    history: list[tuple[float, float, int]] = field(default_factory=list)

    def step(self, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Record ``steps`` steps; consecutive steps with the same settings are merged."""
        if self.history and self.history[-1][:2] == (noise_multiplier, sample_rate):
            sigma, q, n = self.history.pop()
            self.history.append((sigma, q, n + steps))
        else:
            self.history.append((noise_multiplier, sample_rate, steps))

    def rdp(self, orders: Sequence[float] = DEFAULT_ORDERS) -> np.ndarray:
        """Total RDP at each order, summed over the recorded steps."""
        total = np.zeros(len(orders))
        for sigma, q, n in self.history:
            total += n * np.array([rdp_sampled_gaussian(q, sigma, a) for a in orders])
        return total

    def get_epsilon(self, delta: float, orders: Sequence[float] = DEFAULT_ORDERS) -> float:
        """``epsilon`` spent so far at ``delta``."""
        if not self.history:
            return 0.0
        return rdp_to_epsilon(orders, self.rdp(orders), delta)[0]


def compute_epsilon(
    noise_multiplier: float, sample_rate: float, steps: int, delta: float
) -> dict[str, float]:
    """``{"epsilon", "order"}`` after ``steps`` DP-SGD steps with the given noise and sampling."""
    check_privacy_args(noise_multiplier, sample_rate, steps, delta)
    if steps == 0:
        return {"epsilon": 0.0, "order": math.nan}
    rdp = [steps * rdp_sampled_gaussian(sample_rate, noise_multiplier, a) for a in DEFAULT_ORDERS]
    eps, order = rdp_to_epsilon(DEFAULT_ORDERS, rdp, delta)
    return {"epsilon": eps, "order": order}


def noise_for_epsilon(
    target_epsilon: float, sample_rate: float, steps: int, delta: float, tol: float = 0.01
) -> float:
    """The smallest noise multiplier (bisection, to ``tol``) whose epsilon is at most the target."""
    lo, hi = 0.0, 10.0
    while compute_epsilon(hi, sample_rate, steps, delta)["epsilon"] > target_epsilon:
        hi *= 2
        if hi > 1e4:
            raise UserError(f"no noise multiplier reaches epsilon {target_epsilon}")
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if mid > 0 and compute_epsilon(mid, sample_rate, steps, delta)["epsilon"] <= target_epsilon:
            hi = mid
        else:
            lo = mid
    return hi
