"""Training an MLP on digits with our autodiff: mini-batches, an optimizer, a schedule, clipping,
L1/L2 penalties, dropout, batch norm and early stopping, all switchable from :class:`TrainConfig`.

The loop is the one every framework runs: shuffle, forward, loss, ``backward()``, optional
clipping, ``optimizer.step()``, schedule step; after each epoch, accuracy on the validation split
(early stopping keeps the weights of the best validation epoch and stops after ``patience``
epochs without improvement). A loss that stops being finite is reported as bad input (a too
large learning rate), not as a crash.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ch01_nn.autodiff import Tensor, no_grad
from ch01_nn.data import Dataset
from ch01_nn.losses import cross_entropy, l1_penalty, l2_penalty
from ch01_nn.nn import Linear, Sequential, mlp
from ch01_nn.optim import clip_grad_norm, make_optimizer
from ch01_nn.schedules import Schedule, Scheduler
from llmpath_core import UserError


@dataclass
class TrainConfig:
    """Everything that defines a training run; the defaults reach ≥ 0.95 on digits in seconds."""

    hidden: tuple[int, ...] = (128,)
    activation: str = "relu"
    init: str = "he"
    optimizer: str = "adamw"
    lr: float | None = None  # None: the optimizer's default (optim.DEFAULT_LR)
    weight_decay: float | None = None  # None: the optimizer's default
    momentum: float = 0.9
    epochs: int = 30
    batch_size: int = 32
    schedule: str = "cosine"
    warmup_steps: int = 0
    clip: float | None = None
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    batchnorm: bool = False
    patience: int = 0  # early stopping: 0 = off
    seed: int = 0
    dtype: str = "float32"


@dataclass
class TrainResult:
    """What a run produced: final metrics, the per-epoch history and the trained model."""

    test_accuracy: float
    train_accuracy: float
    val_accuracy: float
    train_loss: float
    epochs: int
    steps: int
    seconds: float
    best_epoch: int
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    model: Sequential | None = None

    @property
    def generalization_gap(self) -> float:
        return self.train_accuracy - self.test_accuracy

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("model")
        out["generalization_gap"] = self.generalization_gap
        out["steps_per_second"] = self.steps / self.seconds if self.seconds > 0 else None
        return out


def accuracy(model: Sequential, x: np.ndarray, y: np.ndarray, batch: int = 2048) -> float:
    """Fraction of correctly classified examples (evaluation mode, no graph)."""
    was_training = model.training
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(y), batch):
            logits = model(Tensor(x[i : i + batch])).data
            correct += int((logits.argmax(axis=1) == y[i : i + batch]).sum())
    model.train(was_training)
    return correct / max(len(y), 1)


def build_model(sizes: list[int], config: TrainConfig) -> Sequential:
    return mlp(
        sizes,
        config.activation,
        init=config.init,
        dropout=config.dropout,
        batchnorm=config.batchnorm,
        seed=config.seed,
        dtype=np.dtype(config.dtype),
    )


def train_mlp(
    data: Dataset,
    config: TrainConfig | None = None,
    *,
    on_backward: Callable[[int, Sequential], None] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train an MLP ``features → hidden… → classes`` on ``data`` and evaluate it on the test split.

    ``on_backward(step, model)`` is called after each backward pass, before clipping and the
    update (the gradient-health tool records per-layer norms there).
    """
    config = config or TrainConfig()
    if config.epochs < 1 or config.batch_size < 1:
        raise UserError("epochs and batch size must be at least 1")
    sizes = [data.features, *config.hidden, data.classes]
    try:
        model = build_model(sizes, config)
        dtype = np.dtype(config.dtype)
        optimizer = make_optimizer(
            config.optimizer, model.parameters(), config.lr,
            weight_decay=config.weight_decay, momentum=config.momentum,
        )  # fmt: skip
        steps_per_epoch = math.ceil(len(data.y_train) / config.batch_size)
        schedule = Schedule(
            config.schedule, total_steps=config.epochs * steps_per_epoch,
            step_size=max(steps_per_epoch * max(config.epochs // 3, 1), 1),
            warmup_steps=config.warmup_steps,
        )  # fmt: skip
    except ValueError as exc:
        raise UserError(str(exc)) from None
    scheduler = Scheduler(optimizer, schedule)
    weights = [m.weight for m in model.linears()]
    rng = np.random.default_rng(config.seed)
    x_train = data.x_train.astype(dtype)
    history: list[dict[str, float]] = []
    best = (-1.0, 0, [p.data.copy() for p in model.parameters()])
    step, stopped_early, start = 0, False, time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(len(data.y_train))
        total, seen = 0.0, 0
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            if config.batchnorm and len(idx) < 2:
                continue
            loss = cross_entropy(model(Tensor(x_train[idx])), data.y_train[idx])
            if config.l1:
                loss = loss + l1_penalty(weights) * config.l1
            if config.l2:
                loss = loss + l2_penalty(weights) * config.l2
            value = loss.item()
            if not math.isfinite(value):
                raise UserError(
                    f"the loss became non-finite ({value}) at epoch {epoch}, step {step + 1}: "
                    "lower --lr or set --clip"
                )
            model.zero_grad()
            loss.backward()
            if on_backward is not None:
                on_backward(step, model)
            if config.clip:
                clip_grad_norm(model.parameters(), config.clip)
            optimizer.step()
            scheduler.step()
            step += 1
            total += value * len(idx)
            seen += len(idx)
        val_acc = accuracy(model, data.x_val, data.y_val)
        row = {"epoch": epoch, "train_loss": total / max(seen, 1), "val_accuracy": val_acc,
               "lr": optimizer.lr}  # fmt: skip
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if val_acc > best[0]:
            best = (val_acc, epoch, [p.data.copy() for p in model.parameters()])
        if config.patience and epoch - best[1] >= config.patience:
            stopped_early = True
            break
    seconds = time.perf_counter() - start
    if config.patience:  # early stopping restores the best validation epoch
        for p, saved in zip(model.parameters(), best[2], strict=True):
            p.data = saved
    return TrainResult(
        test_accuracy=accuracy(model, data.x_test, data.y_test),
        train_accuracy=accuracy(model, data.x_train, data.y_train),
        val_accuracy=accuracy(model, data.x_val, data.y_val),
        train_loss=history[-1]["train_loss"],
        epochs=len(history),
        steps=step,
        seconds=seconds,
        best_epoch=best[1],
        stopped_early=stopped_early,
        history=history,
        model=model,
    )


def save_weights(model: Sequential, path) -> None:
    """The trained weights as an ``.npz`` (``0.weight``, ``0.bias``, …), written atomically."""
    from llmpath_core.io import atomic_write

    arrays = {}
    for i, m in enumerate(model):
        if isinstance(m, Linear):
            arrays[f"{i}.weight"], arrays[f"{i}.bias"] = m.weight.data, m.bias.data
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)


__all__ = ["TrainConfig", "TrainResult", "accuracy", "build_model", "save_weights", "train_mlp"]
