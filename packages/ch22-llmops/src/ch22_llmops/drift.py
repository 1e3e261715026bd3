"""Drift detection: is the data a model sees today still the data it was evaluated on?

Per-column tests compare a *reference* sample (what the model was validated on) with a *current*
sample (recent traffic):

- numeric columns: the two-sample Kolmogorov-Smirnov test. The statistic ``D = max |F_ref -
  F_cur|`` is computed here from the two empirical CDFs; the p-value is scipy's
  (:func:`scipy.stats.ks_2samp`, exact for small samples), and :func:`kolmogorov_pvalue` is the
  asymptotic Kolmogorov series written out;
- categorical columns: Pearson's chi² goodness of fit of the current counts against the
  reference proportions scaled to the current size (evidently's ``chisquare`` stattest); a
  category that the reference never saw gives ``inf`` and p = 0;
- scores without a p-value: the population stability index (PSI, quantile bins of the
  reference), the Jensen-Shannon distance of the binned distributions, the Wasserstein-1
  distance, and for embeddings the distance between mean embeddings and an RBF-kernel MMD with a
  permutation p-value (Gretton et al., 2012).

The decision rule is evidently's default: drift when p < 0.05 (or PSI >= 0.2, the usual
"significant shift" rule of thumb).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmpath_core import UserError

ALPHA = 0.05
PSI_THRESHOLD = 0.2


@dataclass
class ColumnDrift:
    """One column's test result."""

    column: str
    test: str
    statistic: float
    p_value: float
    drift: bool
    psi: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ks_statistic(reference: Sequence[float], current: Sequence[float]) -> float:
    """Two-sample KS statistic: the largest gap between the two empirical CDFs."""
    a = np.sort(np.asarray(reference, dtype=float))
    b = np.sort(np.asarray(current, dtype=float))
    if a.size == 0 or b.size == 0:
        raise UserError("the KS test needs at least one value in each sample")
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def kolmogorov_pvalue(d: float, n: int, m: int, terms: int = 100) -> float:
    """Asymptotic p-value ``Q(sqrt(nm/(n+m)) D)`` with ``Q(x) = 2 sum (-1)^(k-1) e^-2k²x²``."""
    x = math.sqrt(n * m / (n + m)) * d
    if x < 1e-3:
        return 1.0
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, terms + 1))
    return float(min(1.0, max(0.0, 2 * total)))


def ks_test(reference: Sequence[float], current: Sequence[float], alpha: float = ALPHA) -> dict:
    """KS test of a numeric column: our statistic, scipy's p-value (its default method)."""
    from scipy import stats

    d = ks_statistic(reference, current)
    p = float(stats.ks_2samp(reference, current).pvalue)
    return {"test": "ks", "statistic": d, "p_value": p, "drift": bool(p < alpha)}


def chi2_test(reference: Sequence[Any], current: Sequence[Any], alpha: float = ALPHA) -> dict:
    """Chi² goodness of fit of the current category counts to the reference proportions."""
    from scipy import stats

    ref = [str(x) for x in reference]
    cur = [str(x) for x in current]
    if not ref or not cur:
        raise UserError("the chi² test needs at least one value in each sample")
    keys = sorted(set(ref) | set(cur))
    ref_counts = np.array([ref.count(k) for k in keys], dtype=float)
    cur_counts = np.array([cur.count(k) for k in keys], dtype=float)
    expected = ref_counts * len(cur) / len(ref)
    if np.any((expected == 0) & (cur_counts > 0)):
        stat, p = math.inf, 0.0  # a category the reference never saw
    else:
        keep = expected > 0
        stat = float(np.sum((cur_counts[keep] - expected[keep]) ** 2 / expected[keep]))
        dof = int(keep.sum()) - 1
        p = float(stats.chi2.sf(stat, dof)) if dof > 0 else 1.0
    return {"test": "chi2", "statistic": stat, "p_value": p, "drift": bool(p < alpha)}


def _bins(reference: np.ndarray, bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def binned(reference: Sequence[float], current: Sequence[float], bins: int = 10):
    """Proportions of both samples in ``bins`` quantile bins of the reference."""
    a = np.asarray(reference, dtype=float)
    b = np.asarray(current, dtype=float)
    edges = _bins(a, bins)
    pa = np.histogram(a, edges)[0] / a.size
    pb = np.histogram(b, edges)[0] / b.size
    return pa, pb


def psi(reference: Sequence[float], current: Sequence[float], bins: int = 10, eps=1e-4) -> float:
    """Population stability index: ``sum (p_cur - p_ref) ln(p_cur / p_ref)`` over quantile bins.

    Empty bins are clipped to ``eps`` so that the log stays finite. Rule of thumb: < 0.1 stable,
    0.1-0.2 moderate, >= 0.2 significant shift.
    """
    pa, pb = binned(reference, current, bins)
    pa, pb = np.clip(pa, eps, None), np.clip(pb, eps, None)
    return float(np.sum((pb - pa) * np.log(pb / pa)))


def js_distance(reference: Sequence[float], current: Sequence[float], bins: int = 10) -> float:
    """Jensen-Shannon distance (base e, the square root of the divergence) of the binned samples."""
    p, q = binned(reference, current, bins)
    m = (p + q) / 2

    def kl(x: np.ndarray, y: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log(x[mask] / y[mask])))

    return math.sqrt(max(0.0, (kl(p, m) + kl(q, m)) / 2))


