"""Membership inference by loss threshold, and the privacy curve: accuracy and attack vs epsilon.

Yeom et al. 2018 ("Privacy Risk in Machine Learning"): guess "member" when a sample's loss is
below the model's mean training loss. The attack's *advantage* is ``TPR - FPR`` on the training
set (members) against held-out data from the same distribution (non-members); differential
privacy bounds it by ``e^epsilon - 1`` (and by 1), so it must fall as epsilon shrinks. We also
report the threshold-free ROC AUC of the loss as a membership score.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import torch
from torch import nn

from ch21_security.dpsgd import DPConfig, accuracy, make_mlp, make_task, train_dpsgd


def per_example_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each example."""
    with torch.no_grad():
        return nn.functional.cross_entropy(model(x), y, reduction="none")


def auc(member_scores: torch.Tensor, other_scores: torch.Tensor) -> float:
    """P(score of a random member > score of a random non-member), ties counted half."""
    diff = member_scores[:, None] - other_scores[None, :]
    return float((diff > 0).float().mean() + 0.5 * (diff == 0).float().mean())


def loss_threshold_attack(
    model: nn.Module,
    members: tuple[torch.Tensor, torch.Tensor],
    others: tuple[torch.Tensor, torch.Tensor],
) -> dict[str, float]:
    """Yeom's attack: ``{"advantage", "tpr", "fpr", "auc"}``."""
    lm = per_example_loss(model, *members)
    lo = per_example_loss(model, *others)
    threshold = float(lm.mean())
    tpr = float((lm <= threshold).float().mean())
    fpr = float((lo <= threshold).float().mean())
    return {"advantage": tpr - fpr, "tpr": tpr, "fpr": fpr, "auc": auc(-lm, -lo)}


def privacy_curve(
    noise_multipliers: tuple[float, ...] = (0.0, 0.6, 1.0, 2.0, 4.0),
    seeds: tuple[int, ...] = (0, 1, 2),
    n_train: int = 200,
    n_test: int = 1000,
    epochs: int = 40,
    sample_rate: float = 0.1,
    delta: float = 1e-5,
) -> list[dict[str, Any]]:
    """Train the MLP at each noise level (0 = plain SGD) over ``seeds``; mean and SE per level."""
    rows = []
    for sigma in noise_multipliers:
        accs, advs, aucs, eps = [], [], [], math.inf
        for seed in seeds:
            x, y = make_task(n_train + n_test, seed=seed)
            train, test = (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
            model = make_mlp(x.shape[1], 128, 2, seed=seed)
            config = DPConfig(
                noise_multiplier=sigma,
                max_grad_norm=1.0,
                sample_rate=sample_rate,
                epochs=epochs,
                lr=0.5 if sigma > 0 else 0.2,
                delta=delta,
                private=sigma > 0,
            )
            info = train_dpsgd(model, *train, config, seed=seed)
            eps = info["epsilon"]
            attack = loss_threshold_attack(model, train, test)
            accs.append(accuracy(model, *test))
            advs.append(attack["advantage"])
            aucs.append(attack["auc"])
        rows.append(
            {
                "noise_multiplier": sigma,
                "epsilon": eps,
                "test_accuracy": statistics.mean(accs),
                "accuracy_se": _se(accs),
                "mia_advantage": statistics.mean(advs),
                "advantage_se": _se(advs),
                "mia_auc": statistics.mean(aucs),
            }
        )
    return rows


def _se(values: list[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
