"""Forgetting and merging on the default model, two tasks: A "repeat the word", B "say it twice".

1. Forgetting of the pre-training corpus: the default model's loss on the held-out corpus before
   and after SFT on task A (full FT, LoRA r=16, LoRA r=4), paired over the same windows
   (``paired_difference``: the change with its standard error).
2. Forgetting of a task: start from the task-A model (LoRA r=16, merged), fine-tune on task B with
   LoRA r=16, with and without replay (25% of each batch drawn from task A); task A's held-out
   accuracy before and after (binomial standard errors, n=100).
3. Merging: two fine-tunes of the default model (LoRA r=16 on A, on B, merged into full weights)
   merged with linear, SLERP, task arithmetic, TIES, DARE-linear and DARE-TIES (ours, held to
   mergekit in the tests); each merge scored on both tasks vs each parent.

Run (from the repository root): ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch09-sft/benchmarks/bench_forget_merge.py``
"""

from __future__ import annotations

import datetime
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import finetune, merged_state

from ch09_sft.merge import merge_states
from ch09_sft.sft import eval_split, evaluate, train_split
from llmpath_core import (
    evaluate_lm,
    load_default_model,
    machine_info,
    paired_difference,
    write_json,
)

OUT = Path(__file__).parent / "results" / "forget-merge-cpu.json"
N = 100
WINDOWS = 48


def corpus(model, tok):
    return evaluate_lm(model, tok, max_windows=WINDOWS)


def task_scores(model, tok):
    return {
        k: {
            "accuracy": (e := evaluate(model, tok, eval_split(N, kind=k)))["accuracy"],
            "stderr": e["accuracy_stderr"],
        }
        for k in ("repeat", "twice")
    }


def main() -> None:
    torch.set_num_threads(1)
    result: dict = {"date": datetime.date.today().isoformat(), "machine": machine_info()}
    base, tok = load_default_model()
    base_state = {k: v.detach().clone() for k, v in base.state_dict().items()}
    base_corpus = corpus(base, tok)
    result["base"] = {"corpus_loss": base_corpus["loss"], "tasks": task_scores(base, tok)}
    print("base", result["base"], flush=True)

    # 1. corpus forgetting after SFT on task A
    forget = {}
    parents = {}
    for name, method, rank in (
        ("full", "full", 0),
        ("lora_r16", "lora", 16),
        ("lora_r4", "lora", 4),
    ):
        out = finetune(method, rank=rank, eval_n=N, eval_kinds=("repeat", "twice"))
        state = merged_state(out)
        m = out["model"]
        c = corpus(m, tok)
        d = paired_difference(base_corpus, c)
        forget[name] = {
            "task_a_accuracy": out["accuracy"]["repeat"],
            "corpus_loss": c["loss"],
            "corpus_loss_change": d["loss_diff"],
            "corpus_loss_change_stderr": d["loss_diff_stderr"],
            "trainable_params": out["trainable_params"],
        }
        if name == "lora_r16":
            parents["A"] = state
        print(name, forget[name], flush=True)
    result["corpus_forgetting"] = forget
    write_json(OUT, {**result, "partial": True})

    # 2. task forgetting: A then B, with and without replay of A
    def a_model():
        m, _ = load_default_model()
        m.load_state_dict(parents["A"])
        return m

    seq = {"after_A": task_scores(a_model(), tok)}
    b_rows = train_split(seed=1, kind="twice")
    a_rows = train_split(seed=2, kind="repeat")
    rng = random.Random(0)
    replay_rows = b_rows[:1500] + rng.sample(a_rows, 500)
    rng.shuffle(replay_rows)
    for name, rows in (("B_no_replay", b_rows), ("B_replay_25pct", replay_rows)):
        out = finetune(
            "lora",
            rank=16,
            model=a_model(),
            tok=tok,
            rows=rows,
            eval_n=N,
            eval_kinds=("repeat", "twice"),
        )
        seq[name] = out["accuracy"]
        print(name, seq[name], flush=True)
    result["task_forgetting"] = seq
    write_json(OUT, {**result, "partial": True})

    # 3. merging two fine-tunes of the base: A (LoRA r=16 on repeat), B (LoRA r=16 on twice)
    out_b = finetune(
        "lora", rank=16, kind="twice", seed=1, eval_n=N, eval_kinds=("repeat", "twice")
    )
    parents["B"] = merged_state(out_b)
    merges = {}
    configs = {
        "parent_A": None,
        "parent_B": None,
        "linear": dict(method="linear"),
        "slerp_t0.5": dict(method="slerp", t=0.5),
        "task_arithmetic": dict(method="task_arithmetic"),
        "ties_d0.5": dict(method="ties", density=0.5),
        "dare_linear_d0.5": dict(method="dare_linear", density=0.5),
        "dare_ties_d0.5": dict(method="dare_ties", density=0.5),
    }
    for name, cfg in configs.items():
        if cfg is None:
            state = parents[name[-1]]
        elif cfg["method"] == "slerp":
            # SLERP between the two fine-tunes (mergekit's usual two-model form)
            state = merge_states([parents["B"]], "slerp", base=parents["A"], t=cfg["t"])
        else:
            method = cfg.pop("method")
            state = merge_states([parents["A"], parents["B"]], method, base=base_state, **cfg)
        m, _ = load_default_model()
        m.load_state_dict(state)
        merges[name] = task_scores(m, tok)
        print(name, merges[name], flush=True)
    result["merging"] = merges
    pa, pb = merges["parent_A"]["repeat"]["accuracy"], merges["parent_B"]["twice"]["accuracy"]
    result["merge_keep_ratio"] = {
        k: {
            "repeat_vs_parent_A": v["repeat"]["accuracy"] / pa if pa else None,
            "twice_vs_parent_B": v["twice"]["accuracy"] / pb if pb else None,
        }
        for k, v in merges.items()
    }
    write_json(OUT, result)
    print(result["merge_keep_ratio"])


if __name__ == "__main__":
    main()
