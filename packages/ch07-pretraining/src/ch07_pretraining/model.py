"""Model size from one dial: ``depth`` (nanochat-style), and named presets built on it.

``depth`` is the number of transformer layers; the width is ``32 * depth`` (so the aspect ratio
stays fixed as the model grows), heads are 32 wide, the MLP is SwiGLU at 8/3 of the width, and
the peak learning rate shrinks with the width as ``3e-3 * sqrt(64 / width)`` (the usual
"bigger models want smaller steps" rule, as nanochat scales AdamW's rate by ``dim**-0.5``).

The model is ``transformers``' ``LlamaForCausalLM`` with tied embeddings, so a trained run is a
standard Hugging Face folder that any chapter (and any HF tool) can load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmpath_core import UserError

HEAD_DIM = 32


@dataclass(frozen=True)
class Preset:
    """A named starting point: model depth, context, vocabulary and training budget."""

    depth: int
    seq_len: int
    vocab_size: int
    batch_size: int
    max_steps: int
    max_chars: int
    help: str


PRESETS: dict[str, Preset] = {
    "tiny": Preset(2, 64, 512, 16, 200, 400_000, "~0.1M params: tests and the demo"),
    "small": Preset(4, 128, 2048, 16, 600, 2_000_000, "~0.9M params: a few minutes"),
    "default": Preset(
        6, 256, 4096, 32, 500, 12_000_000, "~3.4M params: llmpath's default model (on `mix`)"
    ),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def width_for_depth(depth: int) -> int:
    return HEAD_DIM * depth


def lr_for_depth(depth: int) -> float:
    """Peak AdamW learning rate for a model of this depth."""
    return 3e-3 * math.sqrt(64 / width_for_depth(depth))


def llama_config(depth: int, vocab_size: int, seq_len: int, eos_token_id: int = 0):
    """A ``LlamaConfig`` whose width, heads and MLP size derive from ``depth``."""
    from transformers import LlamaConfig

    if not 1 <= depth <= 48:
        raise UserError(f"depth must be between 1 and 48, got {depth}")
    if seq_len < 8:
        raise UserError(f"seq_len must be at least 8, got {seq_len}")
    width = width_for_depth(depth)
    intermediate = int(math.ceil(8 * width / 3 / 16) * 16)
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=width,
        intermediate_size=intermediate,
        num_hidden_layers=depth,
        num_attention_heads=width // HEAD_DIM,
        num_key_value_heads=width // HEAD_DIM,
        max_position_embeddings=seq_len,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=True,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        initializer_range=0.02,
    )


def build_model(config):
    """A freshly initialised ``LlamaForCausalLM`` (seed the RNG first for reproducibility)."""
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(config)
    model.config.use_cache = False
    return model


def enable_activation_checkpointing(model) -> None:
    """Recompute each layer's activations in backward instead of storing them (non-reentrant)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def count_parameters(model) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


__all__ = [
    "PRESETS",
    "Preset",
    "build_model",
    "count_parameters",
    "enable_activation_checkpointing",
    "get_preset",
    "llama_config",
    "lr_for_depth",
    "width_for_depth",
]
