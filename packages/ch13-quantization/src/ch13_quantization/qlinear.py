"""``QuantLinear``: a drop-in ``nn.Linear`` that stores packed integer weights and fp16 scales.

The weight lives as ``b``-bit codes packed into bytes (``b·n/8`` bytes for ``n`` weights: 2 codes
per byte at 4 bits, 8 codes in 3 bytes at 3 bits), one scale (fp16 per group, fp32 per channel)
and one packed zero point per group. The forward pass unpacks and dequantizes the weight, then
runs a float matmul: what the fused kernels of AutoGPTQ/AWQ/llama.cpp do in registers, done here
in plain PyTorch so it runs on any CPU and is easy to read (it is slower than fp32; the speed of
real int8 kernels is measured in ``benchmarks/``).

Optional parts, used by the W8A8 methods and AWQ:

* ``smooth``: a per-input-channel scale ``s``; the stored weight is ``W·diag(s)`` and the input is
  divided by ``s`` (AWQ's and SmoothQuant's equivalent transformation, kept explicit instead of
  folded into the previous norm so it works for any architecture).
* ``act``: how activations are quantized to 8 bits before the matmul: ``"static"`` (one symmetric
  scale per tensor, calibrated), ``"per-token"`` (dynamic, symmetric, one scale per row) or
  ``"dynamic"`` (per tensor, asymmetric, 7-bit range: the fbgemm scheme of
  ``torch.ao.quantization.quantize_dynamic``). The integer matmul is simulated in float32, which
  is exact for int8 codes while ``in_features·127² < 2²⁴``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ch13_quantization.quantizer import QuantSpec, dequantize_codes

ACT_MODES = (None, "static", "per-token", "dynamic")


def pack_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack unsigned ``bits``-bit codes into a flat uint8 tensor, most significant bit first.

    At 4 bits the first code of each pair sits in the high nibble (bitsandbytes' order).
    """
    flat = codes.reshape(-1).to(torch.uint8)
    if bits == 8:
        return flat.clone()
    if bits == 4:
        if flat.numel() % 2:
            flat = torch.cat([flat, flat.new_zeros(1)])
        return (flat[0::2] << 4) | flat[1::2]
    shifts = torch.arange(bits - 1, -1, -1, dtype=torch.int32)
    stream = ((flat.to(torch.int32)[:, None] >> shifts) & 1).reshape(-1)
    stream = F.pad(stream, (0, (-stream.numel()) % 8)).reshape(-1, 8)
    weights = 1 << torch.arange(7, -1, -1, dtype=torch.int32)
    return (stream * weights).sum(1).to(torch.uint8)


