"""Our quantizers against the libraries they match, same tensor, same process.

NF4 + double quantization (ours, pure PyTorch) vs ``bitsandbytes.functional.quantize_4bit`` on
CPU, and our GGUF Q8_0 / Q4_0 block quantizers vs ``gguf.quants.quantize`` (numpy). The outputs
are equal (see the tests); this measures speed. ``speedup`` > 1 means ours is faster.

    uv run python packages/ch13-quantization/benchmarks/bench_quantizers.py

Writes ``benchmarks/results/quantizers-cpu-2core.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import gguf
import torch

from ch13_quantization.gguf_export import quantize_q4_0, quantize_q8_0
from ch13_quantization.nf4 import nf4_quantize
from llmpath_core import compare, machine_info, print_table
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "quantizers-cpu-2core.json"


def main() -> None:
    import bitsandbytes.functional as bnbF

    torch.manual_seed(0)
    w = torch.randn(2048, 2048) * 0.02
    results = [
        compare(
            "NF4 + double quant, 2048x2048",
            lambda: nf4_quantize(w),
            lambda: bnbF.quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4"),
            names=("ours", "bitsandbytes"),
        ),
        compare(
            "GGUF Q8_0, 2048x2048",
            lambda: quantize_q8_0(w),
            lambda: gguf.quants.quantize(w.numpy(), gguf.GGMLQuantizationType.Q8_0),
            names=("ours", "gguf"),
        ),
        compare(
            "GGUF Q4_0, 2048x2048",
            lambda: quantize_q4_0(w),
            lambda: gguf.quants.quantize(w.numpy(), gguf.GGMLQuantizationType.Q4_0),
            names=("ours", "gguf"),
        ),
    ]
    rows = [r.to_dict() for r in results]
    print_table(rows, title="quantizers: ours vs the anchor libraries")
    write_json(OUT, {"rows": rows, "machine": machine_info(), "date": time.strftime("%Y-%m-%d")})


if __name__ == "__main__":
    main()
