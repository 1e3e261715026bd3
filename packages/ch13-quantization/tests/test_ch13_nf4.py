"""NF4 + double quantization held to bitsandbytes.functional.quantize_4bit on CPU: exact.

Every tensor of the quantized state is compared with ``torch.equal`` (no tolerance): the packed
4-bit codes, the first-level fp32 absmax (without double quantization), the 8-bit absmax codes,
the offset, the second-level absmax and code book, and the dequantized weights, which are
computed by the same fp32 products in both libraries (``code[i] * absmax2 + offset``, then
``nf4[j] * absmax``) and so agree bit for bit.

One caveat is bitsandbytes', not ours: its AVX-512 ``dequantize_4bit`` kernel indexes the absmax
per row (``row * (cols // blocksize) + col // blocksize``), which is wrong when a row is not a
whole number of blocks (e.g. 160 columns, blocksize 64) and the row length is a multiple of 16.
For those shapes we compare with bitsandbytes' dequantization of the same state read as one flat
row (the layout is flat), which its kernel indexes correctly; the test checks that this is the
only case where the two readings differ.
"""

from __future__ import annotations

import copy

import bitsandbytes.functional as bnbF
import pytest
import torch

from ch13_quantization.formats import NF4_CODE, nf4_code_from_normal
from ch13_quantization.nf4 import (
    NESTED_BLOCKSIZE,
    NF4Linear,
    blockwise_absmax_quantize,
    dynamic_code,
    nf4_quantize,
)


def _weight(shape, kind: str, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=gen) * 0.05
    if kind == "outlier":
        w.view(-1)[7 * 64 + 3] = 0.9  # one block's absmax far above the others
    elif kind == "heavy":
        w = w**3 * 400  # heavy tails: absmax spread over two decades
    elif kind == "equal":
        w = torch.sign(w) * 0.02  # every block has the same absmax: absmax - offset ~ 0
    return w


# (shape, blocksize, kind): absmax counts 4096 (16 full nested blocks of 256), 12288 (48),
# 2344 (a short first-level block and a short nested block), 7680 (30, blocksize 32), 1024 (4,
# blocksize 256), 240 (one short nested block; 160 columns = 2.5 blocks per row), 31 (odd
# element count), 1200 (all absmax equal).
CASES = [
    ((512, 512), 64, "gauss"),
    ((1024, 768), 64, "outlier"),
    ((300, 1000), 128, "heavy"),
    ((640, 384), 32, "gauss"),
    ((256, 1024), 256, "heavy"),
    ((96, 160), 64, "outlier"),
    ((37, 53), 64, "gauss"),
    ((300, 256), 64, "equal"),
]


def _bnb_dequantize_flat(packed, state) -> torch.Tensor:
    flat = copy.copy(state)
    flat.shape = torch.Size([state.shape.numel()])
    return bnbF.dequantize_4bit(packed, flat).reshape(state.shape)


def test_nf4_code_is_bitsandbytes_and_derives_from_normal_quantiles():
    assert torch.equal(torch.tensor(NF4_CODE), bnbF.get_4bit_type("nf4", device="cpu"))
    assert torch.allclose(nf4_code_from_normal(), torch.tensor(NF4_CODE), atol=2e-7)
    assert torch.equal(dynamic_code(), bnbF.create_dynamic_map(signed=True))


