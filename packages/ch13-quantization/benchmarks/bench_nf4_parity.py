"""How far exact nearest-level rounding of the absmax is from bitsandbytes, and how far ours is.

bitsandbytes' CPU kernel for the 8-bit (double-quantized) absmax snaps ``x / absmax`` to a grid of
65 536 points before it looks up the code level (``quantize_cpu_impl`` in ``csrc/cpu_ops.cpp``).
Rounding each value exactly to its nearest level instead (our first implementation) changes some
absmax codes; this counts them and the largest relative change of a dequantized weight, next to
ours (:func:`ch13_quantization.nf4.nf4_quantize`, which reproduces the grid), on Gaussian weights
of a few shapes. Writes ``benchmarks/results/nf4_parity.json``. Runs in a few seconds.

    uv run python packages/ch13-quantization/benchmarks/bench_nf4_parity.py
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

from ch13_quantization.formats import NF4_CODE
from ch13_quantization.nf4 import (
    NESTED_BLOCKSIZE,
    NF4Weight,
    blockwise_absmax_quantize,
    dynamic_code,
    nf4_quantize,
)
from llmpath_core import machine_info, print_table

RESULTS = Path(__file__).parent / "results" / "nf4_parity.json"


def main() -> None:
    import bitsandbytes
    import bitsandbytes.functional as bnbF

    rows = []
    for shape in [(512, 512), (1024, 768), (2048, 2048)]:
        torch.manual_seed(0)
        w = torch.randn(shape) * 0.05
        packed, state = bnbF.quantize_4bit(
            w, blocksize=64, compress_statistics=True, quant_type="nf4"
        )
        flat = copy.copy(state)
        flat.shape = torch.Size([w.numel()])
        ref = bnbF.dequantize_4bit(packed, flat).reshape(shape)
        ours = nf4_quantize(w)
        _, absmax = blockwise_absmax_quantize(w, torch.tensor(NF4_CODE), 64)
        offset = absmax.mean()
        codes, absmax2 = blockwise_absmax_quantize(
            absmax - offset, dynamic_code(), NESTED_BLOCKSIZE
        )
        nearest = NF4Weight(ours.packed, tuple(shape), 64, codes, offset, absmax2)
        for name, q in (("nearest (old)", nearest), ("65536-grid (ours)", ours)):
            deq = q.dequantize()
            rel = ((deq - ref).abs() / ref.abs().clamp(min=1e-30))[ref != 0].max().item()
            rows.append(
                {
                    "shape": "x".join(map(str, shape)),
                    "rounding": name,
                    "absmax codes": state.absmax.numel(),
                    "codes differing": int((q.absmax != state.absmax).sum()),
                    "max level diff": int((q.absmax.int() - state.absmax.int()).abs().max()),
                    "max rel w diff": rel,
                }
            )
    print_table(rows, title="NF4 double quantization vs bitsandbytes (CPU), blocksize 64")
    out = {"machine": machine_info(), "bitsandbytes": bitsandbytes.__version__, "rows": rows}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
