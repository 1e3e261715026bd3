"""A/B testing with honest statistics: assignment, fixed-horizon and sequential tests, power.

- :func:`assign` — deterministic randomized assignment: a salted hash of the unit id picks the
  arm, so a user always sees the same variant and arms are independent of everything else;
  :func:`srm_test` catches a sample-ratio mismatch (a broken assignment) with chi².
- :func:`two_proportion_ztest` (pooled z, Wald interval of the difference) and
  :func:`welch_ttest` — the fixed-horizon tests, equal to statsmodels' ``proportions_ztest``,
  ``confint_proportions_2indep(method="wald")`` and ``ttest_ind(usevar="unequal")``.
- :func:`power_two_proportions` / :func:`sample_size_two_proportions` — the normal-approximation
  power with Cohen's h (statsmodels' ``NormalIndPower``).
- :func:`msprt` — the mixture sequential probability ratio test (Johari et al., "Always valid
  inference", 2017): its statistic may be checked after every batch and the type-I error stays
  below alpha, where re-running the fixed-horizon test at every peek does not
  (:func:`peeking_simulation` shows both).
- :func:`gradual_rollout` — ramp a variant through traffic stages and stop (roll back) as soon
  as a guardrail metric is significantly worse.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

from llmpath_core import UserError


def parse_counts(text: str) -> tuple[int, int]:
    """``"CONV/N"`` -> ``(conversions, n)``, checked."""
    try:
        conv_text, n_text = text.split("/")
        conv, n = int(conv_text), int(n_text)
    except ValueError:
        raise UserError(f"expected CONVERSIONS/N such as 120/1000, got {text!r}") from None
    if n <= 0 or conv < 0:
        raise UserError(f"{text!r}: N must be positive and conversions non-negative")
    if conv > n:
        raise UserError(f"{text!r}: {conv} conversions is more than N = {n}")
    return conv, n


def assign(unit_id: str, experiment: str, weights: Sequence[float] = (0.5, 0.5)) -> int:
    """The arm (0 = control) of ``unit_id``: sha256(experiment:unit) mapped onto the weights."""
    digest = hashlib.sha256(f"{experiment}:{unit_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edges = np.cumsum(weights) / np.sum(weights)
    return int(np.searchsorted(edges, u, side="right"))


def srm_test(counts: Sequence[int], weights: Sequence[float]) -> dict[str, float]:
    """Sample-ratio mismatch: chi² of the arm counts against the intended split."""
    counts_a = np.asarray(counts, dtype=float)
    expected = counts_a.sum() * np.asarray(weights, dtype=float) / np.sum(weights)
    chi2 = float(np.sum((counts_a - expected) ** 2 / expected))
    return {"chi2": chi2, "p_value": float(stats.chi2.sf(chi2, len(counts) - 1))}


def two_proportion_ztest(
    conv_control: int, n_control: int, conv_treatment: int, n_treatment: int, alpha: float = 0.05
) -> dict[str, Any]:
    """Pooled two-proportion z-test of treatment vs control, two-sided.

    ``z`` uses the pooled rate under H0; ``ci`` is the Wald interval of ``p_t - p_c``; ``lift``
    is the relative change ``p_t / p_c - 1`` (None when the control rate is 0).
    """
    for conv, n in ((conv_control, n_control), (conv_treatment, n_treatment)):
        if n <= 0 or not 0 <= conv <= n:
            raise UserError(f"conversions must be between 0 and N (got {conv}/{n})")
    p_c, p_t = conv_control / n_control, conv_treatment / n_treatment
    pooled = (conv_control + conv_treatment) / (n_control + n_treatment)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_treatment))
    if se0 == 0:
        raise UserError("both groups have the same all-or-nothing rate: the z-test is undefined")
    diff = p_t - p_c
    z = diff / se0
    se = math.sqrt(p_c * (1 - p_c) / n_control + p_t * (1 - p_t) / n_treatment)
    q = stats.norm.isf(alpha / 2)
    return {
        "z": z,
        "p_value": float(2 * stats.norm.sf(abs(z))),
        "lift": diff / p_c if p_c > 0 else None,
        "ci": [diff - q * se, diff + q * se],
        "diff": diff,
        "p_control": p_c,
        "p_treatment": p_t,
        "alpha": alpha,
        "significant": bool(2 * stats.norm.sf(abs(z)) < alpha),
    }


def welch_ttest(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Welch's t-test of ``mean(a) - mean(b)`` (unequal variances), two-sided."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size < 2 or y.size < 2:
        raise UserError("Welch's t-test needs at least two values per group")
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    t = (x.mean() - y.mean()) / math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    return {"t": float(t), "df": float(df), "p_value": float(2 * stats.t.sf(abs(t), df))}


def cohens_h(p1: float, p2: float) -> float:
    """Effect size of two proportions on the arcsine scale: ``2 asin sqrt p1 - 2 asin sqrt p2``."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def power_two_proportions(p_control: float, p_treatment: float, n: float, alpha=0.05) -> float:
    """Power of the two-sided two-proportion z-test with ``n`` units per arm (Cohen's h)."""
    h = abs(cohens_h(p_treatment, p_control))
    crit = stats.norm.isf(alpha / 2)
    shift = h * math.sqrt(n / 2)
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


