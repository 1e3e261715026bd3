"""Rotary position embeddings (RoPE, Su et al., 2021), laid out as in transformers' Llama.

Each pair of channels ``(i, i + d/2)`` of a query or key at position ``p`` is rotated by the angle
``p · θ_i`` with ``θ_i = base^(-2i/d)``. The dot product of a rotated query and key then depends
only on their distance. transformers uses the "rotate half" layout (not interleaved pairs), and so
do we, so that checkpoints load without permuting weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


def inverse_frequencies(head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """``θ_i = base^(-2i/d)`` for ``i < d/2`` (float32), the same expression as transformers."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    return 1.0 / (base**exponents)


@dataclass
class RopeScaling:
    """Context-extension variants of transformers' ``rope_parameters``.

    ``linear`` (position interpolation, Chen et al., 2023) divides every frequency by ``factor``.
    ``llama3`` divides only the low frequencies (wavelength above ``original / low_freq_factor``),
    keeps the high ones, and interpolates smoothly in between.
    """

    rope_type: str = "linear"
    factor: float = 1.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192


def scaled_inverse_frequencies(
    head_dim: int, base: float = 10000.0, scaling: RopeScaling | None = None
) -> torch.Tensor:
    """:func:`inverse_frequencies`, then the ``linear`` or ``llama3`` rescaling."""
    inv_freq = inverse_frequencies(head_dim, base)
    if scaling is None:
        return inv_freq
    if scaling.rope_type == "linear":
        return inv_freq / scaling.factor
    if scaling.rope_type != "llama3":
        raise ValueError(f"unknown RoPE scaling {scaling.rope_type!r}")
    old = scaling.original_max_position_embeddings
    low_freq_wavelen = old / scaling.low_freq_factor
    high_freq_wavelen = old / scaling.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / scaling.factor, inv_freq)
    smooth = (old / wavelen - scaling.low_freq_factor) / (
        scaling.high_freq_factor - scaling.low_freq_factor
    )
    smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_cos_sin(
    positions: torch.Tensor,
    head_dim: int,
    base: float = 10000.0,
    scaling: RopeScaling | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables ``(len(positions), head_dim)`` for integer ``positions``."""
    inv_freq = scaled_inverse_frequencies(head_dim, base, scaling).to(positions.device)
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the last dimension's two halves."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` ``(b, h, t, d)`` by the angles whose cos/sin are ``(t, d)``."""
    return (x * cos + rotate_half(x) * sin).to(x.dtype)


class RotaryEmbedding(nn.Module):
    """Precomputed cos/sin tables for positions ``0 .. max_positions - 1``."""

    def __init__(
        self,
        head_dim: int,
        max_positions: int,
        base: float = 10000.0,
        scaling: RopeScaling | None = None,
    ) -> None:
        super().__init__()
        self.head_dim, self.base = head_dim, base
        cos, sin = rope_cos_sin(torch.arange(max_positions), head_dim, base, scaling)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin for positions ``start .. start + length - 1``."""
        if start + length > self.cos.shape[0]:
            raise ValueError(
                f"position {start + length - 1} is past the context of {self.cos.shape[0]} tokens"
            )
        return self.cos[start : start + length], self.sin[start : start + length]


__all__ = [
    "RopeScaling",
    "RotaryEmbedding",
    "apply_rotary",
    "inverse_frequencies",
    "rope_cos_sin",
    "rotate_half",
    "scaled_inverse_frequencies",
]
