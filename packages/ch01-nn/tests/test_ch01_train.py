"""Training on digits, gradient health, init spreads vs torch, the regularization effect."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ch01_nn.init import init_weight
from ch01_nn.train import TrainConfig, train_mlp
from llmpath_core import UserError


def test_short_training_learns_digits(digits):
    result = train_mlp(digits, TrainConfig(epochs=6))
    assert result.test_accuracy >= 0.93
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0] / 5
    assert result.steps == 6 * math.ceil(1257 / 32)


def test_non_finite_loss_is_a_user_error(digits):
    with pytest.raises(UserError, match="non-finite"):
        train_mlp(digits, TrainConfig(optimizer="sgd", lr=1e30, epochs=2, schedule="none"))


def test_early_stopping_restores_the_best_epoch(digits):
    small = digits.subset(200)
    result = train_mlp(small, TrainConfig(epochs=60, patience=3, schedule="none"))
    assert result.stopped_early and result.epochs < 60
    assert result.val_accuracy == pytest.approx(max(h["val_accuracy"] for h in result.history))


def test_vanishing_gradients_sigmoid_vs_relu_he(digits):
    from ch01_nn.gradient_health import gradient_health

    sig, relu = gradient_health(digits.subset(320), depth=10, epochs=1)
    first_sig = np.median([n[0] for n in sig.norms])
    first_relu = np.median([n[0] for n in relu.norms])
    assert first_relu / first_sig > 1e3  # orders of magnitude
    assert sig.first_to_last() < 1e-3 and relu.first_to_last() > 0.1


@pytest.mark.parametrize(
    "kind, torch_init",
    [
        ("xavier", lambda w: torch.nn.init.xavier_uniform_(w)),
        ("xavier-normal", lambda w: torch.nn.init.xavier_normal_(w)),
        ("he", lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")),
        ("he-uniform", lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")),
        ("torch", lambda w: torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))),
    ],
)
def test_init_spread_matches_torch(kind, torch_init):
    ours = init_weight(kind, 300, 200, np.random.default_rng(0))
    ref = torch_init(torch.empty(200, 300)).numpy()
    assert ours.shape == ref.shape
    assert ours.std() == pytest.approx(ref.std(), rel=0.02)
    assert np.abs(ours).max() <= np.abs(ref).max() * 1.25


def test_l2_and_dropout_shrink_the_generalization_gap(digits):
    from ch01_nn.regularization import regularization_study

    rows = regularization_study(digits, techniques=["none", "l2", "dropout"], train_size=150,
                                sizes=(), seeds=2, epochs=40)  # fmt: skip
    gap = {r["technique"]: r["gap"] for r in rows}
    assert gap["none"] > 0.05  # the small slice overfits
    assert gap["l2"] < gap["none"] - 0.02
    assert gap["dropout"] < gap["none"]  # a smaller effect on this tiny net (README numbers)