def sample_size_two_proportions(p_control, p_treatment, power=0.8, alpha=0.05) -> float:
    """Units per arm for ``power`` (the root of :func:`power_two_proportions`, not rounded)."""
    if p_control == p_treatment:
        raise UserError("no sample size detects a zero effect")
    return float(
        optimize.brentq(
            lambda n: power_two_proportions(p_control, p_treatment, n, alpha) - power, 2, 1e9
        )
    )


def simulate_aa(
    p: float = 0.1, n: int = 2000, experiments: int = 2000, alpha: float = 0.05, seed: int = 0
) -> dict[str, Any]:
    """Run ``experiments`` A/A tests (both arms rate ``p``) and count false positives.

    The rejection rate should fall inside the 99 % binomial interval around ``alpha``.
    """
    rng = np.random.default_rng(seed)
    a = rng.binomial(n, p, experiments)
    b = rng.binomial(n, p, experiments)
    pooled = (a + b) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / n)
    z = (b - a) / n / np.where(se > 0, se, np.inf)
    pvals = 2 * stats.norm.sf(np.abs(z))
    rate = float(np.mean(pvals < alpha))
    lo, hi = stats.binom.interval(0.99, experiments, alpha)
    return {
        "false_positive_rate": rate,
        "interval_99": [lo / experiments, hi / experiments],
        "within": bool(lo / experiments <= rate <= hi / experiments),
        "experiments": experiments,
        "p_values": pvals,
    }


def msprt_statistic(diff: np.ndarray, n: np.ndarray, variance: np.ndarray, tau2: float):
    """Mixture likelihood ratio of H1: theta ~ N(0, tau²) against H0: theta = 0.

    ``diff`` is the observed mean difference after ``n`` units per arm and ``variance`` the
    variance of one paired difference (``p_c(1-p_c) + p_t(1-p_t)`` for conversions).
    """
    v = np.maximum(variance, 1e-12)
    return np.sqrt(v / (v + n * tau2)) * np.exp(n**2 * tau2 * diff**2 / (2 * v * (v + n * tau2)))


def msprt(
    conv_control: Sequence[int],
    conv_treatment: Sequence[int],
    n_per_arm: Sequence[int],
    alpha: float = 0.05,
    tau: float = 0.02,
) -> dict[str, Any]:
    """mSPRT on cumulative counts observed at a sequence of peeks (any number, any time).

    Rejects at the first peek where the mixture likelihood ratio reaches ``1/alpha``; the
    always-valid p-value is ``min(1, min_k 1/Lambda_k)``.
    """
    c = np.asarray(conv_control, dtype=float)
    t = np.asarray(conv_treatment, dtype=float)
    n = np.asarray(n_per_arm, dtype=float)
    pc, pt = c / n, t / n
    pooled = (c + t) / (2 * n)
    lam = msprt_statistic(pt - pc, n, 2 * pooled * (1 - pooled), tau**2)
    crossed = np.nonzero(lam >= 1 / alpha)[0]
    return {
        "reject": bool(crossed.size),
        "stopped_at": int(n[crossed[0]]) if crossed.size else None,
        "p_value": float(min(1.0, np.min(1 / lam))),
        "likelihood_ratio": lam.tolist(),
    }


