"""Normalisation layers: LayerNorm (Ba et al., 2016) and RMSNorm (Zhang & Sennrich, 2019).

LayerNorm centres and scales each vector: ``(x - mean) / sqrt(var + eps) * w + b``.
RMSNorm drops the centring and the bias: ``x / sqrt(mean(x²) + eps) * w``. Like transformers'
``LlamaRMSNorm`` we compute the statistics in float32 whatever the input dtype.
"""

from __future__ import annotations

import torch
from torch import nn


class LayerNorm(nn.Module):
    """LayerNorm over the last dimension, written out."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        mean = h.mean(dim=-1, keepdim=True)
        var = (h - mean).pow(2).mean(dim=-1, keepdim=True)
        h = (h - mean) * torch.rsqrt(var + self.eps)
        return (h * self.weight.float() + self.bias.float()).to(x.dtype)


class RMSNorm(nn.Module):
    """Root-mean-square norm over the last dimension (no centring, no bias)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


__all__ = ["LayerNorm", "RMSNorm"]
