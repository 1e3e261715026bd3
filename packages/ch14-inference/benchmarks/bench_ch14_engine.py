"""Benchmarks of ch14-inference against transformers, measured side by side in one process.

1. Static vs continuous batching: see bench_ch14_batching.py (equal batch size and KV memory,
   output-length spread swept over seeds).
2. Our engine vs HF generate(), one batch of mixed-length prompts, same tokens
   (llmpath_core.compare: interleaved repeats, median).
3. Speculative decoding: default + draft vs the target alone (ours): acceptance rate, tokens per
   target pass, speed-up next to the analytic one; and HF generate(assistant_model=draft) vs HF
   generate() on the same pair. Greedy; every output is checked identical to the target's own and
   the run fails (exit 1, nothing written) if one is not.

Run: uv run python packages/ch14-inference/benchmarks/bench_ch14_engine.py [--model M --draft D]
Writes results-cpu.json next to this file (or --out).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ch14_inference import EngineConfig, LLMEngine, SamplingParams, load_model
from ch14_inference.labs import corpus_ids, speculative_comparison
from llmpath_core import compare, machine_info, print_table, write_json


def engine_vs_hf(model, tok, batch: int, new_tokens: int) -> dict:
    ids = corpus_ids(tok, model.vocab_size)
    g = torch.Generator().manual_seed(0)
    lens = torch.randint(8, 64, (batch,), generator=g).tolist()
    prompts = [ids[i * 97 : i * 97 + n] for i, n in enumerate(lens)]
    params = SamplingParams(max_tokens=new_tokens, ignore_eos=True)
    engine = LLMEngine(
        model, config=EngineConfig(block_size=8, num_blocks=4096, max_num_seqs=batch)
    )
    width = max(lens)
    padded = torch.zeros(batch, width, dtype=torch.long)
    mask = torch.zeros_like(padded)
    for r, p in enumerate(prompts):
        padded[r, width - len(p) :] = torch.tensor(p)
        mask[r, width - len(p) :] = 1

    def ours():
        return engine.generate(prompts, params)

    def hf():
        with torch.inference_mode():
            return model.hf_model.generate(
                padded,
                attention_mask=mask,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=0,
            )

    c = compare(f"{batch} prompts x {new_tokens} tokens", ours, hf, names=("ours", "hf"), repeats=3)
    out = c.to_dict()
    out["ours_tokens_per_s"] = batch * new_tokens / c.ours.median
    out["hf_tokens_per_s"] = batch * new_tokens / c.anchor.median
    return out


def hf_assisted(target, draft, prompts: list[list[int]], new_tokens: int) -> dict:
    def run(assistant):
        outs = []
        for p in prompts:
            with torch.inference_mode():
                kw = {"assistant_model": assistant.hf_model} if assistant is not None else {}
                o = target.hf_model.generate(
                    torch.tensor([p]),
                    attention_mask=torch.ones(1, len(p), dtype=torch.long),
                    max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens,
                    do_sample=False,
                    pad_token_id=0,
                    **kw,
                )
            outs.append(o[0, len(p) :].tolist())
        return outs

    same = run(draft) == run(None)
    c = compare(
        "HF generate: assisted vs alone",
        lambda: run(draft),
        lambda: run(None),
        names=("assisted", "alone"),
        repeats=3,
    )
    return {"hf_assisted_speedup": c.speedup, "hf_assisted_identical": same, **c.to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--draft", default="draft")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results-cpu.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    target, tok = load_model(args.model)
    draft, _ = load_model(args.draft)
    results: dict = {"machine": machine_info(), "model": args.model, "draft": args.draft}

    batch = engine_vs_hf(target, tok, batch=16, new_tokens=64)
    cols = ["task", "ours_tokens_per_s", "hf_tokens_per_s", "speedup"]
    print_table([batch], cols, title="2. our engine vs HF generate, one batch")
    results["engine_vs_hf_generate"] = batch

    prompts = [tok.encode(t) for t in ("Once upon a time", "The little dog", "One day, Tom")]
    spec_rows, spec = speculative_comparison(target, draft, prompts, max_tokens=96, k=4)
    hf = hf_assisted(target, draft, prompts, 96)
    cols = ["method", "tokens_per_s", "tokens_per_target_pass", "acceptance_rate"]
    cols += ["identical_to_target", "speedup", "analytic_speedup"]
    print_table(spec_rows, cols, title="3. speculative decoding (ours), greedy")
    cols = ["task", "hf_assisted_speedup", "hf_assisted_identical"]
    print_table([hf], cols, title="3b. HF generate(assistant_model=draft) vs HF generate alone")
    results["speculative"] = {"rows": spec_rows, **spec, "hf": hf}
    different = [r["method"] for r in spec_rows if not r["identical_to_target"]]
    if different or not hf["hf_assisted_identical"]:
        raise SystemExit(f"speculative output differs from the target's greedy output: {different}")

    write_json(args.out, results)
    print(json.dumps({"written": str(args.out)}))


if __name__ == "__main__":
    main()
