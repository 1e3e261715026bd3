"""Error analysis: how hard is each layer to quantize, and why (distributions and outliers).

For every target layer: the weight's spread and heaviness of tails (absmax/std, kurtosis; a
Gaussian has kurtosis 3), its input activations' per-channel maxima (outlier channels are those
above 6 — LLM.int8()'s threshold — or 10x the median channel), and the SQNR of the weight and of
the layer's output under a quantization spec with each calibration method (min-max, percentile,
MSE-optimal). :func:`plot_distributions` draws the weight and activation histograms and the
per-channel activation maxima of the layer with the strongest outliers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ch13_quantization.awq import capture_inputs
from ch13_quantization.model_io import DEFAULT_SKIP, find_linears
from ch13_quantization.quantizer import (
    CALIBRATIONS,
    QuantSpec,
    calibrate_range,
    dequantize_codes,
    quantize_codes,
    scale_zero_from_range,
    sqnr_db,
)


def kurtosis(x: torch.Tensor) -> float:
    x = x.double().flatten()
    z = (x - x.mean()) / x.std()
    return float(z.pow(4).mean())


@torch.no_grad()
def analyze_model(
    model: nn.Module,
    tokens: torch.Tensor,
    spec: QuantSpec,
    *,
    skip: Sequence[str] = DEFAULT_SKIP,
    max_rows: int = 2048,
) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    """Per-layer rows (stats and SQNR per calibration) and the sampled input activations."""
    linears = find_linears(model, skip)
    inputs, _groups = capture_inputs(model, tokens, list(linears), max_rows=max_rows)
    rows = []
    for name, layer in linears.items():
        w = layer.weight.detach().float()
        x = inputs[name]
        channel_max = x.abs().amax(0)
        median = channel_max.median().clamp(min=1e-8)
        row: dict[str, Any] = {
            "layer": name,
            "w_std": float(w.std()),
            "w_absmax/std": float(w.abs().max() / w.std()),
            "w_kurtosis": kurtosis(w),
            "x_absmax": float(channel_max.max()),
            "x_max/median_ch": float(channel_max.max() / median),
            "x_outlier_ch": int(((channel_max > 6) | (channel_max > 10 * median)).sum()),
        }
        ref = x @ w.T
        for method in CALIBRATIONS:
            lo, hi = calibrate_range(w, spec, method)
            scale, zero = scale_zero_from_range(lo, hi, spec)
            wq = dequantize_codes(quantize_codes(w, scale, zero, spec), scale, zero, spec)
            row[f"w_sqnr_{method}"] = sqnr_db(w, wq)
            row[f"out_sqnr_{method}"] = sqnr_db(ref, x @ wq.T)
        rows.append(row)
    return rows, inputs


def plot_distributions(
    model: nn.Module,
    inputs: dict[str, torch.Tensor],
    path: str | os.PathLike,
    *,
    skip: Sequence[str] = DEFAULT_SKIP,
) -> Path:
    """A PNG: weight histogram, activation histogram, per-channel max |x| of the worst layer."""
    from matplotlib.figure import Figure

    from llmpath_core.report import save_figure

    linears = find_linears(model, skip)
    weights = torch.cat([m.weight.detach().float().flatten() for m in linears.values()])
    acts = torch.cat([x.flatten() for x in inputs.values()])
    worst = max(
        inputs,
        key=lambda n: float(
            inputs[n].abs().amax(0).max() / inputs[n].abs().amax(0).median().clamp(min=1e-8)
        ),
    )
    fig = Figure(figsize=(13, 3.8), dpi=110)
    axes = fig.subplots(1, 3)
    axes[0].hist(weights.numpy(), bins=200, color="tab:blue")
    axes[0].set_yscale("log")
    axes[0].set_title(f"weights of {len(linears)} layers (kurtosis {kurtosis(weights):.1f})")
    axes[1].hist(acts.numpy(), bins=200, color="tab:orange")
    axes[1].set_yscale("log")
    axes[1].set_title(f"layer inputs (kurtosis {kurtosis(acts):.1f})")
    channel_max = inputs[worst].abs().amax(0)
    axes[2].bar(range(len(channel_max)), channel_max.numpy(), width=1.0, color="tab:red")
    axes[2].axhline(float(channel_max.median()), color="k", lw=0.8, ls="--", label="median")
    axes[2].set_title(f"max |x| per input channel: {worst}", fontsize=8)
    axes[2].legend()
    for ax in axes[:2]:
        ax.set_xlabel("value")
    axes[2].set_xlabel("channel")
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = ["analyze_model", "kurtosis", "plot_distributions"]
