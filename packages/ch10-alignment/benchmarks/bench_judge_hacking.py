"""Does the multi-dimension judge resist the hack that the keyword judge invites?

GRPO on the default model (12 steps x 8 prompts x 4 samples, lr 5e-4, beta 0.04, seed 0: the
README's keyword-judge run) once against ``KeywordJudge`` and once against ``MultiJudge``
(distinct keywords capped at 2, banned words, repetition, length, fluency under the frozen
starting model). Both policies and the start are then scored on the same held-out samples
(32 prompts x 2, the evaluation's sampling seed) by *both* judges, with standard errors over
samples, the win rate against the start under each judge, KL(pi || pi_ref) and the alignment tax.

    nice -n 10 uv run python packages/ch10-alignment/benchmarks/bench_judge_hacking.py

Writes ``benchmarks/results/judge-hacking-cpu-2core.json``.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import math
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from ch10_alignment.data import sample_continuations, split_prompts
from ch10_alignment.judge import KeywordJudge, MultiJudge
from ch10_alignment.labs import alignment_tax, judge_reward
from ch10_alignment.rl import train_rl
from ch10_alignment.train import sequence_logps
from llmpath_core import load_default_model, machine_info, seed_everything
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "judge-hacking-cpu-2core.json"


def mean_se(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    v = sum((x - m) ** 2 for x in xs) / max(1, len(xs) - 1)
    return m, math.sqrt(v / len(xs))


def win_rate(judge, ours: list[str], base: list[str]) -> tuple[float, float]:
    w = [judge.prefer(a, b) for a, b in zip(ours, base, strict=True)]
    return mean_se(w)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--beta", type=float, default=0.04)
    ap.add_argument("--eval-prompts", type=int, default=32)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="score this saved policy folder (e.g. `rl --out DIR`'s DIR/policy) instead of "
        "training; its run is keyed policy_<folder>",
    )
    ap.add_argument(
        "--judge",
        choices=("keyword", "multi", "both"),
        default="both",
        help="which run to do; one run's result is merged into an existing --out file",
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    train_prompts, held = split_prompts(seed=0)
    held = held[: args.eval_prompts]
    runs = {}
    start_block = None
    names = ("keyword", "multi") if args.judge == "both" else (args.judge,)
    if args.policy is not None:
        names = ("saved",)
    for name in names:
        seed_everything(0)
        model, tok = load_default_model()
        reference = copy.deepcopy(model)
        multi = MultiJudge.from_model(reference, tok)
        kw = KeywordJudge()
        t0 = time.perf_counter()
        if name == "saved":
            from transformers import AutoModelForCausalLM

            res = SimpleNamespace(
                policy=AutoModelForCausalLM.from_pretrained(args.policy).eval(), steps=[]
            )
        else:
            res = train_rl(
                reference,
                tok,
                train_prompts,
                judge_reward(kw if name == "keyword" else multi),
                algo="grpo",
                steps=args.steps,
                beta=args.beta,
                lr=args.lr,
                seed=0,
                on_step=lambda i, _p, name=name: print(f"{name} step {i}", flush=True),
            )
        train_s = time.perf_counter() - t0
        ev_seed = 1234
        ours = [
            c
            for o in sample_continuations(
                res.policy, tok, held, n=2, max_new_tokens=24, seed=ev_seed
            )
            for c in o
        ]
        base = [
            c
            for o in sample_continuations(
                reference, tok, held, n=2, max_new_tokens=24, seed=ev_seed
            )
            for c in o
        ]
        flat_p = [p for p in held for _ in range(2)]
        with torch.no_grad():
            lp, _ = sequence_logps(res.policy, tok, flat_p, ours)
            lr_, _ = sequence_logps(reference, tok, flat_p, ours)
        kl = (lp - lr_).tolist()

        def block(texts: list[str], multi=multi, kw=kw) -> dict:
            dims = multi.dimensions_many(texts)
            out = {}
            for key, vals in (
                ("keyword_score", [kw.score(t) for t in texts]),
                ("multi_score", [d["total"] for d in dims]),
                *((k, [d[k] for d in dims]) for k in ("keywords", "repetition", "fluency", "nll")),
            ):
                m, se = mean_se(vals)
                out[key] = m
                out[key + "_stderr"] = se
            out["examples"] = texts[:3]
            return out

        if start_block is None:
            start_block = block(base)
        kw_w, kw_se = win_rate(kw, ours, base)
        mu_w, mu_se = win_rate(multi, ours, base)
        klm, klse = mean_se(kl)
        key = f"policy_{args.policy.parent.name}" if name == "saved" else f"grpo_vs_{name}_judge"
        runs[key] = {
            "trained_against": str(args.policy) if name == "saved" else name,
            "note": f"{args.policy} was scored, not trained here: config's steps / lr / beta do "
            "not apply to it"
            if name == "saved"
            else None,
            "train_seconds": train_s,
            "train_reward_first": res.steps[0]["reward"] if res.steps else None,
            "train_reward_last5": sum(s["reward"] for s in res.steps[-5:]) / min(5, len(res.steps))
            if res.steps
            else None,
            "heldout": block(ours),
            "win_rate_keyword_judge": kw_w,
            "win_rate_keyword_judge_stderr": kw_se,
            "win_rate_multi_judge": mu_w,
            "win_rate_multi_judge_stderr": mu_se,
            "kl": klm,
            "kl_stderr": klse,
            "alignment_tax": alignment_tax(reference, res.policy, tok, 32),
            "history": res.steps,
        }
        print(name, {k: v for k, v in runs[key].items() if k != "history"})
    if (args.judge != "both" or args.policy is not None) and args.out.is_file():
        import json

        old = json.loads(args.out.read_text())
        runs = {**old.get("runs", {}), **runs}
    write_json(
        args.out,
        {
            "what": "GRPO against the keyword judge vs against the multi-dimension judge; both "
            "policies and the start scored by both judges on the same held-out samples",
            "config": {
                **{k: v for k, v in vars(args).items() if k not in ("out", "judge", "policy")},
                "algo": "grpo",
                "group_size": 4,
                "prompts_per_step": 8,
            },
            "judge": {
                k: getattr(MultiJudge(), k)
                for k in (
                    "max_keywords",
                    "banned_weight",
                    "repeat_weight",
                    "min_words",
                    "length_weight",
                    "nll_threshold",
                    "fluency_weight",
                )
            },
            "start": start_block,
            "runs": runs,
            "machine": machine_info(),
            "date": datetime.date.today().isoformat(),
        },
    )


if __name__ == "__main__":
    main()
