"""MixedPrecision: fp16 scales the loss for backward, unscales before clipping; fp32 is a no-op."""

from __future__ import annotations

import pytest
import torch

from ch07_pretraining.precision import MixedPrecision


def _step(precision: str) -> tuple[float, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    amp = MixedPrecision(precision, torch.device("cpu"))
    x = torch.randn(16, 8)
    with amp.autocast():
        out = model(x)
    loss = out.float().pow(2).mean()
    amp.backward(loss)
    grad_seen = model.weight.grad.clone()  # what backward left: scaled under fp16
    norm = amp.clip_and_step(optimizer, model.parameters(), max_norm=1e9)
    return norm, grad_seen, model.weight.detach().clone()


def test_fp16_scales_the_loss_then_steps_on_true_gradients():
    norm32, grad32, weight32 = _step("fp32")
    norm16, grad16, weight16 = _step("fp16")
    scale = MixedPrecision("fp16", torch.device("cpu")).scaler.get_scale()
    assert scale == 2.0**16  # GradScaler's initial scale
    # backward saw the loss times the scale; the clip and the step see the true gradients
    assert torch.allclose(grad16 / scale, grad32, rtol=1e-2, atol=1e-4)
    assert norm16 == pytest.approx(norm32, rel=1e-2)
    assert torch.allclose(weight16, weight32, rtol=1e-2, atol=1e-3)


def test_fp32_is_untouched_and_bad_precision_is_refused():
    amp = MixedPrecision("fp32", torch.device("cpu"))
    assert amp.state_dict() is None and not amp.scaler.is_enabled()
    with amp.autocast():
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    with MixedPrecision("bf16", torch.device("cpu")).autocast():
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        MixedPrecision("fp8", torch.device("cpu"))
