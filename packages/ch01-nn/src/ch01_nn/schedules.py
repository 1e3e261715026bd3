"""Learning-rate schedules as closed-form functions of the step, plus a scheduler object.

- step decay: ``lr·γ^⌊t/s⌋`` (torch's ``StepLR``);
- cosine annealing: ``η_min + (lr − η_min)(1 + cos(πt/T))/2`` (``CosineAnnealingLR``,
  Loshchilov & Hutter, 2017), held at ``η_min`` after ``T``;
- linear warm-up from ``start_factor·lr`` to ``lr`` over ``w`` steps (``LinearLR``), optionally
  followed by cosine annealing over the remaining steps (``SequentialLR([LinearLR, Cosine])``,
  the schedule most transformer recipes use).

:class:`Scheduler` sets ``optimizer.lr`` from the closed form; call :meth:`Scheduler.step` after
each ``optimizer.step()`` as with torch. The tests check the learning rates and the parameters
against ``torch.optim.lr_scheduler``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ch01_nn.optim import Optimizer

SCHEDULES = ("none", "step", "cosine", "warmup", "warmup-cosine")


@dataclass(frozen=True)
class Schedule:
    """Which schedule and its settings; :meth:`factor` is the multiplier of the base rate."""

    kind: str = "none"
    total_steps: int = 1000
    step_size: int = 100
    gamma: float = 0.5
    warmup_steps: int = 0
    start_factor: float = 0.1
    min_factor: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}: use one of {', '.join(SCHEDULES)}")
        if self.kind.startswith("warmup") and self.warmup_steps < 1:
            raise ValueError("a warm-up schedule needs warmup_steps >= 1")

    def factor(self, t: int) -> float:
        """lr(t) / lr(0) for step ``t`` (0-based: the factor used by the (t+1)-th update)."""
        if self.kind == "none":
            return 1.0
        if self.kind == "step":
            return self.gamma ** (t // self.step_size)
        if self.kind == "cosine":
            return _cosine(t, self.total_steps, self.min_factor)
        w = self.warmup_steps
        if t < w:
            return self.start_factor + (1 - self.start_factor) * t / w
        if self.kind == "warmup":
            return 1.0
        return _cosine(t - w, max(self.total_steps - w, 1), self.min_factor)


def _cosine(t: int, total: int, min_factor: float) -> float:
    t = min(t, total)
    return min_factor + (1 - min_factor) * (1 + math.cos(math.pi * t / total)) / 2


class Scheduler:
    """Drives ``optimizer.lr`` by a :class:`Schedule` relative to the optimizer's initial rate."""

    def __init__(self, optimizer: Optimizer, schedule: Schedule) -> None:
        self.optimizer, self.schedule, self.t = optimizer, schedule, 0
        optimizer.lr = optimizer.initial_lr * schedule.factor(0)

    def step(self) -> None:
        self.t += 1
        self.optimizer.lr = self.optimizer.initial_lr * self.schedule.factor(self.t)


__all__ = ["SCHEDULES", "Schedule", "Scheduler"]
