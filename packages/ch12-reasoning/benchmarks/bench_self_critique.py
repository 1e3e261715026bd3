"""Self-critique and rewrite beside the other methods: accuracy vs generated tokens, held-out.

On the bundled 200 held-out problems and ``--seeds`` sampling seeds (the same seeds for every
method): greedy CoT; self-critique-and-rewrite after 1..``--rounds`` rounds (PRM judge,
threshold 0.5, rewrites at temperature 1, a rewrite kept only if the PRM scores it higher); and,
from ``labs.budget_curves`` on the same problems, self-consistency, PRM and random best-of-N at
temperature 1 for N in ``--ns``, plus self-consistency at its default temperature
(``solve.SC_TEMPERATURE``). Mean over seeds and the seed-to-seed standard error.

Writes ``benchmarks/results/self_critique.json`` and ``accuracy_vs_tokens_reflect.png``.
Run: ``nice -n 10 uv run python packages/ch12-reasoning/benchmarks/bench_self_critique.py``
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
from ch12_reasoning.labs import budget_curves, heads
from ch12_reasoning.policy import load_policy
from ch12_reasoning.reflect import critique_and_rewrite
from ch12_reasoning.solve import SC_TEMPERATURE
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json
from llmpath_core.report import line_plot

RESULTS = Path(__file__).parent / "results"


def _agg(rows_per_seed: list[list[dict]], key: str) -> list[dict]:
    out = []
    for i in range(len(rows_per_seed[0])):
        accs = [rows[i]["accuracy"] for rows in rows_per_seed]
        m = sum(accs) / len(accs)
        se = math.sqrt(sum((a - m) ** 2 for a in accs) / max(len(accs) - 1, 1) / len(accs))
        toks = sum(rows[i]["tokens"] for rows in rows_per_seed) / len(rows_per_seed)
        out.append(
            {
                key: rows_per_seed[0][i][key],
                "accuracy": m,
                "se": se,
                "tokens": toks,
                "per_seed": accs,
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--ns", type=int, nargs="+", default=[1, 2, 4, 8])
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = load_policy()
    rewards = heads(model, tok, None, seed=0)[0]
    probs = P.heldout_arithmetic(200)
    start = time.perf_counter()
    crit, curves, sc_cold = [], [], []
    for seed in range(args.seeds):
        res = critique_and_rewrite(model, tok, probs, rewards, args.rounds, seed=seed)
        crit.append(res["per_round"])
        curves.append(
            budget_curves(
                model,
                tok,
                probs,
                rewards,
                args.ns,
                seed=seed,
                methods=("self-consistency", "prm-best-of-n", "random-best-of-n"),
            )
        )
        sc_cold.append(
            budget_curves(
                model,
                tok,
                probs,
                rewards,
                args.ns,
                seed=seed,
                methods=("self-consistency",),
                temperature=SC_TEMPERATURE,
            )["self-consistency"]
        )
    table = {
        "self-critique (PRM judge)": _agg(crit, "round"),
        **{
            f"{m} (T=1.0)" if m != "cot" else "greedy cot": _agg([c[m] for c in curves], "n")
            for m in curves[0]
        },
        f"self-consistency (T={SC_TEMPERATURE})": _agg(sc_cold, "n"),
    }
    for name, rows in table.items():
        print(
            name,
            [(round(r["tokens"]), round(r["accuracy"], 3), round(r["se"], 3)) for r in rows],
            flush=True,
        )
    series = {k: ([r["tokens"] for r in v], [r["accuracy"] for r in v]) for k, v in table.items()}
    line_plot(
        RESULTS / "accuracy_vs_tokens_reflect.png",
        series,
        title="Held-out arithmetic: accuracy vs generated tokens (mean of seeds)",
        xlabel="generated tokens per problem",
        ylabel="accuracy",
        logx=True,
    )
    write_json(
        RESULTS / "self_critique.json",
        {
            "benchmark": "self_critique",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "note": "wall times measured while the machine was shared by other jobs",
            "config": {
                **vars(args),
                "threshold": 0.5,
                "rewrite_temperature": 1.0,
                "keep_better": True,
                "problems": len(probs),
            },
            "prm_step_accuracy_heldout": rewards.prm_step_accuracy,
            "curves": table,
            "seconds": time.perf_counter() - start,
        },
    )


if __name__ == "__main__":
    main()
