"""Losses and weight penalties, built from :mod:`ch01_nn.autodiff` operations.

Each matches the ``torch.nn.functional`` function of the same name with mean reduction:
cross-entropy on logits (``log_softmax`` then the negative log-likelihood of the target class),
mean squared error, and Huber (quadratic within ``delta`` of the target, linear outside). The L1
and L2 penalties are added to the loss for regularisation (L2 in the loss is what
``torch.optim.SGD(weight_decay=...)`` does to the gradient, up to the factor 2).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ch01_nn.autodiff import Tensor, where

LOSSES = ("cross-entropy", "mse", "huber")


def cross_entropy(logits: Tensor, targets: np.ndarray) -> Tensor:
    """Mean negative log-likelihood of integer ``targets`` under ``softmax(logits)``."""
    targets = np.asarray(targets, dtype=np.int64)
    if logits.ndim != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy needs (N, C) logits and N targets, got {logits.shape}")
    if targets.size and (targets.min() < 0 or targets.max() >= logits.shape[1]):
        raise ValueError(f"targets must be class ids in [0, {logits.shape[1]})")
    picked = logits.log_softmax(axis=1)[np.arange(len(targets)), targets]
    return -picked.mean()


def mse(pred: Tensor, target: np.ndarray | Tensor) -> Tensor:
    """Mean of ``(pred - target)²`` over every element."""
    diff = pred - target
    return (diff * diff).mean()


def huber(pred: Tensor, target: np.ndarray | Tensor, delta: float = 1.0) -> Tensor:
    """Mean Huber loss: ``½d²`` where ``|d| ≤ delta``, else ``delta·(|d| − ½delta)``."""
    diff = pred - target
    absd = diff.abs()
    return where(absd.data <= delta, diff * diff * 0.5, (absd - 0.5 * delta) * delta).mean()


def loss_fn(name: str, output: Tensor, target: np.ndarray) -> Tensor:
    """The named loss (see :data:`LOSSES`)."""
    if name == "cross-entropy":
        return cross_entropy(output, target)
    if name == "mse":
        return mse(output, target)
    if name == "huber":
        return huber(output, target)
    raise ValueError(f"unknown loss {name!r}: use one of {', '.join(LOSSES)}")


def l1_penalty(weights: Iterable[Tensor]) -> Tensor:
    """Σ |w| over every weight (drives weights to exactly zero)."""
    return sum((w.abs().sum() for w in weights), Tensor(0.0))


def l2_penalty(weights: Iterable[Tensor]) -> Tensor:
    """Σ w² over every weight (shrinks all weights in proportion)."""
    return sum(((w * w).sum() for w in weights), Tensor(0.0))


__all__ = ["LOSSES", "cross_entropy", "huber", "l1_penalty", "l2_penalty", "loss_fn", "mse"]
