"""Speculative decoding per prompt: default + draft vs the target alone, greedy, with a spread.

For each of several prompts (story openers and held-out validation text of the bundled ``mix``
corpus) the target alone and the draft-model decoder (k = 4) run back to back, alternating which
goes first, ``--repeats`` times; a prompt's time is the median of its repeats. Per prompt: the
acceptance rate, tokens per target pass, speed-up (target seconds / speculative seconds) and
whether the speculative output is identical to the target's greedy output. Summary: mean, standard
error over prompts, min and max. The run fails (exit 1, nothing written) if any output differs.

Run: uv run python packages/ch14-inference/benchmarks/bench_ch14_speculative.py
Writes results-speculative-cpu.json next to this file (or --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from ch14_inference import SamplingParams, load_model
from ch14_inference.labs import _draft_cost_ratio
from ch14_inference.speculative import (
    DraftModelProposer,
    SpeculativeDecoder,
    expected_speedup,
    expected_tokens_per_pass,
)
from llmpath_core import load_text, machine_info, print_table, write_json

OPENERS = ("Once upon a time", "The little dog", "One day, Tom", "She opened the box and")


def summary(xs: list[float]) -> dict:
    n = len(xs)
    sd = statistics.stdev(xs) if n > 1 else 0.0
    return {"mean": statistics.fmean(xs), "se": sd / n**0.5, "min": min(xs), "max": max(xs), "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--draft", default="draft")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--text-prompts", type=int, default=4, help="prompts cut from mix validation")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("results-speculative-cpu.json")
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    target, tok = load_model(args.model)
    draft, _ = load_model(args.draft)

    texts = list(OPENERS)
    docs = [
        d
        for d in load_text("mix", split="validation", max_chars=200_000).split("\n\n")
        if d.strip()
    ]
    step = max(1, len(docs) // max(1, args.text_prompts))
    for d in docs[::step][: args.text_prompts]:
        texts.append(tok.decode(tok.encode(d)[:24]))

    params = SamplingParams(max_tokens=args.max_tokens)
    plain = SpeculativeDecoder(target, None, eos_token_id=tok.eos_token_id)
    spec = SpeculativeDecoder(
        target, DraftModelProposer(draft), k=args.k, eos_token_id=tok.eos_token_id
    )
    for d in (plain, spec):  # warm-up
        d.generate(tok.encode(texts[0]), SamplingParams(max_tokens=8))
    cost = _draft_cost_ratio(target, draft)

    rows = []
    for i, text in enumerate(texts):
        ids = tok.encode(text)
        t_plain, t_spec = [], []
        ref = out = st = None
        for r in range(args.repeats):
            order = [("plain", plain), ("spec", spec)]
            if (i + r) % 2:
                order.reverse()
            for name, d in order:
                t0 = time.perf_counter()
                o, s = d.generate(ids, params)
                dt = time.perf_counter() - t0
                if name == "plain":
                    t_plain.append(dt)
                    ref = o
                else:
                    t_spec.append(dt)
                    out, st = o, s
        alpha = st.acceptance_rate
        rows.append(
            {
                "prompt": text,
                "generated": st.generated,
                "acceptance_rate": alpha,
                "tokens_per_target_pass": st.generated / st.target_passes,
                "analytic_tokens_per_pass": expected_tokens_per_pass(alpha, args.k),
                "target_s": statistics.median(t_plain),
                "speculative_s": statistics.median(t_spec),
                "speedup": statistics.median(t_plain) / statistics.median(t_spec),
                "analytic_speedup": expected_speedup(alpha, args.k, cost),
                "identical_to_target": out == ref,
            }
        )
        print(
            json.dumps({k: rows[-1][k] for k in ("prompt", "acceptance_rate", "speedup")}),
            flush=True,
        )

    cols = ["prompt", "acceptance_rate", "tokens_per_target_pass", "speedup", "identical_to_target"]
    print_table(
        rows, cols, title=f"speculative decoding, {args.model} + {args.draft}, k={args.k}, greedy"
    )
    res = {
        "machine": machine_info(),
        "model": args.model,
        "draft": args.draft,
        "k": args.k,
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "draft_cost_ratio": cost,
        "all_identical_to_target": all(r["identical_to_target"] for r in rows),
        "summary": {
            key: summary([r[key] for r in rows])
            for key in ("acceptance_rate", "tokens_per_target_pass", "speedup", "analytic_speedup")
        },
        "rows": rows,
        "note": "wall seconds, median of repeats, on a 2-core machine shared with other jobs",
    }
    print(json.dumps(res["summary"], indent=1))
    if not res["all_identical_to_target"]:
        raise SystemExit("speculative output differs from the target's greedy output")
    write_json(args.out, res)
    print(json.dumps({"written": str(args.out)}))


if __name__ == "__main__":
    main()
