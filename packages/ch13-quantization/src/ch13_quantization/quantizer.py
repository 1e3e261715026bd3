"""Uniform integer quantization: scales, zero points, granularity, calibration and error metrics.

A ``b``-bit uniform quantizer maps a real ``x`` to an integer code and back:

    asymmetric:  q = clamp(round(x / s) + z, 0, 2^b - 1),          x̂ = (q - z) · s
                 s = (max - min) / (2^b - 1),  z = round(-min / s)
    symmetric:   q = clamp(round(x / s), -2^(b-1), 2^(b-1) - 1),   x̂ = q · s
                 s = absmax / (2^(b-1) - 1/2)    (torch's symmetric observers: all 2^b levels)

One ``(s, z)`` pair can serve the whole tensor (per-tensor), each output row of a weight matrix
(per-channel) or each run of ``group_size`` consecutive input columns of a row (per-group, the
layout GPTQ/AWQ checkpoints use). Symmetric codes are stored shifted by ``2^(b-1)`` so every code
is an unsigned ``b``-bit number.

Calibration picks the range ``[min, max]`` the scale is built from: the observed min/max, a
percentile of ``|x|`` (clips rare outliers) or the clipping ratio that minimises the MSE of the
round trip (a grid search, as in AWQ's and llama.cpp's clip search). Error is reported as MSE and
SQNR = 10·log10(E[x²] / E[(x - x̂)²]) dB (about 6 dB per bit for a uniform signal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from llmpath_core import UserError

SUPPORTED_BITS = (2, 3, 4, 5, 6, 7, 8)
CALIBRATIONS = ("minmax", "percentile", "mse")
FP16_TINY = 6.104e-05  # smallest normal fp16: a scale below it would lose precision when stored
FP16_MAX = 65504.0


@dataclass(frozen=True)
class QuantSpec:
    """How to quantize a weight matrix ``[out_features, in_features]``.

    ``group_size``: ``0`` per-tensor, ``-1`` per-channel (one scale per output row), ``g > 0``
    one scale per ``g`` consecutive input columns of each row.
    """

    bits: int = 4
    group_size: int = -1
    symmetric: bool = False

    def __post_init__(self) -> None:
        if self.bits not in SUPPORTED_BITS:
            raise UserError(
                f"unsupported bits {self.bits}: choose one of {', '.join(map(str, SUPPORTED_BITS))}"
            )
        if self.group_size < -1:
            raise UserError(f"group size {self.group_size} is invalid: use >0, -1 or 0")

    @property
    def scale_dtype(self) -> torch.dtype:
        """fp16 per group (as GPTQ/AWQ checkpoints), fp32 per channel/tensor (few, so free)."""
        return torch.float16 if self.group_size > 0 else torch.float32

    @property
    def qmax(self) -> int:
        return 2**self.bits - 1

    def n_groups(self, in_features: int) -> int:
        if self.group_size > 0:
            return in_features // self.group_size
        return 1

    def check(self, name: str, in_features: int) -> None:
        """Raise a clear error if the group size does not divide the layer's input size."""
        if self.group_size > 0 and in_features % self.group_size:
            raise UserError(
                f"group size {self.group_size} does not divide {name}'s in_features "
                f"{in_features}: pick a divisor (e.g. "
                f"{', '.join(str(g) for g in divisors(in_features) if 8 <= g <= 256)}) "
                "or -1 for per-channel"
            )


def divisors(n: int) -> list[int]:
    return [d for d in range(n, 0, -1) if n % d == 0]


