"""Export to GGUF, llama.cpp's file format, with Q8_0 / Q4_0 blocks quantized here.

GGUF holds key-value metadata (architecture, sizes, RoPE, tokenizer) and tensors. The two
classic llama.cpp block formats, following ``ggml-quants.c``'s reference implementation:

* **Q8_0**: blocks of 32 weights; ``d = absmax / 127`` stored as fp16, then 32 int8
  ``round(x / d)`` (rounding half away from zero): 34 bytes per 32 weights, 8.5 bits each.
* **Q4_0**: blocks of 32; ``d = m / -8`` where ``m`` is the signed value of largest magnitude,
  codes ``min(15, trunc(x / d + 8.5))``, value ``(q - 8)·d``; weight ``j`` and ``j + 16`` share a
  byte (low nibble first): 18 bytes per 32 weights, 4.5 bits each.

Tensors are named and laid out as llama.cpp's ``convert_hf_to_gguf.py`` does for Llama models
(``blk.N.attn_q.weight`` ..., with the rows of q/k permuted from Hugging Face's rotate-half RoPE
to llama.cpp's interleaved one). Tensors whose rows are not a multiple of 32 and 1-D tensors
(norms) are stored as F32, as the converter falls back for them. The byte-level BPE tokenizer goes
in as ``tokenizer.ggml.model = "gpt2"`` with its tokens, types and merges.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llmpath_core import UserError

QK = 32
GGUF_TYPES = ("q8_0", "q4_0", "f16", "f32")
LLAMA_ARCHS = ("LlamaForCausalLM", "MistralForCausalLM")
_LAYER_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def quantize_q8_0(x: torch.Tensor) -> np.ndarray:
    """Q8_0 blocks of a ``[rows, cols]`` tensor: uint8 ``[rows, cols / 32 · 34]``."""
    blocks = x.detach().float().reshape(-1, QK)
    d = blocks.abs().amax(1, keepdim=True) / 127
    inv = torch.where(d == 0, torch.zeros_like(d), 1 / d)
    qs = _round_half_away(blocks * inv).to(torch.int8)
    raw = np.concatenate([d.half().numpy().view(np.uint8), qs.numpy().view(np.uint8)], axis=1)
    return raw.reshape(x.shape[0], -1)


def dequantize_q8_0(raw: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    blocks = np.ascontiguousarray(raw).reshape(-1, 2 + QK)
    d = torch.from_numpy(blocks[:, :2].copy().view(np.float16).astype(np.float32))
    qs = torch.from_numpy(blocks[:, 2:].copy().view(np.int8).astype(np.float32))
    return (qs * d).reshape(shape)


def quantize_q4_0(x: torch.Tensor) -> np.ndarray:
    """Q4_0 blocks of a ``[rows, cols]`` tensor: uint8 ``[rows, cols / 32 · 18]``."""
    blocks = x.detach().float().reshape(-1, QK)
    m = blocks.gather(1, blocks.abs().argmax(1, keepdim=True))
    d = m / -8
    inv = torch.where(d == 0, torch.zeros_like(d), 1 / d)
    q = torch.trunc(blocks * inv + 8.5).clamp(0, 15).to(torch.uint8)
    packed = q[:, : QK // 2] | (q[:, QK // 2 :] << 4)
    raw = np.concatenate([d.half().numpy().view(np.uint8), packed.numpy()], axis=1)
    return raw.reshape(x.shape[0], -1)


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    blocks = np.ascontiguousarray(raw).reshape(-1, 2 + QK // 2)
    d = torch.from_numpy(blocks[:, :2].copy().view(np.float16).astype(np.float32))
    packed = torch.from_numpy(blocks[:, 2:].copy())
    q = torch.cat([packed & 0xF, packed >> 4], dim=1).float() - 8
    return (q * d).reshape(shape)


QUANTIZERS = {"q8_0": (quantize_q8_0, dequantize_q8_0), "q4_0": (quantize_q4_0, dequantize_q4_0)}


def permute_rope(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """HF's rotate-half q/k rows -> llama.cpp's interleaved pairs (``convert_hf_to_gguf``)."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def unpermute_rope(w: torch.Tensor, n_head: int) -> torch.Tensor:
    return (
        w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def _float_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every weight in its original basis (quantized layers dequantized)."""
    weights = {k: v.detach().float() for k, v in model.state_dict().items()}
    for name, module in model.named_modules():
        if hasattr(module, "effective_weight"):
            prefix = name + "."
            weights = {k: v for k, v in weights.items() if not k.startswith(prefix)}
            weights[name + ".weight"] = module.effective_weight().detach().float()
            if getattr(module, "bias", None) is not None:
                weights[name + ".bias"] = module.bias.detach().float()
    return weights


def gguf_name(hf_name: str) -> str:
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    parts = hf_name.split(".")
    if parts[:2] == ["model", "layers"]:
        layer, rest, kind = parts[2], ".".join(parts[3:-1]), parts[-1]
        if rest in _LAYER_NAMES:
            return f"blk.{layer}.{_LAYER_NAMES[rest]}.{kind}"
    raise UserError(f"no GGUF name for tensor {hf_name!r} (only Llama-architecture models export)")


def gguf_tensors(model: nn.Module, qtype: str) -> list[dict[str, Any]]:
    """The tensors as written: ``{"name", "hf_name", "type", "data", "shape"}`` (data: numpy)."""
    config = model.config
    n_head = config.num_attention_heads
    n_kv = getattr(config, "num_key_value_heads", None) or n_head
    tied = getattr(config, "tie_word_embeddings", False)
    out = []
    for hf_name, w in _float_weights(model).items():
        if hf_name == "lm_head.weight" and tied:
            continue  # llama.cpp reads the tied output from token_embd
        if "rotary_emb" in hf_name:
            continue
        if hf_name.endswith("self_attn.q_proj.weight"):
            w = permute_rope(w, n_head)
        elif hf_name.endswith("self_attn.k_proj.weight"):
            w = permute_rope(w, n_kv)
        kind = qtype
        if w.dim() != 2 or w.shape[1] % QK or qtype == "f32":
            kind = "f32"
        if kind in QUANTIZERS:
            data = QUANTIZERS[kind][0](w)
        elif kind == "f16":
            data = w.half().numpy()
        else:
            data = w.numpy().astype(np.float32)
        out.append(
            {
                "name": gguf_name(hf_name),
                "hf_name": hf_name,
                "type": kind,
                "data": data,
                "shape": tuple(w.shape),
            }
        )
    return out


def _tokenizer_metadata(writer, tokenizer, vocab_size: int) -> None:
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec.get("model", {})
    if model.get("type") != "BPE":
        raise UserError("GGUF export supports byte-level BPE tokenizers only")
    vocab = tokenizer.get_vocab()
    tokens = [""] * vocab_size
    for piece, index in vocab.items():
        if index < vocab_size:
            tokens[index] = piece
    special = set(tokenizer.all_special_ids)
    types = [3 if i in special else 1 for i in range(vocab_size)]  # 3: control, 1: normal
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, token_id in (
        (writer.add_bos_token_id, tokenizer.bos_token_id),
        (writer.add_eos_token_id, tokenizer.eos_token_id),
        (writer.add_pad_token_id, tokenizer.pad_token_id),
    ):
        if token_id is not None:
            setter(token_id)


def export_gguf(
    model: nn.Module, tokenizer, out: str | os.PathLike, qtype: str = "q8_0", name: str = "model"
) -> dict[str, Any]:
    """Write ``model`` as a llama.cpp GGUF file at ``out`` (atomically); returns a summary."""
    import gguf

    if qtype not in GGUF_TYPES:
        raise UserError(f"unknown GGUF type {qtype!r}: choose one of {', '.join(GGUF_TYPES)}")
    config = model.config
    archs = getattr(config, "architectures", None) or [type(model).__name__]
    if archs[0] not in LLAMA_ARCHS and type(model).__name__ not in LLAMA_ARCHS:
        raise UserError(f"GGUF export supports Llama-architecture models, not {archs[0]}")
    tensors = gguf_tensors(model, qtype)
    out = Path(out)
    file_type = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7}[qtype]
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        writer = gguf.GGUFWriter(str(tmp), "llama")
        writer.add_name(name)
        writer.add_file_type(file_type)
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        writer.add_vocab_size(config.vocab_size)
        writer.add_context_length(config.max_position_embeddings)
        writer.add_embedding_length(config.hidden_size)
        writer.add_block_count(config.num_hidden_layers)
        writer.add_feed_forward_length(config.intermediate_size)
        writer.add_head_count(config.num_attention_heads)
        writer.add_head_count_kv(
            getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        )
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(float(theta))
        writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
        _tokenizer_metadata(writer, tokenizer, config.vocab_size)
        gtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}
        for t in tensors:
            writer.add_tensor(t["name"], t["data"], raw_dtype=gtype.get(t["type"]))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)  # atomic: a failed export leaves no half-written file
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    counts: dict[str, int] = {}
    for t in tensors:
        counts[t["type"]] = counts.get(t["type"], 0) + 1
    return {
        "out": str(out),
        "size_bytes": out.stat().st_size,
        "tensors": len(tensors),
        "types": counts,
    }


@torch.no_grad()
def gguf_roundtrip(model: nn.Module, qtype: str) -> nn.Module:
    """A float copy of ``model`` whose weights are what the GGUF file of type ``qtype`` holds.

    ``model`` must be a float model (plain ``nn.Linear`` layers).
    """
    import copy

    new = copy.deepcopy(model)
    n_head = model.config.num_attention_heads
    n_kv = getattr(model.config, "num_key_value_heads", None) or n_head
    state = new.state_dict()
    for t in gguf_tensors(model, qtype):
        if t["type"] in QUANTIZERS:
            w = QUANTIZERS[t["type"]][1](t["data"], t["shape"])
        else:
            w = torch.from_numpy(np.asarray(t["data"], dtype=np.float32)).reshape(t["shape"])
        if t["hf_name"].endswith("q_proj.weight"):
            w = unpermute_rope(w, n_head)
        elif t["hf_name"].endswith("k_proj.weight"):
            w = unpermute_rope(w, n_kv)
        state[t["hf_name"]].copy_(w)
    return new


__all__ = [
    "GGUF_TYPES",
    "dequantize_q4_0",
    "dequantize_q8_0",
    "export_gguf",
    "gguf_roundtrip",
    "gguf_tensors",
    "permute_rope",
    "quantize_q4_0",
    "quantize_q8_0",
    "unpermute_rope",
]
