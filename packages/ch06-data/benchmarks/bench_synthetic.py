"""Real vs synthetic vs mixed training data, at equal tokens and steps, judged on real text.

    uv run python packages/ch06-data/benchmarks/bench_synthetic.py [--llm-docs 48] [--steps 150]

Generates template documents and LLM documents (llmpath's default model continuing story
openers), passes both through the package's filters (exact + near dedup, language ID,
Gopher/C4 rules, PII redaction) and records what each stage removed. Then trains the same tiny
Llama (same initialisation and window order per seed) on: the bundled stories (real), template
data, LLM data, and a 50/50 mix of real and LLM data, every source cut to the same number of
unique tokens, for the same steps and batches; and evaluates each on held-out real stories with
``evaluate_lm``. Differences to the real-data model are paired over the same windows per seed
and averaged over seeds. Writes ``results/synthetic.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ch06_data.synthetic import (
    TrainConfig,
    compare_training_data,
    model_documents,
    quality_funnel,
    template_documents,
)
from llmpath_core import load_default_model
from llmpath_core.bench import machine_info
from llmpath_core.data import load_documents
from llmpath_core.io import write_json
from llmpath_core.testing import torch_threads

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--template-docs", type=int, default=400)
    parser.add_argument("--llm-docs", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--heldout-windows", type=int, default=200)
    args = parser.parse_args()
    model, tok = load_default_model()
    generated, funnels, seconds = {}, {}, {}
    with torch_threads(1):
        start = time.perf_counter()
        generated["template"] = template_documents(args.template_docs, seed=0)
        seconds["template"] = time.perf_counter() - start
        start = time.perf_counter()
        generated["llm"] = model_documents(
            args.llm_docs, model=model, tokenizer=tok, max_new_tokens=args.max_new_tokens, seed=0
        )
        seconds["llm"] = time.perf_counter() - start
        kept = {}
        for name, docs in generated.items():
            kept[name], funnels[name] = quality_funnel(docs)
            print(name, funnels[name], flush=True)
        sources = {
            "real": load_documents("stories", split="train"),
            "template": kept["template"],
            "llm": kept["llm"],
        }
        cfg = TrainConfig(steps=args.steps)
        start = time.perf_counter()
        result = compare_training_data(
            sources,
            load_documents("stories", split="validation"),
            mixes={"real+llm": ("real", "llm")},
            cfg=cfg,
            seeds=tuple(range(args.seeds)),
            tokenizer=tok,
            max_windows=args.heldout_windows,
        )
        train_seconds = time.perf_counter() - start
    for row in result["rows"]:
        print(row, flush=True)
    write_json(
        RESULTS / "synthetic.json",
        {
            **result,
            "generated": {k: len(v) for k, v in generated.items()},
            "kept": {k: len(v) for k, v in kept.items()},
            "funnels": funnels,
            "generation_seconds": {k: round(v, 2) for k, v in seconds.items()},
            "train_and_eval_seconds": round(train_seconds, 1),
            "llm": {
                "model": "llmpath default",
                "max_new_tokens": args.max_new_tokens,
                "temperature": 1.0,
            },
            "llm_sample": generated["llm"][0][:400],
            "template_sample": generated["template"][0],
            "machine": machine_info(),
            "note": "loaded shared 2-core CPU box (other jobs running)",
        },
    )


if __name__ == "__main__":
    main()
