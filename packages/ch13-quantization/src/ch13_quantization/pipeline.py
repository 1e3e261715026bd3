"""One entry point for every method: check the request, calibrate, quantize, report.

``quantize_model`` validates everything before it touches the model (bits the method supports,
a group size that divides every layer, calibration text for the methods that need it), so a bad
request fails with one clear message and nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ch13_quantization.model_io import DEFAULT_SKIP, calibration_data, find_linears, set_module
from ch13_quantization.quantizer import SUPPORTED_BITS, QuantSpec
from llmpath_core import UserError

METHODS = ("rtn", "gptq", "awq", "smoothquant", "nf4", "int8-dynamic", "int8-static", "qat")
NEEDS_CALIBRATION = ("gptq", "awq", "smoothquant", "int8-static", "qat")
AUTO_GROUPS = (128, 64, 32, 16)


@dataclass
class QuantizeRequest:
    """What to do; ``group_size=None`` means auto (see :func:`auto_group_size`)."""

    method: str = "rtn"
    bits: int = 4
    group_size: int | None = None
    symmetric: bool = False
    act_order: bool = True
    alpha: float | None = 0.5  # None: sweep (see smoothquant.alpha_sweep) and keep the best
    qat_steps: int = 60
    calibration: str = "stories"
    calib_samples: int = 32
    skip: Sequence[str] = DEFAULT_SKIP
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def auto_group_size(linears: dict[str, nn.Linear]) -> int:
    """The largest of 128, 64, 32, 16 that divides every layer's in_features (else per-channel)."""
    for g in AUTO_GROUPS:
        if all(layer.in_features % g == 0 for layer in linears.values()):
            return g
    return -1


def check_method_bits(method: str, bits: int) -> None:
    """The checks that need no model: a known method at bits it supports."""
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if method in ("smoothquant", "int8-dynamic", "int8-static") and bits != 8:
        raise UserError(f"{method} is an 8-bit method: use --bits 8 (got {bits})")
    if method == "nf4" and bits != 4:
        raise UserError(f"nf4 is a 4-bit format: use --bits 4 (got {bits})")
    if bits not in SUPPORTED_BITS:
        raise UserError(
            f"unsupported bits {bits}: choose one of {', '.join(map(str, SUPPORTED_BITS))}"
        )


def validate(request: QuantizeRequest, linears: dict[str, nn.Linear]) -> QuantizeRequest:
    """Fill in the group size and check the request against the method and the layers."""
    method = request.method
    check_method_bits(method, request.bits)
    if method in ("smoothquant", "int8-dynamic", "int8-static"):
        request.group_size = -1  # per-channel int8 weights
        return request
    if method == "nf4":
        size = request.group_size or 64
        if size < 2 or size & (size - 1):
            raise UserError(f"NF4 block size must be a power of two >= 2 (got {size})")
        request.group_size = size
        return request
    if request.group_size is None:
        request.group_size = auto_group_size(linears)
    spec = QuantSpec(request.bits, request.group_size, request.symmetric)
    for name, layer in linears.items():
        spec.check(name, layer.in_features)
    return request


def quantize_model(
    model: nn.Module, tokenizer, request: QuantizeRequest, *, tokens: torch.Tensor | None = None
) -> dict[str, Any]:
    """Quantize ``model`` in place as ``request`` says; returns what was done (for the record).

    ``tokens`` are calibration windows; when missing they are drawn from ``request.calibration``.
    """
    from ch13_quantization import awq, gptq, qat, rtn, smoothquant
    from ch13_quantization.nf4 import NF4Linear

    linears = find_linears(model, request.skip)
    request = validate(request, linears)
    if request.method in NEEDS_CALIBRATION and tokens is None:
        tokens = calibration_data(
            model,
            tokenizer,
            request.calibration,
            n_samples=request.calib_samples,
            seed=request.seed,
        )
    m, bits, g = request.method, request.bits, request.group_size
    common = {"symmetric": request.symmetric, "skip": request.skip}
    if m == "rtn":
        rtn.rtn_quantize(model, bits, g, **common)
    elif m == "gptq":
        gptq.gptq_quantize(model, tokens, bits, g, act_order=request.act_order, **common)
    elif m == "awq":
        awq.awq_quantize(model, tokens, bits, g, **common)
    elif m == "qat":
        qat.qat_quantize(
            model, tokens, bits, g, steps=request.qat_steps, seed=request.seed, **common
        )
    elif m == "smoothquant":
        sweep = None
        if request.alpha is None:
            sweep = smoothquant.alpha_sweep(model, tokens, skip=request.skip)
            request.alpha = min(sweep, key=lambda row: row["loss"])["alpha"]
        smoothquant.smoothquant_quantize(model, tokens, request.alpha, skip=request.skip)
    elif m == "int8-static":
        rtn.w8a8_quantize(model, tokens, skip=request.skip)
    elif m == "int8-dynamic":
        rtn.int8_dynamic_quantize(model, skip=request.skip)
    elif m == "nf4":
        with torch.no_grad():
            for name, layer in linears.items():
                set_module(model, name, NF4Linear.from_linear(layer, blocksize=g))
    record = {"method": m, "bits": bits, "group_size": g, "skip": list(request.skip)}
    if m in NEEDS_CALIBRATION:
        record.update(calibration=request.calibration, calib_samples=len(tokens))
    if m == "gptq":
        record["act_order"] = request.act_order
    if m == "smoothquant":
        record["alpha"] = request.alpha
        if sweep is not None:
            record["alpha_sweep"] = sweep
    if m == "qat":
        record["qat_steps"] = request.qat_steps
    if m in ("rtn", "gptq", "awq", "qat"):
        record["symmetric"] = request.symmetric
    return record


__all__ = [
    "METHODS",
    "NEEDS_CALIBRATION",
    "QuantizeRequest",
    "auto_group_size",
    "check_method_bits",
    "quantize_model",
    "validate",
]
