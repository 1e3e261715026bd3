"""YaRN at 4x with longer fine-tunes and the "recovery" fine-tune, written straight to JSON.

One base model (1500 steps at L=128 bytes, the mixed filler, as in Lab 2's exploratory run);
then YaRN x4 (betas scaled to L: 2 and 1/16) and plain extrapolation, each with no fine-tune, the
plain fine-tune at 512 (``context.finetune``) and the recovery fine-tune (``context.recover``:
512-byte and 128-byte batches alternating) for each of ``--ft-steps``. Every model gets passkey
accuracy at 128/256/512 (16 samples x 3 depths) and the held-out loss at L (did short-context
quality come back?) and in the last 128-byte slice of 512.

Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch16-enhancement/benchmarks/bench_context_recovery.py [--steps 1500] [--ft-steps 30,100]``;
writes ``results/context-recovery-cpu.json`` (rewritten after every row, so a cut run keeps
what it measured).
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch16_enhancement.context import (
    ContextConfig,
    evaluate_extension,
    extend,
    filler_text,
    finetune,
    recover,
    train_base,
)
from llmpath_core import machine_info, write_json

OUT = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--ft-steps", default="30,100")
    parser.add_argument("--methods", default="yarn,none")
    parser.add_argument("--eval-samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(OUT / "context-recovery-cpu.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = ContextConfig(
        steps=args.steps,
        eval_samples=args.eval_samples,
        seed=args.seed,
        yarn_beta_fast=2.0,
        yarn_beta_slow=0.0625,
    )
    filler = filler_text("train", cfg.filler_chars, cfg.filler)
    held = filler_text("validation", 100_000)
    start = time.perf_counter()
    base, losses = train_base(cfg, filler)
    result = {
        "what": "passkey accuracy (mean over depths 0.1/0.5/0.9, eval_samples each) and held-out "
        "loss (nats/byte) after extending a L=128 byte-level Llama 4x",
        "config": {**cfg.__dict__, "ft_steps": args.ft_steps},
        "base_final_loss": losses[-1],
        "base_seconds": time.perf_counter() - start,
        "rows": [],
        "machine": machine_info(),
        "date": datetime.date.today().isoformat(),
        "note": "one seed; measured while the 2-core machine was shared; times not comparable",
    }
    print("base", result["base_seconds"], losses[-1], flush=True)
    plans = [("none", 0)] + [
        (kind, int(n)) for n in args.ft_steps.split(",") for kind in ("finetune", "recover")
    ]
    for method in args.methods.split(","):
        for kind, n in plans:
            model = extend(base, method, 4, cfg)
            if kind == "finetune":
                finetune(model, filler, 512, cfg, steps=n)
            elif kind == "recover":
                recover(model, filler, 512, cfg, steps=n)
            r = evaluate_extension(model, filler, held, [128, 256, 512], cfg)
            row = {
                "method": method,
                "tuning": kind,
                "tuning_steps": n,
                "passkey": r["passkey_mean"],
                "passkey_by_depth": r["passkey"],
                "loss_at_L": r["short_loss"],
                "loss_by_position_512": r["loss_by_position"],
            }
            result["rows"].append(row)
            result["seconds"] = time.perf_counter() - start
            write_json(Path(args.out), result)
            print(method, kind, n, r["passkey_mean"], round(r["short_loss"], 3), flush=True)


if __name__ == "__main__":
    main()