def wasserstein(reference: Sequence[float], current: Sequence[float]) -> float:
    """Wasserstein-1 distance: the area between the two empirical CDFs."""
    a = np.sort(np.asarray(reference, dtype=float))
    b = np.sort(np.asarray(current, dtype=float))
    grid = np.sort(np.concatenate([a, b]))
    widths = np.diff(grid)
    cdf_a = np.searchsorted(a, grid[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, grid[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def mean_embedding_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Cosine distance between the mean reference and mean current embedding."""
    a, b = np.asarray(reference).mean(0), np.asarray(current).mean(0)
    return float(1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def mmd_test(
    reference: np.ndarray, current: np.ndarray, permutations: int = 200, seed: int = 0
) -> dict[str, float]:
    """Unbiased RBF-kernel MMD² (median-heuristic bandwidth) with a permutation p-value."""
    x, y = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    z = np.concatenate([x, y])
    sq = np.sum(z**2, 1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0)
    bandwidth = np.median(d2[np.triu_indices(len(z), 1)]) or 1.0
    k = np.exp(-d2 / bandwidth)
    n = len(x)

    def mmd2(idx: np.ndarray) -> float:
        a, b = idx[:n], idx[n:]
        kxx, kyy, kxy = k[np.ix_(a, a)], k[np.ix_(b, b)], k[np.ix_(a, b)]
        m, k_ = len(a), len(b)
        return float(
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (k_ * (k_ - 1))
            - 2 * kxy.mean()
        )

    rng = np.random.default_rng(seed)
    observed = mmd2(np.arange(len(z)))
    null = [mmd2(rng.permutation(len(z))) for _ in range(permutations)]
    p = (1 + sum(v >= observed for v in null)) / (permutations + 1)
    return {"mmd2": observed, "p_value": float(p), "drift": bool(p < ALPHA)}


def is_numeric(values: Sequence[Any]) -> bool:
    """True when every non-empty value parses as a float."""
    try:
        [float(v) for v in values]
    except (TypeError, ValueError):
        return False
    return True


def read_csv(path: str | Path) -> dict[str, list[str]]:
    """A CSV file as ``{column: values}`` (strings; empty cells dropped per column)."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such CSV file: {path}")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise UserError(f"{path} needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if len(header) > 1 and header[0] == "" and all(header[1:]):
        # an unnamed first column is an index (pandas' to_csv default): not a feature
        rows = [row[1:] for row in rows]
        header = header[1:]
    if len(set(header)) != len(header) or not all(header):
        raise UserError(f"{path} has empty or repeated column names in its header")
    columns: dict[str, list[str]] = {h: [] for h in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UserError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        for h, v in zip(header, row, strict=True):
            if v.strip() != "":
                columns[h].append(v.strip())
    return columns


def drift_report(
    reference: dict[str, list[Any]],
    current: dict[str, list[Any]],
    *,
    alpha: float = ALPHA,
    categorical: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """Per column ``{"test", "statistic", "p_value", "drift"}`` (+ ``psi`` for numeric columns).

    Numeric columns (every value parses as a number) get KS, the others and any column named in
    ``categorical`` get chi². Both tables must have the same columns.
    """
    if set(reference) != set(current):
        only_ref = sorted(set(reference) - set(current))
        only_cur = sorted(set(current) - set(reference))
        raise UserError(
            f"the two tables have different columns (only in reference: {only_ref}, "
            f"only in current: {only_cur})"
        )
    report: dict[str, dict[str, Any]] = {}
    for col in reference:
        ref, cur = reference[col], current[col]
        if not ref or not cur:
            raise UserError(f"column {col!r} is empty in one of the tables")
        if col not in categorical and is_numeric(ref) and is_numeric(cur):
            r = [float(v) for v in ref]
            c = [float(v) for v in cur]
            result = ks_test(r, c, alpha)
            result["psi"] = psi(r, c)
        else:
            result = chi2_test(ref, cur, alpha)
        report[col] = result
    return report