def _grouped(w: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    """View ``w`` as ``[rows, groups, columns-per-group]`` for the spec's granularity."""
    w = w.float()
    if spec.group_size == 0:
        return w.reshape(1, 1, -1)
    if spec.group_size == -1:
        return w.reshape(w.shape[0], 1, -1)
    return w.reshape(w.shape[0], -1, spec.group_size)


def scale_zero_from_range(
    lo: torch.Tensor, hi: torch.Tensor, spec: QuantSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and (float) zero point that map ``[lo, hi]`` onto the spec's integer grid."""
    lo = torch.minimum(lo, torch.zeros_like(lo))  # the grid always holds 0 exactly
    hi = torch.maximum(hi, torch.zeros_like(hi))
    if spec.symmetric:
        amax = torch.maximum(-lo, hi)
        scale = amax / (2 ** (spec.bits - 1) - 0.5)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        zero = torch.full_like(scale, 2 ** (spec.bits - 1))
    else:
        scale = (hi - lo) / spec.qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    if spec.scale_dtype == torch.float16:  # use the value that will be stored
        scale = scale.clamp(min=FP16_TINY, max=FP16_MAX).half().float()
    if not spec.symmetric:
        zero = torch.round(-lo / scale).clamp(0, spec.qmax)
    return scale, zero


def quantize_codes(
    w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, spec: QuantSpec
) -> torch.Tensor:
    """Integer codes (uint8, ``0..2^b-1``) of ``w`` given ``[rows, groups]`` scales and zeros."""
    g = _grouped(w, spec)
    # multiply by the reciprocal, as fbgemm and ggml do (x / s can round the other way at ties)
    q = torch.round(g * (1.0 / scale[..., None])) + zero[..., None]
    return q.clamp(0, spec.qmax).to(torch.uint8).reshape(w.shape)


def dequantize_codes(
    q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, spec: QuantSpec
) -> torch.Tensor:
    """Real values of integer codes: ``(q - z) · s`` per group."""
    g = _grouped(q.float(), spec)
    return ((g - zero[..., None]) * scale[..., None]).reshape(q.shape)


def calibrate_range(
    x: torch.Tensor,
    spec: QuantSpec,
    method: str = "minmax",
    *,
    percentile: float = 99.9,
    grid: int = 40,
    min_ratio: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lo, hi)`` per group of ``x`` chosen by min-max, percentile or MSE-optimal clipping."""
    if method not in CALIBRATIONS:
        raise UserError(f"unknown calibration {method!r}: choose one of {', '.join(CALIBRATIONS)}")
    g = _grouped(x, spec)
    lo, hi = g.amin(-1), g.amax(-1)
    if method == "percentile":
        q = percentile / 100
        lo = torch.quantile(g, 1 - q, dim=-1) if g.shape[-1] > 1 else lo
        hi = torch.quantile(g, q, dim=-1) if g.shape[-1] > 1 else hi
    elif method == "mse":
        best_err = torch.full_like(lo, math.inf)
        best_lo, best_hi = lo.clone(), hi.clone()
        for i in range(grid + 1):
            ratio = 1 - (1 - min_ratio) * i / grid
            s, z = scale_zero_from_range(lo * ratio, hi * ratio, spec)
            deq = (torch.round(g / s[..., None]) + z[..., None]).clamp(0, spec.qmax)
            err = ((deq - z[..., None]) * s[..., None] - g).pow(2).sum(-1)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best_lo = torch.where(better, lo * ratio, best_lo)
            best_hi = torch.where(better, hi * ratio, best_hi)
        lo, hi = best_lo, best_hi
    return lo, hi


def quantize_weight(
    w: torch.Tensor, spec: QuantSpec, calibration: str = "minmax"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Round-to-nearest: ``(codes, scale, zero)`` for ``w`` under ``spec``."""
    lo, hi = calibrate_range(w, spec, calibration)
    scale, zero = scale_zero_from_range(lo, hi, spec)
    return quantize_codes(w, scale, zero, spec), scale, zero


def fake_quantize(w: torch.Tensor, spec: QuantSpec, calibration: str = "minmax") -> torch.Tensor:
    """``w`` rounded onto its quantization grid and mapped back to floats."""
    q, scale, zero = quantize_weight(w, spec, calibration)
    return dequantize_codes(q, scale, zero, spec).to(w.dtype)


def mse(x: torch.Tensor, y: torch.Tensor) -> float:
    return float((x.double() - y.double()).pow(2).mean())


def sqnr_db(x: torch.Tensor, y: torch.Tensor) -> float:
    """Signal-to-quantization-noise ratio of ``y`` as an approximation of ``x``, in dB."""
    noise = (x.double() - y.double()).pow(2).mean()
    signal = x.double().pow(2).mean()
    if noise == 0:
        return math.inf
    return float(10 * torch.log10(signal / noise))


__all__ = [
    "CALIBRATIONS",
    "SUPPORTED_BITS",
    "QuantSpec",
    "calibrate_range",
    "dequantize_codes",
    "fake_quantize",
    "mse",
    "quantize_codes",
    "quantize_weight",
    "scale_zero_from_range",
    "sqnr_db",
]
