"""Optimizers and gradient clipping, written out with torch.optim's exact update rules.

Each optimizer updates the ``.data`` of a list of :class:`~ch01_nn.autodiff.Tensor` in place from
their ``.grad``, keeps its state per parameter, and reads its learning rate from ``self.lr`` (which
a schedule from :mod:`ch01_nn.schedules` sets). The formulas follow the pseudo-code in the torch
documentation, and the tests check parameters after many steps against ``torch.optim`` (≤ 1e-7):

- SGD with momentum (heavy ball) and Nesterov momentum (Sutskever et al., 2013);
- RMSprop (Hinton's lecture 6e), optionally centred and with momentum;
- Adam (Kingma & Ba, 2015) with bias correction;
- AdamW (Loshchilov & Hutter, 2019): weight decay applied to the weights, not mixed into the
  gradient, so it is not rescaled by Adam's per-parameter step sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ch01_nn.autodiff import Tensor

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


class Optimizer:
    """The common part: the parameter list, the learning rate, per-parameter state."""

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0) -> None:
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError("the optimizer got no parameters")
        if np.any(np.asarray(lr) < 0):
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        # an array of rates (broadcasting against the parameter) runs a sweep in one go
        self.lr = lr if isinstance(lr, np.ndarray) else float(lr)
        self.initial_lr = self.lr
        self.weight_decay = float(weight_decay)
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        self.steps += 1
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is not None:
                p.data = self.update(p.data, p.grad.astype(p.data.dtype), state)

    def update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class SGD(Optimizer):
    """``w ← w − lr·v`` with ``v = μv + (1−τ)g`` (momentum), or ``g + μv`` if Nesterov."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 0.01,
        momentum: float = 0.0,
        *,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and no dampening")
        self.momentum, self.dampening, self.nesterov = momentum, dampening, nesterov

    def update(self, w, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum:
            if "v" not in state:
                state["v"] = g.copy()
            else:
                state["v"] = self.momentum * state["v"] + (1 - self.dampening) * g
            g = g + self.momentum * state["v"] if self.nesterov else state["v"]
        return w - self.lr * g


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients (per parameter)."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        *,
        momentum: float = 0.0,
        centered: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps, self.momentum, self.centered = alpha, eps, momentum, centered

    def update(self, w, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * w
        a = self.alpha
        state["sq"] = a * state.get("sq", np.zeros_like(w)) + (1 - a) * g * g
        if self.centered:
            state["mean"] = a * state.get("mean", np.zeros_like(w)) + (1 - a) * g
            avg = np.sqrt(state["sq"] - state["mean"] ** 2) + self.eps
        else:
            avg = np.sqrt(state["sq"]) + self.eps
        if self.momentum:
            state["buf"] = self.momentum * state.get("buf", np.zeros_like(w)) + g / avg
            return w - self.lr * state["buf"]
        return w - self.lr * g / avg


class Adam(Optimizer):
    """Bias-corrected first and second moment estimates: ``w ← w − lr·m̂ / (√v̂ + ε)``.

    ``weight_decay`` here is L2 added to the gradient (torch's Adam); see :class:`AdamW`.
    """

    decoupled = False

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        *,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.betas, self.eps = betas, eps

    def update(self, w, g, state):
        b1, b2 = self.betas
        if self.decoupled:
            w = w * (1 - self.lr * self.weight_decay)
        elif self.weight_decay:
            g = g + self.weight_decay * w
        t = state["t"] = state.get("t", 0) + 1
        state["m"] = b1 * state.get("m", np.zeros_like(w)) + (1 - b1) * g
        state["v"] = b2 * state.get("v", np.zeros_like(w)) + (1 - b2) * g * g
        step_size = self.lr / (1 - b1**t)
        denom = np.sqrt(state["v"]) / np.sqrt(1 - b2**t) + self.eps
        return w - step_size * state["m"] / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w ← w·(1 − lr·λ)`` before the Adam step."""

    decoupled = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        *,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay=weight_decay)


# rates that train the digits MLP well in 30 epochs (torch's own Adam default is 1e-3)
DEFAULT_LR = {
    "sgd": 0.1,
    "momentum": 0.05,
    "nesterov": 0.05,
    "rmsprop": 1e-3,
    "adam": 3e-3,
    "adamw": 3e-3,
}


def make_optimizer(
    name: str,
    params: Iterable[Tensor],
    lr: float | None = None,
    *,
    weight_decay: float | None = None,
    momentum: float = 0.9,
) -> Optimizer:
    """The named optimizer (see :data:`OPTIMIZERS`); ``lr=None`` takes :data:`DEFAULT_LR`.

    ``momentum`` applies to "momentum" and "nesterov"; ``weight_decay=None`` keeps each
    optimizer's own default (0, or 0.01 for AdamW).
    """
    lr = DEFAULT_LR[name] if lr is None and name in DEFAULT_LR else lr
    wd = {} if weight_decay is None else {"weight_decay": weight_decay}
    if name == "sgd":
        return SGD(params, lr, **wd)
    if name == "momentum":
        return SGD(params, lr, momentum, **wd)
    if name == "nesterov":
        return SGD(params, lr, momentum, nesterov=True, **wd)
    if name == "rmsprop":
        return RMSprop(params, lr, **wd)
    if name == "adam":
        return Adam(params, lr, **wd)
    if name == "adamw":
        return AdamW(params, lr, **wd)
    raise ValueError(f"unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")


def clip_grad_norm(params: Sequence[Tensor], max_norm: float, eps: float = 1e-6) -> float:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (as ``torch.nn.utils.clip_grad_norm_``, same ``eps``).
    """
    grads = [p.grad for p in params if p.grad is not None]
    total = float(np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)))
    coef = min(max_norm / (total + eps), 1.0)
    if coef < 1.0:
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * np.asarray(coef, dtype=p.grad.dtype)
    return total


def clip_grad_value(params: Sequence[Tensor], clip_value: float) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` (clip_grad_value_)."""
    for p in params:
        if p.grad is not None:
            p.grad = np.clip(p.grad, -clip_value, clip_value)


__all__ = [
    "DEFAULT_LR",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm",
    "clip_grad_value",
    "make_optimizer",
]