def peeking_simulation(
    p: float = 0.1,
    effect: float = 0.0,
    peeks: int = 20,
    batch: int = 200,
    experiments: int = 2000,
    alpha: float = 0.05,
    tau: float = 0.02,
    seed: int = 0,
) -> dict[str, Any]:
    """Optional stopping, simulated: check after every batch and stop at the first rejection.

    With ``effect = 0`` the rejection rates are false-positive rates: the naive z-test re-run
    at each of ``peeks`` looks rejects far more often than ``alpha``; mSPRT stays below it.
    """
    rng = np.random.default_rng(seed)
    c = np.cumsum(rng.binomial(batch, p, (experiments, peeks)), axis=1)
    t = np.cumsum(rng.binomial(batch, p + effect, (experiments, peeks)), axis=1)
    n = batch * np.arange(1, peeks + 1)[None, :]
    pooled = (c + t) / (2 * n)
    var = pooled * (1 - pooled)
    se = np.sqrt(var * 2 / n)
    z = (t - c) / n / np.where(se > 0, se, np.inf)
    naive_any = np.any(2 * stats.norm.sf(np.abs(z)) < alpha, axis=1)
    naive_final = 2 * stats.norm.sf(np.abs(z[:, -1])) < alpha
    lam = msprt_statistic((t - c) / n, n, 2 * var, tau**2)
    seq_any = np.any(lam >= 1 / alpha, axis=1)
    first = np.where(seq_any, np.argmax(lam >= 1 / alpha, axis=1) + 1, peeks)
    return {
        "effect": effect,
        "peeks": peeks,
        "experiments": experiments,
        "naive_peeking_rate": float(naive_any.mean()),
        "fixed_horizon_rate": float(naive_final.mean()),
        "msprt_rate": float(seq_any.mean()),
        "msprt_mean_units_per_arm": float((first * batch).mean()),
        "interval_99_at_alpha": [
            float(x) / experiments for x in stats.binom.interval(0.99, experiments, alpha)
        ],
    }


def gradual_rollout(
    error_control: float,
    error_treatment: float,
    stages: Sequence[float] = (0.01, 0.05, 0.2, 0.5, 1.0),
    requests_per_stage: int = 20000,
    alpha: float = 0.01,
    seed: int = 0,
) -> dict[str, Any]:
    """Ramp the treatment's share of traffic through ``stages``; stop on a worse guardrail.

    At each stage the treatment and control error counts are drawn, and a one-sided
    two-proportion z-test asks whether the treatment's error rate is higher. A rejection stops
    the rollout and sends all traffic back to control (rollback).
    """
    rng = np.random.default_rng(seed)
    log = []
    errors_c = errors_t = n_c = n_t = 0
    for share in stages:
        nt = round(requests_per_stage * share)
        nc = requests_per_stage - nt  # at 100 % the earlier stages' control traffic remains
        errors_t += int(rng.binomial(nt, error_treatment))
        errors_c += int(rng.binomial(nc, error_control))
        n_t, n_c = n_t + nt, n_c + nc
        if n_c == 0 or n_t == 0:
            raise UserError("a rollout needs control traffic before its first full stage")
        pooled = (errors_c + errors_t) / (n_c + n_t)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t)) if 0 < pooled < 1 else 0
        z = (errors_t / n_t - errors_c / n_c) / se if se > 0 else 0.0
        p = float(stats.norm.sf(z))
        stop = p < alpha
        log.append(
            {
                "share": share,
                "n_treatment": n_t,
                "error_treatment": errors_t / n_t,
                "error_control": errors_c / n_c,
                "p_worse": p,
                "action": "rollback" if stop else "continue",
            }
        )
        if stop:
            return {"completed": False, "stopped_at_share": share, "stages": log}
    return {"completed": True, "stopped_at_share": None, "stages": log}