def unpack_bits(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: the first ``count`` codes as uint8."""
    if bits == 8:
        return packed[:count]
    if bits == 4:
        return torch.stack([packed >> 4, packed & 0xF], dim=1).reshape(-1)[:count]
    stream = ((packed.to(torch.int32)[:, None] >> torch.arange(7, -1, -1)) & 1).reshape(-1)
    stream = stream[: count * bits].reshape(count, bits)
    weights = 1 << torch.arange(bits - 1, -1, -1, dtype=torch.int32)
    return (stream * weights).sum(1).to(torch.uint8)


def quantize_activation(x: torch.Tensor, mode: str, scale: torch.Tensor | None) -> torch.Tensor:
    """Round activations onto an 8-bit grid and back (see the module docstring for the modes)."""
    x = x.float()
    if mode == "static":
        return torch.clamp(torch.round(x / scale), -127, 127) * scale
    if mode == "per-token":
        s = (x.abs().amax(-1, keepdim=True) / 127).clamp(min=1e-8)
        return torch.clamp(torch.round(x / s), -127, 127) * s
    if mode == "dynamic":
        lo, hi = torch.clamp(x.min(), max=0), torch.clamp(x.max(), min=0)
        s = ((hi - lo) / 127).clamp(min=1e-8)
        zero = torch.clamp(torch.round(-lo / s), 0, 127)
        return (torch.clamp(torch.round(x / s) + zero, 0, 127) - zero) * s
    raise ValueError(f"unknown activation mode {mode!r}")


class QuantLinear(nn.Module):
    """A linear layer with ``spec.bits``-bit packed weights (see the module docstring)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        spec: QuantSpec,
        *,
        bias: bool = False,
        act: str | None = None,
        smooth: bool = False,
    ) -> None:
        super().__init__()
        if act not in ACT_MODES:
            raise ValueError(f"act must be one of {ACT_MODES}")
        self.in_features, self.out_features, self.spec, self.act = (
            in_features,
            out_features,
            spec,
            act,
        )
        groups = spec.n_groups(in_features) if spec.group_size != 0 else 1
        rows = out_features if spec.group_size != 0 else 1
        n = in_features * out_features
        self.register_buffer("qweight", torch.zeros((n * spec.bits + 7) // 8, dtype=torch.uint8))
        self.register_buffer("scales", torch.ones(rows, groups, dtype=spec.scale_dtype))
        self.register_buffer(
            "qzeros", torch.zeros((rows * groups * spec.bits + 7) // 8, dtype=torch.uint8)
        )
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None
        self.smooth = nn.Parameter(torch.ones(in_features), requires_grad=False) if smooth else None
        self.act_scale = (
            nn.Parameter(torch.ones(()), requires_grad=False) if act == "static" else None
        )

    @classmethod
    def from_codes(
        cls,
        codes: torch.Tensor,
        scale: torch.Tensor,
        zero: torch.Tensor,
        spec: QuantSpec,
        *,
        bias: torch.Tensor | None = None,
        smooth: torch.Tensor | None = None,
        act: str | None = None,
        act_scale: float | None = None,
    ) -> QuantLinear:
        """Build the layer from integer codes ``[out, in]`` and ``[rows, groups]`` scales/zeros."""
        out_features, in_features = codes.shape
        layer = cls(
            in_features,
            out_features,
            spec,
            bias=bias is not None,
            act=act,
            smooth=smooth is not None,
        )
        layer.qweight.copy_(pack_bits(codes, spec.bits))
        layer.scales.copy_(scale.reshape(layer.scales.shape))
        layer.qzeros.copy_(pack_bits(zero.round().to(torch.uint8), spec.bits))
        if bias is not None:
            layer.bias.data.copy_(bias.detach().float())
        if smooth is not None:
            layer.smooth.data.copy_(smooth.float())
        if act == "static":
            layer.act_scale.data.fill_(float(act_scale))
        return layer

    def codes(self) -> torch.Tensor:
        n = self.in_features * self.out_features
        return unpack_bits(self.qweight, self.spec.bits, n).reshape(
            self.out_features, self.in_features
        )

    def zeros(self) -> torch.Tensor:
        return unpack_bits(self.qzeros, self.spec.bits, self.scales.numel()).reshape(
            self.scales.shape
        )

    def dequantized_weight(self) -> torch.Tensor:
        """The weight as the matmul sees it (``W·diag(s)`` when smoothed)."""
        return dequantize_codes(self.codes(), self.scales.float(), self.zeros().float(), self.spec)

    def effective_weight(self) -> torch.Tensor:
        """The weight in the original input basis: ``Ŵ·diag(1/s)``; compare it with ``W``."""
        w = self.dequantized_weight()
        return w / self.smooth[None, :] if self.smooth is not None else w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        if self.smooth is not None:
            x = x / self.smooth
        if self.act is not None:
            x = quantize_activation(x, self.act, self.act_scale)
        bias = self.bias.float() if self.bias is not None else None
        return F.linear(x, self.dequantized_weight(), bias).to(dtype)

    def config(self) -> dict[str, Any]:
        """What :func:`ch13_quantization.serialize.load_quantized` needs to rebuild the layer."""
        return {
            "kind": "int",
            "bits": self.spec.bits,
            "group_size": self.spec.group_size,
            "symmetric": self.spec.symmetric,
            "act": self.act,
            "smooth": self.smooth is not None,
            "bias": self.bias is not None,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], in_features: int, out_features: int):
        spec = QuantSpec(config["bits"], config["group_size"], config["symmetric"])
        return cls(
            in_features,
            out_features,
            spec,
            bias=config["bias"],
            act=config["act"],
            smooth=config["smooth"],
        )

    def extra_repr(self) -> str:
        return (
            f"in={self.in_features}, out={self.out_features}, bits={self.spec.bits}, "
            f"group={self.spec.group_size}, sym={self.spec.symmetric}, act={self.act}"
        )


__all__ = ["ACT_MODES", "QuantLinear", "pack_bits", "quantize_activation", "unpack_bits"]
