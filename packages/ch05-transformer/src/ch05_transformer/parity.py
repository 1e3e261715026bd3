"""Holding our modules to transformers: the same folder, the same inputs, the max-abs difference.

:func:`parity_report` loads a model folder twice, with :func:`from_pretrained` (ours) and with
transformers (the anchor), feeds both the same token ids and reports the largest absolute
difference of the outputs. For decoders it also checks that prefill + KV-cache decode gives the
same logits as a full forward pass; for a sentence-transformers folder (``modules.json``) it also
compares sentence embeddings with sentence-transformers' (cosine).
:func:`build_tiny_hf_models` writes small random transformers models (Llama with GQA, GPT-2) so
parity can be checked with no download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ch05_transformer.bert import encode_batch, mean_pool
from ch05_transformer.hf_loading import from_pretrained, load_tokenizer, read_config

PARITY_TEXTS = [
    "Lily found a shiny key under the old tree.",
    "The little dog was happy because the sun came out again.",
    "Attention lets every token look at every other token.",
]


def build_tiny_hf_models(folder: str | Path, seed: int = 0) -> dict[str, Path]:
    """Save a random tiny ``LlamaForCausalLM`` (GQA: 4 query heads, 2 kv heads) and
    ``GPT2LMHeadModel`` under ``folder``; returns ``{"llama": path, "gpt2": path}``."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    torch.manual_seed(seed)
    llama = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=256,
            hidden_size=64,
            intermediate_size=160,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            rms_norm_eps=1e-6,
            tie_word_embeddings=False,
            initializer_range=0.1,  # larger than the default 0.02, so logits are O(1), not O(0.01)
        )
    )
    gpt2 = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=256,
            n_positions=128,
            n_embd=64,
            n_layer=2,
            n_head=4,
            initializer_range=0.1,
            bos_token_id=0,
            eos_token_id=0,
        )
    )
    paths = {}
    for name, model in (("llama", llama), ("gpt2", gpt2)):
        path = folder / f"tiny-{name}"
        model.save_pretrained(path)
        paths[name] = path
    return paths


def load_anchor(path: str | Path, model_type: str) -> torch.nn.Module:
    """The transformers model for a folder, float32, eval mode, SDPA attention."""
    import transformers

    cls = {
        "llama": transformers.LlamaForCausalLM,
        "gpt2": transformers.GPT2LMHeadModel,
        "bert": transformers.BertModel,
    }[model_type]
    return cls.from_pretrained(str(path), dtype=torch.float32, attn_implementation="sdpa").eval()


def _max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


@torch.no_grad()
def parity_report(
    path: str | Path,
    *,
    seq_len: int = 24,
    batch: int = 2,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Max-abs differences between our model and transformers' for the folder ``path``.

    Both models run in float32 on ``device`` on the same inputs.
    """
    config = read_config(path)
    model_type = config["model_type"]
    ours = from_pretrained(path).to(device)
    anchor = load_anchor(path, model_type).to(device)
    gen = torch.Generator().manual_seed(seed)
    report: dict[str, Any] = {
        "model": str(path),
        "architecture": model_type,
        "parameters": sum(p.numel() for p in ours.parameters()),
    }
    if model_type == "bert":
        report.update(_encoder_parity(path, ours, anchor, gen, seq_len, batch))
        return report
    seq_len = min(seq_len, ours.max_positions)
    ids = torch.randint(0, ours.config.vocab_size, (batch, seq_len), generator=gen).to(device)
    logits = ours(ids)
    report["logits_max_abs_diff"] = _max_abs(logits, anchor(ids).logits)
    # prefill half, then decode the rest one token at a time through the KV cache
    cache = ours.new_cache(batch, seq_len)
    half = seq_len // 2
    steps = [ours(ids[:, :half], cache)] + [
        ours(ids[:, i : i + 1], cache) for i in range(half, seq_len)
    ]
    report["kv_cache_logits_max_abs_diff"] = _max_abs(torch.cat(steps, dim=1), logits)
    return report


def _encoder_parity(path, ours, anchor, gen, seq_len, batch) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if (Path(path) / "tokenizer.json").is_file():
        ids, mask = encode_batch(load_tokenizer(path), PARITY_TEXTS)
    else:
        ids = torch.randint(1, ours.config.vocab_size, (batch, seq_len), generator=gen)
        mask = torch.ones_like(ids)
        mask[0, seq_len // 2 :] = 0  # one padded row
    device = next(ours.parameters()).device
    ids, mask = ids.to(device), mask.to(device)
    hidden = ours(ids, mask)
    ref = anchor(input_ids=ids, attention_mask=mask).last_hidden_state
    valid = mask.bool()
    out["hidden_max_abs_diff"] = _max_abs(hidden[valid], ref[valid])
    if (Path(path) / "modules.json").is_file() and (Path(path) / "tokenizer.json").is_file():
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(path), device="cpu")
        ref_emb = torch.as_tensor(st.encode(PARITY_TEXTS, convert_to_numpy=True)).to(device)
        emb = F.normalize(mean_pool(hidden, mask), dim=1)
        out["embedding_min_cosine"] = float(F.cosine_similarity(emb, ref_emb, dim=1).min())
        out["embedding_max_abs_diff"] = _max_abs(emb, ref_emb)
    return out


__all__ = ["PARITY_TEXTS", "build_tiny_hf_models", "load_anchor", "parity_report"]
