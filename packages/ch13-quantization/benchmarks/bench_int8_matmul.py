"""int8 vs fp32 matmul speed on CPU, side by side in one process (one thread).

For each shape (tokens × in → out): fp32 ``F.linear`` against torch's dynamic-quantized int8
``Linear`` (fbgemm: the same scheme as our ``int8-dynamic``, codes verified equal in the tests),
the bare int8 × int8 → int32 GEMM ``torch._int_mm`` plus the rescale, and our pure-PyTorch
``QuantLinear`` (int8 codes dequantized on every call). ``fp32/int8`` above 1 means int8 is faster.

The first two shapes are the default model's MLP projections (hidden 192, intermediate 512);
the third is a larger layer where an int8 kernel has room to pay off.

    uv run python packages/ch13-quantization/benchmarks/bench_int8_matmul.py

Writes ``benchmarks/results/int8-matmul-cpu-2core.json``.
"""

from __future__ import annotations

import copy
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from ch13_quantization.rtn import int8_dynamic_quantize
from llmpath_core import compare, machine_info, print_table
from llmpath_core.io import write_json

SHAPES = [(256, 192, 512), (256, 512, 192), (256, 1024, 1024)]
OUT = Path(__file__).parent / "results" / "int8-matmul-cpu-2core.json"


def bench_shape(tokens: int, d_in: int, d_out: int) -> list[dict]:
    layer = torch.nn.Linear(d_in, d_out, bias=False)
    x = torch.randn(tokens, d_in)
    sw = layer.weight.detach().abs().amax(1) / 127
    w8 = torch.round(layer.weight.detach() / sw[:, None]).to(torch.int8).T.contiguous()
    sx = x.abs().max() / 127
    x8 = torch.round(x / sx).to(torch.int8)
    fbgemm = torch.ao.quantization.quantize_dynamic(
        torch.nn.Sequential(copy.deepcopy(layer)), {torch.nn.Linear}, dtype=torch.qint8
    )
    ours = int8_dynamic_quantize(torch.nn.Sequential(copy.deepcopy(layer)), skip=())
    paths = {
        "torch.ao dynamic int8 (fbgemm)": lambda: fbgemm(x),
        "torch._int_mm int8 GEMM": lambda: torch._int_mm(x8, w8).float() * (sx * sw),
        "ours QuantLinear (dequant + fp32)": lambda: ours(x),
    }
    rows = []
    with torch.no_grad():
        for name, fn in paths.items():
            c = compare(
                f"{tokens}x{d_in}->{d_out}", fn, lambda: F.linear(x, layer.weight),
                names=(name, "fp32 F.linear"), repeats=7,
            )  # fmt: skip
            rows.append({"shape": c.task, "int8 path": name, "int8 ms": 1e3 * c.ours.median,
                         "fp32 ms": 1e3 * c.anchor.median, "fp32/int8": c.speedup})  # fmt: skip
    return rows


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rows = [row for shape in SHAPES for row in bench_shape(*shape)]
    print_table(rows, title="int8 vs fp32 matmul on CPU (1 thread)")
    write_json(OUT, {"rows": rows, "machine": machine_info(), "date": time.strftime("%Y-%m-%d")})


if __name__ == "__main__":
    main()
