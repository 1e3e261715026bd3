"""GPTQ (Frantar et al., 2023): quantize a layer's weight while compensating the error.

For a linear layer with calibration inputs ``X`` (rows = tokens), GPTQ minimises
``‖X Wᵀ - X Ŵᵀ‖²`` column by column. The loss is a quadratic with Hessian ``H = 2 XᵀX`` (the
same for every output row), so after rounding column ``j`` to ``q_j`` the optimal update of the
columns not yet quantized is (Optimal Brain Quantization)

    δ = -(w_j - q_j) / [H⁻¹]_jj · [H⁻¹]_j,:

The paper's three engineering steps, all here:

* **Cholesky**: the rows of ``H⁻¹`` needed in order are those of the upper Cholesky factor of
  ``H⁻¹`` (after dampening ``H += λ·mean(diag H)·I``), so one factorisation replaces the
  sequential rank-one downdates and is numerically stable.
* **Lazy batch updates**: columns are processed in blocks of ``block_size``; inside a block the
  update touches only the block, and the accumulated error is applied to the rest of the matrix
  once per block (a matmul instead of many rank-one updates).
* **Groups and activation order**: with ``group_size`` the scale/zero of a group are fixed when
  its first column is reached (the weights already carry earlier updates). ``act_order`` visits
  columns by decreasing ``diag(H)`` (the inputs with the most energy first); groups are then taken
  from the original contiguous columns before the pass ("static groups"), so the checkpoint layout
  stays that of RTN.

:func:`gptq_quantize` applies it block by block to a whole model: the Hessians of a transformer
block's layers come from calibration activations that already flow through the quantized
earlier blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ch13_quantization.model_io import (
    DEFAULT_SKIP,
    decoder_blocks,
    find_linears,
    run_batches,
    set_module,
)
from ch13_quantization.qlinear import QuantLinear
from ch13_quantization.quantizer import (
    QuantSpec,
    calibrate_range,
    quantize_codes,
    scale_zero_from_range,
)
from ch13_quantization.rtn import check_layers
from llmpath_core import track


@dataclass
class GPTQResult:
    codes: torch.Tensor  # uint8 [out, in]
    scale: torch.Tensor  # [out, groups]
    zero: torch.Tensor
    dequantized: torch.Tensor  # float [out, in]
    loss: float  # sum over rows of the OBQ error terms (w - q)² / [H⁻¹]_jj / 2


def _group_params(w: torch.Tensor, spec: QuantSpec) -> tuple[torch.Tensor, torch.Tensor]:
    lo, hi = calibrate_range(w, spec)
    return scale_zero_from_range(lo, hi, spec)


def _quantize_column(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, qmax: int):
    q = torch.clamp(torch.round(w * (1.0 / scale)) + zero, 0, qmax)
    return (q - zero) * scale


def gptq_quantize_weight(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    spec: QuantSpec,
    *,
    block_size: int = 128,
    percdamp: float = 0.01,
    act_order: bool = False,
) -> GPTQResult:
    """Quantize ``weight`` [out, in] given the input Hessian [in, in] (``2 XᵀX / n``)."""
    W = weight.detach().clone().float()
    H = hessian.detach().clone().float()
    rows, cols = W.shape
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0

    g = spec.group_size if spec.group_size > 0 else cols
    perm = torch.argsort(torch.diag(H), descending=True) if act_order else torch.arange(cols)
    if act_order or spec.group_size <= 0:
        # static groups (or one group per row): parameters from the weights before any update
        scale, zero = _group_params(W, spec)
        if spec.group_size == 0:
            scale, zero = scale.expand(rows, 1), zero.expand(rows, 1)
    else:
        scale = torch.zeros(rows, cols // g)
        zero = torch.zeros(rows, cols // g)
    W, H = W[:, perm], H[perm][:, perm]

    damp = percdamp * torch.mean(torch.diag(H))
    H += damp * torch.eye(cols)
    L = torch.linalg.cholesky(H)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(L), upper=True)

    if spec.group_size > 0:  # blocks hold whole groups, so a group's columns are all in W1
        block_size = max(g, block_size // g * g)
    Q = torch.zeros_like(W)
    losses = torch.zeros(rows)
    group_of = (perm // g) if spec.group_size > 0 else torch.zeros(cols, dtype=torch.long)
    per_row = spec.group_size != 0
    for i1 in range(0, cols, block_size):
        i2 = min(i1 + block_size, cols)
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = i1 + i
            w = W1[:, i]
            d = Hinv1[i, i]
            if spec.group_size > 0 and not act_order and col % g == 0:
                # dynamic groups: parameters from the current (already updated) weights
                s, z = _group_params(W1[:, i : i + g], spec)
                scale[:, col // g], zero[:, col // g] = s[:, 0], z[:, 0]
            grp = int(group_of[col])
            s = scale[:, grp] if per_row else scale[0, 0].expand(rows)
            z = zero[:, grp] if per_row else zero[0, 0].expand(rows)
            q = _quantize_column(w, s, z, spec.qmax)
            Q1[:, i] = q
            losses += (w - q) ** 2 / d**2 / 2
            err = (w - q) / d
            W1[:, i:] -= err.unsqueeze(1) @ Hinv1[i, i:].unsqueeze(0)
            Err1[:, i] = err
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]

    inverse = torch.argsort(perm)
    Q = Q[:, inverse]
    if not per_row:
        scale, zero = scale[:1, :1].contiguous(), zero[:1, :1].contiguous()
    codes = quantize_codes(Q, scale, zero, spec)
    return GPTQResult(codes, scale, zero, Q, float(losses.sum()))


class HessianHook:
    """Accumulates ``H = 2/n Σ x xᵀ`` over every token that enters a linear layer."""

    def __init__(self, in_features: int) -> None:
        self.H = torch.zeros(in_features, in_features, dtype=torch.float64)
        self.n = 0

    def __call__(self, _module, inputs, _output) -> None:
        x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()
        count = x.shape[0]
        self.H *= self.n / (self.n + count)
        self.n += count
        x = (2 / self.n) ** 0.5 * x
        self.H += x.T @ x


@torch.no_grad()
def collect_hessians(
    model: nn.Module, tokens: torch.Tensor, names: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Input Hessians of the named linear layers over the calibration ``tokens``."""
    hooks = {n: HessianHook(model.get_submodule(n).in_features) for n in names}
    handles = [model.get_submodule(n).register_forward_hook(h) for n, h in hooks.items()]
    try:
        run_batches(model, tokens)
    finally:
        for h in handles:
            h.remove()
    return {n: h.H.float() for n, h in hooks.items()}


@torch.no_grad()
def gptq_quantize(
    model: nn.Module,
    tokens: torch.Tensor,
    bits: int = 4,
    group_size: int = 16,
    *,
    symmetric: bool = False,
    act_order: bool = True,
    block_size: int = 128,
    percdamp: float = 0.01,
    skip: Sequence[str] = DEFAULT_SKIP,
) -> nn.Module:
    """GPTQ every target ``nn.Linear`` of ``model``, one transformer block at a time (in place)."""
    spec = QuantSpec(bits, group_size, symmetric)
    linears = find_linears(model, skip)
    check_layers(linears, spec)
    for names in track(decoder_blocks(model, linears), description="GPTQ blocks"):
        hessians = collect_hessians(model, tokens, names)
        for name in names:
            layer = model.get_submodule(name)
            result = gptq_quantize_weight(
                layer.weight,
                hessians[name],
                spec,
                block_size=block_size,
                percdamp=percdamp,
                act_order=act_order,
            )
            new = QuantLinear.from_codes(
                result.codes, result.scale, result.zero, spec, bias=layer.bias
            )
            set_module(model, name, new)
    return model


__all__ = ["GPTQResult", "HessianHook", "collect_hessians", "gptq_quantize", "gptq_quantize_weight"]
