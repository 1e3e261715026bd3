"""NF4 + double quantization held to bitsandbytes.functional.quantize_4bit on CPU (exact)."""

from __future__ import annotations

import bitsandbytes.functional as bnbF
import pytest
import torch

from ch13_quantization.formats import NF4_CODE, nf4_code_from_normal
from ch13_quantization.nf4 import NF4Linear, NF4Weight, dynamic_code, nf4_quantize


def test_nf4_code_is_bitsandbytes_and_derives_from_normal_quantiles():
    assert torch.equal(torch.tensor(NF4_CODE), bnbF.get_4bit_type("nf4", device="cpu"))
    assert torch.allclose(nf4_code_from_normal(), torch.tensor(NF4_CODE), atol=2e-7)
    assert torch.equal(dynamic_code(), bnbF.create_dynamic_map(signed=True))


@pytest.mark.parametrize(
    ("shape", "double"), [((96, 160), True), ((37, 53), True), ((64, 64), False)]
)
def test_nf4_matches_bitsandbytes(shape, double):
    """Codes, packed bytes and fp32 absmax are equal; double-quantized absmax codes agree too.

    bitsandbytes' CPU kernel for the 8-bit absmax code finds the nearest level with an approximate
    table-driven binary search (BinSearch ``Direct2``); for a value in the densest part of the
    code it can return the second-nearest level. We round exactly (midpoint bucketing, as the
    library's pure-torch kernel does), so at most a few absmax codes may differ by one level;
    with bitsandbytes' absmax codes our dequantization is bit-identical.
    """
    torch.manual_seed(0)
    w = torch.randn(shape) * 0.05
    w[3, 7] = 0.9  # an outlier: its block's absmax is far above the others
    ours = nf4_quantize(w, blocksize=64, double_quant=double)
    packed, state = bnbF.quantize_4bit(
        w, blocksize=64, compress_statistics=double, quant_type="nf4"
    )
    assert torch.equal(ours.packed, packed)  # every 4-bit code, in the same byte order
    ref = bnbF.dequantize_4bit(packed, state)
    if not double:
        assert torch.equal(ours.absmax, state.absmax)
        assert torch.equal(ours.dequantize(), ref)
        return
    assert torch.equal(ours.offset, state.offset)
    assert torch.equal(ours.absmax2, state.state2.absmax)
    diff = (ours.absmax.int() - state.absmax.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() <= 0.02
    same = NF4Weight(packed, tuple(w.shape), 64, state.absmax, state.offset, state.state2.absmax)
    assert torch.equal(same.dequantize(), ref)
    # with our own absmax codes: identical where they agree, within 0.1% elsewhere
    assert torch.allclose(ours.dequantize(), ref, rtol=1e-3, atol=0)


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
