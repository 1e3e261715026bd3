"""DP-SGD from scratch: per-sample gradients, per-sample clipping, Gaussian noise, RDP accounting.

Abadi et al. 2016 ("Deep Learning with Differential Privacy"): each step draws a Poisson sample
of the data (rate ``q``), computes the gradient of every example separately, clips each to L2
norm ``C``, sums them, adds ``N(0, (sigma C)^2 I)`` and divides by the expected batch size
``q N``. The per-sample gradients of an ``nn.Linear`` come from its forward input ``a`` and the
gradient ``g`` of its output, both kept by hooks: ``grad_W[i] = g_i^T a_i`` (summed over any
sequence positions) and ``grad_b[i] = sum g_i`` -- the same trick as opacus' ``GradSampleModule``,
which the tests hold these to. Privacy is tracked by :mod:`ch21_security.accountant`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


class PerSampleGrads:
    """Hooks on every ``nn.Linear`` of ``model`` that leave ``param.grad_sample`` after backward.

    The loss must be a sum over examples (``reduction="sum"``), so that the output gradient of
    row ``i`` is example ``i``'s own gradient. Only ``nn.Linear`` layers may hold parameters.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._handles: list[Any] = []
        for module in model.modules():
            own = list(module.parameters(recurse=False))
            if not own:
                continue
            if not isinstance(module, nn.Linear):
                raise TypeError(f"per-sample gradients: unsupported layer {type(module).__name__}")
            self._handles.append(module.register_forward_hook(self._hook_output))

    @staticmethod
    def _hook_output(
        module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor
    ) -> None:
        a = inputs[0].detach()

        def grad_sample(g: torch.Tensor) -> None:
            # (batch, ..., in) and (batch, ..., out) -> per example: sum over the middle positions
            a3 = a.reshape(a.shape[0], -1, a.shape[-1])
            g3 = g.detach().reshape(g.shape[0], -1, g.shape[-1])
            module.weight.grad_sample = torch.einsum("bto,bti->boi", g3, a3)  # type: ignore[union-attr]
            if module.bias is not None:
                module.bias.grad_sample = g3.sum(dim=1)  # type: ignore[union-attr]

        if output.requires_grad:
            output.register_hook(grad_sample)

    def remove(self) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def per_sample_gradients(
    model: nn.Module, loss_fn: Any, x: torch.Tensor, y: torch.Tensor
) -> dict[str, torch.Tensor]:
    """``{name: (batch, *param.shape)}``: per-example gradients of ``loss_fn(model(x), y)``."""
    hooks = PerSampleGrads(model)
    try:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        return {name: p.grad_sample.clone() for name, p in model.named_parameters()}  # type: ignore[attr-defined]
    finally:
        hooks.remove()


def clip_and_noise(
    grad_samples: list[torch.Tensor],
    max_grad_norm: float,
    noise_multiplier: float,
    expected_batch_size: float,
    generator: torch.Generator | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Clip each example's full gradient to ``max_grad_norm``, sum, add noise, average.

    Returns the private gradients (one per parameter) and the per-example norms before clipping.
    """
    flat = torch.cat([g.reshape(g.shape[0], -1) for g in grad_samples], dim=1)
    norms = flat.norm(dim=1)
    scale = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
    out = []
    for g in grad_samples:
        summed = torch.einsum("b,b...->...", scale, g)
        noise = torch.randn(summed.shape, generator=generator) * (noise_multiplier * max_grad_norm)
        out.append((summed + noise) / expected_batch_size)
    return out, norms


@dataclass
class DPConfig:
    """DP-SGD settings; ``noise_multiplier=0`` with ``max_grad_norm=inf`` is plain SGD."""

    noise_multiplier: float = 1.0
    max_grad_norm: float = 1.0
    sample_rate: float = 0.1
    epochs: int = 30
    lr: float = 0.5
    delta: float = 1e-5
    private: bool = True


def train_dpsgd(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: DPConfig, seed: int = 0
) -> dict[str, Any]:
    """Train ``model`` (a classifier of ``x`` into ``y``) with DP-SGD; returns steps and epsilon.

    Poisson sampling at ``config.sample_rate``; ``steps = epochs / sample_rate``. Without
    ``config.private`` the same loop runs plain mini-batch SGD (no clipping, no noise).
    """
    from ch21_security.accountant import RDPAccountant

    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    steps = round(config.epochs / config.sample_rate)
    expected = config.sample_rate * n
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    params = [p for p in model.parameters()]
    accountant = RDPAccountant()
    hooks = PerSampleGrads(model) if config.private else None
    model.train()
    try:
        for _ in range(steps):
            mask = torch.rand(n, generator=gen) < config.sample_rate
            if not mask.any():
                if config.private:
                    accountant.step(config.noise_multiplier, config.sample_rate)
                continue
            xb, yb = x[mask], y[mask]
            model.zero_grad(set_to_none=True)
            loss_fn(model(xb), yb).backward()
            with torch.no_grad():
                if config.private:
                    grads, _ = clip_and_noise(
                        [p.grad_sample for p in params],  # type: ignore[attr-defined]
                        config.max_grad_norm,
                        config.noise_multiplier,
                        expected,
                        gen,
                    )
                    accountant.step(config.noise_multiplier, config.sample_rate)
                else:
                    grads = [p.grad / expected for p in params]  # type: ignore[operator]
                for p, g in zip(params, grads, strict=True):
                    p -= config.lr * g
    finally:
        if hooks is not None:
            hooks.remove()
    model.eval()
    eps = accountant.get_epsilon(config.delta) if config.private else float("inf")
    return {"steps": steps, "epsilon": eps}


def make_mlp(d_in: int, hidden: int, n_classes: int, seed: int = 0) -> nn.Sequential:
    """A two-layer MLP (Linear, Tanh, Linear), initialised from ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, n_classes))


def make_task(
    n: int, d: int = 20, flip: float = 0.15, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A synthetic two-class task: labels from a random linear rule, a fraction ``flip`` flipped.

    The flipped labels can only be learnt by memorising them, which is what a membership
    inference attack detects.
    """
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=torch.Generator().manual_seed(12345))
    x = torch.randn(n, d, generator=gen)
    y = (x @ w > 0).long()
    flips = torch.rand(n, generator=gen) < flip
    y[flips] = 1 - y[flips]
    return x, y


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` classified as ``y``."""
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())
