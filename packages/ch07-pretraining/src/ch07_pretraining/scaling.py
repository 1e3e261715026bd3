"""Scaling laws: fit ``L(N) = E + A · N^-α`` to final losses of several model sizes, then predict.

Kaplan et al. (2020) and Hoffmann et al. (2022, "Chinchilla") model the loss reached by a model
of ``N`` non-embedding parameters as an irreducible loss ``E`` plus a power law in ``N``. With
the same data budget for every size, :func:`scaling_experiment` trains several depths, fits the
three constants by least squares (``scipy.optimize.curve_fit``) on all but the largest size, and
predicts the largest one from the fit: the prediction error is the honest test of the law at
this (tiny) scale.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from llmpath_core import UserError

N_REF = 1e5  # parameters are fitted in units of 100 k for a well-conditioned problem


@dataclass(frozen=True)
class PowerLawFit:
    """``L(N) = E + A · (N / N_REF)^-alpha``."""

    E: float
    A: float
    alpha: float

    def predict(self, n_params: float | np.ndarray) -> float | np.ndarray:
        return self.E + self.A * (np.asarray(n_params, dtype=float) / N_REF) ** -self.alpha


def fit_power_law(n_params, losses) -> PowerLawFit:
    """Least-squares fit of ``E, A, alpha`` (all positive) to at least three points."""
    from scipy.optimize import OptimizeWarning, curve_fit

    n = np.asarray(n_params, dtype=float) / N_REF
    loss = np.asarray(losses, dtype=float)
    if n.size < 3 or n.size != loss.size:
        raise UserError("a power-law fit needs at least three (size, loss) points")

    def law(x, e, a, alpha):
        return e + a * x**-alpha

    p0 = (max(0.0, loss.min() * 0.8), max(1e-3, loss.max() - loss.min()), 0.5)
    with warnings.catch_warnings():  # 3 points, 3 unknowns: no covariance, and that is fine
        warnings.simplefilter("ignore", OptimizeWarning)
        (e, a, alpha), _ = curve_fit(
            law, n, loss, p0=p0, bounds=([0, 0, 0], [np.inf, np.inf, 5.0]), maxfev=20_000
        )
    return PowerLawFit(float(e), float(a), float(alpha))


def non_embedding_parameters(model) -> int:
    """Parameters outside the (tied) token embedding, Kaplan et al.'s ``N``."""
    embedding = model.get_input_embeddings().weight
    return sum(p.numel() for p in model.parameters() if p is not embedding)


def scaling_experiment(config, depths, run_root: str | os.PathLike, log=None) -> dict:
    """Train ``config`` at each depth (same steps and batches), fit on all but the largest.

    Returns the points, the fit, and the held-out prediction with its relative error.
    """
    import torch

    from ch07_pretraining.data import TokenData
    from ch07_pretraining.model import build_model, llama_config
    from ch07_pretraining.train import train

    depths = sorted(set(depths))
    if len(depths) < 4:
        raise UserError("give at least 4 depths: 3+ to fit and the largest to predict")
    vocab = TokenData.open(config.data).vocab_size
    points = []
    for depth in depths:
        result = train(replace(config, depth=depth, lr=None), Path(run_root) / f"depth-{depth}")
        with torch.device("meta"):
            n = non_embedding_parameters(build_model(llama_config(depth, vocab, config.seq_len)))
        points.append({"depth": depth, "params": n, "val_loss": result["val_loss"]})
        if log:
            log(f"depth {depth}: {n:,} non-embedding params, val loss {result['val_loss']:.4f}")
    fit = fit_power_law([p["params"] for p in points[:-1]], [p["val_loss"] for p in points[:-1]])
    held_out = points[-1]
    predicted = float(fit.predict(held_out["params"]))
    return {
        "points": points,
        "fit": {"E": fit.E, "A": fit.A, "alpha": fit.alpha, "n_ref": N_REF},
        "held_out_depth": held_out["depth"],
        "predicted_loss": predicted,
        "actual_loss": held_out["val_loss"],
        "relative_error": abs(predicted - held_out["val_loss"]) / held_out["val_loss"],
    }


__all__ = [
    "PowerLawFit",
    "fit_power_law",
    "non_embedding_parameters",
    "scaling_experiment",
]
