"""LSH banding over MinHash signatures (Indyk & Motwani 1998; Mining of Massive Datasets ch. 3).

A signature of ``b*r`` values is cut into ``b`` bands of ``r`` rows; two documents become
a candidate pair when any band is identical. Two sets of Jaccard similarity ``s`` collide with
probability ``1 - (1 - s**r)**b``: an S-curve whose steep part sits near ``(1/b)**(1/r)``.
:func:`optimal_params` picks ``(b, r)`` the way datasketch's ``MinHashLSH`` does: the grid point
that minimises the weighted false-positive area below the threshold plus the false-negative
area above it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from functools import lru_cache

import numpy as np


def collision_probability(s: np.ndarray | float, b: int, r: int) -> np.ndarray | float:
    """P(candidate) for Jaccard ``s`` with ``b`` bands of ``r`` rows: the S-curve."""
    return 1.0 - (1.0 - np.asarray(s, dtype=float) ** r) ** b


def _area(f, lo: float, hi: float, n: int = 2001) -> float:
    # composite Simpson's rule: the integrands are smooth polynomials in s
    x = np.linspace(lo, hi, n)
    y = f(x)
    h = (hi - lo) / (n - 1)
    return float(h / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


@lru_cache(maxsize=64)
def optimal_params(
    threshold: float, num_perm: int = 128, weights: tuple[float, float] = (0.5, 0.5)
) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands*rows <= num_perm`` minimising the weighted FP + FN areas."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            curve = functools.partial(collision_probability, b=b, r=r)
            fp = _area(curve, 0.0, threshold)
            fn = threshold - 1.0 + _area(curve, threshold, 1.0)  # area of 1 - curve above it
            fn = -fn
            err = fp * weights[0] + fn * weights[1]
            if err < best:
                best, opt = err, (b, r)
    return opt


def band_ids(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(n, bands)`` bucket ids: equal id in column ``j`` <=> identical band ``j``."""
    n = len(signatures)
    out = np.empty((n, bands), dtype=np.int64)
    for j in range(bands):
        band = np.ascontiguousarray(signatures[:, j * rows : (j + 1) * rows])
        keys = band.view(np.dtype((np.void, band.dtype.itemsize * rows))).ravel()
        _, inverse = np.unique(keys, return_inverse=True)
        out[:, j] = inverse.ravel()
    return out


def buckets(signatures: np.ndarray, bands: int, rows: int) -> Iterator[np.ndarray]:
    """Every bucket holding two or more documents, as a sorted array of row indices."""
    ids = band_ids(signatures, bands, rows)
    for j in range(bands):
        col = ids[:, j]
        order = np.argsort(col, kind="stable")
        sorted_ids = col[order]
        cuts = np.flatnonzero(np.diff(sorted_ids)) + 1
        for group in np.split(order, cuts):
            if len(group) > 1:
                yield np.sort(group)


def candidate_pairs(signatures: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    """All ``(i, j)``, ``i < j``, that share at least one band (what an LSH query returns)."""
    pairs: set[tuple[int, int]] = set()
    for group in buckets(signatures, bands, rows):
        g = group.tolist()
        for x in range(len(g)):
            for y in range(x + 1, len(g)):
                pairs.add((g[x], g[y]))
    return pairs
