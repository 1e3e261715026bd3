"""The regularization study: what each technique does to the generalization gap on digits.

A 128-unit MLP trained on a small slice of the digits training set overfits: training accuracy
reaches 100 % while test accuracy stalls. Each technique is trained on the same slice across
several seeds (each seed changes the initialisation, the shuffling, the dropout masks and the
slice itself) and reported as the mean generalization gap (train − test accuracy) with a 95 %
Student-t confidence interval:

- L1 (Σ|w| in the loss) and L2 (Σw² in the loss) penalties;
- dropout (Srivastava et al., 2014);
- batch norm (Ioffe & Szegedy, 2015; a regulariser through batch noise, mostly an optimiser aid);
- early stopping on the validation split (keep the best epoch's weights);
- more data: the same unregularised net on larger training sets.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ch01_nn.data import Dataset
from ch01_nn.train import TrainConfig, train_mlp

TECHNIQUES: dict[str, dict[str, Any]] = {
    "none": {},
    "l1": {"l1": 1e-4},
    "l2": {"l2": 3e-2},
    "dropout": {"dropout": 0.5},
    "batchnorm": {"batchnorm": True},
    "early-stopping": {"patience": 5},
}


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (0 for a single value)."""
    from scipy import stats

    arr = np.asarray(values, dtype=np.float64)
    if len(arr) < 2:
        return float(arr.mean()), 0.0
    half = stats.t.ppf(0.5 + level / 2, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return float(arr.mean()), float(half)


def regularization_study(
    data: Dataset,
    *,
    techniques: list[str] | None = None,
    train_size: int = 300,
    sizes: tuple[int, ...] = (150, 600),
    seeds: int = 3,
    epochs: int = 60,
    base: TrainConfig | None = None,
) -> list[dict[str, Any]]:
    """One row per technique (and per extra training-set size): gap mean ± CI and accuracies."""
    base = base or TrainConfig(hidden=(128,), weight_decay=0.0, schedule="none", lr=1e-3)
    rows = []
    plan = [(name, train_size, TECHNIQUES[name]) for name in techniques or list(TECHNIQUES)]
    plan += [("none", n, {}) for n in sizes if n != train_size]
    for name, n, overrides in plan:
        gaps, tests, trains, epochs_run = [], [], [], []
        for seed in range(seeds):
            subset = data.subset(n, seed=seed)
            config = replace(base, epochs=epochs, seed=seed, **overrides)
            result = train_mlp(subset, config)
            gaps.append(result.generalization_gap)
            tests.append(result.test_accuracy)
            trains.append(result.train_accuracy)
            epochs_run.append(result.epochs)
        gap, gap_ci = mean_ci(gaps)
        test, test_ci = mean_ci(tests)
        rows.append({
            "technique": name,
            "train_size": min(n, len(data.y_train)),
            "gap": gap,
            "gap_ci95": gap_ci,
            "test_accuracy": test,
            "test_ci95": test_ci,
            "train_accuracy": float(np.mean(trains)),
            "epochs": float(np.mean(epochs_run)),
            "seeds": seeds,
        })  # fmt: skip
    return rows


def plot_study(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Bar chart of the generalization gap with 95 % intervals (PNG, atomic)."""
    from matplotlib.figure import Figure

    from llmpath_core.report import save_figure

    labels = [f"{r['technique']}\n(n={r['train_size']})" for r in rows]
    fig = Figure(figsize=(max(6, 1.1 * len(rows)), 4), dpi=100)
    ax = fig.add_subplot()
    ax.bar(labels, [100 * r["gap"] for r in rows], yerr=[100 * r["gap_ci95"] for r in rows],
           capsize=4, color="#4c72b0")  # fmt: skip
    ax.set_ylabel("train − test accuracy (points)")
    ax.set_title(f"generalization gap, mean ± 95% CI over {rows[0]['seeds']} seeds")
    ax.grid(axis="y", alpha=0.3)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = ["TECHNIQUES", "mean_ci", "plot_study", "regularization_study"]
