"""Inter-rater agreement: Cohen's kappa (two raters) and Krippendorff's alpha (any number).

Raw agreement flatters: two raters who both say "A" 90% of the time agree 82% by chance alone.

- Cohen's kappa (1960): ``(p_o - p_e) / (1 - p_e)`` with ``p_e`` from each rater's own label
  frequencies; optional linear or quadratic weights for ordered labels (as sklearn's
  ``cohen_kappa_score``).
- Krippendorff's alpha (nominal, 2011): ``1 - D_o / D_e`` from the coincidence matrix of pairable
  values; handles many raters and missing ratings (``None``), which is what a real annotation
  campaign produces.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable], weights: str | None = None) -> float:
    """Cohen's kappa of two raters' labels on the same items (``weights``: linear, quadratic)."""
    if len(a) != len(b) or not a:
        raise ValueError("two raters need labels for the same, non-empty list of items")
    labels = sorted(set(a) | set(b), key=str)
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    confusion = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        confusion[index[x], index[y]] += 1
    expected = np.outer(confusion.sum(1), confusion.sum(0)) / confusion.sum()
    if weights is None:
        w = 1.0 - np.eye(k)
    elif weights in ("linear", "quadratic"):
        grid = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
        w = grid if weights == "linear" else grid**2
    else:
        raise ValueError(f"unknown weights {weights!r}: use None, 'linear' or 'quadratic'")
    denominator = (w * expected).sum()
    if denominator == 0:
        return 1.0
    return float(1.0 - (w * confusion).sum() / denominator)


def krippendorff_alpha(ratings: Sequence[Sequence[Hashable | None]]) -> float:
    """Nominal Krippendorff's alpha; ``ratings[rater][item]``, ``None`` for missing."""
    matrix = [list(r) for r in ratings]
    if len({len(r) for r in matrix}) != 1:
        raise ValueError("every rater needs one entry (or None) per item")
    values = sorted({v for r in matrix for v in r if v is not None}, key=str)
    index = {v: i for i, v in enumerate(values)}
    k = len(values)
    coincidence = np.zeros((k, k))
    for item in zip(*matrix, strict=True):
        present = [index[v] for v in item if v is not None]
        m = len(present)
        if m < 2:
            continue
        counts = np.bincount(present, minlength=k).astype(float)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(0)
    n = n_c.sum()
    if n == 0 or k < 2:
        return float("nan") if n == 0 else 1.0
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n * n - (n_c**2).sum()) / (n - 1)
    return float(1.0 - observed / expected)


def percent_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """The share of items with the same label (what kappa corrects for chance)."""
    return float(np.mean([x == y for x, y in zip(a, b, strict=True)]))
