"""Save a quantized model as a folder and load it back, with no calibration data needed.

The folder is a normal Hugging Face folder (``config.json``, tokenizer files) plus
``model.safetensors`` holding the packed codes, fp16 scales and packed zeros of every quantized
layer next to the full-precision tensors of the rest, and ``quantization.json`` saying which
modules are quantized and how. Loading builds the architecture from ``config.json`` with empty
weights, swaps in empty quantized layers of the recorded shapes, and loads the tensors strictly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ch13_quantization.model_io import QUANT_CONFIG, set_module
from ch13_quantization.nf4 import NF4Linear
from ch13_quantization.qlinear import QuantLinear
from llmpath_core import UserError, atomic_dir

QUANTIZED_TYPES = (QuantLinear, NF4Linear)


def quantized_layers(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if isinstance(m, QUANTIZED_TYPES)}


def _state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors to write: tied weights once (safetensors refuses shared storage)."""
    state, seen = {}, {}
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.dtype) if tensor.numel() else None
        if key is not None and key in seen:
            continue  # a tied copy, re-tied at load time
        if key is not None:
            seen[key] = name
        state[name] = tensor.detach().contiguous().cpu()
    return state


def save_quantized(
    model: nn.Module,
    tokenizer,
    out: str | os.PathLike,
    *,
    method: str,
    details: dict[str, Any] | None = None,
) -> Path:
    """Write the quantized ``model`` and ``tokenizer`` to the folder ``out`` (atomically)."""
    from safetensors.torch import save_file

    layers = quantized_layers(model)
    record = {
        "format": "ch13-quantization",
        "version": 1,
        "method": method,
        **(details or {}),
        "layers": {
            name: {
                **layer.config(),
                "in_features": layer.in_features,
                "out_features": layer.out_features,
            }
            for name, layer in layers.items()
        },
    }
    with atomic_dir(out) as tmp:
        model.config.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        save_file(_state_dict(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / QUANT_CONFIG).write_text(json.dumps(record, indent=2) + "\n")
    return Path(out)


def load_quantized(folder: str | os.PathLike):
    """``(model, tokenizer)`` from a folder written by :func:`save_quantized`."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    try:
        record = json.loads((folder / QUANT_CONFIG).read_text())
        layers = record["layers"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise UserError(
            f"{folder / QUANT_CONFIG} is not a valid quantization record: {exc}"
        ) from None
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    for name, cfg in layers.items():
        cls = NF4Linear if cfg["kind"] == "nf4" else QuantLinear
        set_module(model, name, cls.from_config(cfg, cfg["in_features"], cfg["out_features"]))
    state = load_file(str(folder / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = getattr(config, "tie_word_embeddings", False)
    missing = [k for k in missing if not (tied and k == "lm_head.weight")]
    if missing or unexpected:
        raise UserError(
            f"{folder}: weights do not match the quantization record "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    if tied and hasattr(model, "tie_weights"):
        model.tie_weights()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model.eval(), tokenizer


def folder_size(path: str | os.PathLike) -> int:
    """Bytes of the weight files in a model folder (``*.safetensors``, ``*.bin``, ``*.gguf``)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(
        f.stat().st_size for f in path.iterdir() if f.suffix in (".safetensors", ".bin", ".gguf")
    )


def memory_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers in memory (tied tensors counted once)."""
    return sum(t.numel() * t.element_size() for t in _state_dict(model).values())


__all__ = ["folder_size", "load_quantized", "memory_bytes", "quantized_layers", "save_quantized"]
