"""The loss scaler vs torch.amp.GradScaler, the underflow that scaling fixes, 16-bit training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ch01_nn.mixed_precision import LossScaler, train_mixed, underflow_report
from ch01_nn.train import TrainConfig, train_mlp

# True = this step's gradients overflow
PATTERN = [False] * 5 + [True] + [False] * 3 + [True, True] + [False] * 9 + [True] + [False] * 7


@pytest.mark.parametrize(
    "settings",
    [
        {"init_scale": 2.0**16, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 4},
        {"init_scale": 1024.0, "growth_factor": 3.0, "backoff_factor": 0.25, "growth_interval": 3},
    ],
)
def test_loss_scaler_matches_grad_scaler(settings):
    ours = LossScaler(**settings)
    scaler = torch.amp.GradScaler("cpu", **settings)
    p = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    for overflow in PATTERN:
        scaler.scale(torch.ones(()))  # initialises the scale tensor, as a real loss would
        grad = np.array([1.0, np.inf if overflow else -2.0, 0.5]) * ours.scale
        p.grad = torch.tensor(grad, dtype=torch.float32)
        before = p.detach().clone()
        scaler.step(opt)
        scaler.update()
        torch_skipped = bool(torch.equal(before, p.detach()))
        _, found_inf = ours.unscale([grad.astype(np.float32)])
        ours.update(found_inf)
        assert found_inf == overflow == torch_skipped
        assert ours.scale == pytest.approx(scaler.get_scale(), rel=1e-6)
    assert ours.skipped == sum(PATTERN)


def test_float16_underflow_loses_gradients_that_scaling_keeps(digits):
    model = train_mlp(digits, TrainConfig(epochs=8)).model
    report = underflow_report(model, digits.x_train, digits.y_train)  # 1257 examples, 1 batch
    assert report["lost_float16"] > 0.001  # measured 0.29 %: entries flushed to zero
    assert report["lost_float16+scaling"] <= report["lost_float16"] / 20
    assert report["lost_bfloat16"] <= report["lost_float16"] / 20  # float32's exponent range
    assert report["median_rel_error_float16+scaling"] < report["median_rel_error_float16"]


def test_scaler_backs_off_on_overflow_in_training(digits):
    small = digits.subset(256)
    # a huge initial scale overflows float16: the scaler must back off and skip those steps
    hot = train_mixed(small, "float16", epochs=2, init_scale=2.0**30)
    assert hot.skipped_steps >= 3 and hot.final_scale < 2.0**30
    assert hot.final_scale == 2.0 ** (30 - hot.skipped_steps)


def test_half_precision_training_matches_float32_and_halves_memory(digits):
    ref = train_mixed(digits, "float32", epochs=5)
    fp16 = train_mixed(digits, "float16", epochs=5)
    bf16 = train_mixed(digits, "bfloat16", epochs=5)
    for run in (fp16, bf16):
        assert abs(run.test_accuracy - ref.test_accuracy) <= 0.02
        assert run.bytes_weights_activations / ref.bytes_weights_activations < 0.56