@pytest.mark.parametrize(("shape", "blocksize", "kind"), CASES)
def test_nf4_double_quant_is_bitsandbytes_exactly(shape, blocksize, kind):
    w = _weight(shape, kind)
    ours = nf4_quantize(w, blocksize=blocksize, double_quant=True)
    packed, state = bnbF.quantize_4bit(
        w, blocksize=blocksize, compress_statistics=True, quant_type="nf4"
    )
    assert state.nested and state.state2.blocksize == NESTED_BLOCKSIZE
    assert torch.equal(ours.packed, packed)  # every 4-bit code, in the same byte order
    assert torch.equal(ours.offset, state.offset)  # mean of the fp32 absmax
    assert torch.equal(ours.absmax, state.absmax)  # every 8-bit absmax code
    assert torch.equal(ours.absmax2, state.state2.absmax)  # second-level absmax
    assert torch.equal(dynamic_code(), state.state2.code)
    # the fp32 absmax rebuilt from the codes, and the weights, bit for bit
    rebuilt = bnbF.dequantize_blockwise(state.absmax, state.state2) + state.offset
    assert torch.equal(ours.block_absmax(), rebuilt)
    flat_ref = _bnb_dequantize_flat(packed, state)
    assert torch.equal(ours.dequantize(), flat_ref)
    shaped_ref = bnbF.dequantize_4bit(packed, state)
    rows_are_whole_blocks = shape[-1] % blocksize == 0
    if rows_are_whole_blocks:
        assert torch.equal(ours.dequantize(), shaped_ref)
    elif not torch.equal(shaped_ref, flat_ref):
        # bitsandbytes' AVX-512 kernel (row length a multiple of 16) reads the wrong absmax
        assert shape[-1] % 16 == 0


@pytest.mark.parametrize(("shape", "blocksize", "kind"), CASES[:3] + CASES[6:7])
def test_nf4_without_double_quant_is_bitsandbytes_exactly(shape, blocksize, kind):
    w = _weight(shape, kind, seed=1)
    ours = nf4_quantize(w, blocksize=blocksize, double_quant=False)
    packed, state = bnbF.quantize_4bit(
        w, blocksize=blocksize, compress_statistics=False, quant_type="nf4"
    )
    assert torch.equal(ours.packed, packed)
    assert torch.equal(ours.absmax, state.absmax)
    assert torch.equal(ours.dequantize(), _bnb_dequantize_flat(packed, state))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_nf4_half_precision_input_is_bitsandbytes_exactly(dtype):
    w = _weight((256, 512), "outlier").to(dtype)
    ours = nf4_quantize(w)
    packed, state = bnbF.quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4")
    assert torch.equal(ours.packed, packed)
    assert torch.equal(ours.absmax, state.absmax)
    assert torch.equal(ours.absmax2, state.state2.absmax)
    assert torch.equal(ours.offset, state.offset)


def test_nearest_level_rounding_of_the_absmax_is_not_what_bitsandbytes_does():
    """The cause of the old mismatch: bitsandbytes' CPU kernel snaps x / absmax to a grid of 65 536
    points before looking up the code level, so it does not always pick the nearest level.
    Rounding exactly to the nearest level (as ``blockwise_absmax_quantize`` does) disagrees with it
    on some absmax codes, which this test keeps visible."""
    w = _weight((1024, 768), "gauss")
    _, state = bnbF.quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4")
    ours = nf4_quantize(w)
    _, fp32_absmax = blockwise_absmax_quantize(w, torch.tensor(NF4_CODE), 64)
    nearest, _ = blockwise_absmax_quantize(
        fp32_absmax - fp32_absmax.mean(), dynamic_code(), NESTED_BLOCKSIZE
    )
    assert torch.equal(ours.absmax, state.absmax)
    assert (nearest != state.absmax).sum() >= 1


def test_nf4_linear_is_4_point_1_bits_per_weight():
    torch.manual_seed(0)
    layer = torch.nn.Linear(256, 128, bias=False)
    q = NF4Linear.from_linear(layer)
    stored = sum(t.numel() * t.element_size() for t in q.state_dict().values())
    bits = 8 * stored / layer.weight.numel()
    assert 4.1 < bits < 4.2
    x = torch.randn(4, 256)
    ref = torch.nn.functional.linear(x, q.dequantized_weight())
    assert torch.allclose(q(x), ref)
    # NF4 keeps the layer's output: relative error ~10% at 4 bits for Gaussian weights
    rel = (q(x) - layer(x)).norm() / layer(x).norm()
    assert rel < 0.15
