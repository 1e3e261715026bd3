"""Chapter 5 benchmarks, ours vs the anchor side by side in one process.

1. KV-cache decoding vs recomputing the whole prefix (tokens/s at 256 and 1024 new tokens).
2. Our Llama-style decoder vs transformers' LlamaForCausalLM with the same weights
   (forward and greedy generate throughput; ratio = transformers time / our time).
3. Causal attention forward peak memory: naive vs tiled vs SDPA at 2k-8k tokens.

Run: ``uv run python packages/ch05-transformer/benchmarks/bench_ch05.py [--threads N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch05_transformer.benchmarking import (
    attention_memory,
    bench_model,
    kv_cache_speedup,
    ours_vs_transformers_llama,
)
from ch05_transformer.parity import build_tiny_hf_models
from llmpath_core import machine_info, print_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--seq-lens", type=int, nargs="+", default=[2048, 4096, 8192])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = bench_model(max_positions=max(args.new_tokens) + 32)
    kv = [kv_cache_speedup(model, n) for n in args.new_tokens]
    with tempfile.TemporaryDirectory() as tmp:
        hf = ours_vs_transformers_llama(build_tiny_hf_models(tmp)["llama"])
    mem = attention_memory(args.seq_lens)
    result = {
        "machine": machine_info(),
        "kv_cache": kv,
        "ours_vs_transformers": hf,
        "attention_memory": mem,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(result["machine"])
    print_table(kv, title="KV-cache decode vs recomputing the prefix (speedup = recompute/kv time)")
    print_table(hf, title="ours vs transformers Llama, same weights (speedup = hf time/our time)")
    print_table(mem, title="causal attention forward: extra peak memory (MiB) and time (s)")


if __name__ == "__main__":
    main()
