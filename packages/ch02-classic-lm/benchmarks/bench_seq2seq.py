"""Seq2seq on the dates task: no attention vs Bahdanau vs Luong, short and long inputs; BLEU,
exact match, beam search vs greedy, and an attention heat map.

Run: ``uv run python packages/ch02-classic-lm/benchmarks/bench_seq2seq.py [--steps 300]``.
Writes ``benchmarks/results/seq2seq.json`` and ``benchmarks/results/attention_*.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "results"


def main() -> None:
    import torch

    from ch02_classic_lm.bleu import corpus_bleu
    from ch02_classic_lm.seq2seq import attention_map, beam_search, train_seq2seq
    from llmpath_core import atomic_write, machine_info, print_table

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--short", action="store_true", help="also the short inputs")
    parser.add_argument(
        "--attention",
        nargs="+",
        choices=("none", "bahdanau", "luong"),
        default=["none", "bahdanau", "luong"],
        help="the variants to train; rows of others already in the results file are kept",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = []
    settings = [("long (6-10 filler words each side)", (6, 10))]
    if args.short:
        settings.append(("short (0-3)", (0, 3)))
    for name, filler in settings:
        for attention in args.attention:
            model, res = train_seq2seq(attention, steps=args.steps, filler=filler, n_test=args.test)
            beam = [beam_search(model, x, beam=4)[0] for x in res.sources[:50]]
            rows.append(
                {
                    "inputs": name,
                    "attention": attention,
                    "exact_match": res.exact_match,
                    "bleu": corpus_bleu(res.predictions, res.references)["bleu"],
                    "beam4_exact_match_first50": sum(
                        b == y for b, y in zip(beam, res.references[:50], strict=False)
                    )
                    / 50,
                    "final_loss": sum(res.losses[-20:]) / 20,
                    "train_seconds": res.seconds,
                    "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
                    + f", 1-min load {os.getloadavg()[0]:.1f}",
                }
            )
            print(rows[-1], flush=True)
            if attention != "none" and filler == (6, 10):
                attention_map(model, res.sources[0], HERE / f"attention_{attention}.png")
    kept = []
    if set(args.attention) != {"none", "bahdanau", "luong"} and (HERE / "seq2seq.json").is_file():
        previous = json.loads((HERE / "seq2seq.json").read_text())
        if previous.get("steps") == args.steps:
            done = {(r["inputs"], r["attention"]) for r in rows}
            kept = [r for r in previous["rows"] if (r["inputs"], r["attention"]) not in done]
            for r in kept:
                r.setdefault("measured", previous.get("measured", "an earlier run"))
    order = {"none": 0, "bahdanau": 1, "luong": 2}
    rows = sorted(kept + rows, key=lambda r: (r["inputs"], order[r["attention"]]))
    print_table(rows, title="dates -> ISO, greedy decoding")
    payload = {
        "command": "uv run python packages/ch02-classic-lm/benchmarks/bench_seq2seq.py "
        f"--steps {args.steps} --attention {' '.join(args.attention)}",
        "steps": args.steps,
        "batch": 64,
        "note": "greedy exact match and BLEU on held-out pairs; beam width 4, alpha 0.6",
        "hidden": 64,
        "test_pairs": args.test,
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine_info(),
    }
    with atomic_write(HERE / "seq2seq.json") as f:
        json.dump(payload, f, indent=1, default=str)
    print(f"wrote {HERE / 'seq2seq.json'}")


if __name__ == "__main__":
    main()
