"""Lab 4, why transformers won: n-gram vs FFN LM vs LSTM vs one-layer transformer.

Run: ``uv run python packages/ch02-classic-lm/benchmarks/bench_compare.py [--steps 300]``;
writes ``benchmarks/results/compare.json`` and ``compare.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "results"


def main() -> None:
    import torch

    from ch02_classic_lm.compare import compare_models
    from ch02_classic_lm.plots import plot_compare
    from llmpath_core import atomic_write, machine_info, print_table

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--contexts", default="2,4,8,16")
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    contexts = tuple(int(c) for c in args.contexts.split(","))
    result = compare_models(contexts=contexts, steps=args.steps)
    print_table(result["rows"], title="held-out bits per character")
    print_table(result["copy"], title="copy task")
    plot_compare(result, HERE / "compare.png")
    payload = {
        "command": "uv run python packages/ch02-classic-lm/benchmarks/bench_compare.py "
        f"--steps {args.steps} --contexts {args.contexts}",
        **result,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine_info(),
    }
    with atomic_write(HERE / "compare.json") as f:
        json.dump(payload, f, indent=1, default=str)
    print(f"wrote {HERE / 'compare.json'}")


if __name__ == "__main__":
    main()
