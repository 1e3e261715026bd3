"""NF4 with double quantization, in the bitsandbytes layout (QLoRA, Dettmers et al. 2023).

The weight is flattened and cut into blocks of ``blocksize`` (64) values. Each block is divided by
its absmax and every value is rounded to the nearest of the 16 NF4 levels (normal quantiles, see
:mod:`ch13_quantization.formats`); two 4-bit indices share a byte, the first in the high nibble.

Double quantization then compresses the fp32 absmax of each block: subtract their mean
(``offset``), and quantize the result block-wise (256 absmax values per block) to 8 bits on
bitsandbytes' signed "dynamic" code (:func:`dynamic_code`: a sign, a run of zero bits coding a
decimal exponent, then a linear fraction). Storage goes from 4 + 32/64 = 4.5 to about
4 + 8/64 + 32/(64·256) ≈ 4.127 bits per weight.

The 8-bit step rounds the way bitsandbytes' CPU kernel does (``quantize_cpu_impl`` in its
``csrc/cpu_ops.cpp``), not to the nearest level: the kernel first snaps ``x / absmax`` to the
nearest of 65 536 evenly spaced points on [-1, 1] and then looks that point's nearest code level
up in a table (:func:`quantize_blockwise_lut`). Near zero the dynamic code's levels are closer
together than the grid's step (2/65535 ≈ 3.05e-5), so the level bitsandbytes picks can be a few
levels away from the nearest one. Rounding exactly to the nearest level instead changes 1 to 2.5
absmax codes in 1000 (by up to 2 levels) and dequantized weights by up to 1.2% on Gaussian
weights (``benchmarks/bench_nf4_parity.py``). With the grid every
tensor equals what ``bitsandbytes.functional.quantize_4bit(w, blocksize, compress_statistics=True,
quant_type="nf4")`` produces on CPU (bitsandbytes 0.50), and the dequantized weights equal its
``dequantize_4bit`` bit for bit (``tests/test_ch13_nf4.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ch13_quantization.formats import NF4_CODE

NESTED_BLOCKSIZE = 256


def nf4_code() -> torch.Tensor:
    return torch.tensor(NF4_CODE, dtype=torch.float32)


def dynamic_code(max_exponent_bits: int = 7, total_bits: int = 8) -> torch.Tensor:
    """bitsandbytes' signed dynamic 8-bit code (``create_dynamic_map(signed=True)``), sorted."""
    data: list[float] = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data += [0.0, 1.0]
    data += [0.0] * (256 - len(data))
    return torch.tensor(sorted(data), dtype=torch.float32)


