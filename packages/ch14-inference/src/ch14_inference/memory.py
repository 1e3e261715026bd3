"""KV-cache memory: bytes per token for MHA/MQA/GQA and int8, and paged vs contiguous waste.

Per token, every layer stores a key and a value vector per *KV head*:
``2 * layers * kv_heads * head_dim * bytes``. Multi-query attention (MQA, Shazeer 2019) keeps one
KV head, grouped-query attention (GQA, Ainslie et al., 2023) a few; int8 storage halves fp16 again
(plus one scale per token and head). A contiguous engine reserves the maximum length for every
request up front; a paged one allocates a block at a time, so it wastes at most one partly filled
block per sequence. :func:`waste_from_log` measures both on the engine's memory log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class KVShape:
    layers: int
    heads: int
    kv_heads: int
    head_dim: int


def kv_bytes_per_token(shape: KVShape, dtype: str = "fp16") -> float:
    """Bytes of KV cache per token; ``int8`` counts one fp16 scale per token, layer and KV head."""
    elems = 2 * shape.layers * shape.kv_heads * shape.head_dim
    if dtype == "int8":
        return elems * 1 + 2 * shape.layers * shape.kv_heads * 2
    return elems * {"fp32": 4, "fp16": 2, "bf16": 2}[dtype]


def attention_variants(shape: KVShape) -> list[tuple[str, KVShape]]:
    """The same model as MHA, GQA (the largest proper divisor of the heads, if any) and MQA."""
    out = [("MHA", KVShape(shape.layers, shape.heads, shape.heads, shape.head_dim))]
    groups = [d for d in range(shape.heads - 1, 1, -1) if shape.heads % d == 0]
    divisors = [d for d in groups if d <= shape.heads // 4] or groups[-1:]
    if divisors:
        out.append(("GQA", KVShape(shape.layers, shape.heads, divisors[0], shape.head_dim)))
    out.append(("MQA", KVShape(shape.layers, shape.heads, 1, shape.head_dim)))
    return out


def kv_table(shape: KVShape, context: int) -> list[dict[str, float | str]]:
    """Rows: attention variant x dtype -> bytes per token and per full-context sequence."""
    rows: list[dict[str, float | str]] = []
    for name, s in attention_variants(shape):
        for dtype in ("fp32", "fp16", "int8"):
            b = kv_bytes_per_token(s, dtype)
            rows.append(
                {
                    "attention": f"{name} ({s.kv_heads} kv heads)",
                    "dtype": dtype,
                    "bytes_per_token": b,
                    f"MiB_per_{context}_tokens": b * context / 2**20,
                }
            )
    return rows


def quantize_int8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 with one absmax scale per vector (the last dimension)."""
    scale = (x.abs().amax(-1, keepdim=True).float() / 127).clamp_min(1e-6).half()  # stored fp16
    return torch.round(x / scale.float()).clamp(-127, 127).to(torch.int8), scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale.float()


def int8_kv_effect(model, prompt_ids: list[int]) -> dict[str, float]:
    """Run ``prompt_ids`` with the cache stored in int8 (round-tripped) and in full precision.

    Returns the mean KL divergence of the next-token distributions and the share of positions
    whose argmax changes: what int8 KV costs in accuracy.
    """
    ids = torch.tensor(prompt_ids, dtype=torch.long)
    n = len(prompt_ids)
    exact_cache = model.new_stream_cache(n)
    exact = model.forward_contiguous(ids, 0, exact_cache, all_logits=True)
    cache = model.new_stream_cache(n)
    kls, flips = [], 0
    # token by token, every earlier token's K/V read back from int8 (what an int8 cache returns)
    for i in range(n):
        logits = model.forward_contiguous(ids[i : i + 1], i, cache)[0]
        cache[:, :, :, i] = dequantize_int8(*quantize_int8(cache[:, :, :, i])).to(cache.dtype)
        ref = exact[i].log_softmax(-1)
        got = logits.log_softmax(-1)
        kls.append(float((ref.exp() * (ref - got)).sum()))
        flips += int(ref.argmax() != got.argmax())
    return {"mean_kl_nats": sum(kls) / n, "argmax_changed": flips / n, "positions": n}


def waste_from_log(log: list[dict[str, float]], max_len: int) -> dict[str, float]:
    """Wasted KV slots, as a share of what each scheme holds, summed over the engine's steps.

    ``paged``: allocated block slots not (yet) holding a token. ``contiguous``: the same running
    sequences each holding a ``max_len`` reservation.
    """
    used = sum(m["tokens_used"] for m in log)
    paged = sum(m["slots_allocated"] for m in log)
    contiguous = sum(m["running"] * max_len for m in log)
    return {
        "paged_waste": 1 - used / paged if paged else 0.0,
        "contiguous_waste": 1 - used / contiguous if contiguous else 0.0,
        "paged_peak_slots": max((m["slots_allocated"] for m in log), default=0),
        "contiguous_peak_slots": max((m["running"] * max_len for m in log), default=0),
    }


def plot_kv_memory(log: list[dict[str, float]], max_len: int, path: str | Path) -> Path:
    """PNG of KV slots per engine step: tokens held, paged allocation, contiguous reservation."""
    from llmpath_core import line_plot

    steps = [m["step"] for m in log]
    return line_plot(
        Path(path),
        {
            "tokens in cache": (steps, [m["tokens_used"] for m in log]),
            "paged: allocated slots": (steps, [m["slots_allocated"] for m in log]),
            "contiguous: reserved slots": (steps, [m["running"] * max_len for m in log]),
        },
        title="KV cache memory over a mixed workload",
        xlabel="engine step",
        ylabel="KV slots (tokens)",
        markers=False,
    )


__all__ = [
    "KVShape",
    "attention_variants",
    "dequantize_int8",
    "int8_kv_effect",
    "kv_bytes_per_token",
    "kv_table",
    "plot_kv_memory",
    "quantize_int8",
    "waste_from_log",
]
