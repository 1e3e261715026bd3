"""Why the distilled student kept 5% of the teacher's quality, and what closes the gap.

At equal steps on the same batches (``batches`` is seeded, so every student sees the same
windows), for each seed: the draft-shaped student (10.5% of the weights) and a "quarter" student
(hidden 128, 2 layers, 4 heads, MLP 256: 24.8%), each started at random or by weight selection
from the teacher's layers (``select_from_teacher``), trained with cross-entropy (from scratch /
from the teacher's weights) or with logit KD; sequence-level KD on the teacher's own samples;
and llmpath's pretrained draft model as it ships and after KD. Every model is scored with
``evaluate_lm`` on the same held-out windows of mix:validation (seq 128), so losses are paired.

Quality kept is reported three ways: the issue's perplexity ratio (teacher ppl / student ppl =
exp(-loss gap)), the loss ratio and the bits-per-byte ratio.

Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch16-enhancement/benchmarks/bench_distill_students.py [--steps 100] [--seeds 0,1]``;
writes ``results/distill-students-cpu.json`` after every row (a cut run keeps what it measured).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch16_enhancement.distill import (
    DistillConfig,
    count_parameters,
    new_student,
    sized,
    token_stream,
    train_student,
)
from llmpath_core import evaluate_lm, load_default_model, machine_info, write_json

OUT = Path(__file__).parent / "results"

# (label, size, init, kd method or None for cross-entropy, lr)
PLANS = [
    ("quarter: scratch (random init, CE)", "quarter", "random", None, 3e-3),
    ("quarter: logit KD, random init", "quarter", "random", "logit", 3e-3),
    ("quarter: teacher-selected init, CE", "quarter", "teacher", None, 1e-3),
    ("quarter: teacher-selected init, logit KD", "quarter", "teacher", "logit", 1e-3),
    ("draft shape: scratch (random init, CE)", "draft", "random", None, 3e-3),
    ("draft shape: logit KD, random init", "draft", "random", "logit", 3e-3),
    ("draft shape: teacher-selected init, logit KD", "draft", "teacher", "logit", 1e-3),
    ("draft model (pretrained), logit KD", "draft", "draft", "logit", 1e-3),
    ("quarter: teacher-selected init, sequence KD", "quarter", "teacher", "sequence", 1e-3),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--eval-chars", type=int, default=40_000)
    parser.add_argument("--plans", default="", help="comma-separated plan numbers (default all)")
    parser.add_argument("--out", default=str(OUT / "distill-students-cpu.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    teacher, tok = load_default_model()
    base = DistillConfig(steps=args.steps, batch_size=args.batch_size)
    stream = token_stream(tok, base)

    def score(model):
        return evaluate_lm(model, tok, seq_len=base.seq_len, max_chars=args.eval_chars)

    ev_t = score(teacher)
    teacher_params = count_parameters(teacher)
    plans = [PLANS[int(i)] for i in args.plans.split(",")] if args.plans else PLANS
    result = {
        "what": "students of the default model at equal steps on the same batches; "
        "held-out mix:validation, seq 128, the same windows for every model",
        "teacher": {
            "params": teacher_params,
            "loss": ev_t["loss"],
            "perplexity": ev_t["perplexity"],
            "bits_per_byte": ev_t["bits_per_byte"],
        },
        "eval_tokens": ev_t["tokens"],
        "config": {**asdict(base), "seeds": args.seeds, "eval_chars": args.eval_chars},
        "rows": [],
        "machine": machine_info(),
        "date": datetime.date.today().isoformat(),
        "note": "measured while the 2-core machine was shared with other jobs",
    }
    start = time.perf_counter()
    # the shipped draft model as it is (0 steps): what a pretrained small model starts from
    from llmpath_core import load_draft_model

    draft, _ = load_draft_model()
    ev_d = score(draft)
    result["draft_as_shipped"] = {
        "params": count_parameters(draft),
        "loss": ev_d["loss"],
        "perplexity": ev_d["perplexity"],
        "quality_retained": ev_t["perplexity"] / ev_d["perplexity"],
    }
    write_json(Path(args.out), result)
    for label, size, init, method, lr in plans:
        per_seed = []
        for seed in (int(s) for s in args.seeds.split(",")):
            cfg = replace(sized(base, size), init=init, method=method or "logit", lr=lr, seed=seed)
            t0 = time.perf_counter()
            student = new_student(teacher, cfg)
            ev0 = score(student)
            train_student(student, stream, cfg, teacher=teacher if method else None)
            ev = score(student)
            per_seed.append(
                {
                    "seed": seed,
                    "loss_before": ev0["loss"],
                    "loss": ev["loss"],
                    "perplexity": ev["perplexity"],
                    "bits_per_byte": ev["bits_per_byte"],
                    "window_nats": ev["window_nats"],
                    "seconds": time.perf_counter() - t0,
                }
            )
            print(label, seed, round(ev0["loss"], 3), "->", round(ev["loss"], 3), flush=True)
        losses = [r["loss"] for r in per_seed]
        mean = sum(losses) / len(losses)
        se = (
            math.sqrt(sum((x - mean) ** 2 for x in losses) / (len(losses) - 1) / len(losses))
            if len(losses) > 1
            else float("nan")
        )
        params = count_parameters(new_student(teacher, replace(sized(base, size), init="random")))
        result["rows"].append(
            {
                "label": label,
                "size": size,
                "init": init,
                "training": method or "cross-entropy",
                "lr": lr,
                "params": params,
                "param_ratio": params / teacher_params,
                "loss_mean": mean,
                "loss_stderr_over_seeds": se,
                "perplexity_of_mean_loss": math.exp(mean),
                "quality_retained": math.exp(ev_t["loss"] - mean),
                "quality_retained_loss": ev_t["loss"] / mean,
                "quality_retained_bpb": ev_t["bits_per_byte"]
                / (sum(r["bits_per_byte"] for r in per_seed) / len(per_seed)),
                "seeds": [{k: v for k, v in r.items() if k != "window_nats"} for r in per_seed],
                "_window_nats": [r["window_nats"] for r in per_seed],
            }
        )
        result["seconds"] = time.perf_counter() - start
        write_json(Path(args.out), {**result, "rows": [_public(r) for r in result["rows"]]})
    _paired(result)
    write_json(Path(args.out), {**result, "rows": [_public(r) for r in result["rows"]]})


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _paired(result: dict) -> None:
    """KD minus its cross-entropy twin (same size and init), paired over windows and seeds."""
    by = {(r["size"], r["init"], r["training"]): r for r in result["rows"]}
    out = []
    for (size, init, training), row in by.items():
        twin = by.get((size, init, "cross-entropy")) or by.get((size, "random", "cross-entropy"))
        if training == "cross-entropy" or twin is None:
            continue
        diffs = [
            (a - b) / result["config"]["seq_len"]
            for ws, wt in zip(row["_window_nats"], twin["_window_nats"], strict=False)
            for a, b in zip(ws, wt, strict=True)
        ]
        m = sum(diffs) / len(diffs)
        se = math.sqrt(sum((d - m) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))
        out.append({"row": row["label"], "minus": twin["label"], "loss_diff": m, "stderr": se})
    result["paired"] = out


if __name__ == "__main__":
    main()
