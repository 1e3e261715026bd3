"""Quantization-aware training: fine-tune through fake quantization (straight-through estimator).

During QAT every target linear layer computes with its weight rounded onto the low-bit grid,
``Ŵ = fake_quantize(W)``, so the loss sees the quantization error. Rounding has zero gradient
almost everywhere; the straight-through estimator (Bengio et al., 2013) treats it as the identity
in the backward pass, ``∂L/∂W := ∂L/∂Ŵ``, written ``W + (Ŵ - W).detach()``. The full-precision
weights keep learning and drift to places where their rounded values work well.

The objective is distillation from the original model (as in LLM-QAT, Liu et al., 2023): the
KL divergence from the float teacher's next-token distribution, so QAT recovers what
quantization broke instead of learning something new. After training the layers become ordinary
:class:`~ch13_quantization.qlinear.QuantLinear` modules with the same grid.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ch13_quantization.model_io import DEFAULT_SKIP, find_linears, set_module
from ch13_quantization.quantizer import QuantSpec, fake_quantize
from ch13_quantization.rtn import check_layers, rtn_linear
from llmpath_core import track


def ste_fake_quantize(w: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    """Forward: the rounded weight. Backward: the identity (straight-through)."""
    return w + (fake_quantize(w.detach(), spec) - w).detach()


class FakeQuantLinear(nn.Module):
    """A trainable linear layer that computes with its weight fake-quantized."""

    def __init__(self, layer: nn.Linear, spec: QuantSpec) -> None:
        super().__init__()
        self.spec = spec
        self.weight = nn.Parameter(layer.weight.detach().clone().float())
        self.bias = (
            nn.Parameter(layer.bias.detach().clone().float()) if layer.bias is not None else None
        )
        self.in_features, self.out_features = layer.in_features, layer.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, ste_fake_quantize(self.weight, self.spec), self.bias)


def qat_quantize(
    model: nn.Module,
    tokens: torch.Tensor,
    bits: int = 4,
    group_size: int = 16,
    *,
    symmetric: bool = False,
    steps: int = 60,
    lr: float = 3e-4,
    batch_size: int = 8,
    seed: int = 0,
    skip: Sequence[str] = DEFAULT_SKIP,
) -> nn.Module:
    """Distil ``model`` into its fake-quantized self for ``steps`` AdamW steps, then pack it.

    Only the target layers' weights (and biases) train; embeddings and norms stay frozen, so the
    result differs from post-training quantization only in where the weights were rounded from.
    """
    spec = QuantSpec(bits, group_size, symmetric)
    linears = find_linears(model, skip)
    check_layers(linears, spec)
    teacher = copy.deepcopy(model).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    fake = {}
    for name, layer in linears.items():
        fake[name] = FakeQuantLinear(layer, spec)
        set_module(model, name, fake[name])
    params = [p for layer in fake.values() for p in layer.parameters()]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for step in track(range(steps), total=steps, description="QAT"):
        batch = tokens[torch.randint(0, len(tokens), (batch_size,), generator=generator)]
        with torch.no_grad():
            target = F.log_softmax(teacher(input_ids=batch, use_cache=False).logits.float(), -1)
        logits = model(input_ids=batch, use_cache=False).logits.float()
        loss = F.kl_div(F.log_softmax(logits, -1), target, log_target=True, reduction="batchmean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        lr_now = lr * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * step / steps)))
        for group in optimizer.param_groups:
            group["lr"] = float(lr_now)
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for name, layer in fake.items():
            set_module(model, name, rtn_linear(layer, spec))
    return model


__all__ = ["FakeQuantLinear", "qat_quantize", "ste_fake_quantize"]
