"""Why self-consistency stayed flat with N: a sampling-temperature sweep, chosen on validation.

Self-consistency only helps when the sampled chains disagree on wrong answers and agree on the
right one. Too cold and the N chains are copies of the greedy chain (nothing to vote on); too hot
and each chain is worse than the greedy one (the vote pools noise). This benchmark:

1. **Validation** (``--val`` problems from the held-out generator's distribution with a different
   seed, none of them in the held-out set): for each temperature (and one top-k setting) and each
   of ``--val-seeds`` sampling seeds, samples the largest N once and votes over the first n chains
   of each problem (nested, so the curve over n is one set of samples). Records accuracy per n,
   and at N=8 the diagnostics: answer-less chains, distinct answers, ties for the top count,
   single-chain accuracy, pass@8, and how often the vote is right when a right chain is there.
2. Picks the temperature with the best validation majority-vote accuracy at ``--pick-n``.
3. **Held-out** (the bundled 200 problems): the picked temperature and the old default 1.0,
   ``--seeds`` sampling seeds each, and greedy CoT.

Standard errors: per problem, correctness is averaged over seeds; ``se`` is the standard
deviation of that over problems / sqrt(problems); ``gain_vs_n1`` and its ``gain_se`` are the
same for the per-problem difference from one sampled chain (paired, same problems and seeds).

Writes ``benchmarks/results/sc_temperature.json``.
Run: ``nice -n 10 uv run python packages/ch12-reasoning/benchmarks/bench_sc_temperature.py``
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch12_reasoning import problems as P
from ch12_reasoning.policy import load_policy
from ch12_reasoning.sampling import sample
from ch12_reasoning.solve import solve_arithmetic
from ch12_reasoning.voting import majority_vote
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

RESULTS = Path(__file__).parent / "results"


def _mean_se(xs: Sequence[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    var = sum((x - m) ** 2 for x in xs) / max(len(xs) - 1, 1)
    return m, math.sqrt(var / len(xs))


def _last_step(chain: str) -> int | None:
    """The result of the chain's last written step (an alternative answer extraction)."""
    steps = [s for s in chain.split("#", 1)[0].split(";") if "=" in s]
    try:
        return int(steps[-1].rsplit("=", 1)[1]) if steps else None
    except ValueError:
        return None


