"""MoE vs dense at matched active parameters and steps on the bundled stories, over seeds,
and expert load with and without the balancing loss.

Each seed (a dense and an MoE model trained on the same batches) runs in its own process
(``--jobs``); the per-seed paired differences are pooled by
:func:`ch15_architectures.labs.summarize_moe_vs_dense`.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch15-architectures/benchmarks/bench_moe_vs_dense.py
[--steps 600 --seeds 3 --jobs 3]`` -> ``results/moe-vs-dense.json``, ``results/moe-vs-dense.png``
and ``results/expert_load.png``.
"""

from __future__ import annotations

import argparse
import datetime
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from llmpath_core import line_plot, machine_info, write_json

OUT = Path(__file__).parent / "results"


def one_seed(kwargs: dict) -> dict:
    from ch15_architectures.labs import moe_vs_dense

    torch.set_num_threads(1)
    return moe_vs_dense(seeds=1, **kwargs)


def balance(steps: int) -> dict:
    from ch15_architectures.labs import balance_experiment

    torch.set_num_threads(1)
    result = balance_experiment(steps=steps, plot=OUT / "expert_load.png")
    result["plot"] = "results/expert_load.png"
    return result


def main() -> None:
    from ch15_architectures.labs import summarize_moe_vs_dense

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--expert-hidden", type=int, default=64)
    parser.add_argument("--z-coef", type=float, default=1e-3)
    parser.add_argument("--aux-coef", type=float, default=0.01)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--train-chars", type=int, default=1_100_000)  # all of stories:train
    parser.add_argument("--balance-steps", type=int, default=80)
    args = parser.parse_args()
    common = {
        "steps": args.steps,
        "experts": args.experts,
        "top_k": args.top_k,
        "expert_hidden": args.expert_hidden,
        "z_coef": args.z_coef,
        "aux_coef": args.aux_coef,
        "lr": args.lr,
        "train_chars": args.train_chars,
    }
    with ProcessPoolExecutor(args.jobs) as pool:
        seeds = [pool.submit(one_seed, {**common, "seed": s}) for s in range(args.seeds)]
        bal = pool.submit(balance, args.balance_steps) if args.balance_steps else None
        parts = [f.result() for f in seeds]
        balance_result = bal.result() if bal is not None else None
    runs = {name: [r for part in parts for r in part["runs"][name]] for name in ("dense", "moe")}
    settings = {k: v for k, v in parts[0].items() if k in common or k in ("capacity_factor",)}
    settings |= {"train_tokens_available": parts[0]["train_tokens_available"]}
    settings |= {"batch": parts[0]["batch"], "seq_len": parts[0]["seq_len"]}
    result = summarize_moe_vs_dense(runs, settings)
    print({k: v for k, v in result.items() if k != "runs"}, flush=True)
    series = {}
    for name in ("dense", "moe"):
        curves = [r["train_curve"] for r in runs[name]]
        mean = [sum(c[i] for c in curves) / len(curves) for i in range(len(curves[0]))]
        series[f"{name} (mean of {len(curves)} seeds)"] = (
            [10 * (i + 1) for i in range(len(mean))],
            mean,
        )
    line_plot(
        OUT / "moe-vs-dense.png",
        series,
        title=f"training loss: dense vs MoE ({args.experts} experts, top-{args.top_k}), "
        "matched active params",
        xlabel="step",
        ylabel="training loss (nats/token, mean per 10 steps)",
        markers=False,
    )
    result["plot"] = "results/moe-vs-dense.png"
    write_json(
        OUT / "moe-vs-dense.json",
        {
            "moe_vs_dense": result,
            "balance": balance_result,
            "machine": machine_info(),
            "date": datetime.date.today().isoformat(),
            "note": "one torch thread per process, seeds in parallel processes, measured while "
            "the machine was shared (tokens/s are noisy)",
        },
    )


if __name__ == "__main__":
    main()
