"""Tool-call accuracy per BFCL category: scripted oracle vs the constrained default model.

Run: ``nice -n 10 uv run python packages/ch19-agents/benchmarks/bench_toolcalls.py [--n 8]
[--finetuned DIR]``. Writes ``benchmarks/results/toolcalls-cpu-2core.json``: per caller the
accuracy per category under BFCL's AST rules (our checker, which agrees with bfcl-eval case for
case), the share of schema-valid calls (``jsonschema``), and the wall time (measured while the
machine was shared with other jobs).
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch19_agents.labs import tool_call_benchmark
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "toolcalls-cpu-2core.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--finetuned", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = tool_call_benchmark(args.n, finetuned=args.finetuned, base=True)
    for row in result["table"]:
        print(row)
    write_json(
        args.out,
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            **result,
        },
    )


if __name__ == "__main__":
    main()
