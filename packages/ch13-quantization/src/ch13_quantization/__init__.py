"""ch13-quantization: a quantization toolkit from scratch, measured on perplexity, size and speed.

Number formats and uniform quantizers (:mod:`.formats`, :mod:`.quantizer`), a packed
``QuantLinear`` (:mod:`.qlinear`), RTN / int8 dynamic / W8A8 (:mod:`.rtn`), GPTQ (:mod:`.gptq`),
AWQ (:mod:`.awq`), SmoothQuant (:mod:`.smoothquant`), NF4 with double quantization in the
bitsandbytes layout (:mod:`.nf4`), QAT (:mod:`.qat`), GGUF export (:mod:`.gguf_export`), ONNX export
with onnxruntime int8 (:mod:`.onnx_export`), save/load
(:mod:`.serialize`) and evaluation (:mod:`.evaluate`, :mod:`.compare`, :mod:`.analysis`).

Names are imported on first use so that ``import ch13_quantization`` (and the CLI's ``--help``)
does not pay for torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "analysis": ["analyze_model", "plot_distributions"],
    "awq": ["awq_quantize"],
    "compare": ["compare_methods"],
    "evaluate": ["evaluate_model", "perplexity", "tokens_per_second"],
    "formats": ["FORMATS", "cast_to_format", "round_to_grid"],
    "gguf_export": ["export_gguf", "quantize_q4_0", "quantize_q8_0"],
    "gptq": ["gptq_quantize", "gptq_quantize_weight"],
    "model_io": ["find_linears", "load_model"],
    "nf4": ["NF4Linear", "nf4_quantize"],
    "onnx_export": ["OnnxCausalLM", "export_and_evaluate", "export_onnx", "quantize_int8"],
    "pipeline": ["METHODS", "QuantizeRequest", "quantize_model"],
    "qat": ["qat_quantize"],
    "qlinear": ["QuantLinear", "pack_bits", "unpack_bits"],
    "quantizer": ["QuantSpec", "fake_quantize", "quantize_weight", "sqnr_db"],
    "rtn": ["int8_dynamic_quantize", "rtn_quantize", "w8a8_quantize"],
    "serialize": ["load_quantized", "save_quantized"],
    "smoothquant": ["alpha_sweep", "smoothquant_quantize"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"ch13_quantization.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ch13_quantization' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