def blockwise_absmax_quantize(
    x: torch.Tensor, code: torch.Tensor, blocksize: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into ``code`` (sorted, in [-1, 1]) of ``x / absmax`` per block, and the absmax.

    A short last block gets its own absmax. Values are rounded to the nearest level by
    bucketing on the midpoints between levels.
    """
    flat = x.reshape(-1).float()
    n = flat.numel()
    full = n - n % blocksize
    blocks = flat[:full].reshape(-1, blocksize)
    absmax = blocks.abs().max(dim=-1)[0]
    scaled = torch.clamp(blocks * (1.0 / absmax.clamp(min=1e-38).view(-1, 1)), -1, 1).reshape(-1)
    if n % blocksize:
        tail = flat[full:].abs().max().clamp(min=1e-38)
        absmax = torch.cat([absmax, tail.unsqueeze(0)])
        scaled = torch.cat([scaled, torch.clamp(flat[full:] / tail, -1, 1)])
    midpoints = (code[:-1] + code[1:]) / 2
    return torch.bucketize(scaled, midpoints, out_int32=True).to(torch.uint8), absmax


LUT_SIZE = 65536  # bitsandbytes' CPU kernel: kLUTSize in csrc/cpu_ops.cpp


def _lut_for(code: torch.Tensor) -> torch.Tensor:
    """``build_quantize_lut``: for each of 65 536 points on [-1, 1], the index of its nearest level.

    The points are ``-1 + 2 i / 65535`` in fp32; "nearest" counts the fp32 midpoints
    ``0.5 (code[j] + code[j+1])`` that lie strictly below the point (``code`` sorted).
    """
    code = code.float()
    midpoints = 0.5 * (code[:-1] + code[1:])
    grid = -1.0 + (2.0 * torch.arange(LUT_SIZE, dtype=torch.float32)) / float(LUT_SIZE - 1)
    return torch.searchsorted(midpoints, grid, side="left").to(torch.uint8)


def quantize_blockwise_lut(
    x: torch.Tensor, code: torch.Tensor, blocksize: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """8-bit block-wise quantization as bitsandbytes' CPU kernel does it (``quantize_cpu_impl``).

    Per block: ``absmax = max |x|``; ``v = clamp(x * (1 / absmax), -1, 1)`` in fp32; the grid index
    ``trunc((v + 1) * 0.5 * 65535 + 0.5)`` in fp32; the code index is the look-up table's entry
    for that grid point (:func:`_lut_for`). A block whose absmax is 0 gets index 0. A short last
    block gets its own absmax. Returns the indices (uint8) and the absmax (fp32).
    """
    flat = x.reshape(-1).float()
    n = flat.numel()
    blocks = -(-n // blocksize)
    padded = F.pad(flat, (0, blocks * blocksize - n)).view(blocks, blocksize)
    absmax = padded.abs().max(dim=-1)[0]
    inv = torch.where(absmax == 0, torch.zeros_like(absmax), 1.0 / absmax)
    v = torch.clamp(padded * inv.view(-1, 1), -1.0, 1.0)
    grid_index = ((v + 1.0) * 0.5 * float(LUT_SIZE - 1) + 0.5).to(torch.int64)  # trunc, as C
    indices = _lut_for(code)[grid_index]
    indices[absmax == 0] = 0
    return indices.reshape(-1)[:n], absmax


def blockwise_dequantize(
    indices: torch.Tensor, absmax: torch.Tensor, code: torch.Tensor, blocksize: int
) -> torch.Tensor:
    values = code[indices.reshape(-1).long()]
    n = values.numel()
    scale = absmax.repeat_interleave(blocksize)[:n]
    return values * scale


@dataclass
class NF4Weight:
    """A weight in NF4: packed 4-bit codes and the (optionally double-quantized) block absmax."""

    packed: torch.Tensor  # uint8 [ceil(n / 2), 1], two codes per byte, first in the high nibble
    shape: tuple[int, ...]
    blocksize: int
    absmax: torch.Tensor  # float32 [blocks], or uint8 [blocks] when double-quantized
    offset: torch.Tensor | None = None  # mean of the absmax (double quantization)
    absmax2: torch.Tensor | None = None  # float32 [ceil(blocks / 256)]

    @property
    def double_quant(self) -> bool:
        return self.offset is not None

    def block_absmax(self) -> torch.Tensor:
        """The fp32 absmax of every block (dequantized when double-quantized)."""
        if not self.double_quant:
            return self.absmax
        return (
            blockwise_dequantize(self.absmax, self.absmax2, dynamic_code(), NESTED_BLOCKSIZE)
            + self.offset
        )

    def codes(self) -> torch.Tensor:
        """The 4-bit NF4 indices, one per weight."""
        n = int(torch.tensor(self.shape).prod())
        p = self.packed.reshape(-1)
        return torch.stack([p >> 4, p & 0xF], dim=1).reshape(-1)[:n]

    def dequantize(self) -> torch.Tensor:
        w = blockwise_dequantize(self.codes(), self.block_absmax(), nf4_code(), self.blocksize)
        return w.reshape(self.shape)


def nf4_quantize(w: torch.Tensor, blocksize: int = 64, double_quant: bool = True) -> NF4Weight:
    """Quantize ``w`` to NF4 with block-wise absmax (and double-quantized absmax)."""
    codes, absmax = blockwise_absmax_quantize(w, nf4_code(), blocksize)
    if codes.numel() % 2:  # an odd count: the last byte's low nibble codes 0.0 (level 7)
        codes = F.pad(codes, (0, 1), value=NF4_CODE.index(0.0))
    packed = ((codes[0::2] << 4) | codes[1::2]).unsqueeze(1)
    if not double_quant:
        return NF4Weight(packed, tuple(w.shape), blocksize, absmax)
    offset = absmax.mean()
    qabsmax, absmax2 = quantize_blockwise_lut(absmax - offset, dynamic_code(), NESTED_BLOCKSIZE)
    return NF4Weight(packed, tuple(w.shape), blocksize, qabsmax, offset, absmax2)


class NF4Linear(nn.Module):
    """A linear layer whose weight is stored as :class:`NF4Weight` (dequantized per forward)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        blocksize: int = 64,
        double_quant: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.blocksize, self.double_quant = blocksize, double_quant
        n = in_features * out_features
        blocks = -(-n // blocksize)
        self.register_buffer("qweight", torch.zeros((n + 1) // 2, 1, dtype=torch.uint8))
        if double_quant:
            self.register_buffer("absmax", torch.zeros(blocks, dtype=torch.uint8))
            self.register_buffer("offset", torch.zeros(()))
            self.register_buffer("absmax2", torch.zeros(-(-blocks // NESTED_BLOCKSIZE)))
        else:
            self.register_buffer("absmax", torch.zeros(blocks))
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None

    @classmethod
    def from_linear(
        cls, layer: nn.Linear, blocksize: int = 64, double_quant: bool = True
    ) -> NF4Linear:
        q = nf4_quantize(layer.weight.detach().float(), blocksize, double_quant)
        new = cls(
            layer.in_features,
            layer.out_features,
            blocksize=blocksize,
            double_quant=double_quant,
            bias=layer.bias is not None,
        )
        new.qweight.copy_(q.packed)
        new.absmax.copy_(q.absmax)
        if double_quant:
            new.offset.copy_(q.offset)
            new.absmax2.copy_(q.absmax2)
        if layer.bias is not None:
            new.bias.data.copy_(layer.bias.detach().float())
        return new

    def weight_state(self) -> NF4Weight:
        return NF4Weight(
            self.qweight,
            (self.out_features, self.in_features),
            self.blocksize,
            self.absmax,
            self.offset if self.double_quant else None,
            self.absmax2 if self.double_quant else None,
        )

    def dequantized_weight(self) -> torch.Tensor:
        return self.weight_state().dequantize()

    effective_weight = dequantized_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias.float() if self.bias is not None else None
        return F.linear(x.float(), self.dequantized_weight(), bias).to(x.dtype)

    def config(self) -> dict[str, Any]:
        return {
            "kind": "nf4",
            "blocksize": self.blocksize,
            "double_quant": self.double_quant,
            "bias": self.bias is not None,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], in_features: int, out_features: int):
        return cls(
            in_features,
            out_features,
            blocksize=config["blocksize"],
            double_quant=config["double_quant"],
            bias=config["bias"],
        )

    def extra_repr(self) -> str:
        return (
            f"in={self.in_features}, out={self.out_features}, nf4, block={self.blocksize}, "
            f"double_quant={self.double_quant}"
        )


__all__ = [
    "NF4Linear",
    "NF4Weight",
    "blockwise_absmax_quantize",
    "blockwise_dequantize",
    "dynamic_code",
    "nf4_code",
    "nf4_quantize",
    "quantize_blockwise_lut",
]
