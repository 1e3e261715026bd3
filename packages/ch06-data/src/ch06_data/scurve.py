"""The LSH S-curve, measured: collision rates of planted pairs against ``1 - (1 - s**r)**b``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ch06_data.corpus import planted_corpus
from ch06_data.lsh import band_ids, collision_probability, optimal_params
from ch06_data.minhash import MinHasher

LEVELS = (0.2, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def measure_scurve(
    threshold: float = 0.8, num_perm: int = 128, pairs: int = 40, seed: int = 0
) -> dict:
    """For each similarity level: the measured share of planted pairs that became candidates."""
    bands, rows = optimal_params(threshold, num_perm)
    corpus = planted_corpus(n_base=pairs * 2, levels=LEVELS, copies_per_level=pairs, seed=seed)
    sigs = MinHasher(num_perm=num_perm, seed=seed + 1).signatures(
        [r["text"] for r in corpus.records]
    )
    ids = band_ids(sigs, bands, rows)
    points = []
    for level in LEVELS:
        chosen = [(a, b, s) for a, b, s in corpus.pairs if abs(s - level) < 0.03]
        if not chosen:
            continue
        hit = [bool((ids[a] == ids[b]).any()) for a, b, _ in chosen]
        mean_s = float(np.mean([s for *_, s in chosen]))
        points.append(
            {
                "jaccard": round(mean_s, 3),
                "pairs": len(chosen),
                "measured": round(float(np.mean(hit)), 3),
                "theory": round(float(collision_probability(mean_s, bands, rows)), 3),
            }
        )
    return {"threshold": threshold, "bands": bands, "rows": rows, "points": points}


def plot_scurve(result: dict, path: str | Path) -> Path:
    """A PNG of the theoretical S-curve with the measured points on it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from llmpath_core.report import save_figure

    s = np.linspace(0, 1, 201)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(s, collision_probability(s, result["bands"], result["rows"]), label="1-(1-s^r)^b")
    pts = result["points"]
    ax.plot([p["jaccard"] for p in pts], [p["measured"] for p in pts], "o", label="measured")
    ax.axvline(result["threshold"], color="grey", ls=":", lw=1)
    ax.set_xlabel("Jaccard similarity of the pair")
    ax.set_ylabel("P(candidate pair)")
    ax.set_title(f"LSH S-curve, b={result['bands']}, r={result['rows']}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)
