"""MoE vs dense at matched active parameters and steps on the bundled stories, over seeds,
and expert load with and without the balancing loss.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch15-architectures/benchmarks/bench_moe_vs_dense.py
[--steps 100 --seeds 2]`` -> ``results/moe-vs-dense.json`` and ``results/expert_load.png``.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import torch

from ch15_architectures.labs import balance_experiment, moe_vs_dense
from llmpath_core import machine_info, write_json

OUT = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--balance-steps", type=int, default=80)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = moe_vs_dense(steps=args.steps, seeds=args.seeds)
    print({k: v for k, v in result.items() if k != "runs"}, flush=True)
    balance = balance_experiment(steps=args.balance_steps, plot=OUT / "expert_load.png")
    balance["plot"] = "results/expert_load.png"
    print(balance, flush=True)
    write_json(
        OUT / "moe-vs-dense.json",
        {
            "moe_vs_dense": result,
            "balance": balance,
            "machine": machine_info(),
            "date": datetime.date.today().isoformat(),
            "note": "one torch thread, measured while the machine was shared",
        },
    )


if __name__ == "__main__":
    main()
