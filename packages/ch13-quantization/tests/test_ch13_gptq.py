"""GPTQ against RTN on a layer with a known Hessian, and its algebra."""

from __future__ import annotations

import pytest
import torch

from ch13_quantization.gptq import HessianHook, gptq_quantize_weight
from ch13_quantization.quantizer import QuantSpec, dequantize_codes, fake_quantize, quantize_weight


def _correlated_inputs(n=2048, d_in=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.eye(d_in) + 2 * torch.randn(d_in, d_in, generator=g) / d_in**0.5
    x = torch.randn(n, d_in, generator=g) @ mix
    x[:, :4] *= 8  # a few high-energy channels, as in real activations
    return x


@pytest.mark.parametrize(
    ("bits", "group", "act_order"), [(4, 16, False), (4, 16, True), (3, -1, True), (4, 0, False)]
)
def test_gptq_output_error_is_below_rtn_on_known_hessian(bits, group, act_order):
    x = _correlated_inputs()
    w = torch.randn(64, 128, generator=torch.Generator().manual_seed(1)) * 0.05
    H = 2 * x.T @ x / len(x)
    spec = QuantSpec(bits, group)
    result = gptq_quantize_weight(w, H, spec, act_order=act_order, block_size=32)
    rtn = fake_quantize(w, spec)
    err_gptq = (x @ (w - result.dequantized).T).pow(2).mean()
    err_rtn = (x @ (w - rtn).T).pow(2).mean()
    assert err_gptq < 0.5 * err_rtn  # measured 0.24-0.33 of RTN's error
    # the stored codes and scales reproduce exactly the weights GPTQ chose
    deq = dequantize_codes(result.codes, result.scale, result.zero, spec)
    assert torch.allclose(deq, result.dequantized, atol=1e-6)


def test_gptq_with_identity_hessian_is_rtn():
    """With uncorrelated, equal-energy inputs there is no error to compensate: GPTQ == RTN."""
    w = torch.randn(32, 64, generator=torch.Generator().manual_seed(2))
    spec = QuantSpec(4, 16)
    result = gptq_quantize_weight(w, torch.eye(64), spec, percdamp=0.0)
    codes, _scale, _zero = quantize_weight(w, spec)
    assert torch.equal(result.codes, codes)


def test_lazy_batch_size_does_not_change_the_result():
    x = _correlated_inputs(n=512, d_in=64)
    w = torch.randn(16, 64, generator=torch.Generator().manual_seed(3))
    H = 2 * x.T @ x / len(x)
    a = gptq_quantize_weight(w, H, QuantSpec(4, 16), block_size=16)
    b = gptq_quantize_weight(w, H, QuantSpec(4, 16), block_size=64)
    assert torch.allclose(a.dequantized, b.dequantized, atol=1e-5)


def test_hessian_hook_accumulates_2_xtx_over_n():
    layer = torch.nn.Linear(8, 4)
    hook = HessianHook(8)
    layer.register_forward_hook(hook)
    xs = [torch.randn(3, 5, 8), torch.randn(2, 7, 8)]
    for x in xs:
        layer(x)
    flat = torch.cat([x.reshape(-1, 8) for x in xs]).double()
    assert torch.allclose(hook.H, 2 * flat.T @ flat / len(flat))
