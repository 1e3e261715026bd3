"""Measurements for the chapter: KV cache vs recompute, ours vs transformers, attention memory.

Speeds are ratios measured in one process with :func:`llmpath_core.compare` (interleaved runs).
Peak memory on CPU is the process's resident-set high-water mark (``VmHWM``), reset before each
measurement through ``/proc/self/clear_refs``; on CUDA it is ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import ctypes
import gc
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ch05_transformer.attention import naive_attention, sdpa_attention, tiled_attention
from ch05_transformer.llama import LlamaConfig, LlamaDecoder
from ch05_transformer.sampling import generate
from llmpath_core import compare


def bench_model(max_positions: int = 1152, seed: int = 0) -> LlamaDecoder:
    """A random Llama-style decoder for speed runs (speed does not depend on the weights)."""
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=512,
        hidden_size=128,
        intermediate_size=352,
        num_layers=4,
        num_heads=4,
        num_kv_heads=2,
        max_position_embeddings=max_positions,
    )
    return LlamaDecoder(cfg).eval()


def kv_cache_speedup(
    model: torch.nn.Module, new_tokens: int, prompt_len: int = 16, repeats: int = 1
) -> dict[str, Any]:
    """Tokens/s of greedy generation with the KV cache and with full recomputation."""
    prompt = torch.randint(0, 256, (1, prompt_len), generator=torch.Generator().manual_seed(0))
    comp = compare(
        f"generate {new_tokens} tokens",
        lambda: generate(model, prompt, new_tokens, use_cache=True),
        lambda: generate(model, prompt, new_tokens, use_cache=False),
        names=("kv-cache", "recompute"),
        warmup=0,
        repeats=repeats,
    )
    return {
        "new_tokens": new_tokens,
        "kv_cache_tok_s": new_tokens / comp.ours.median,
        "recompute_tok_s": new_tokens / comp.anchor.median,
        "speedup": comp.speedup,
    }


def ours_vs_transformers_llama(
    folder: str | Path, seq_len: int = 128, batch: int = 8, new_tokens: int = 64, repeats: int = 5
) -> list[dict[str, Any]]:
    """Forward and greedy-generate throughput: our decoder vs ``LlamaForCausalLM``, same weights."""
    from ch05_transformer.hf_loading import from_pretrained
    from ch05_transformer.parity import load_anchor

    ours = from_pretrained(folder)
    hf = load_anchor(folder, "llama")
    seq_len = min(seq_len, ours.max_positions)
    ids = torch.randint(
        0, ours.config.vocab_size, (batch, seq_len), generator=torch.Generator().manual_seed(0)
    )
    rows = []
    with torch.no_grad():
        fwd = compare(
            f"forward {batch}x{seq_len}",
            lambda: ours(ids),
            lambda: hf(ids).logits,
            names=("ours", "transformers"),
            repeats=repeats,
        )
    rows.append(
        {
            **fwd.to_dict(),
            "ours_tok_s": batch * seq_len / fwd.ours.median,
            "transformers_tok_s": batch * seq_len / fwd.anchor.median,
        }
    )
    prompt = ids[:1, :16]
    gen = compare(
        f"generate {new_tokens} tokens",
        lambda: generate(ours, prompt, new_tokens),
        lambda: hf.generate(
            prompt,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=0,
        ),
        names=("ours", "transformers"),
        repeats=max(1, repeats // 2),
    )
    rows.append(
        {
            **gen.to_dict(),
            "ours_tok_s": new_tokens / gen.ours.median,
            "transformers_tok_s": new_tokens / gen.anchor.median,
        }
    )
    return rows


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _return_freed_memory() -> None:
    """Make glibc give freed blocks back to the OS, so RSS tracks live tensors.

    By default glibc raises its mmap threshold after a large free and then keeps later blocks in
    its heap, where they stay counted in RSS after they are freed; a fixed threshold and
    ``malloc_trim`` avoid that.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: RSS peaks are then only approximate
        return
    libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD: fixed, so big blocks are always mmap'ed
    libc.malloc_trim(0)


def peak_memory_mib(fn) -> float:
    """Extra peak memory (MiB) used while running ``fn`` (see the module docstring for how)."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    _return_freed_memory()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    base = _rss_kib("VmRSS")
    fn()
    return (_rss_kib("VmHWM") - base) / 1024


def attention_memory(
    seq_lens: list[int], heads: int = 1, head_dim: int = 64, block: int = 256
) -> list[dict[str, Any]]:
    """Forward peak memory and time of naive, tiled, SDPA causal attention per length."""
    rows = []
    for n in seq_lens:
        gen = torch.Generator().manual_seed(n)
        q, k, v = (torch.randn(1, heads, n, head_dim, generator=gen) for _ in range(3))
        row: dict[str, Any] = {"seq_len": n, "scores_mib": heads * n * n * 4 / 2**20}
        kernels = {
            "naive": partial(naive_attention, q, k, v, causal=True),
            "tiled": partial(tiled_attention, q, k, v, causal=True, block_q=block, block_k=block),
            "sdpa": partial(sdpa_attention, q, k, v, causal=True),
        }
        with torch.no_grad():
            for name, fn in kernels.items():
                start = time.perf_counter()
                row[f"{name}_peak_mib"] = peak_memory_mib(fn)
                row[f"{name}_s"] = time.perf_counter() - start
        rows.append(row)
    return rows


__all__ = [
    "attention_memory",
    "bench_model",
    "kv_cache_speedup",
    "ours_vs_transformers_llama",
    "peak_memory_mib",
]
