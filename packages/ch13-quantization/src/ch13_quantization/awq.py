"""AWQ (Lin et al., 2024): activation-aware per-channel scaling before weight quantization.

A few input channels carry much larger activations than the rest; the weights that multiply
them matter most. Scaling such a weight column up by ``s_j`` (and the input down by ``s_j``) leaves
the float layer unchanged, ``W x = (W·diag(s)) (x / s)``, but shrinks that column's relative
rounding error. AWQ searches ``s = mean|x|^α`` (normalised so ``max·min = 1``) over a grid of
``α ∈ [0, 1)``, keeping the α with the smallest output error ``‖X Wᵀ - (X/s) Q(W·diag(s))ᵀ‖²``
measured on calibration activations. Layers fed by the same tensor (q/k/v, gate/up) share one
``s``, so the division could be folded into the preceding norm; here it stays an explicit input
scale of :class:`~ch13_quantization.qlinear.QuantLinear`, which works for any architecture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ch13_quantization.model_io import (
    DEFAULT_SKIP,
    decoder_blocks,
    find_linears,
    run_batches,
    set_module,
)
from ch13_quantization.quantizer import QuantSpec, fake_quantize
from ch13_quantization.rtn import check_layers, rtn_linear
from llmpath_core import track


@torch.no_grad()
def capture_inputs(
    model: nn.Module,
    tokens: torch.Tensor,
    names: Sequence[str],
    *,
    max_rows: int = 2048,
    seed: int = 0,
) -> tuple[dict[str, torch.Tensor], list[list[str]]]:
    """Calibration inputs of the named layers (a random sample of rows) and which share them.

    Two layers share an input when the very same tensor enters both (q/k/v, gate/up).
    """
    rows: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    first_batch: dict[str, torch.Tensor] = {}

    def hook(name):
        def fn(_module, inputs, _output):
            x = inputs[0]
            if name not in first_batch:
                first_batch[name] = x  # keep it alive so identities cannot be reused
            rows[name].append(x.detach().reshape(-1, x.shape[-1]).float())

        return fn

    handles = [model.get_submodule(n).register_forward_hook(hook(n)) for n in names]
    try:
        run_batches(model, tokens)
    finally:
        for h in handles:
            h.remove()
    groups: dict[int, list[str]] = {}
    for name in names:
        groups.setdefault(id(first_batch[name]), []).append(name)
    inputs = {}
    for name in names:
        x = torch.cat(rows[name])
        if len(x) > max_rows:  # the same seed picks the same tokens for every layer
            x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:max_rows]]
        inputs[name] = x
    return inputs, list(groups.values())


def search_scale(
    x: torch.Tensor, weights: Sequence[torch.Tensor], spec: QuantSpec, n_grid: int = 20
) -> tuple[torch.Tensor, float, float]:
    """AWQ's grid search: ``(s, best α, error ratio vs α = 0)`` for layers sharing input ``x``."""
    x_mean = x.abs().mean(0)
    reference = [x @ w.T for w in weights]
    best_err, best_s, best_alpha, base_err = float("inf"), None, 0.0, None
    for k in range(n_grid):
        alpha = k / n_grid
        s = x_mean.pow(alpha).clamp(min=1e-4)
        s = s / (s.max() * s.min()).sqrt()
        err = 0.0
        for w, ref in zip(weights, reference, strict=True):
            wq = fake_quantize(w * s[None, :], spec) / s[None, :]
            err += float((x @ wq.T - ref).pow(2).mean())
        if base_err is None:
            base_err = err
        if err < best_err:
            best_err, best_s, best_alpha = err, s, alpha
    return best_s, best_alpha, best_err / max(base_err, 1e-30)


@torch.no_grad()
def awq_quantize(
    model: nn.Module,
    tokens: torch.Tensor,
    bits: int = 4,
    group_size: int = 16,
    *,
    symmetric: bool = False,
    n_grid: int = 20,
    max_rows: int = 512,
    skip: Sequence[str] = DEFAULT_SKIP,
) -> nn.Module:
    """AWQ every target ``nn.Linear`` of ``model``, one transformer block at a time (in place).

    The search measures the output error on ``max_rows`` calibration tokens per layer.
    """
    spec = QuantSpec(bits, group_size, symmetric)
    linears = find_linears(model, skip)
    check_layers(linears, spec)
    for names in track(decoder_blocks(model, linears), description="AWQ blocks"):
        inputs, groups = capture_inputs(model, tokens, names, max_rows=max_rows)
        for group in groups:
            layers = [model.get_submodule(n) for n in group]
            weights = [layer.weight.detach().float() for layer in layers]
            s, _alpha, _ratio = search_scale(inputs[group[0]], weights, spec, n_grid)
            for name, layer in zip(group, layers, strict=True):
                set_module(model, name, rtn_linear(layer, spec, smooth=s))
    return model


__all__ = ["awq_quantize", "capture_inputs", "search_scale"]
