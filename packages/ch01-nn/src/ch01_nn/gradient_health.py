"""Gradient health: per-layer gradient norms through training, deep sigmoid vs ReLU + He init.

The derivative of the sigmoid is at most 1/4, so each sigmoid layer shrinks the backpropagated
signal; ten of them leave the first layer with a gradient orders of magnitude smaller than the
last one's, and that layer barely learns (the vanishing gradient problem, Hochreiter 1991;
Glorot & Bengio 2010). ReLU passes gradients through unchanged where it is active, and He
initialisation keeps the activations' variance constant through depth, so the norms stay level.
:func:`gradient_health` trains both nets on digits with the same optimizer and records the
L2 norm of every Linear weight gradient at every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ch01_nn.data import Dataset
from ch01_nn.nn import Sequential
from ch01_nn.train import TrainConfig, train_mlp

SETUPS = {
    "sigmoid + xavier": {"activation": "sigmoid", "init": "xavier"},
    "relu + he": {"activation": "relu", "init": "he"},
}


@dataclass
class HealthRun:
    """Per-step, per-layer weight-gradient norms (``norms[step][layer]``) and the final accuracy."""

    name: str
    norms: list[list[float]] = field(default_factory=list)
    test_accuracy: float = 0.0

    def first_to_last(self, steps: int = 20) -> float:
        """Median over the first ``steps`` of ‖∇W₁‖ / ‖∇W_L‖ (≪ 1 means vanishing)."""
        arr = np.asarray(self.norms[:steps])
        return float(np.median(arr[:, 0] / arr[:, -1]))

    def summary(self) -> dict[str, Any]:
        arr = np.asarray(self.norms)
        return {
            "setup": self.name,
            "first_layer_grad": float(np.median(arr[:, 0])),
            "last_layer_grad": float(np.median(arr[:, -1])),
            "first/last": self.first_to_last(len(arr)),
            "test_accuracy": self.test_accuracy,
        }


def gradient_health(
    data: Dataset,
    *,
    depth: int = 10,
    width: int = 64,
    epochs: int = 2,
    optimizer: str = "momentum",
    lr: float = 0.02,
    seed: int = 0,
) -> list[HealthRun]:
    """Train the deep sigmoid net and the ReLU + He net; return their gradient-norm traces."""
    runs = []
    for name, setup in SETUPS.items():
        run = HealthRun(name)

        def record(step: int, model: Sequential, run: HealthRun = run) -> None:
            run.norms.append([float(np.linalg.norm(m.weight.grad)) for m in model.linears()])

        config = TrainConfig(
            hidden=(width,) * depth, optimizer=optimizer, lr=lr, epochs=epochs,
            schedule="none", seed=seed, **setup,
        )  # fmt: skip
        run.test_accuracy = train_mlp(data, config, on_backward=record).test_accuracy
        runs.append(run)
    return runs


def plot_health(runs: list[HealthRun], path: str | Path) -> Path:
    """Two panels: norm per layer (median over training) and first-layer norm over steps."""
    from matplotlib.figure import Figure

    from llmpath_core.report import save_figure

    fig = Figure(figsize=(10, 4), dpi=100)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for run in runs:
        arr = np.asarray(run.norms)
        left.plot(
            np.arange(1, arr.shape[1] + 1), np.median(arr, axis=0), marker="o", label=run.name
        )
        right.plot(arr[:, 0], label=run.name)
    left.set(yscale="log", xlabel="layer (1 = input side)", ylabel="‖∇W‖ (median over steps)",
             title="gradient norm per layer")  # fmt: skip
    right.set(
        yscale="log", xlabel="training step", ylabel="‖∇W₁‖", title="first layer over training"
    )
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = ["SETUPS", "HealthRun", "gradient_health", "plot_health"]
