"""SmoothQuant (Xiao et al., 2023): move activation outliers into the weights for W8A8.

Per-tensor int8 activations fail when a few channels are 10-100x larger than the rest: the scale
is set by the outliers and the ordinary channels round to a handful of levels. SmoothQuant divides
input channel ``j`` by

    s_j = max|X_j|^α / max|W_:,j|^(1-α)

and multiplies the weight column by it (the float layer is unchanged). ``α`` trades activation
difficulty for weight difficulty: 0 leaves activations alone, 1 flattens them completely into
the weights. :func:`alpha_sweep` tries several α on calibration data and reports the loss of each.

After smoothing, channel ``j``'s activation range is ``max|X_j| / s_j = max|X_j|^(1-α) ·
max|W_:,j|^(1-α)`` and its weight range ``max|W_:,j| · s_j = max|X_j|^α · max|W_:,j|^α``: at
α = 0.5 the two are equal in every channel. :func:`smooth_model` applies the scales without
quantizing (:class:`SmoothedLinear`), so the reparametrisation itself can be checked.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ch13_quantization.awq import capture_inputs
from ch13_quantization.model_io import DEFAULT_SKIP, find_linears, set_module
from ch13_quantization.rtn import w8a8_quantize


@torch.no_grad()
def smoothing_scales(
    model: nn.Module, tokens: torch.Tensor, alpha: float = 0.5, skip: Sequence[str] = DEFAULT_SKIP
) -> dict[str, torch.Tensor]:
    """``{layer: s}`` for every target layer; layers sharing an input share ``s``."""
    names = list(find_linears(model, skip))
    inputs, groups = capture_inputs(model, tokens, names, max_rows=10**9)
    scales = {}
    for group in groups:
        x_max = inputs[group[0]].abs().amax(0).clamp(min=1e-5)
        w_max = torch.stack(
            [model.get_submodule(n).weight.detach().abs().amax(0) for n in group]
        ).amax(0)
        s = (x_max.pow(alpha) / w_max.clamp(min=1e-5).pow(1 - alpha)).clamp(min=1e-5)
        for name in group:
            scales[name] = s
    return scales


class SmoothedLinear(nn.Module):
    """A float linear layer after smoothing: ``y = (x / s) (W·diag(s))ᵀ + b``, equal to ``W x + b``.

    The same computation as a smoothed :class:`~ch13_quantization.qlinear.QuantLinear`, without
    the rounding: the input is divided by ``s`` and the stored weight is ``W·diag(s)``.
    """

    def __init__(self, layer: nn.Linear, s: torch.Tensor) -> None:
        super().__init__()
        self.in_features, self.out_features = layer.in_features, layer.out_features
        w = layer.weight.detach().float()
        self.weight = nn.Parameter(w * s[None, :].float(), requires_grad=False)
        self.smooth = nn.Parameter(s.detach().float().clone(), requires_grad=False)
        self.bias = (
            nn.Parameter(layer.bias.detach().float().clone(), requires_grad=False)
            if layer.bias is not None
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.float() / self.smooth, self.weight, self.bias).to(x.dtype)


@torch.no_grad()
def smooth_model(model: nn.Module, scales: dict[str, torch.Tensor]) -> nn.Module:
    """Replace every layer in ``scales`` by its :class:`SmoothedLinear` (in place, no rounding)."""
    for name, s in scales.items():
        set_module(model, name, SmoothedLinear(model.get_submodule(name), s))
    return model


@torch.no_grad()
def smoothquant_quantize(
    model: nn.Module,
    tokens: torch.Tensor,
    alpha: float = 0.5,
    *,
    skip: Sequence[str] = DEFAULT_SKIP,
) -> nn.Module:
    """Smooth with ``alpha``, then static W8A8 (in place)."""
    smooth = smoothing_scales(model, tokens, alpha, skip)
    return w8a8_quantize(model, tokens, smooth=smooth, skip=skip)


@torch.no_grad()
def calibration_loss(model: nn.Module, tokens: torch.Tensor, batch_size: int = 8) -> float:
    """Mean next-token cross-entropy of ``model`` on ``tokens`` (nats)."""
    total, count = 0.0, 0
    for start in range(0, len(tokens), batch_size):
        batch = tokens[start : start + batch_size]
        total += float(model(input_ids=batch, labels=batch).loss) * batch.numel()
        count += batch.numel()
    return total / count


def alpha_sweep(
    model: nn.Module,
    tokens: torch.Tensor,
    alphas: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9),
    *,
    skip: Sequence[str] = DEFAULT_SKIP,
) -> list[dict[str, float]]:
    """W8A8 loss for each α (α = 0 is plain static W8A8), on half of the calibration windows.

    The scales are calibrated on the other half, so the loss is not measured on the data the
    activation ranges came from.
    """
    half = max(1, len(tokens) // 2)
    fit, held = tokens[:half], tokens[half:] if len(tokens) > 1 else tokens
    rows = []
    for alpha in alphas:
        q = smoothquant_quantize(copy.deepcopy(model), fit, alpha, skip=skip)
        rows.append({"alpha": float(alpha), "loss": calibration_loss(q, held)})
    return rows


__all__ = [
    "SmoothedLinear",
    "alpha_sweep",
    "calibration_loss",
    "smooth_model",
    "smoothing_scales",
    "smoothquant_quantize",
]