def sweep(
    model,
    tok,
    probs: Sequence[P.Arithmetic],
    temperature: float,
    top_k: int,
    ns: Sequence[int],
    seeds: Sequence[int],
    greedy: Sequence[int | None] | None = None,
) -> dict[str, Any]:
    """Majority-vote accuracy per n (mean and s.e. over problems) and diagnostics at n = 8.

    With ``greedy`` (the greedy chain's answer per problem), also how often the vote over all
    ``max(ns)`` chains lands on the greedy answer: where the vote converges to.
    """
    top = max(ns)
    # per_problem[n][i] = fraction of seeds on which the vote over n chains was right
    per_problem = {n: [0.0] * len(probs) for n in ns}
    diag = {
        "no_answer": 0.0,
        "distinct": 0.0,
        "ties": 0.0,
        "single": 0.0,
        "pass": 0.0,
        "vote_right_given_pass": 0.0,
        "pass_count": 0,
        "hash_vs_last_step": 0.0,
        "vote_top_is_greedy": 0.0,
    }
    dn = 8 if 8 in ns else top
    tokens = 0
    for seed in seeds:
        torch.manual_seed(seed)
        lengths: list[int] = []
        prompts = [p.prompt for p in probs for _ in range(top)]
        chains = sample(model, tok, prompts, temperature=temperature, top_k=top_k, lengths=lengths)
        tokens += sum(lengths)
        answers = [P.parse_answer(c) for c in chains]
        for i, prob in enumerate(probs):
            group = answers[i * top : (i + 1) * top]
            for n in ns:
                per_problem[n][i] += (majority_vote(group[:n]) == prob.answer) / len(seeds)
            if greedy is not None:
                diag["vote_top_is_greedy"] += majority_vote(group) == greedy[i]
            g = group[:dn]
            diag["hash_vs_last_step"] += sum(
                a != _last_step(c) for a, c in zip(g, chains[i * top : i * top + dn], strict=True)
            ) / len(g)
            votes = [a for a in g if a is not None]
            counts = sorted((votes.count(a) for a in set(votes)), reverse=True)
            diag["no_answer"] += (len(g) - len(votes)) / len(g)
            diag["distinct"] += len(counts)
            diag["ties"] += len(counts) > 1 and counts[0] == counts[1]
            diag["single"] += sum(a == prob.answer for a in g) / len(g)
            hit = prob.answer in g
            diag["pass"] += hit
            if hit:
                diag["pass_count"] += 1
                diag["vote_right_given_pass"] += majority_vote(g) == prob.answer
    runs = len(probs) * len(seeds)
    out_diag = {
        f"no_answer_rate@{dn}": diag["no_answer"] / runs,
        f"distinct_answers@{dn}": diag["distinct"] / runs,
        f"tie_rate@{dn}": diag["ties"] / runs,
        "single_chain_accuracy": diag["single"] / runs,
        f"pass@{dn}": diag["pass"] / runs,
        f"vote_right_when_a_chain_is_right@{dn}": diag["vote_right_given_pass"]
        / max(diag["pass_count"], 1),
        "answer_after_hash_differs_from_last_step_result": diag["hash_vs_last_step"] / runs,
    }
    if greedy is not None:
        out_diag[f"vote@{top}_equals_greedy_answer"] = diag["vote_top_is_greedy"] / runs
    rows = []
    for n in ns:
        acc, se = _mean_se(per_problem[n])
        gain, gain_se = _mean_se(
            [a - b for a, b in zip(per_problem[n], per_problem[ns[0]], strict=True)]
        )
        rows.append(
            {
                "n": n,
                "accuracy": acc,
                "se": se,
                "gain_vs_n1": gain,
                "gain_se": gain_se,
                "tokens": tokens / runs * n / top,
            }
        )
    return {"temperature": temperature, "top_k": top_k, "curve": rows, "diagnostics": out_diag}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--val", type=int, default=200)
    ap.add_argument("--val-seeds", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument(
        "--temperatures", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0]
    )
    ap.add_argument("--ns", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--heldout-ns", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--pick-n", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = load_policy()
    held = P.heldout_arithmetic(200)
    held_q = {p.question for p in P.heldout_arithmetic(400)}
    val = [
        p for p in P.arithmetic_set(args.val * 2, P.HELDOUT_SEED + 1) if p.question not in held_q
    ][: args.val]
    start = time.perf_counter()
    vseeds = list(range(100, 100 + args.val_seeds))
    validation = []
    for t in args.temperatures:
        validation.append(sweep(model, tok, val, t, 0, args.ns, vseeds))
        print(
            "val T",
            t,
            [(r["n"], round(r["accuracy"], 3)) for r in validation[-1]["curve"]],
            flush=True,
        )
    validation.append(sweep(model, tok, val, 1.0, 3, args.ns, vseeds))
    print(
        "val T 1.0 top-k 3",
        [(r["n"], round(r["accuracy"], 3)) for r in validation[-1]["curve"]],
        flush=True,
    )
    k = args.ns.index(args.pick_n)
    best = max((v for v in validation if v["top_k"] == 0), key=lambda v: v["curve"][k]["accuracy"])
    picked = best["temperature"]
    seeds = list(range(args.seeds))
    greedy = solve_arithmetic(model, tok, held, "cot")
    g_ans = [P.parse_answer(c) for c in greedy["chains"]]
    hns = args.heldout_ns
    heldout = {
        f"T={picked}": sweep(model, tok, held, picked, 0, hns, seeds, g_ans),
        "T=1.0": sweep(model, tok, held, 1.0, 0, hns, seeds, g_ans),
    }
    for name, h in heldout.items():
        print(
            "held",
            name,
            [(r["n"], round(r["accuracy"], 3), round(r["se"], 3)) for r in h["curve"]],
            flush=True,
        )
    write_json(
        RESULTS / "sc_temperature.json",
        {
            "benchmark": "sc_temperature",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "note": "wall times measured while the machine was shared by other jobs",
            "config": vars(args),
            "validation_problems": len(val),
            "validation_seeds": vseeds,
            "validation": validation,
            "picked_temperature": picked,
            "picked_by": f"best validation majority-vote accuracy at n={args.pick_n}",
            "heldout_problems": len(held),
            "heldout_seeds": seeds,
            "greedy_cot_heldout": {"accuracy": greedy["accuracy"], "tokens": greedy["tokens"]},
            "heldout": heldout,
            "seconds": time.perf_counter() - start,
        },
    )


if __name__ == "__main__":
    main()
