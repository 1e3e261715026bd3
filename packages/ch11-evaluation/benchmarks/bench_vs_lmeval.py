"""Our harness vs lm-eval on the same bundled tasks and the default model, in one process.

Both score the 40-item MMLU-style sample, the 30-item HellaSwag-style sample and 10 GSM8K-style
items (16 generated tokens). Printed: each side's wall time (model loading excluded for ours,
included for lm-eval since it loads inside ``simple_evaluate``), the ratio, the largest
per-choice log-likelihood difference and whether the metrics are equal.

    uv run python packages/ch11-evaluation/benchmarks/bench_vs_lmeval.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import lm_eval
import torch
from lm_eval.tasks import TaskManager

from ch11_evaluation.harness import score_generative, score_multiple_choice
from ch11_evaluation.lm import HFCausalLM
from ch11_evaluation.lmeval_export import export_task
from ch11_evaluation.tasks import DATA_DIR, load_task
from llmpath_core import default_model_path, machine_info, print_table, write_json

RESULTS = Path(__file__).resolve().parent / "results"
GEN_ITEMS, GEN_TOKS = 10, 16


def main() -> None:
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    gsm = tmp / "gsm8k.jsonl"
    lines = (DATA_DIR / "gsm8k_sample.jsonl").read_text().splitlines()[:GEN_ITEMS]
    gsm.write_text("\n".join(lines) + "\n")
    files = {
        "mc": DATA_DIR / "mmlu_sample.jsonl",
        "hellaswag": DATA_DIR / "hellaswag_sample.jsonl",
        "gsm8k": gsm,
    }
    for kind, path in files.items():
        export_task(kind, path, tmp / "yaml", f"llmpath_{kind}", max_gen_toks=GEN_TOKS)

    lm = HFCausalLM.from_folder()
    start = time.perf_counter()
    ours = {
        k: score_multiple_choice(lm, load_task(f"{k}:{files[k]}").items)
        for k in ("mc", "hellaswag")
    }
    ours["gsm8k"] = score_generative(lm, load_task(f"gsm8k:{gsm}").items, max_gen_toks=GEN_TOKS)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    theirs = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={default_model_path()},dtype=float32",
        tasks=[f"llmpath_{k}" for k in files],
        device="cpu",
        batch_size=1,
        log_samples=True,
        task_manager=TaskManager(include_path=str(tmp / "yaml"), include_defaults=False),
    )
    theirs_s = time.perf_counter() - start

    rows = []
    for kind in ("mc", "hellaswag"):
        samples = sorted(theirs["samples"][f"llmpath_{kind}"], key=lambda s: s["doc_id"])
        diff = max(
            abs(a - float(r[0]))
            for item, s in zip(ours[kind].per_item, samples, strict=True)
            for a, r in zip(item["loglikelihoods"], s["filtered_resps"], strict=True)
        )
        res = theirs["results"][f"llmpath_{kind}"]
        rows.append(
            {
                "task": kind,
                "n": ours[kind].n,
                "ours_acc": ours[kind].acc,
                "lmeval_acc": res["acc,none"],
                "ours_acc_norm": ours[kind].acc_norm,
                "lmeval_acc_norm": res["acc_norm,none"],
                "max_ll_diff": diff,
            }
        )
    g = theirs["results"]["llmpath_gsm8k"]["exact_match,flexible-extract"]
    samples = sorted(theirs["samples"]["llmpath_gsm8k"], key=lambda s: s["doc_id"])
    same = sum(
        s["resps"][0][0] == r["generation"]
        for s, r in zip(samples, ours["gsm8k"].per_item, strict=True)
    )
    rows.append(
        {
            "task": "gsm8k",
            "n": ours["gsm8k"].n,
            "ours_em": ours["gsm8k"].exact_match,
            "lmeval_em": g,
            "identical_generations": same,
        }
    )
    timing = {"ours_s": ours_s, "lmeval_s": theirs_s, "lmeval/ours": theirs_s / ours_s}
    print_table(rows, title="ours vs lm-eval (default model, bundled samples)")
    print_table([timing], title="wall time (one thread)")
    out = {
        "machine": machine_info(),
        "note": "loaded shared 2-core CPU box",
        "rows": rows,
        "timing": timing,
    }
    write_json(RESULTS / "vs_lmeval.json", out)
    print(json.dumps(out["timing"]))


if __name__ == "__main__":
    main()
