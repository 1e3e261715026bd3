"""The exploratory context-extension run whose printed numbers are kept in
``results/context-extension-explore-1500.json`` (transcribed from its stdout).

Part 1 (``python explore_context_1500.py train``): the base model, 1500 steps at L=128 on the
mixed filler, saved to ``/tmp/ch16_base.pt``; every method x4 with and without the 30-step
fine-tune at 512 (YaRN with transformers' default betas 32 and 1). Part 2 (``... yarn``): the
same base with YaRN's betas scaled to L (2 and 1/16), and plain/NTK at 2x (part 2 puts
together the two short follow-up scripts that printed those numbers).

It ran at the default priority while the 2-core machine was shared (load average 8 to 20): the
times it printed are not comparable. ``bench_context_extension.py`` is the same experiment as a
benchmark script writing its JSON directly.
"""

from __future__ import annotations

import sys
import time

import torch

from ch16_enhancement.context import (
    METHODS,
    ContextConfig,
    build_model,
    evaluate_extension,
    extend,
    filler_text,
    finetune,
    train_base,
)

BASE = "/tmp/ch16_base.pt"


def part_train() -> None:
    cfg = ContextConfig(steps=1500, eval_samples=16, filler="mixed", lr=3e-3)
    filler = filler_text("train", 300_000, cfg.filler)
    held = filler_text("validation", 100_000)
    t = time.time()
    base, losses = train_base(cfg, filler)
    print("train", time.time() - t, losses[::50], losses[-1])
    torch.save(base.state_dict(), BASE)
    for m in METHODS:
        for tuned in (False, True):
            mm = extend(base, m, 4, cfg)
            if tuned:
                finetune(mm, filler, 512, cfg)
            r = evaluate_extension(mm, filler, held, [128, 512], cfg)
            print(
                m,
                tuned,
                r["passkey_mean"],
                [round(x, 2) for x in r["loss_by_position"]],
                round(r["short_loss"], 3),
                flush=True,
            )


def part_yarn() -> None:
    cfg = ContextConfig(eval_samples=16, yarn_beta_fast=2.0, yarn_beta_slow=0.0625)
    filler = filler_text("train", 300_000, "mixed")
    held = filler_text("validation", 100_000)
    base = build_model(cfg)
    base.load_state_dict(torch.load(BASE))
    base.eval()
    m = extend(base, "yarn", 4, cfg)
    print("yarn", evaluate_extension(m, filler, held, [128, 256, 512], cfg)["passkey_mean"])
    for method in ("none", "ntk"):
        m = extend(base, method, 4, cfg)
        print(method, evaluate_extension(m, filler, held, [256], cfg)["passkey_mean"])
    m = extend(base, "yarn", 4, cfg)
    finetune(m, filler, 512, cfg)
    print("yarn+ft", evaluate_extension(m, filler, held, [128, 256, 512], cfg)["passkey_mean"])


if __name__ == "__main__":
    torch.set_num_threads(1)
    part_train() if sys.argv[1:] == ["train"] else part_yarn()
