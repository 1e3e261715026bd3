"""Honest statistics for evaluation scores (Miller, "Adding Error Bars to Evals", 2024).

A benchmark score is a mean over items, so it has a standard error:

- :func:`mean_stderr` — the CLT standard error ``s / sqrt(n)`` (``s`` with Bessel's correction),
  what lm-eval reports as ``acc_stderr``;
- :func:`bootstrap_ci` — percentile bootstrap interval and standard error of any statistic;
- :func:`clustered_stderr` — items that share a passage or a template are not independent; the
  cluster-robust (sandwich) standard error of the mean, with the small-sample correction
  statsmodels applies (``G/(G-1) · (n-1)/(n-k)``, which is ``G/(G-1)`` for a mean);
- :func:`paired_comparison` — two models on the same items: the mean difference, its standard
  error over per-item differences (much smaller than the unpaired one when models agree on
  which items are hard), a paired t test, McNemar's exact test for 0/1 scores and a
  sign-flip permutation test;
- :func:`adjust_pvalues` — Bonferroni, Holm and Benjamini–Hochberg for many comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

Z95 = 1.959963984540054


def mean_stderr(values: Sequence[float]) -> float:
    """CLT standard error of the mean: sample standard deviation (ddof=1) over sqrt(n)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return float("nan")
    return float(x.std(ddof=1) / math.sqrt(x.size))


def normal_ci(mean: float, stderr: float, confidence: float = 0.95) -> tuple[float, float]:
    """``mean ± z · stderr``."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    return mean - z * stderr, mean + z * stderr


@dataclass
class BootstrapResult:
    estimate: float
    low: float
    high: float
    stderr: float

    def to_dict(self) -> dict:
        return asdict(self)


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap: resample items with replacement, recompute, take quantiles."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    stats = np.array([statistic(x[row]) for row in idx])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return BootstrapResult(float(statistic(x)), float(low), float(high), float(stats.std(ddof=1)))


def clustered_stderr(values: Sequence[float], clusters: Sequence) -> float:
    """Cluster-robust standard error of the mean (statsmodels' ``cov_type='cluster'``)."""
    x = np.asarray(values, dtype=float)
    groups = np.asarray(clusters)
    n = x.size
    resid = x - x.mean()
    labels = np.unique(groups)
    g = labels.size
    if g < 2:
        raise ValueError("clustered standard errors need at least two clusters")
    sums = np.array([resid[groups == label].sum() for label in labels])
    correction = g / (g - 1)
    return float(math.sqrt(correction * (sums**2).sum()) / n)


def mcnemar_exact(a: Sequence[int], b: Sequence[int]) -> float:
    """McNemar's exact p-value for paired 0/1 scores: a binomial test on the discordant pairs."""
    a_arr, b_arr = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    only_a = int(((a_arr == 1) & (b_arr == 0)).sum())
    only_b = int(((a_arr == 0) & (b_arr == 1)).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def paired_t(diffs: Sequence[float]) -> tuple[float, float]:
    """``(t, two-sided p)`` of the paired t test on per-item differences."""
    from scipy.stats import t as t_dist

    d = np.asarray(diffs, dtype=float)
    se = mean_stderr(d)
    if se == 0:
        return (0.0, 1.0) if d.mean() == 0 else (math.copysign(math.inf, d.mean()), 0.0)
    stat = float(d.mean() / se)
    return stat, float(2 * t_dist.sf(abs(stat), d.size - 1))


def permutation_pvalue(diffs: Sequence[float], *, n_resamples: int = 5000, seed: int = 0) -> float:
    """Sign-flip permutation test of mean difference 0 (two-sided, with the +1 correction)."""
    d = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_resamples, d.size))
    null = np.abs((signs * d).mean(axis=1))
    return float((1 + (null >= abs(d.mean()) - 1e-12).sum()) / (n_resamples + 1))


@dataclass
class PairedComparison:
    mean_a: float
    mean_b: float
    diff: float
    paired_stderr: float
    unpaired_stderr: float
    ci_low: float
    ci_high: float
    t: float
    p_t: float
    p_mcnemar: float | None
    p_permutation: float
    correlation: float

    def to_dict(self) -> dict:
        return asdict(self)


def paired_comparison(a: Sequence[float], b: Sequence[float], *, seed: int = 0) -> PairedComparison:
    """Compare two models scored on the same items (``diff = mean(a) - mean(b)``)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError("paired scores need the same items, at least two")
    d = x - y
    se = mean_stderr(d)
    unpaired = math.sqrt(mean_stderr(x) ** 2 + mean_stderr(y) ** 2)
    t, p = paired_t(d)
    binary = set(np.unique(np.concatenate([x, y]))) <= {0.0, 1.0}
    corr = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
    return PairedComparison(
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        diff=float(d.mean()),
        paired_stderr=se,
        unpaired_stderr=unpaired,
        ci_low=float(d.mean() - Z95 * se),
        ci_high=float(d.mean() + Z95 * se),
        t=t,
        p_t=p,
        p_mcnemar=mcnemar_exact(x.astype(int), y.astype(int)) if binary else None,
        p_permutation=permutation_pvalue(d, seed=seed),
        correlation=corr,
    )


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> list[float]:
    """Adjusted p-values: ``bonferroni``, ``holm`` (step-down) or ``bh`` (Benjamini–Hochberg)."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p)
    ranked = p[order]
    if method == "bonferroni":
        adj = np.minimum(p * m, 1.0)
        return adj.tolist()
    if method == "holm":
        stepped = np.maximum.accumulate(ranked * (m - np.arange(m)))
    elif method == "bh":
        stepped = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {method!r}: use bonferroni, holm or bh")
    adj = np.empty(m)
    adj[order] = np.minimum(stepped, 1.0)
    return adj.tolist()
