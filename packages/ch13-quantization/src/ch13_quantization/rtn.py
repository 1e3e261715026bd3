"""Post-training quantization without error compensation: RTN weight-only, int8 dynamic and W8A8.

* **RTN** (round-to-nearest) rounds every weight group onto its own grid independently. It is the
  baseline every smarter method is measured against: fine at 8 bits, lossy at 4, often broken at 3.
* **int8 dynamic** keeps weights as per-channel symmetric int8 and quantizes each activation
  tensor on the fly from its own min/max (the scheme of
  ``torch.ao.quantization.quantize_dynamic``, which a test matches).
* **int8 static (W8A8)** fixes one activation scale per layer ahead of time from calibration data,
  so the matmul is int8 × int8 with no runtime statistics; outliers in the activations make this
  the hard case that SmoothQuant fixes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ch13_quantization.model_io import DEFAULT_SKIP, find_linears, run_batches, set_module
from ch13_quantization.qlinear import QuantLinear
from ch13_quantization.quantizer import QuantSpec, quantize_weight

INT8_CHANNEL = QuantSpec(bits=8, group_size=-1, symmetric=True)


def check_layers(linears: dict[str, nn.Linear], spec: QuantSpec) -> None:
    """Fail before touching the model if the group size does not fit some layer."""
    for name, layer in linears.items():
        spec.check(name, layer.in_features)


def rtn_linear(
    layer: nn.Linear,
    spec: QuantSpec,
    *,
    calibration: str = "minmax",
    smooth: torch.Tensor | None = None,
    act: str | None = None,
    act_scale: float | None = None,
) -> QuantLinear:
    """Round one layer's weight (times ``diag(smooth)`` if given) into a :class:`QuantLinear`."""
    w = layer.weight.detach().float()
    if smooth is not None:
        w = w * smooth[None, :]
    codes, scale, zero = quantize_weight(w, spec, calibration)
    return QuantLinear.from_codes(
        codes,
        scale,
        zero,
        spec,
        bias=layer.bias,
        smooth=smooth,
        act=act,
        act_scale=act_scale,
    )


@torch.no_grad()
def rtn_quantize(
    model: nn.Module,
    bits: int = 4,
    group_size: int = 16,
    *,
    symmetric: bool = False,
    calibration: str = "minmax",
    skip: Sequence[str] = DEFAULT_SKIP,
) -> nn.Module:
    """Weight-only round-to-nearest of every target ``nn.Linear`` (in place; returns ``model``)."""
    spec = QuantSpec(bits, group_size, symmetric)
    linears = find_linears(model, skip)
    check_layers(linears, spec)
    for name, layer in linears.items():
        set_module(model, name, rtn_linear(layer, spec, calibration=calibration))
    return model


@torch.no_grad()
def int8_dynamic_quantize(model: nn.Module, *, skip: Sequence[str] = DEFAULT_SKIP) -> nn.Module:
    """Per-channel int8 weights, activations quantized per tensor at run time (fbgemm's scheme)."""
    for name, layer in find_linears(model, skip).items():
        set_module(model, name, rtn_linear(layer, INT8_CHANNEL, act="dynamic"))
    return model


@torch.no_grad()
def activation_stats(
    model: nn.Module, tokens: torch.Tensor, names: Sequence[str], *, percentile: float | None = None
) -> dict[str, dict[str, torch.Tensor]]:
    """Per target layer: the per-channel max |x| of its input and its per-tensor clip value.

    The clip value is the max |x| (``percentile=None``) or that percentile of |x| over all
    calibration tokens.
    """
    stats: dict[str, dict[str, torch.Tensor]] = {}
    samples: dict[str, list[torch.Tensor]] = {n: [] for n in names}

    def hook(name):
        def fn(_module, inputs, _output):
            x = inputs[0].detach().float().reshape(-1, inputs[0].shape[-1])
            amax = x.abs().amax(0)
            entry = stats.setdefault(name, {"channel_max": amax, "abs_sum": torch.zeros_like(amax)})
            entry["channel_max"] = torch.maximum(entry["channel_max"], amax)
            entry["abs_sum"] = entry["abs_sum"] + x.abs().sum(0)
            entry["rows"] = entry.get("rows", 0) + x.shape[0]
            if percentile is not None:
                step = max(1, x.numel() // 20_000)
                samples[name].append(x.abs().flatten()[::step])

        return fn

    handles = [model.get_submodule(n).register_forward_hook(hook(n)) for n in names]
    try:
        run_batches(model, tokens)
    finally:
        for h in handles:
            h.remove()
    for name, entry in stats.items():
        entry["channel_mean"] = entry.pop("abs_sum") / entry.pop("rows")
        if percentile is not None:
            entry["clip"] = torch.quantile(torch.cat(samples[name]), percentile / 100)
        else:
            entry["clip"] = entry["channel_max"].max()
    return stats


@torch.no_grad()
def w8a8_quantize(
    model: nn.Module,
    tokens: torch.Tensor,
    *,
    smooth: dict[str, torch.Tensor] | None = None,
    percentile: float | None = None,
    skip: Sequence[str] = DEFAULT_SKIP,
) -> nn.Module:
    """Static W8A8: int8 per-channel weights and one calibrated int8 scale per input tensor.

    ``smooth`` (from SmoothQuant) divides each layer's input channels before the activation is
    quantized; a smoothed layer's scale comes from the max of ``|x| / s`` (``percentile`` applies
    to the others).
    """
    linears = find_linears(model, skip)
    smooth = smooth or {}
    stats = activation_stats(model, tokens, list(linears), percentile=percentile)
    for name, layer in linears.items():
        s = smooth.get(name)
        # with smoothing, the range of x / s (exact from the per-channel maxima)
        clip = (stats[name]["channel_max"] / s).max() if s is not None else stats[name]["clip"]
        act_scale = float(clip.clamp(min=1e-8)) / 127
        set_module(
            model,
            name,
            rtn_linear(layer, INT8_CHANNEL, smooth=s, act="static", act_scale=act_scale),
        )
    return model


__all__ = [
    "INT8_CHANNEL",
    "activation_stats",
    "check_layers",
    "int8_dynamic_quantize",
    "rtn_linear",
    "rtn_quantize",
    "w8a8_quantize",
]
