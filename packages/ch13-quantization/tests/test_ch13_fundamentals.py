"""Number formats and uniform quantizers: grids, rounding, granularity, calibration, SQNR."""

from __future__ import annotations

import pytest
import torch

from ch13_quantization.formats import cast_to_format, get_format
from ch13_quantization.quantizer import (
    QuantSpec,
    calibrate_range,
    dequantize_codes,
    fake_quantize,
    quantize_weight,
    sqnr_db,
)


@pytest.mark.parametrize(
    ("name", "dtype"), [("fp8_e4m3", torch.float8_e4m3fn), ("fp8_e5m2", torch.float8_e5m2)]
)
def test_fp8_grid_rounding_equals_torch_cast(name, dtype):
    """Our fp8 grids (decoded from bit patterns) round exactly like torch's fp8 casts."""
    torch.manual_seed(0)
    x = (torch.randn(50_000) * torch.logspace(-7, 2, 50_000)).clamp(-440, 440)
    assert torch.equal(cast_to_format(x, name), x.to(dtype).float())
    grid = get_format(name).grid().float()
    ties = (grid[1:] + grid[:-1]) / 2  # exact midpoints: round half to even
    ties = ties[ties.abs() < 440]
    assert torch.equal(cast_to_format(ties, name), ties.to(dtype).float())
    assert len(grid) == {"fp8_e4m3": 253, "fp8_e5m2": 247}[name]  # +0/-0 merged
    assert float(grid.max()) == {"fp8_e4m3": 448.0, "fp8_e5m2": 57344.0}[name]


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("bits", [3, 4, 8])
def test_round_trip_error_is_at_most_half_a_step(bits, symmetric):
    torch.manual_seed(0)
    w = torch.randn(32, 64)
    spec = QuantSpec(bits, 16, symmetric)
    codes, scale, zero = quantize_weight(w, spec)
    assert int(codes.max()) <= 2**bits - 1
    err = (dequantize_codes(codes, scale, zero, spec) - w).abs().reshape(32, 4, 16)
    step = scale[..., None] * (1 + 1e-3)  # fp16-stored scales: a little slack
    # inside the range every value is within half a step; only the group's extremes can clip,
    # by up to one step (asymmetric: the zero point is rounded; symmetric: +absmax hits 2^(b-1)-1)
    assert bool((err <= step).all())
    assert float((err <= 0.5 * step + 1e-7).float().mean()) > 0.9
    assert float(err.mean()) == pytest.approx(float(scale.mean()) / 4, rel=0.25)


def test_granularity_and_bits_change_sqnr_as_expected():
    """Finer groups beat per-channel beat per-tensor; each bit adds ~6 dB on uniform data."""
    torch.manual_seed(0)
    w = torch.randn(64, 128) * torch.logspace(-2, 0, 64)[:, None]  # rows of very different scale
    s = {g: sqnr_db(w, fake_quantize(w, QuantSpec(4, g))) for g in (0, -1, 32)}
    assert s[32] > s[-1] > s[0] + 5
    u = torch.rand(64, 128) * 2 - 1
    per_bit = (
        sqnr_db(u, fake_quantize(u, QuantSpec(8, -1)))
        - sqnr_db(u, fake_quantize(u, QuantSpec(4, -1)))
    ) / 4
    assert 5.7 < per_bit < 6.3


def test_calibration_methods_on_outliers():
    """With a rare outlier, clipping (percentile, MSE-optimal) beats min-max at 4 bits."""
    torch.manual_seed(0)
    x = torch.randn(1, 4096)
    x[0, 0] = 40.0
    spec = QuantSpec(4, 0)
    err = {}
    for method in ("minmax", "percentile", "mse"):
        _lo, hi = calibrate_range(x, spec, method)
        err[method] = float((fake_quantize(x, spec, method) - x).pow(2).mean())
        if method == "percentile":
            assert float(hi) < 5  # the 99.9th percentile ignores the outlier
    # MSE-optimal clipping trades the outlier's error against everyone else's resolution
    assert err["mse"] < 0.6 * err["minmax"]
    assert err["percentile"] < err["minmax"]


def test_group_size_that_does_not_divide_is_a_clear_error():
    from llmpath_core import UserError

    with pytest.raises(UserError, match=r"does not divide .*432"):
        QuantSpec(4, 32).check("mlp.down_proj", 432)
    with pytest.raises(UserError, match="unsupported bits"):
        QuantSpec(9, 16)
