"""NF4 (4-bit NormalFloat) from scratch, and a frozen NF4 base layer for QLoRA on CPU.

The code book is QLoRA's: 8 positive and 7 negative quantiles of N(0, 1) (equal probability mass
between ``offset = 0.9677083`` and 0.5), plus an exact zero, scaled into [-1, 1] — built here
with ``torch.special.ndtri``, held to bitsandbytes' hard-coded table in the tests. A weight is
quantized in blocks of 64 consecutive values: each block is divided by its absolute maximum
(kept in fp32) and each value becomes the index of the nearest code, two indices per byte (the
first in the high nibble), as bitsandbytes stores them. Double quantization (8-bit absmax) is not
implemented.

``NF4Linear`` keeps only the packed codes and absmax and dequantizes the weight on every forward
(a frozen base for :class:`ch09_sft.lora.LoRALinear`): ~0.53 bytes per weight instead of 4.
"""

from __future__ import annotations

import torch
from torch import nn

OFFSET = 0.9677083
BLOCK = 64


def nf4_code_book() -> torch.Tensor:
    """The 16 NF4 values in increasing order (QLoRA's ``create_normal_map``)."""
    pos = torch.special.ndtri(torch.linspace(OFFSET, 0.5, 9, dtype=torch.float64)[:-1])
    neg = -torch.special.ndtri(torch.linspace(OFFSET, 0.5, 8, dtype=torch.float64)[:-1])
    values = torch.cat([pos, torch.zeros(1, dtype=torch.float64), neg]).sort().values
    return (values / values.max()).float()


def quantize_nf4(weight: torch.Tensor, blocksize: int = BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """``(packed uint8 codes, fp32 absmax per block)`` of ``weight`` (numel divisible by 2)."""
    flat = weight.detach().float().reshape(-1)
    if flat.numel() % 2:
        raise ValueError("NF4 packs two values per byte: the tensor needs an even size")
    n_blocks = -(-flat.numel() // blocksize)
    padded = torch.zeros(n_blocks * blocksize)
    padded[: flat.numel()] = flat
    blocks = padded.view(n_blocks, blocksize)
    absmax = blocks.abs().amax(dim=1)
    scaled = blocks / torch.where(absmax > 0, absmax, torch.ones_like(absmax)).unsqueeze(1)
    code = nf4_code_book()
    idx = (scaled.reshape(-1, 1) - code).abs().argmin(dim=1).to(torch.uint8)[: flat.numel()]
    packed = (idx[0::2] << 4) | idx[1::2]
    return packed, absmax


def dequantize_nf4(
    packed: torch.Tensor, absmax: torch.Tensor, shape: torch.Size, blocksize: int = BLOCK
) -> torch.Tensor:
    """The fp32 tensor of ``shape`` that ``packed`` + ``absmax`` encode."""
    idx = torch.stack([packed >> 4, packed & 0x0F], dim=1).reshape(-1).long()
    values = nf4_code_book()[idx]
    n = values.numel()
    scale = absmax.repeat_interleave(blocksize)[:n]
    return (values * scale).reshape(shape)


class NF4Linear(nn.Module):
    """A frozen linear layer stored in NF4, dequantized on the fly (QLoRA's base layer)."""

    def __init__(self, base: nn.Linear, blocksize: int = BLOCK):
        super().__init__()
        self.in_features, self.out_features = base.in_features, base.out_features
        self.blocksize = blocksize
        packed, absmax = quantize_nf4(base.weight, blocksize)
        self.register_buffer("packed", packed)
        self.register_buffer("absmax", absmax)
        self.bias = None if base.bias is None else nn.Parameter(base.bias.detach(), False)
        self._shape = base.weight.shape

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized weight (a fresh fp32 tensor)."""
        return dequantize_nf4(self.packed, self.absmax, self._shape, self.blocksize)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight.to(x.dtype), self.bias)

    def storage_bytes(self) -> int:
        """Bytes held: packed codes + absmax (+ bias)."""
        n = self.packed.numel() * self.packed.element_size() + self.absmax.numel() * 4
        return n + (0 if self.bias is None else self.bias.numel() * self.bias.element_size())


def quantize_lora_bases(model: nn.Module, blocksize: int = BLOCK) -> int:
    """QLoRA: replace the frozen base of every ``LoRALinear`` by an ``NF4Linear``; returns count.

    Call after :func:`ch09_sft.lora.inject_lora`. Merging then folds the adapter into the
    dequantized weight.
    """
    from ch09_sft.lora import lora_modules

    count = 0
    for layer in lora_modules(model).values():
        if isinstance(layer.base, nn.Linear):
            layer.base = NF4Linear(layer.base, blocksize)
            count += 1
    return count


__all__ = [
    "NF4Linear",
    "dequantize_nf4",
    "nf4_code_book",
    "quantize_lora_bases",
    "quantize_nf4",
]
