"""A deliberation budget: adaptive voting vs fixed-N self-consistency at equal average samples.

On the 200 held-out problems, ``--seeds`` sampling seeds, ``--max-n`` chains per problem at
self-consistency's default temperature (``solve.SC_TEMPERATURE``). Both rules read the same
chains in the same order: fixed-N votes over the first N; the adaptive rule
(``voting.adaptive_vote``: start with 2, add one at a time, stop when the leading answer is
``lead`` votes ahead, cap ``--max-n``) spends more chains on disputed problems. For each
``lead`` the adaptive accuracy is compared with fixed-N accuracy linearly interpolated at the
same mean number of chains; s.e. over problems of the paired per-problem difference (problems'
correctness averaged over seeds).

Writes ``benchmarks/results/deliberation.json``.
Run: ``nice -n 10 uv run python packages/ch12-reasoning/benchmarks/bench_deliberation.py``
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
from ch12_reasoning.policy import load_policy
from ch12_reasoning.sampling import sample
from ch12_reasoning.solve import SC_TEMPERATURE
from ch12_reasoning.voting import adaptive_vote, majority_vote
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

RESULTS = Path(__file__).parent / "results"


def _mean_se(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / max(len(xs) - 1, 1) / len(xs))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--max-n", type=int, default=16)
    ap.add_argument("--leads", type=int, nargs="+", default=[1, 2, 3, 4])
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = load_policy()
    probs = P.heldout_arithmetic(200)
    top = args.max_n
    start = time.perf_counter()
    fixed = {n: [0.0] * len(probs) for n in range(1, top + 1)}
    adapt = {lead: [0.0] * len(probs) for lead in args.leads}
    used = {lead: [0.0] * len(probs) for lead in args.leads}
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        chains = sample(
            model, tok, [p.prompt for p in probs for _ in range(top)], temperature=SC_TEMPERATURE
        )
        answers = [P.parse_answer(c) for c in chains]
        for i, prob in enumerate(probs):
            group = answers[i * top : (i + 1) * top]
            for n in fixed:
                fixed[n][i] += (majority_vote(group[:n]) == prob.answer) / args.seeds
            for lead in args.leads:
                a, k = adaptive_vote(group, start=2, step=1, lead=lead)
                adapt[lead][i] += (a == prob.answer) / args.seeds
                used[lead][i] += k / args.seeds
    fixed_rows = [
        {"n": n, "accuracy": _mean_se(v)[0], "se": _mean_se(v)[1]} for n, v in fixed.items()
    ]
    rows = []
    for lead in args.leads:
        mean_used = sum(used[lead]) / len(probs)
        lo = max(1, min(top - 1, math.floor(mean_used)))
        w = mean_used - lo
        matched = [(1 - w) * a + w * b for a, b in zip(fixed[lo], fixed[lo + 1], strict=True)]
        acc, se = _mean_se(adapt[lead])
        diff, diff_se = _mean_se([a - b for a, b in zip(adapt[lead], matched, strict=True)])
        rows.append(
            {
                "lead": lead,
                "mean_chains": mean_used,
                "accuracy": acc,
                "se": se,
                "fixed_n_accuracy_at_same_mean_chains": _mean_se(matched)[0],
                "difference": diff,
                "difference_se": diff_se,
            }
        )
        print(lead, round(mean_used, 2), round(acc, 3), round(diff, 3), round(diff_se, 3))
    print("fixed", [(r["n"], round(r["accuracy"], 3)) for r in fixed_rows])
    write_json(
        RESULTS / "deliberation.json",
        {
            "benchmark": "deliberation",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "note": "wall times measured while the machine was shared by other jobs",
            "config": {**vars(args), "temperature": SC_TEMPERATURE, "start": 2, "step": 1},
            "problems": len(probs),
            "fixed_n": fixed_rows,
            "adaptive": rows,
            "seconds": time.perf_counter() - start,
        },
    )


if __name__ == "__main__":
    main()
