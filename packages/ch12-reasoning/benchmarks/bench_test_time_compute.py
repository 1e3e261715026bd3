"""Test-time compute on the bundled policy: accuracy vs generated tokens for every method.

- Held-out arithmetic (``--problems`` problems, difficulties 1-4): greedy CoT, self-consistency
  (majority vote), and best-of-N selected by the PRM, the ORM, at random, and by an oracle
  (= pass@N), for N in ``--ns``; the N chains are shared by all selection rules. Repeated over
  ``--seeds`` sampling seeds (mean and standard error). PRM step accuracy and the PRM's
  training-loss curve are recorded too.
- Game of 24 (``--puzzles`` held-out puzzles): CoT with 1 chain, CoT with as many chains as ToT
  spent model calls on average, ToT-BFS and ToT-DFS with the value head (budget ``--budget``).

Writes ``benchmarks/results/test_time_compute.json`` and ``accuracy_vs_tokens.png``.
Run: ``nice -n 10 uv run python packages/ch12-reasoning/benchmarks/bench_test_time_compute.py``
"""

from __future__ import annotations

import argparse
import math
import os
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch12_reasoning import problems as P
from ch12_reasoning.game24 import Game24Solver, run_game24
from ch12_reasoning.labs import budget_curves, heads
from ch12_reasoning.policy import load_policy
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json
from llmpath_core.report import line_plot

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--ns", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--puzzles", type=int, default=100)
    ap.add_argument("--budget", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = load_policy()
    start = time.perf_counter()
    rewards, value, value_acc = heads(model, tok, None, seed=0)
    probs = P.heldout_arithmetic(args.problems)
    per_seed = [
        budget_curves(model, tok, probs, rewards, args.ns, seed=s) for s in range(args.seeds)
    ]
    curves = {}
    for method in per_seed[0]:
        rows = []
        for i, row in enumerate(per_seed[0][method]):
            accs = [c[method][i]["accuracy"] for c in per_seed]
            mean = sum(accs) / len(accs)
            se = math.sqrt(sum((a - mean) ** 2 for a in accs) / max(len(accs) - 1, 1) / len(accs))
            toks = sum(c[method][i]["tokens"] for c in per_seed) / len(per_seed)
            rows.append(
                {"n": row["n"], "accuracy": mean, "se": se, "tokens": toks, "per_seed": accs}
            )
        curves[method] = rows
        print(method, [(r["n"], round(r["accuracy"], 3)) for r in rows], flush=True)
    arith_seconds = time.perf_counter() - start

    solver = Game24Solver(model, tok, value)
    test = [list(p) for p in P.g24_split()[1][: args.puzzles]]
    torch.manual_seed(0)
    g24 = {}
    start = time.perf_counter()
    g24["tot-bfs"] = run_game24(solver, test, "tot", args.budget, search="bfs")
    g24["tot-dfs"] = run_game24(solver, test, "tot", args.budget, search="dfs")
    matched = max(1, round(g24["tot-bfs"]["model_calls"] / len(test)))
    g24["cot-1"] = run_game24(solver, test, "cot", 1)
    g24[f"cot-{matched}"] = run_game24(solver, test, "cot", matched)
    noval = Game24Solver(model, tok, None)
    g24["tot-bfs-no-value"] = run_game24(noval, test, "tot", args.budget, search="bfs")
    for name, r in g24.items():
        print(name, r["solved"], r["total"], r["model_calls"], flush=True)
    g24_seconds = time.perf_counter() - start

    series = {
        m: ([r["tokens"] for r in rs], [r["accuracy"] for r in rs]) for m, rs in curves.items()
    }
    line_plot(
        RESULTS / "accuracy_vs_tokens.png",
        series,
        title="Held-out arithmetic (200 problems): accuracy vs generated tokens",
        xlabel="generated tokens per problem",
        ylabel="accuracy",
        logx=True,
    )
    write_json(
        RESULTS / "test_time_compute.json",
        {
            "benchmark": "test_time_compute",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "note": "wall times measured while the machine was shared by other jobs",
            "config": vars(args),
            "reward_models": {
                "prm_step_accuracy_heldout": rewards.prm_step_accuracy,
                "orm_accuracy_heldout": rewards.orm_accuracy,
                "prm_train_steps": rewards.n_steps,
                "orm_train_chains": rewards.n_chains,
                "prm_loss_first": rewards.prm.losses[0],
                "prm_loss_last": rewards.prm.losses[-1],
                "value_accuracy_heldout": value_acc,
            },
            "arithmetic": curves,
            "game24": {
                k: {
                    kk: v[kk]
                    for kk in ("method", "budget", "solved", "total", "model_calls", "tokens")
                }
                for k, v in g24.items()
            },
            "game24_matched_calls_per_puzzle": matched,
            "seconds": {"arithmetic": arith_seconds, "game24": g24_seconds},
        },
    )


if __name__ == "__main__":
    main()
